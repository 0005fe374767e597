/**
 * Join storm: VIEWERS viewers (signed in, socket.io-client, spread over GENERATORS load-generator
 * processes and over NODES server processes) join one live room within JOIN_SECONDS, on a
 * private redis-server. Measures:
 *   - join ack p50/p99, from each join's scheduled time (open loop), and how late the generators
 *     were to that schedule; each generator's busy figure (flagged over 70 %);
 *   - presenceExactAfterMs: from the last join ack until every node has broadcast exactly
 *     VIEWERS viewers (one observing host connection per node; the host is staff, not counted);
 *   - Redis CPU per join (INFO cpu over the storm), server RSS per idle viewer (VmRSS after − before);
 *   - countUsAt100k: Redis time of one presence count with 100,000 viewers in the room (INFO
 *     commandstats over 1,000 counts), interleaved with the count this replaced (a Lua script
 *     reading the whole member set) as the baseline doing the same work, PAIRS rounds.
 * Last line: `RESULT {json}`.
 *
 *   VIEWERS=10000 NODES=3 npm run bench:join-storm
 *   QUICK=1 npm run bench:join-storm
 */
import { collectGarbageAndMeasure } from './inspector-gc.js';
import { Histogram, benchEnv, checkBusy, epochNow, r2, fmtRatio, forkTs, killOnExit, latenessOf, median, postJson, printResult, ratioStats, type Forked } from './bench-kit.js';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { TokenService } from '../src/auth/tokens.js';
import { freePort, startEmbeddedRedis } from '../src/core/embedded-redis.js';
import { createRedisClient, type RedisClient } from '../src/core/redis-client.js';
import type { PresenceCounts } from '../src/protocol/index.js';
import { PresenceStore, presenceField, type PresenceField } from '../src/rooms/presence-store.js';
import { ONE_ADDRESS_CROWD } from '../test/helpers/lifted-limits.js';
import { TEST_SECRET, spawnServerProcess, type ServerProcess } from '../test/helpers/stack.js';
import { connectSocketIo, joinRoom, type ViewerSocket } from './clients.js';
import type { GeneratorConfig, GeneratorMessage, ParentToGenerator } from './join-storm-clients.js';
import { runMain } from './run-main.js';

const env = benchEnv(
  {
    VIEWERS: z.coerce.number().int().min(1).max(200_000).default(10_000),
    NODES: z.coerce.number().int().min(1).max(16).default(3),
    GENERATORS: z.coerce.number().int().min(1).max(32).default(3),
    JOIN_SECONDS: z.coerce.number().min(0.1).max(600).default(10),
    CONNECT_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(50),
    COUNT_MEMBERS: z.coerce.number().int().min(1).max(1_000_000).default(100_000),
    /** Rounds of the count comparison, ours and the old full scan interleaved. */
    PAIRS: z.coerce.number().int().min(1).max(50).default(5),
  },
  { VIEWERS: '600', NODES: '2', GENERATORS: '2', JOIN_SECONDS: '3', COUNT_MEMBERS: '10000', PAIRS: '3' },
);

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** How long after the last join ack to wait for every node to report exactly VIEWERS. */
const EXACT_TIMEOUT_MS = 30_000;
const TARGETS = { presenceExactAfterMs: 3000, rssKbPerViewer: 40, countUsAt100k: 100 };

const log = (line: string) => console.log(line);

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN);
}

async function redisCpuSeconds(redis: RedisClient): Promise<number> {
  const info = await redis.info('cpu');
  const v = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN);
  return v('used_cpu_user') + v('used_cpu_sys');
}

/** Sum of usec over all commands in INFO commandstats, and per command. */
async function commandUsec(redis: RedisClient): Promise<Map<string, { calls: number; usec: number }>> {
  const info = await redis.info('commandstats');
  const out = new Map<string, { calls: number; usec: number }>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) out.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  return out;
}

type Generator = Forked<ParentToGenerator, GeneratorMessage>;

const startGenerator = (cfg: GeneratorConfig): Generator => forkTs(resolve(ROOT, 'bench/join-storm-clients.ts'), `generator ${cfg.index}`, cfg, { cwd: ROOT });

/** The count this design replaced: prune, read every member, count distinct users. */
const OLD_COUNT_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local seen, n = {}, 0
for _, m in ipairs(members) do
  local u = string.match(m, '^(.*)|[^|]*$') or m
  if not seen[u] then seen[u] = true; n = n + 1 end
