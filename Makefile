# weft: build, install, test, demo, bench. Every target installs what it needs on a fresh Debian machine (root).
SHELL := /bin/bash
BUN := node_modules/.bin/bun
TSC := node_modules/.bin/tsc
DESTDIR ?=
BINDIR ?= /opt/cni/bin
PLUGINS := bridge host-local flannel portmap loopback
SOURCES := $(shell find plugins shared scripts -name '*.ts' -not -name '*.test.ts' 2>/dev/null)
BUILD_FLAGS := --compile --splitting --minify --bytecode --format=esm --no-compile-autoload-dotenv --no-compile-autoload-bunfig

.PHONY: all deps sys-deps node-deps gen build install typecheck test test-unit stress bench demo demo-cluster clean

all: build

# Debian packages the tests and the demo drive (installed only when missing; works on Debian 12 and 13).
sys-deps:
	@missing=""; \
	command -v iptables >/dev/null || missing="$$missing iptables"; \
	command -v nft >/dev/null || missing="$$missing nftables"; \
	command -v conntrack >/dev/null || missing="$$missing conntrack"; \
	command -v ip >/dev/null || missing="$$missing iproute2"; \
	[ -x /usr/lib/cni/bridge ] || missing="$$missing containernetworking-plugins"; \
	command -v containerd >/dev/null || missing="$$missing containerd"; \
	command -v runc >/dev/null || missing="$$missing runc"; \
	dpkg -s busybox-static >/dev/null 2>&1 || missing="$$missing busybox-static"; \
	command -v etcd >/dev/null || missing="$$missing etcd-server"; \
	command -v etcdctl >/dev/null || missing="$$missing etcd-client"; \
	[ -x /usr/bin/time ] || missing="$$missing time"; \
	command -v strace >/dev/null || missing="$$missing strace"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing </dev/null; \
	fi

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund </dev/null
	@touch $@

node-deps: node_modules/.package-lock.json

deps: sys-deps node-deps

gen: node-deps
	@$(BUN) scripts/gen-validators.ts

build/bin/weft: node-deps $(SOURCES)
	@$(BUN) scripts/gen-validators.ts
	@mkdir -p build/bin
	$(BUN) build $(BUILD_FLAGS) plugins/main.ts --outfile build/bin/weft
	@cd build/bin && for p in $(PLUGINS); do ln -f weft $$p; done

build: build/bin/weft

install: build
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 build/bin/weft $(DESTDIR)$(BINDIR)/.weft.new
	mv -f $(DESTDIR)$(BINDIR)/.weft.new $(DESTDIR)$(BINDIR)/weft
	@for p in $(PLUGINS); do ln -f $(DESTDIR)$(BINDIR)/weft $(DESTDIR)$(BINDIR)/.$$p.new && mv -f $(DESTDIR)$(BINDIR)/.$$p.new $(DESTDIR)$(BINDIR)/$$p; done
	@echo "installed weft and $(PLUGINS) into $(DESTDIR)$(BINDIR)"

typecheck: gen
	$(TSC) --noEmit -p .

# The test command of the README: installs what is missing, builds, type-checks, runs every test.
test: deps build typecheck
	@bash scripts/run-tests.sh

stress: deps build
	@WEFT_STRESS=1 bash scripts/run-tests.sh

bench: deps build
	@bash scripts/bench.sh
	@$(BUN) test/node/bench.ts | tee bench/node.txt
	@{ echo; echo "## weft node (test/node/bench.ts, 3 nodes in namespaces)"; echo; echo '```'; cat bench/node.txt; echo '```'; } >> bench/RESULTS.md; rm -f bench/node.txt

demo: deps build
	@bash scripts/demo.sh

demo-cluster: deps build
	@bash scripts/demo-cluster.sh

clean:
	rm -rf build shared/config/gen
