// Hook through which the entry point tells shared/ how to load weft's own plugins, so a delegate that is this
// very binary can run in-process (shared/ never imports plugins/). Filled in by plugins/main.ts.
import type { Plugin } from "../cni/skel.ts";

export type PluginLoader = (name: string) => Promise<Plugin | undefined>;
let loader: PluginLoader | undefined;

export function setInProcessLoader(l: PluginLoader): void {
  loader = l;
}

/** The loader, or undefined when none was registered (tests, or a process that is not weft's binary). */
export function getInProcessLoader(): PluginLoader | undefined {
  return loader;
}
