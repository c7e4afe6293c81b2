// A libcni for TypeScript: load network config lists, run them against plugin binaries as a runtime does, and
// keep libcni's result cache. Used by the `weft` CLI, the demo and the benches.
export { DEFAULT_CACHE_DIR, cacheFile, deleteCache, listCache, parseCacheText, readCache, readCacheFile, writeCache } from "./cache.ts";
export type { CacheEntry, CacheRead } from "./cache.ts";
export { RUNNER_VERSION, confFiles, effectiveVersion, findNetwork, isFileArg, loadNetworkFile, parseNetworkList, parseSingleConf, scanConfDir } from "./conf.ts";
export type { NetworkList, PluginConf, ScannedFile } from "./conf.ts";
export { LibcniError, PluginError } from "./errors.ts";
export type { Op } from "./errors.ts";
export { execPlugin, findPlugin } from "./exec.ts";
export { goJson, jsonEqual } from "./go-json.ts";
export { addList, buildOneConfig, cachedResultAs, checkList, delList, forget, gcList, planDel, statusList } from "./runner.ts";
export type { Attachment, DelPlan, GcReport, RunnerOptions, RuntimeConf } from "./runner.ts";
