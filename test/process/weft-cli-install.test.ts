// Process tests of `weft install` (into temp dirs: atomic, hard links, --dry-run, --force rules, unwritable target)
// and `weft validate` (the plugins' own generated validators; key paths, hints, warnings, exit codes).
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WEFT_BIN, tempDir } from "../helpers/plugin.ts";
import { weft, writeConf } from "./weft-cli-helpers.ts";

const PLUGINS = ["bridge", "host-local", "flannel", "portmap", "loopback"];
const STOCK = {
  name: "cbr0",
  cniVersion: "0.3.1",
  plugins: [
    { type: "flannel", delegate: { hairpinMode: true, isDefaultGateway: true } },
    { type: "portmap", capabilities: { portMappings: true } },
  ],
};

// Copying and comparing a ~110 MB binary on a busy 2-core machine can take seconds.
const SLOW = { timeout: 60_000 };

describe("weft install", () => {
  test("installs the binary and hard links atomically, then finds nothing to do", () => {
    using t = tempDir("install");
    const bin = join(t.path, "opt/cni/bin");
    const conf = join(t.path, "etc/cni/net.d");
    const r = weft(["install", "--bin-dir", bin, "--conf-dir", conf, "--flannel-conflist"]);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    const weftIno = statSync(join(bin, "weft")).ino;
    expect(statSync(join(bin, "weft")).mode & 0o777).toBe(0o755);
    for (const p of PLUGINS) expect({ p, ino: statSync(join(bin, p)).ino }).toEqual({ p, ino: weftIno });
    expect(readFileSync(join(bin, "weft")).equals(readFileSync(join(WEFT_BIN, "weft")))).toBe(true);
    expect(JSON.parse(readFileSync(join(conf, "10-flannel.conflist"), "utf8"))).toEqual(STOCK);
    // Nothing half-written is left beside the targets.
    expect(readdirSync(bin).sort()).toEqual(["weft", ...PLUGINS].sort());
    expect(readdirSync(conf)).toEqual(["10-flannel.conflist"]);
    // The installed plugin works under its name.
    const v = Bun.spawnSync([join(bin, "bridge")], { env: { CNI_COMMAND: "VERSION" }, stdout: "pipe" });
    expect(JSON.parse(v.stdout.toString()).supportedVersions).toContain("1.1.0");

    const again = weft(["install", "--bin-dir", bin, "--conf-dir", conf, "--flannel-conflist", "--json"]);
    expect(again.exitCode).toBe(0);
    const steps = (JSON.parse(again.stdout) as { steps: { action: string }[] }).steps;
    expect(steps.map((s) => s.action)).toEqual(Array(7).fill("unchanged"));
  }, SLOW);

  test("--dry-run changes nothing", () => {
    using t = tempDir("install-dry");
    const bin = join(t.path, "bin");
    const r = weft(["install", "--bin-dir", bin, "--conf-dir", join(t.path, "conf"), "--flannel-conflist", "--dry-run"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`would write ${join(bin, "weft")}`);
    expect(r.stdout).toContain(`would link ${join(bin, "bridge")}`);
    expect(existsSync(bin)).toBe(false);
    expect(existsSync(join(t.path, "conf"))).toBe(false);
  }, SLOW);

  test("never overwrites a different binary without --force, and writes nothing when refusing", () => {
    using t = tempDir("install-force");
    const bin = join(t.path, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "bridge"), "#!/bin/sh\necho reference bridge\n", { mode: 0o755 });
    const refused = weft(["install", "--bin-dir", bin]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr.trim().split("\n")).toEqual([`weft: Refusing to overwrite ${join(bin, "bridge")}: it is not weft; pass --force to replace (nothing was written)`]);
    expect(readdirSync(bin)).toEqual(["bridge"]);
    expect(readFileSync(join(bin, "bridge"), "utf8")).toContain("reference bridge");

    const forced = weft(["install", "--bin-dir", bin, "--force"]);
    expect(forced.exitCode).toBe(0);
    expect(statSync(join(bin, "bridge")).ino).toBe(statSync(join(bin, "weft")).ino);
  }, SLOW);

  test("a directory it cannot create or write is one error line, exit 1", () => {
    using t = tempDir("install-ro");
    writeFileSync(join(t.path, "file"), "");
    const r = weft(["install", "--bin-dir", join(t.path, "file", "bin")]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^weft: Cannot create .*\/file\/bin: ENOTDIR$/)]);
  });
});

describe("weft validate", () => {
  test("the stock flannel conflist is valid", () => {
    using t = tempDir("validate");
    const file = writeConf(t.path, "10-flannel.conflist", STOCK);
    const r = weft(["validate", file, "--json"]);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ file, network: "cbr0", valid: true, problems: [] });
  });

  test("every problem with its key path and a hint; unknown types and keys are warnings", () => {
    using t = tempDir("validate-bad");
    const file = writeConf(t.path, "bad.conflist", {
      cniVersion: "1.0.0",
      name: "bad",
      plugins: [
        { type: "bridge", mtu: "1500", hairpinMod: true, ipam: { type: "host-local", ranges: [[{ gateway: "10.0.0.1" }]] } },
        { type: "tuning", sysctl: {} },
        { type: "portmap", capabilities: { portMappings: true }, snat: "yes" },
      ],
    });
    const r = weft(["validate", file]);
    expect(r.exitCode).toBe(1);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toContain(`${file}: error: plugins[0].mtu: must be integer (hint: write it as integer (JSON without quotes))`);
    expect(lines).toContain(`${file}: error: plugins[0].ipam.ranges[0][0].subnet: is required (for the "host-local" IPAM plugin) (hint: add "subnet")`);
    expect(lines).toContain(`${file}: error: plugins[2].snat: must be boolean (hint: write it as boolean (JSON without quotes))`);
    expect(lines).toContain(`${file}: warning: plugins[0].hairpinMod: unknown key for a "bridge" plugin: it is ignored (hint: check the spelling (keys match case-insensitively))`);
    expect(lines.some((l) => l.startsWith(`${file}: warning: plugins[1].type: plugin type "tuning" is not one of weft's`))).toBe(true);
    expect(lines.at(-1)).toBe(`${file}: network "bad", 3 plugin(s): 3 error(s), 2 warning(s)`);
  });

  test("a single .conf, a key in another case, and a file that is not JSON", () => {
    using t = tempDir("validate-conf");
    const conf = writeConf(t.path, "10-br.conf", { cniVersion: "0.4.0", name: "br", type: "bridge", IsGateway: true, ipam: {} });
    const ok = weft(["validate", conf, "--json"]);
    expect(JSON.parse(ok.stdout)).toEqual({ file: conf, network: "br", valid: true, problems: [] });
    const broken = writeConf(t.path, "broken.conflist", "{ not json");
    const r = weft(["validate", broken]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toStartWith(`${broken}: error: Cannot parse ${broken}: `);
  });
});
