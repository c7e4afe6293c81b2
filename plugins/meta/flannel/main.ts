// flannel meta plugin: turns flanneld's subnet.env and its own config into a delegate config (normally bridge +
// host-local), saves it per container, and delegates every command to that plugin. Matches flannel-io/cni-plugin
// v1.9.1 (flannel.go, flannel_linux.go; cni-notes §3), and does better where noted: CHECK, STATUS and GC are
// forwarded, a failed ADD is rolled back, and the saved config is kept until the delegate's DEL succeeded.
import { CniCode, CniError, toCniError } from "../../../shared/cni/errors.ts";
import { formatResult, type Result } from "../../../shared/cni/result.ts";
import { prevResultOf, type CmdArgs, type Plugin } from "../../../shared/cni/skel.ts";
import { delegateAdd, delegateCheck, delegateDel, delegateGc, delegateStatus, findInPath } from "../../../shared/delegate/index.ts";
import { parseFlannelConfig, type FlannelConfig } from "./config.ts";
import { buildDelegateConf, marshalSorted } from "./delegate-conf.ts";
import { readSavedConf, removeSavedConf, removeStaleTemporaries, saveDelegateConf, savedConfPath } from "./saved-conf.ts";
import { loadSubnetEnv, SubnetEnvError, type SubnetEnv } from "./subnet-env.ts";

const decoder = new TextDecoder();
const SUBNET_ADVICE = "Check the flannel pod log for this node: flanneld writes this file once it holds a subnet lease";

function loadConfig(a: CmdArgs): FlannelConfig {
  // The raw stdin (already checked to be a JSON object by skel), so an absent cniVersion stays absent.
  return parseFlannelConfig(JSON.parse(decoder.decode(a.stdin)));
}

/** subnet.env, or the CNI error for it: code 50 for STATUS, else 11 (flanneld not ready), 5 or 6. */
function loadSubnet(file: string, command: CmdArgs["command"]): SubnetEnv {
  try {
    return loadSubnetEnv(file);
  } catch (e) {
    if (!(e instanceof SubnetEnvError)) throw e;
    const code =
      command === "STATUS" ? CniCode.NotAvailable
      : e.kind === "missing" || e.kind === "incomplete" ? CniCode.TryAgainLater
      : e.kind === "unreadable" ? CniCode.IoFailure
      : CniCode.DecodingFailure;
    const advice = e.kind === "malformed" ? `fix or remove that line (flanneld rewrites the file when it restarts). ${SUBNET_ADVICE}` : SUBNET_ADVICE;
    throw new CniError(code, `failed to load flannel 'subnet.env' file: ${e.message}`, advice);
  }
}

function debug(a: CmdArgs, text: string): void {
  if (/^(1|true)$/i.test(a.env.WEFT_DEBUG ?? "")) a.stderr(`flannel: ${text}`);
}

async function add(a: CmdArgs): Promise<Result> {
  const conf = loadConfig(a);
  const env = loadSubnet(conf.subnetFile, a.command);
  const delegate = buildDelegateConf(conf, env, { withRuntimeConfig: true });
  const type = delegate.type as string;
  findInPath(type, a.path); // a delegate that is not installed fails here, before anything is saved
  const bytes = marshalSorted(delegate);
  debug(a, `netconf sent to delegate plugin: ${bytes}`);
  const file = savedConfPath(conf.dataDir, a.containerId);
  // A saved config already there means this container is attached (a runtime retrying an ADD after a timeout):
  // its resources belong to that attachment, so a failure here must not DEL them, and the file is put back.
  const previous = readSavedConf(file);
  saveDelegateConf(file, conf.dataDir, bytes);

  await using undo = new AsyncDisposableStack();
  if (previous) undo.defer(() => restoreSaved(a, file, conf.dataDir, previous));
  else undo.defer(() => rollback(a, type, bytes, file));
  const result = await delegateAdd({ type, stdin: bytes, args: a });
  undo.move();
  return result;
}

/** After a failed ADD for a container that was already attached: its saved config as it was; nothing DELeted. */
function restoreSaved(a: CmdArgs, file: string, dataDir: string, previous: Buffer): void {
  try {
    saveDelegateConf(file, dataDir, decoder.decode(previous));
  } catch (e) {
    a.stderr(`flannel: could not restore the saved config ${file} after the failed ADD: ${toCniError(e).message}`);
  }
}

