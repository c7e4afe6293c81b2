// The built flannel plugin (build/bin/flannel) delegating to a fake plugin that logs what it was given: the saved
// config's life cycle (written before delegating, 0600 in a 0700 dir, removed only after the delegate's DEL
// succeeded), errors passed through, rollback of a failed ADD, and CHECK/STATUS/GC forwarding.
import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestNetns } from "../helpers/netns.ts";
import { runPlugin, tempDir, WEFT_BIN } from "../helpers/plugin.ts";

const SUBNET_ENV = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n";
const FAKE_RESULT = `{"cniVersion":"0.3.1","interfaces":[{"name":"eth0","sandbox":"/x"}],"ips":[{"version":"4","interface":0,"address":"10.244.1.2/24","gateway":"10.244.1.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}`;

/** A private CNI_PATH with weft's flannel and a fake delegate; files steer and record the fake. */
function setup(t: { path: string }) {
  const bin = join(t.path, "bin");
  mkdirSync(bin);
  symlinkSync(join(WEFT_BIN, "weft"), join(bin, "flannel"));
  const fake = join(bin, "fake");
  // Logs "<COMMAND> <stdin>" per call; fails with the JSON in fail-<COMMAND> when that file exists.
  writeFileSync(
    fake,
    `#!/bin/sh
stdin=$(cat)
echo "$CNI_COMMAND $stdin" >> "${t.path}/log"
[ "$CNI_COMMAND" = ADD ] && cp "${t.path}/data/$CNI_CONTAINERID" "${t.path}/seen-at-add" 2>/dev/null
if [ -f "${t.path}/fail-$CNI_COMMAND" ]; then cat "${t.path}/fail-$CNI_COMMAND"; exit 1; fi
[ "$CNI_COMMAND" = ADD ] && echo '${FAKE_RESULT}'
exit 0
`,
  );
  chmodSync(fake, 0o755);
  const subnetFile = join(t.path, "subnet.env");
  writeFileSync(subnetFile, SUBNET_ENV);
  const dataDir = join(t.path, "data");
  const conf = (extra: Record<string, unknown> = {}) => ({
    name: "cbr0", cniVersion: "0.3.1", type: "flannel", subnetFile, dataDir, delegate: { type: "fake", hairpinMode: true }, ...extra,
  });
  const log = () => (existsSync(join(t.path, "log")) ? readFileSync(join(t.path, "log"), "utf8").trim().split("\n") : []);
  const saved = (cid = "cid1") => join(dataDir, cid);
  return { bin, subnetFile, dataDir, conf, log, saved, fail: (cmd: string, json: string) => writeFileSync(join(t.path, `fail-${cmd}`), json), unfail: (cmd: string) => rmSync(join(t.path, `fail-${cmd}`)) };
}

function flannel(s: ReturnType<typeof setup>, command: string, conf: unknown, netns = "", env: Record<string, string | undefined> = {}) {
  return runPlugin({ binDir: s.bin, plugin: "flannel", command, conf, containerId: "cid1", netns, ifname: "eth0", path: s.bin, env });
}

const DELEGATE = `{"cniVersion":"0.3.1","hairpinMode":true,"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.244.1.0/24"}]],"routes":[{"dst":"10.244.0.0/16"}],"type":"host-local"},"mtu":1450,"name":"cbr0","type":"fake"}`;

