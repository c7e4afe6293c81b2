// Build step: compiles every plugin's JSON schemas (plugins/**/schema.ts, `export const schemas = {...}`) into
// ajv standalone validator modules under shared/config/gen/, one module per schema, each with a .d.ts.
// Run by `make gen` before build, typecheck and tests; the output is not committed.
import Ajv from "ajv";
import standaloneCode from "ajv/dist/standalone";
import { Glob } from "bun";
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

type Schema = Record<string, unknown>;
interface KeyTree { p?: Record<string, [string, KeyTree]>; i?: KeyTree; a?: KeyTree }

function keyTree(s: unknown): KeyTree | undefined {
  if (typeof s !== "object" || s === null) return undefined;
  const schema = s as Schema;
  const t: KeyTree = {};
  if (schema.properties && typeof schema.properties === "object") {
    t.p = {};
    for (const [k, sub] of Object.entries(schema.properties as Schema)) t.p[k.toLowerCase()] = [k, keyTree(sub) ?? {}];
  }
  if (schema.items) {
    const i = keyTree(schema.items);
    if (i) t.i = i;
  }
  if (schema.additionalProperties && typeof schema.additionalProperties === "object") {
    const a = keyTree(schema.additionalProperties);
    if (a) t.a = a;
  }
  for (const k of ["anyOf", "oneOf", "allOf"]) {
    const alts = schema[k];
    if (Array.isArray(alts)) {
      for (const alt of alts) {
        const sub = keyTree(alt);
        if (sub?.p) t.p = { ...(t.p ?? {}), ...sub.p };
        if (sub?.i && !t.i) t.i = sub.i;
      }
    }
  }
  return t.p || t.i || t.a ? t : undefined;
}

const root = resolve(import.meta.dir, "..");
const outDir = join(root, "shared/config/gen");
mkdirSync(outDir, { recursive: true });
let count = 0;
const written = new Set<string>();
/** Each file is written beside and renamed into place, so a concurrent reader never sees it missing or half-written. */
function put(file: string, text: string): void {
  const tmp = join(outDir, `.${file}.${process.pid}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, join(outDir, file));
  written.add(file);
}
for (const file of new Glob("plugins/**/schema.ts").scanSync({ cwd: root })) {
  const mod = (await import(join(root, file))) as { schemas?: Record<string, Schema> };
  for (const [name, schema] of Object.entries(mod.schemas ?? {})) {
    const ajv = new Ajv({ code: { source: true, esm: true }, allErrors: true, strict: true, allowUnionTypes: true });
    const validate = ajv.compile(schema);
    const code = standaloneCode(ajv, validate);
    put(`${name}.js`, fixExport(code, schema, name));
    put(`${name}.d.ts`, `import type { GeneratedValidator } from "../index.ts";\ndeclare const gen: GeneratedValidator;\nexport default gen;\n`);
    count++;
  }
}
for (const f of readdirSync(outDir)) if (!written.has(f) && !f.startsWith(".")) rmSync(join(outDir, f), { force: true });
console.log(`gen-validators: ${count} validators in shared/config/gen`);

/** ajv's ESM standalone output exports the function as default; wrap it with the key tree. */
function fixExport(code: string, schema: Schema, name: string): string {
  const body = code.replace(/export default\s+([A-Za-z0-9_$]+);?/, "const __validate = $1;");
  if (body === code) throw new Error(`unexpected ajv standalone output for ${name}`);
  return `${body}\nexport default { validate: __validate, keys: ${JSON.stringify(keyTree(schema) ?? {})} };\n`;
}