end
return n`;

/**
 * Redis time of one count at COUNT_MEMBERS viewers: ours (INFO commandstats over 1,000 counts)
 * interleaved with the old full-scan script (one call per round), PAIRS rounds; medians, and the
 * median of the per-round ratios with min–max.
 */
async function measureCount(redis: RedisClient): Promise<{ oursUs: number; oldUs: number; ratios: number[] }> {
  const store = new PresenceStore(redis);
  const room = 'bench-count';
  for (let i = 0; i < env.COUNT_MEMBERS; i += 1000) {
    const chunk: [PresenceField, number][] = [];
    for (let j = i; j < Math.min(env.COUNT_MEMBERS, i + 1000); j++) chunk.push([presenceField(false, `u:${j}`), 1]);
    await store.apply(room, 'bench-filler', chunk);
  }
  const zkey = '{room:bench-old}:presence';
  for (let i = 0; i < env.COUNT_MEMBERS; i += 1000) {
    const args: (string | number)[] = [];
    for (let j = i; j < Math.min(env.COUNT_MEMBERS, i + 1000); j++) args.push(Date.now() + 3_600_000, `u:${j}|s${j}`);
    await redis.zadd(zkey, ...args);
  }
  const check = await store.count(room);
  if (check.viewers !== env.COUNT_MEMBERS) throw new Error(`count fill: ${check.viewers}`);
  const ours: number[] = [];
  const old: number[] = [];
  const total = (m: Map<string, { usec: number }>) => [...m.values()].reduce((s, v) => s + v.usec, 0);
  for (let round = 0; round < env.PAIRS; round++) {
    await redis.config('RESETSTAT');
    for (let i = 0; i < 1000; i++) await store.count(room);
    const stats = await commandUsec(redis);
    stats.delete('config|resetstat');
    ours.push(total(stats) / 1000);
    await redis.config('RESETSTAT');
    const n = await redis.eval(OLD_COUNT_SCRIPT, 1, zkey, 0);
    if (n !== env.COUNT_MEMBERS) throw new Error(`old count: ${String(n)}`);
    const oldStats = await commandUsec(redis);
    old.push(oldStats.get('eval')?.usec ?? Number.NaN);
  }
  await redis.del(zkey, `{room:${room}}:presence:viewers`, `{room:${room}}:presence:node:bench-filler`);
  return { oursUs: median(ours), oldUs: median(old), ratios: ours.map((o, i) => o / old[i]!) };
}

async function main(): Promise<void> {
  const load = loadavg();
  log(
    `join-storm: ${env.VIEWERS} viewers join one room within ${env.JOIN_SECONDS} s over ${env.NODES} server processes, ` +
      `${env.GENERATORS} load generators; load average ${load.map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} cores`,
  );
  const redisServer = await startEmbeddedRedis({ persist: false });
  const redis = createRedisClient({ kind: 'single', url: redisServer.url }, { commandTimeoutMs: 0 });
  await redis.connect();
  const servers: ServerProcess[] = [];
  const inspectPorts: number[] = [];
  const generators: Generator[] = [];
  const observers: ViewerSocket[] = [];
  try {
    // Each server with its inspector open, so idle memory can be read after a full GC.
    inspectPorts.push(...(await Promise.all(Array.from({ length: env.NODES }, () => freePort()))));
    servers.push(
      ...(await Promise.all(
        inspectPorts.map((port) => spawnServerProcess(redisServer.url, { MEDIA_ENABLED: 'false', ...ONE_ADDRESS_CROWD, NODE_OPTIONS: `--inspect=127.0.0.1:${port}` })),
      )),
    );
    killOnExit(...servers.map((s) => s.child));
    const urls = servers.map((s) => s.url);
    const tokens = new TokenService(TEST_SECRET, 'live-commerce');
    const hostToken = await tokens.sign({ id: 'u_storm_host', name: 'Host' });
    const { room } = await postJson(urls[0]!, '/api/rooms', hostToken, { title: 'Join storm', hostKind: 'buyer' });
    await postJson(urls[0]!, `/api/rooms/${room.id}/live`, hostToken);

    // One observing host connection per node: what that node broadcasts to the room.
    const exactAt: (number | null)[] = urls.map(() => null);
    const lastSeen: (PresenceCounts | null)[] = urls.map(() => null);
    let allReported = () => {};
    const allExact = new Promise<void>((done) => (allReported = done));
    await Promise.all(
      urls.map(async (url, i) => {
        const s = await connectSocketIo(url, hostToken);
        observers.push(s);
        s.on('presence:update', (p: PresenceCounts) => {
          lastSeen[i] = p;
          if (p.viewers !== env.VIEWERS || exactAt[i] !== null) return;
          exactAt[i] = epochNow();
          if (exactAt.every((t) => t !== null)) allReported();
        });
        const joined = await joinRoom(s, room.id);
        if (!joined.ok) throw new Error(`host join failed: ${joined.error.message}`);
      }),
    );

    const rssBefore = servers.map((s) => rssKb(s.child.pid!));
    const liveBefore = await Promise.all(servers.map((s, i) => collectGarbageAndMeasure(inspectPorts[i]!, () => rssKb(s.child.pid!))));
    const connectStarted = epochNow();
    for (let index = 0; index < env.GENERATORS; index++) {
      generators.push(
        startGenerator({
          index,
          generators: env.GENERATORS,
          viewers: env.VIEWERS,
          urls,
          roomId: room.id,
          jwtSecret: TEST_SECRET,
          joinSeconds: env.JOIN_SECONDS,
          connectConcurrency: env.CONNECT_CONCURRENCY,
        }),
      );
    }
    await Promise.all(generators.map((g) => g.next('connected')));
    log(`  ${env.VIEWERS} viewers connected (not joined) in ${((epochNow() - connectStarted) / 1000).toFixed(1)} s`);
    const rssConnected = servers.map((s) => rssKb(s.child.pid!));

    const cpuBefore = await redisCpuSeconds(redis);
    const at = epochNow() + 500;
    for (const g of generators) g.send({ type: 'start', at });
    const done = await Promise.all(generators.map((g) => g.next('done')));
    const lastAckAt = Math.max(...done.map((d) => d.lastAckAt));
    const latency = Histogram.of(...done.map((d) => d.latency));
    const lateness = latenessOf(Histogram.of(...done.map((d) => d.lateness)));
    const failures: Record<string, number> = {};
    for (const d of done) for (const [k, v] of Object.entries(d.failures)) failures[k] = (failures[k] ?? 0) + v;
    const stormMs = lastAckAt - at;
    log(`  joins: ${latency.count} acked over ${(stormMs / 1000).toFixed(1)} s (scheduled over ${env.JOIN_SECONDS} s), failures ${JSON.stringify(failures)}`);
    log(`  join ack from scheduled time: p50 ${latency.quantile(0.5).toFixed(1)} ms  p99 ${latency.quantile(0.99).toFixed(1)} ms  max ${latency.max.toFixed(1)} ms; generators late to the schedule p99 ${lateness.p99Ms.toFixed(1)} / max ${lateness.maxMs.toFixed(1)} ms`);
    let timer: NodeJS.Timeout | undefined;
    const exact = await Promise.race([
      allExact.then(() => true),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), EXACT_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    const redisCpu = (await redisCpuSeconds(redis)) - cpuBefore;
    const presenceExactAfterMs = exact ? Math.max(0, Math.max(...(exactAt as number[])) - lastAckAt) : null;
    if (!exact) log(`  NOT every node reported exactly ${env.VIEWERS} viewers within ${EXACT_TIMEOUT_MS / 1000} s of the last ack; last seen per node: ${JSON.stringify(lastSeen)}`);

    const rssAfter = servers.map((s) => rssKb(s.child.pid!));
    const rssKbPerViewer = (rssAfter.reduce((a, b) => a + b, 0) - rssBefore.reduce((a, b) => a + b, 0)) / env.VIEWERS;
    const rssKbPerJoin = (rssAfter.reduce((a, b) => a + b, 0) - rssConnected.reduce((a, b) => a + b, 0)) / env.VIEWERS;
    if (presenceExactAfterMs !== null) log(`  every node reported exactly ${env.VIEWERS} viewers ${presenceExactAfterMs.toFixed(0)} ms after the last join ack (per node: ${exactAt.map((t) => `${Math.round(t! - lastAckAt)} ms`).join(', ')})`);
    log(`  redis CPU ${redisCpu.toFixed(2)} s over the storm = ${((redisCpu * 1e6) / env.VIEWERS).toFixed(1)} µs per join (everything the joins cost Redis: room, bans, snapshot, presence, adapter)`);
    log(`  server RSS ${rssBefore.map((k) => Math.round(k / 1024)).join('/')} → ${rssAfter.map((k) => Math.round(k / 1024)).join('/')} MB = ${rssKbPerViewer.toFixed(1)} KB per idle viewer (of which the join itself ${rssKbPerJoin.toFixed(1)} KB)`);
    // The same, after a full GC in every server: what idle viewers really keep alive.
    const liveAfter = await Promise.all(servers.map((s, i) => collectGarbageAndMeasure(inspectPorts[i]!, () => rssKb(s.child.pid!))));
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const liveKbPerViewer = (sum(liveAfter.map((m) => m.heapUsed + m.external)) - sum(liveBefore.map((m) => m.heapUsed + m.external))) / 1024 / env.VIEWERS;
    const rssKbPerViewerAfterGc = (sum(liveAfter.map((m) => m.rssKb)) - sum(liveBefore.map((m) => m.rssKb))) / env.VIEWERS;
    log(`  after a full GC in each server: heap+external ${liveKbPerViewer.toFixed(1)} KB per idle viewer, RSS ${rssKbPerViewerAfterGc.toFixed(1)} KB per idle viewer ` +
        `(heap+external MB ${liveBefore.map((m) => ((m.heapUsed + m.external) / 2 ** 20).toFixed(0)).join('/')} → ${liveAfter.map((m) => ((m.heapUsed + m.external) / 2 ** 20).toFixed(0)).join('/')}, ` +
        `RSS MB ${liveBefore.map((m) => (m.rssKb / 1024).toFixed(0)).join('/')} → ${liveAfter.map((m) => (m.rssKb / 1024).toFixed(0)).join('/')})`,
    );
    done.forEach((d, i) => log(`  generator ${i}: CPU ${(d.busy.cpu * 100).toFixed(0)} % of a core, event loop ${(d.busy.elu * 100).toFixed(0)} % busy over the storm`));
    const generatorBusyMax = checkBusy(done.map((d, i) => ({ name: `generator ${i}`, busy: d.busy })));

    const count = await measureCount(redis);
    const countRatio = ratioStats(count.ratios);
    log(`  one presence count at ${env.COUNT_MEMBERS} viewers: ${count.oursUs.toFixed(1)} µs of Redis time; the full-scan count it replaced: ${(count.oldUs / 1000).toFixed(1)} ms (${Math.round(count.oldUs / count.oursUs)}x); the old scan took ${fmtRatio(ratioStats(count.ratios.map((r) => 1 / r)))} as long as ours per round, median (min–max) over ${env.PAIRS} rounds`);

    const meets = {
      presenceExact: presenceExactAfterMs !== null && presenceExactAfterMs <= TARGETS.presenceExactAfterMs,
      // Idle means settled: judged after a full GC, not on garbage the storm left behind.
      rss: rssKbPerViewerAfterGc <= TARGETS.rssKbPerViewer,
      count: count.oursUs <= TARGETS.countUsAt100k,
    };
    log(`targets (exact ≤ 3 s after the last join, ≤ 40 KB RSS per idle viewer, one count ≤ 100 µs at 100k): ${Object.values(meets).every(Boolean) ? 'met' : `MISSED ${JSON.stringify(meets)}`}`);
    const result = {
      bench: 'join-storm',
      quick: env.QUICK,
      viewers: env.VIEWERS,
      nodes: env.NODES,
      generators: env.GENERATORS,
      joinSeconds: env.JOIN_SECONDS,
      stormSeconds: r2(stormMs / 1000),
      joinP50Ms: r2(latency.quantile(0.5)),
      joinP99Ms: r2(latency.quantile(0.99)),
      joinMaxMs: r2(latency.max),
      p99FromScheduleMs: r2(latency.quantile(0.99)),
      joinLatenessP99Ms: r2(lateness.p99Ms),
      joinLatenessMaxMs: r2(lateness.maxMs),
      joinFailures: failures,
      presenceExactAfterMs: presenceExactAfterMs === null ? null : Math.round(presenceExactAfterMs),
      lastSeenPerNode: lastSeen,
      redisUsPerJoin: r2((redisCpu * 1e6) / env.VIEWERS),
      rssKbPerViewer: r2(rssKbPerViewer),
      rssKbPerViewerAfterGc: r2(rssKbPerViewerAfterGc),
      liveKbPerViewer: r2(liveKbPerViewer),
      rssKbPerJoin: r2(rssKbPerJoin),
      countMembers: env.COUNT_MEMBERS,
      countUsAt100k: r2(count.oursUs),
      baselineOldCountUs: r2(count.oldUs),
      generatorCpuBusyPct: done.map((d) => r2(d.busy.cpu * 100)),
      generatorBusyMax: r2(generatorBusyMax),
      pairs: env.PAIRS,
      // ours ÷ the old full scan, per round (Redis time of one count): tiny is good.
      ratio: Number(countRatio.median.toPrecision(3)),
      ratioMin: Number(countRatio.min.toPrecision(3)),
      ratioMax: Number(countRatio.max.toPrecision(3)),
      meetsTargets: Object.values(meets).every(Boolean),
      loadAvg1: r2(load[0] ?? 0),
    };
    printResult(result);
  } finally {
    for (const g of generators) if (g.child.exitCode === null) g.send({ type: 'stop' });
    await Promise.all(generators.map((g) => (g.child.exitCode !== null ? undefined : new Promise((r) => g.child.once('exit', r)))));
    for (const s of observers) s.disconnect();
    await Promise.all(
      servers.map(async (s) => {
        const killer = setTimeout(() => s.child.kill('SIGKILL'), 15_000);
        await s.stop();
        clearTimeout(killer);
      }),
    );
    redis.disconnect();
    await redisServer.stop();
  }
}

runMain(main);