/**
 * After a failed delegate ADD: DEL the delegate with the same config (SPEC §4), then drop the saved config. If
 * that DEL fails the file stays, so the runtime's DEL (which follows every failed ADD) can try again. Never
 * throws: the ADD's own error is what the runtime must see.
 */
async function rollback(a: CmdArgs, type: string, bytes: string, file: string): Promise<void> {
  try {
    await delegateDel({ type, stdin: bytes, args: a });
    removeSavedConf(file);
  } catch (e) {
    a.stderr(`flannel: undoing the failed ADD: delegate DEL failed, keeping ${file} for the runtime's DEL: ${toCniError(e).message}`);
  }
}

/** The saved config's delegate type, or why it cannot be used. */
function parseSaved(bytes: Buffer): { conf: Record<string, unknown>; type: string } | { problem: string } {
  let conf: unknown;
  try {
    conf = JSON.parse(decoder.decode(bytes));
  } catch (e) {
    return { problem: (e as Error).message };
  }
  if (typeof conf !== "object" || conf === null || Array.isArray(conf)) return { problem: "it is not a JSON object" };
  const type = (conf as Record<string, unknown>).type;
  if (typeof type !== "string" || type === "") return { problem: `its "type" is not a plugin name` };
  return { conf: conf as Record<string, unknown>, type };
}

async function del(a: CmdArgs): Promise<void> {
  const conf = loadConfig(a);
  const file = savedConfPath(conf.dataDir, a.containerId);
  removeStaleTemporaries(conf.dataDir, a.containerId); // an ADD killed while saving left one
  const bytes = readSavedConf(file);
  if (!bytes) return; // never added on this node, or already deleted
  const saved = parseSaved(bytes);
  if ("problem" in saved) {
    // As the reference (flannel PR #33): a corrupt file must not block the pod's deletion forever. It is kept
    // for a person to look at; the delegate's resources (veth, address) are not released.
    a.stderr(`failed to parse netconf: ${file}: ${saved.problem}; the pod's delegate resources were not released (file kept)`);
    return;
  }
  await delegateDel({ type: saved.type, stdin: bytes, args: a });
  removeSavedConf(file);
}

async function check(a: CmdArgs): Promise<void> {
  const conf = loadConfig(a);
  const file = savedConfPath(conf.dataDir, a.containerId);
  const bytes = readSavedConf(file);
  if (!bytes) {
    throw new CniError(CniCode.Internal, `flannel has no saved delegate config for container "${a.containerId}"`, `${file} does not exist: the pod was not added by flannel on this node, or was deleted; re-create it`);
  }
  const saved = parseSaved(bytes);
  if ("problem" in saved) throw new CniError(CniCode.DecodingFailure, `failed to parse netconf: ${file}`, saved.problem);
  // The delegate checks against the runtime's prevResult, in the delegate config's own version.
  const prev = prevResultOf(a.conf);
  const version = typeof saved.conf.cniVersion === "string" && saved.conf.cniVersion !== "" ? saved.conf.cniVersion : a.cniVersion;
  const stdin = prev ? marshalSorted({ ...saved.conf, prevResult: formatResult(prev, version) }) : bytes;
  await delegateCheck({ type: saved.type, stdin, args: a });
}

async function status(a: CmdArgs): Promise<void> {
  const conf = loadConfig(a);
  const delegate = buildDelegateConf(conf, loadSubnet(conf.subnetFile, a.command), { withRuntimeConfig: false });
  await delegateStatus({ type: delegate.type as string, stdin: marshalSorted(delegate), args: a });
}

/** GC: the delegate config as ADD would build it today, with the runtime's list of valid attachments. */
async function gc(a: CmdArgs): Promise<void> {
  const conf = loadConfig(a);
  const delegate = buildDelegateConf(conf, loadSubnet(conf.subnetFile, a.command), { withRuntimeConfig: false });
  for (const key of ["cni.dev/valid-attachments", "cni.dev/attachments"]) if (key in conf.raw) delegate[key] = conf.raw[key];
  await delegateGc({ type: delegate.type as string, stdin: marshalSorted(delegate), args: a });
}

export const plugin: Plugin = { name: "flannel", add, del, check, status, gc };
