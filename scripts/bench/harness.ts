// Benchmark harness: each sample runs a scenario step for weft and for the reference in turn (A B A B …, so
// drift on this noisy machine hits both), timing the whole step from outside as processes; peak memory (the
// largest single process) comes from one extra untimed run under GNU time. A step is a small sequence of plugin
// processes (e.g. ADD then DEL), which one process per sample (hyperfine's shape) cannot express.
import { readFileSync, rmSync } from "node:fs";

export interface Proc {
  argv: string[];
  env: Record<string, string>;
  stdin?: string;
}
export interface StepOutcome {
  ms: number;
  maxRssBytes: number;
}

/**
 * Peak memory: Bun's rusage of a spawned child counts the pages the child had as a copy of this Bun process
 * before its exec (~25 MB), hiding a small Go plugin's real peak. So memory is read in a separate, untimed run of
 * each step under GNU time (`%M`, the child's own max RSS), while the timed runs spawn the plugins directly.
 */
let memoryMode = false;
let memSeq = 0;
const memFile = `/tmp/weft-bench-mem-${process.pid}`;

/** The argv to spawn: under memory mode, wrapped in /usr/bin/time writing the peak to a file. */
function wrap(argv: string[]): { argv: string[]; file?: string } {
  if (!memoryMode) return { argv };
  const file = `${memFile}-${memSeq++}`;
  return { argv: ["/usr/bin/time", "-f", "%M", "-o", file, ...argv], file };
}

