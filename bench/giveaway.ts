/**
 * Giveaway entry rush: ENTRANTS signed-in viewers, split over two server processes on one Redis,
 * each send `giveaway:enter` once, at scheduled times spread evenly over WINDOW_MS (default 2 s).
 * Measures the ack latency of every entry from its scheduled send time (open loop), entries/s, and
 * then checks the draw: every acked entry is in the published list (lostEntries) and the verifier
 * script (scripts/verify-giveaway.mjs) says PASS on what the server published.
 * Entrants live in GENERATORS processes (giveaway-entrants.ts), each reporting how busy it was.
 * No baseline runs here (see docs/BENCHMARKS.md): the figures are absolute, on a shared machine.
 * Last line: `RESULT {json}`.
 *
 *   ENTRANTS=5000 npm run bench:giveaway
 *   QUICK=1 npm run bench:giveaway
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { z } from 'zod';
import { TokenService } from '../src/auth/tokens.js';
import { entryHash } from '../src/commerce/giveaways/giveaway-draw.js';
import { startEmbeddedRedis } from '../src/core/embedded-redis.js';
import type { Giveaway, GiveawayEntries } from '../src/protocol/index.js';
import { ONE_ADDRESS_CROWD } from '../test/helpers/lifted-limits.js';
import { spawnServerProcess } from '../test/helpers/stack.js';
import { Histogram, api, benchEnv, checkBusy, epochNow, fmt, forkTs, int, killOnExit, latenessOf, printResult, r2, type Forked } from './bench-kit.js';
import { connectSocketIo, joinRoom } from './clients.js';
import type { EntrantsConfig, FromEntrants, ToEntrants } from './giveaway-protocol.js';
import { runMain } from './run-main.js';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const env = benchEnv(
  {
    ENTRANTS: z.coerce.number().int().min(1).max(100_000).default(5000),
    WINDOW_MS: z.coerce.number().int().min(0).max(60_000).default(2000),
    GENERATORS: z.coerce.number().int().min(1).max(64).default(4),
    CONNECT_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(50),
    WINNERS: z.coerce.number().int().min(1).max(100).default(10),
  },
  { ENTRANTS: '1000', GENERATORS: '2' },
);

async function main(): Promise<void> {
  const jwtSecret = randomBytes(24).toString('hex');
  const redis = await startEmbeddedRedis({ persist: false });
  const servers = await Promise.all(
    [0, 1].map(() => spawnServerProcess(redis.url, { ...ONE_ADDRESS_CROWD, JWT_SECRET: jwtSecret, DEV_TOKENS: 'false' })),
  );
  killOnExit(...servers.map((s) => s.child));
  const urls = servers.map((s) => s.url);
  const tokens = new TokenService(jwtSecret, 'live-commerce');
  const host = { id: 'u_bench_host', name: 'Bench Host' };
  const hostToken = await tokens.sign(host);
  const { room } = await api(urls[0]!, 'POST', '/api/rooms', hostToken, { title: 'Giveaway bench', hostKind: 'buyer' });
  await api(urls[0]!, 'POST', `/api/rooms/${room.id}/live`, hostToken);
  const hostSocket = await connectSocketIo(urls[0]!, hostToken);
  const joined = await joinRoom(hostSocket, room.id);
  if (!joined.ok) throw new Error(`host join: ${joined.error.message}`);

  console.log(`giveaway bench: ${int(env.ENTRANTS)} entrants over 2 server processes, window ${env.WINDOW_MS} ms, ${env.GENERATORS} generators; ${cpus().length} cores, load ${loadavg().map((l) => fmt(l, 1)).join(' ')}`);
  const connectStart = epochNow();
  const generators: Forked<ToEntrants, FromEntrants>[] = Array.from({ length: env.GENERATORS }, (_, index) =>
    forkTs<ToEntrants, FromEntrants>(resolve(root, 'bench/giveaway-entrants.ts'), `entrants-${index}`, {
      index, generators: env.GENERATORS, entrants: env.ENTRANTS, urls, roomId: room.id, jwtSecret, connectConcurrency: env.CONNECT_CONCURRENCY,
    } satisfies EntrantsConfig, { cwd: root }),
  );
  killOnExit(...generators.map((g) => g.child));
  await Promise.all(generators.map((g) => g.next('ready')));
  console.log(`connected and joined in ${fmt((epochNow() - connectStart) / 1000, 1)} s`);

  // Entries open 1 s after the start (every generator has the message by then) and the deadline
  // leaves the window and 5 s for the slowest acks.
  const durationSec = Math.max(5, Math.ceil((1000 + env.WINDOW_MS + 5000) / 1000));
  const started = await new Promise<{ ok: boolean; data?: Giveaway; error?: { message: string } }>((ok) =>
    hostSocket.emit('giveaway:start', { text: 'Bench prize', durationSec, winners: env.WINNERS, rule: 'everyone' }, ok as never),
  );
  if (!started.ok) throw new Error(`giveaway:start: ${started.error!.message}`);
  const giveaway = started.data!;
  const drawn = new Promise<Giveaway>((ok) => hostSocket.on('giveaway:drawn', (p) => p.giveaway.id === giveaway.id && ok(p.giveaway)));
  const t0 = epochNow() + 1000;
  for (const g of generators) g.send({ type: 'enter', giveawayId: giveaway.id, t0, windowMs: env.WINDOW_MS });
  const reports = await Promise.all(generators.map((g) => g.next('entered')));

  const latency = Histogram.of(...reports.map((r) => r.latency));
  const lateness = Histogram.of(...reports.map((r) => r.lateness));
  const entered = reports.flatMap((r) => r.entered);
  const refusals: Record<string, number> = {};
  for (const r of reports) for (const [k, v] of Object.entries(r.refusals)) refusals[k] = (refusals[k] ?? 0) + v;
  const lastAckAt = Math.max(...reports.map((r) => r.lastAckAt));
  const entriesPerSec = entered.length / Math.max(0.001, (lastAckAt - t0) / 1000);
  const busyMax = checkBusy(generators.map((g, i) => ({ name: g.name, busy: reports[i]!.busy })));

  const result = await drawn;
  const published = (await api(urls[1]!, 'GET', `/api/giveaways/${giveaway.id}/entries`, hostToken)) as GiveawayEntries;
  const list = new Set(published.entries);
  const lostEntries = entered.filter((id) => !list.has(entryHash(result.salt!, id))).length;
  let drawVerified = false;
  try {
    const { stdout } = await run(process.execPath, ['scripts/verify-giveaway.mjs', urls[1]!, giveaway.id], { cwd: root });
    drawVerified = /^PASS /m.test(stdout);
    console.log(stdout.trim());
  } catch (err) {
    console.log(`verifier: ${(err as { stdout?: string }).stdout ?? err}`);
  }

  const p50 = latency.quantile(0.5);
  const p99 = latency.quantile(0.99);
  console.log(
    `entries acked ok ${int(entered.length)} of ${int(env.ENTRANTS)} (refusals ${JSON.stringify(refusals)}); ${int(entriesPerSec)} entries/s; ` +
      `ack latency from scheduled send p50 ${fmt(p50)} ms p99 ${fmt(p99)} ms max ${fmt(latency.max)} ms; generator lateness p99 ${fmt(latenessOf(lateness).p99Ms)} ms; ` +
      `published ${int(published.entries.length)}, lost ${lostEntries}; winners ${result.winners.length}; draw verified ${drawVerified}`,
  );
  printResult({
    entrants: env.ENTRANTS,
    windowMs: env.WINDOW_MS,
    entered: entered.length,
    published: published.entries.length,
    entriesPerSec: Math.round(entriesPerSec),
    p50Ms: r2(p50),
    p99Ms: r2(p99),
    maxMs: r2(latency.max),
    generatorLatenessP99Ms: r2(latenessOf(lateness).p99Ms),
    generatorBusyMax: r2(busyMax),
    refusals,
    lostEntries,
    drawVerified,
    cores: cpus().length,
    loadavg1: r2(loadavg()[0]),
  });
  hostSocket.disconnect();
  await Promise.all(generators.map((g) => g.stop()));
  await Promise.all(servers.map((s) => s.stop()));
  await redis.stop();
}

runMain(main);
