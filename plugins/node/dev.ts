// Development entry until `weft node` is wired into plugins/main.ts: `bun plugins/node/dev.ts [status] [flags]`.
import { runNode } from "./main.ts";

process.exit(await runNode(process.argv.slice(2)));