function peakOf(file: string | undefined): number {
  if (!file) return 0;
  try {
    const kib = Number.parseInt(readFileSync(file, "utf8").trim().split("\n").pop() ?? "0", 10);
    rmSync(file, { force: true });
    return Number.isFinite(kib) ? kib * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Spawns one process synchronously; its peak memory is known only under memory mode. */
export function spawnMeasured(p: Proc): { exitCode: number; stdout: string; stderr: string; peakBytes: number } {
  const w = wrap(p.argv);
  const r = Bun.spawnSync(w.argv, { env: p.env, stdin: Buffer.from(p.stdin ?? ""), stdout: "pipe", stderr: "pipe" });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString(), peakBytes: peakOf(w.file) };
}

/** Runs processes one after the other; fails loudly when one exits non-zero. */
export function runSeq(procs: Proc[]): StepOutcome {
  let maxRss = 0;
  const t0 = performance.now();
  for (const p of procs) {
    const r = spawnMeasured(p);
    if (r.exitCode !== 0) throw new Error(`${p.argv.join(" ")} (${p.env.CNI_COMMAND ?? ""}) exited ${r.exitCode}: ${r.stdout} ${r.stderr}`);
    maxRss = Math.max(maxRss, r.peakBytes);
  }
  return { ms: performance.now() - t0, maxRssBytes: maxRss };
}

/** Starts every process at once and waits for all; the wall time is first start to last exit. */
export async function runParallel(procs: Proc[]): Promise<StepOutcome & { perProcMs: number[] }> {
  const t0 = performance.now();
  const perProcMs: number[] = [];
  let maxRss = 0;
  const failures: string[] = [];
  await Promise.all(
    procs.map(async (p) => {
      const s = performance.now();
      const w = wrap(p.argv);
      const child = Bun.spawn(w.argv, { env: p.env, stdin: new Blob([p.stdin ?? ""]), stdout: "pipe", stderr: "pipe" });
      const [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
      const code = await child.exited;
      perProcMs.push(performance.now() - s);
      maxRss = Math.max(maxRss, peakOf(w.file));
      if (code !== 0) failures.push(`${p.argv.join(" ")} exited ${code}: ${out} ${err}`);
    }),
  );
  if (failures.length) throw new Error(`${failures.length} of ${procs.length} failed; first: ${failures[0]}`);
  return { ms: performance.now() - t0, maxRssBytes: maxRss, perProcMs };
}

export interface Series {
  ms: number[];
  rss: number[];
}

export interface Row {
  scenario: string;
  weft: Series;
  ref: Series;
  note?: string;
}

export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[idx]!;
}
export const median = (xs: number[]) => quantile(xs, 0.5);

/** Ratios weft/ref pair by pair, so a drift in machine speed hits both sides of each ratio. */
export function pairRatios(a: number[], b: number[]): number[] {
  return a.map((x, i) => x / (b[i] ?? Number.NaN));
}

/**
 * Runs `samples` rounds of (weft, ref) after `warmup` unrecorded rounds. `prepare`/`cleanup` run around each
 * step outside the timing (e.g. fresh netns).
 */
export async function compare(o: {
  scenario: string;
  samples: number;
  warmup?: number;
  weft: () => StepOutcome | Promise<StepOutcome>;
  ref: () => StepOutcome | Promise<StepOutcome>;
  note?: string;
}): Promise<Row> {
  const row: Row = { scenario: o.scenario, weft: { ms: [], rss: [] }, ref: { ms: [], rss: [] }, ...(o.note ? { note: o.note } : {}) };
  for (let i = 0; i < (o.warmup ?? 2); i++) {
    await o.weft();
    await o.ref();
  }
  for (let i = 0; i < o.samples; i++) {
    const w = await o.weft();
    const r = await o.ref();
    row.weft.ms.push(w.ms);
    row.ref.ms.push(r.ms);
  }
  // One more untimed run of each side, under GNU time, for the peak memory.
  memoryMode = true;
  try {
    row.weft.rss.push((await o.weft()).maxRssBytes);
    row.ref.rss.push((await o.ref()).maxRssBytes);
  } finally {
    memoryMode = false;
  }
  const ratio = median(pairRatios(row.weft.ms, row.ref.ms));
  console.log(`${o.scenario}: weft ${median(row.weft.ms).toFixed(1)} ms, reference ${median(row.ref.ms).toFixed(1)} ms, ratio ${ratio.toFixed(2)}`);
  return row;
}

const mib = (b: number) => (b > 0 ? (b / 1048576).toFixed(1) : "n/a");

export function markdownTable(rows: Row[]): string {
  const head = "| scenario | weft median ms | weft p95 ms | reference median ms | reference p95 ms | ratio (median of pairs) | weft peak MiB | reference peak MiB |\n|---|---|---|---|---|---|---|---|";
  const lines = rows.map((r) => {
    const ratio = median(pairRatios(r.weft.ms, r.ref.ms));
    return `| ${r.scenario}${r.note ? ` (${r.note})` : ""} | ${median(r.weft.ms).toFixed(1)} | ${quantile(r.weft.ms, 0.95).toFixed(1)} | ${median(r.ref.ms).toFixed(1)} | ${quantile(r.ref.ms, 0.95).toFixed(1)} | ${ratio.toFixed(2)} | ${mib(Math.max(...r.weft.rss))} | ${mib(Math.max(...r.ref.rss))} |`;
  });
  return [head, ...lines].join("\n");
}

/** A small line chart as SVG: x = concurrency, y = median per-ADD latency, one line per implementation. */
export function svgPlot(title: string, xs: number[], lines: Array<{ label: string; color: string; ys: number[] }>): string {
  const W = 640, H = 400, L = 60, R = 20, T = 40, B = 50;
  const maxY = Math.max(1, ...lines.flatMap((l) => l.ys)) * 1.1;
  const lx = (i: number) => L + ((W - L - R) * Math.log2(xs[i]!)) / Math.log2(Math.max(2, xs[xs.length - 1]!));
  const ly = (y: number) => H - B - ((H - T - B) * y) / maxY;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="100%" height="100%" fill="white"/><text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${title}</text>`);
  parts.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`);
  xs.forEach((x, i) => parts.push(`<text x="${lx(i)}" y="${H - B + 18}" text-anchor="middle">${x}</text>`));
  for (let k = 0; k <= 4; k++) {
    const y = (maxY * k) / 4;
    parts.push(`<text x="${L - 6}" y="${ly(y) + 4}" text-anchor="end">${y.toFixed(0)}</text><line x1="${L}" y1="${ly(y)}" x2="${W - R}" y2="${ly(y)}" stroke="#ddd"/>`);
  }
  parts.push(`<text x="${W / 2}" y="${H - 12}" text-anchor="middle">concurrent ADDs</text><text x="16" y="${H / 2}" transform="rotate(-90 16 ${H / 2})" text-anchor="middle">median ADD latency (ms)</text>`);
  lines.forEach((l, j) => {
    const pts = l.ys.map((y, i) => `${lx(i)},${ly(y)}`).join(" ");
    parts.push(`<polyline fill="none" stroke="${l.color}" stroke-width="2" points="${pts}"/>`);
    l.ys.forEach((y, i) => parts.push(`<circle cx="${lx(i)}" cy="${ly(y)}" r="3" fill="${l.color}"/>`));
    parts.push(`<rect x="${L + 10}" y="${T + 6 + j * 18}" width="12" height="12" fill="${l.color}"/><text x="${L + 28}" y="${T + 16 + j * 18}">${l.label}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n");
}
