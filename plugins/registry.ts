// The plugins this binary answers to, each imported lazily so a plugin pays only for what it uses.
// Used by main.ts (dispatch on the invoked name) and by in-process delegation (shared/delegate).
import type { Plugin } from "../shared/cni/skel.ts";

export const PLUGIN_NAMES = ["bridge", "host-local", "flannel", "portmap", "loopback"] as const;
export type PluginName = (typeof PLUGIN_NAMES)[number];

const LOADERS: Record<PluginName, () => Promise<{ plugin: Plugin }>> = {
  bridge: () => import("./main/bridge/main.ts"),
  "host-local": () => import("./ipam/host-local/main.ts"),
  flannel: () => import("./meta/flannel/main.ts"),
  portmap: () => import("./meta/portmap/main.ts"),
  loopback: () => import("./main/loopback/main.ts"),
};

export function isPluginName(name: string): name is PluginName {
  return (PLUGIN_NAMES as readonly string[]).includes(name);
}

/** The plugin called `name`, or undefined when this binary has none of that name. */
export async function loadPlugin(name: string): Promise<Plugin | undefined> {
  return isPluginName(name) ? (await LOADERS[name]()).plugin : undefined;
}