describe("flannel ADD/DEL with a fake delegate", () => {
  test("ADD saves the delegate config (0600, dir 0700) before delegating, and returns the delegate's result", () => {
    using t = tempDir("fl-add");
    using pod = createTestNetns("pod");
    const s = setup(t);
    const r = flannel(s, "ADD", s.conf(), pod.path);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.json).toEqual(JSON.parse(FAKE_RESULT));
    expect(readFileSync(join(t.path, "seen-at-add"), "utf8")).toBe(DELEGATE);
    expect(readFileSync(s.saved(), "utf8")).toBe(DELEGATE);
    expect(s.log()).toEqual([`ADD ${DELEGATE}`]);
    expect(statSync(s.saved()).mode & 0o777).toBe(0o600);
    expect(statSync(s.dataDir).mode & 0o777).toBe(0o700);
  }, 30_000);

  test("DEL sends the saved bytes as they are, then removes the file; DEL again and DEL without a file succeed silently", () => {
    using t = tempDir("fl-del");
    using pod = createTestNetns("pod");
    const s = setup(t);
    expect(flannel(s, "ADD", s.conf(), pod.path).exitCode).toBe(0);
    const changed = s.conf({ runtimeConfig: { portMappings: [{ hostPort: 1, containerPort: 2, protocol: "tcp" }] } });
    const d1 = flannel(s, "DEL", changed, pod.path);
    expect([d1.exitCode, d1.stdout, d1.stderr]).toEqual([0, "", ""]);
    expect(existsSync(s.saved())).toBe(false);
    const d2 = flannel(s, "DEL", s.conf(), "");
    expect([d2.exitCode, d2.stdout]).toEqual([0, ""]);
    expect(s.log()).toEqual([`ADD ${DELEGATE}`, `DEL ${DELEGATE}`]); // the second DEL did not reach the delegate
  }, 30_000);

  test("a failing delegate ADD: its error passes through unchanged, the delegate is DELeted and the file removed", () => {
    using t = tempDir("fl-addfail");
    using pod = createTestNetns("pod");
    const s = setup(t);
    s.fail("ADD", `{"code":11,"msg":"no IP addresses available","details":"range is full"}`);
    const r = flannel(s, "ADD", s.conf(), pod.path);
    expect(r.exitCode).toBe(1);
    expect(r.json).toEqual({ cniVersion: "0.3.1", code: 11, msg: "no IP addresses available", details: "range is full" });
    expect(s.log()).toEqual([`ADD ${DELEGATE}`, `DEL ${DELEGATE}`]);
    expect(existsSync(s.saved())).toBe(false);
  }, 30_000);

  test("a retried ADD for an attached container that fails leaves the first attachment alone: no DEL, the saved file as it was", () => {
    using t = tempDir("fl-retry");
    using pod = createTestNetns("pod");
    const s = setup(t);
    expect(flannel(s, "ADD", s.conf(), pod.path).exitCode).toBe(0);
    s.fail("ADD", `{"code":4,"msg":"container veth name \\"eth0\\" already exists"}`);
    const retry = flannel(s, "ADD", s.conf({ delegate: { type: "fake", hairpinMode: false } }), pod.path);
    expect(retry.exitCode).toBe(1);
    expect(retry.json?.code).toBe(4);
    expect(s.log().map((l) => l.split(" ")[0])).toEqual(["ADD", "ADD"]);
    expect(readFileSync(s.saved(), "utf8")).toBe(DELEGATE);
  }, 30_000);

  test("when the delegate's DEL fails the saved file stays until a DEL succeeds (the reference deletes it at once)", () => {
    using t = tempDir("fl-delfail");
    using pod = createTestNetns("pod");
    const s = setup(t);
    s.fail("ADD", `{"code":7,"msg":"bad"}`);
    s.fail("DEL", `{"code":11,"msg":"cannot release now","details":"try later"}`);
    expect(flannel(s, "ADD", s.conf(), pod.path).json).toMatchObject({ code: 7, msg: "bad" });
    expect(existsSync(s.saved())).toBe(true); // the rollback's DEL failed: kept for the runtime's DEL
    const d1 = flannel(s, "DEL", s.conf(), pod.path);
    expect(d1.exitCode).toBe(1);
    expect(d1.json).toEqual({ cniVersion: "0.3.1", code: 11, msg: "cannot release now", details: "try later" });
    expect(existsSync(s.saved())).toBe(true);
    s.unfail("DEL");
    expect(flannel(s, "DEL", s.conf(), pod.path).exitCode).toBe(0);
    expect(existsSync(s.saved())).toBe(false);
    expect(s.log().map((l) => l.split(" ")[0])).toEqual(["ADD", "DEL", "DEL", "DEL"]);
  }, 30_000);

  test("an unparsable saved file: DEL logs it, succeeds and keeps the file (flannel PR #33)", () => {
    using t = tempDir("fl-corrupt");
    const s = setup(t);
    mkdirSync(s.dataDir, { mode: 0o700 });
    writeFileSync(s.saved(), `{"cniVersion":"0.3.1","na`);
    const r = flannel(s, "DEL", s.conf());
    expect([r.exitCode, r.stdout]).toEqual([0, ""]);
    expect(r.stderr).toContain("failed to parse netconf");
    expect(existsSync(s.saved())).toBe(true);
    expect(s.log()).toEqual([]);
  }, 30_000);

  test.each([
    { why: "subnet.env missing", edit: (s: ReturnType<typeof setup>) => rmSync(s.subnetFile), code: 11, msg: /^failed to load flannel 'subnet.env' file: .*subnet.env does not exist$/ },
    { why: "subnet.env incomplete", edit: (s: ReturnType<typeof setup>) => writeFileSync(s.subnetFile, "FLANNEL_NETWORK=10.244.0.0/16\n"), code: 11, msg: /is missing FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ$/ },
    { why: "subnet.env malformed", edit: (s: ReturnType<typeof setup>) => writeFileSync(s.subnetFile, SUBNET_ENV.replace("1450", "lots")), code: 6, msg: /line 3: FLANNEL_MTU: "lots" is not an unsigned integer$/ },
  ])("ADD with $why fails with code $code, saves nothing and runs no delegate", ({ edit, code, msg }) => {
    using t = tempDir("fl-noenv");
    using pod = createTestNetns("pod");
    const s = setup(t);
    edit(s);
    const r = flannel(s, "ADD", s.conf(), pod.path);
    expect(r.exitCode).toBe(1);
    expect(r.json?.code).toBe(code);
    expect(String(r.json?.msg)).toMatch(msg);
    expect(String(r.json?.details)).toContain("Check the flannel pod log for this node");
    expect(existsSync(s.dataDir)).toBe(false);
    expect(s.log()).toEqual([]);
  }, 30_000);

  test.each([
    { why: "that is not installed", delegate: { type: "nope" }, code: 999, msg: /^failed to find plugin "nope" in path \[/ },
    { why: "with a name", delegate: { type: "fake", name: "x" }, code: 7, msg: /must not have 'name' field/ },
    { why: "with an ipam block", delegate: { type: "fake", ipam: {} }, code: 7, msg: /must not have 'ipam' field/ },
  ])("ADD refuses a delegate $why before saving anything", ({ delegate, code, msg }) => {
    using t = tempDir("fl-baddel");
    using pod = createTestNetns("pod");
    const s = setup(t);
    const r = flannel(s, "ADD", s.conf({ delegate }), pod.path);
    expect(r.json?.code).toBe(code);
    expect(String(r.json?.msg)).toMatch(msg);
    expect(existsSync(s.dataDir)).toBe(false);
  }, 30_000);
});

