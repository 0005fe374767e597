/**
 * Private profiling aid for the reserve path (issue 10): summarises a V8 .cpuprofile by self
 * time per function and per file/package, so per-tap costs can be compared between runs.
 *
 *   npx tsx bench/profile-reserve-summary.ts /tmp/prof/x.cpuprofile [taps] [top]
 *
 * `taps` (optional) divides the totals into µs per tap.
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, tapsArg, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-reserve-summary.ts <file.cpuprofile> [taps] [top]');
const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const taps = Number(tapsArg ?? 0);
const top = Number(topArg ?? 40);

const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i + 1] ?? 0;
  self.set(prof.samples[i]!, (self.get(prof.samples[i]!) ?? 0) + dt);
}
const total = [...self.values()].reduce((a, b) => a + b, 0);

function where(url: string): string {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return url;
  const src = url.indexOf('/src/');
  if (src >= 0) return url.slice(src + 1);
  const bench = url.indexOf('/bench/');
  return bench >= 0 ? url.slice(bench + 1) : url;
}

const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n: Node) => `${n.callFrame.functionName || '(anon)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const fn = new Map<string, number>();
const pkg = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id)!;
  const { functionName, url, lineNumber } = n.callFrame;
  const w = where(url);
  const key = `${functionName || '(anon)'} ${w}:${lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + us);
  pkg.set(w, (pkg.get(w) ?? 0) + us);
}

const fmt = (us: number) =>
  `${(us / 1000).toFixed(1).padStart(8)} ms ${((us / total) * 100).toFixed(1).padStart(5)} %` + (taps > 0 ? ` ${(us / taps).toFixed(2).padStart(7)} µs/tap` : '');
console.log(`total sampled ${(total / 1000).toFixed(1)} ms over ${((prof.endTime - prof.startTime) / 1000).toFixed(0)} ms wall`);
console.log('--- by file/package');
for (const [k, v] of [...pkg].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${fmt(v)}  ${k}`);
console.log('--- by function');
for (const [k, v] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${fmt(v)}  ${k}`);

// Inclusive time of every function (counted once per sample even when recursive), and for the
// heaviest self-time functions the call paths that lead to them.
const inclusive = new Map<string, number>();
const paths = new Map<string, Map<string, number>>();
const depth = Number(process.env.PATH_DEPTH ?? 6);
for (const [id, us] of self) {
  const seen = new Set<string>();
  const chain: string[] = [];
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!);
    if (chain.length < depth) chain.push(l);
    if (seen.has(l)) continue;
    seen.add(l);
    inclusive.set(l, (inclusive.get(l) ?? 0) + us);
  }
  const head = chain[0]!;
  const m = paths.get(head) ?? new Map<string, number>();
  const rest = chain.slice(1).join(' < ');
  m.set(rest, (m.get(rest) ?? 0) + us);
  paths.set(head, m);
}
console.log('--- inclusive');
for (const [k, v] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${fmt(v)}  ${k}`);
const show = (process.env.PATHS_OF ?? '').split(',').filter(Boolean);
for (const name of show) {
  for (const [head, m] of paths) {
    if (!head.startsWith(name)) continue;
    console.log(`--- paths to ${head}`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${fmt(v)}  < ${k}`);
  }
}