describe("flannel CHECK, STATUS and GC with a fake delegate", () => {
  test("CHECK sends the saved config plus prevResult to the delegate; without a saved config it fails", () => {
    using t = tempDir("fl-check");
    using pod = createTestNetns("pod");
    const s = setup(t);
    const conf = s.conf({ cniVersion: "1.0.0" });
    const add = flannel(s, "ADD", conf, pod.path);
    expect(add.exitCode).toBe(0);
    const prevResult = add.json;
    const c = flannel(s, "CHECK", { ...conf, prevResult }, pod.path);
    expect([c.exitCode, c.stdout]).toEqual([0, ""]);
    const line = s.log()[1]!;
    expect(line.split(" ")[0]).toBe("CHECK");
    const sent = JSON.parse(line.slice("CHECK ".length));
    expect(sent).toEqual({ ...JSON.parse(DELEGATE.replace("0.3.1", "1.0.0")), prevResult });
    rmSync(s.saved());
    const c2 = flannel(s, "CHECK", { ...conf, prevResult }, pod.path);
    expect(c2.exitCode).toBe(1);
    expect(String(c2.json?.msg)).toBe(`flannel has no saved delegate config for container "cid1"`);
  }, 30_000);

  test("STATUS is code 50 while subnet.env is missing or incomplete, then asks the delegate", () => {
    using t = tempDir("fl-status");
    const s = setup(t);
    const conf = s.conf({ cniVersion: "1.1.0", runtimeConfig: { portMappings: [] } });
    rmSync(s.subnetFile);
    const r1 = runPlugin({ binDir: s.bin, plugin: "flannel", command: "STATUS", conf, path: s.bin });
    expect(r1.json).toMatchObject({ cniVersion: "1.1.0", code: 50 });
    expect(String(r1.json?.msg)).toContain(`${s.subnetFile} does not exist`);
    writeFileSync(s.subnetFile, "FLANNEL_MTU=1450\n");
    const r2 = runPlugin({ binDir: s.bin, plugin: "flannel", command: "STATUS", conf, path: s.bin });
    expect(r2.json).toMatchObject({ code: 50 });
    expect(String(r2.json?.msg)).toContain("is missing FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK, FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET, FLANNEL_IPMASQ");
    expect(s.log()).toEqual([]);
    writeFileSync(s.subnetFile, SUBNET_ENV);
    const r3 = runPlugin({ binDir: s.bin, plugin: "flannel", command: "STATUS", conf, path: s.bin });
    expect([r3.exitCode, r3.stdout]).toEqual([0, ""]);
    expect(s.log()).toEqual([`STATUS ${DELEGATE.replace("0.3.1", "1.1.0")}`]); // no runtimeConfig for STATUS
  }, 30_000);

  test("GC forwards the delegate config built from subnet.env with the valid attachments", () => {
    using t = tempDir("fl-gc");
    const s = setup(t);
    const attachments = [{ containerID: "cid1", ifname: "eth0" }];
    const conf = s.conf({ cniVersion: "1.1.0", "cni.dev/valid-attachments": attachments, "cni.dev/attachments": attachments });
    const r = runPlugin({ binDir: s.bin, plugin: "flannel", command: "GC", conf, path: s.bin });
    expect([r.exitCode, r.stdout]).toEqual([0, ""]);
    const line = s.log()[0]!;
    expect(JSON.parse(line.slice("GC ".length))).toEqual({ ...JSON.parse(DELEGATE.replace("0.3.1", "1.1.0")), "cni.dev/valid-attachments": attachments, "cni.dev/attachments": attachments });
    s.fail("GC", `{"code":999,"msg":"gc broke"}`);
    expect(runPlugin({ binDir: s.bin, plugin: "flannel", command: "GC", conf, path: s.bin }).json).toEqual({ cniVersion: "1.1.0", code: 999, msg: "gc broke" });
  }, 30_000);
});
