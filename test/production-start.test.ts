/**
 * The production path, end to end: `scripts/build.mjs` (what `npm run build` runs) compiles the
 * server and the demo pages into a private directory, and `node <dir>/main.js` — plain Node, no
 * tsx — runs against its own redis-server: /healthz, /readyz, the demo pages, a socket join and a
 * chat round trip, then SIGTERM ends it cleanly.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedRedis, type EmbeddedRedis } from '../src/core/embedded-redis.js';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok } from './helpers/clients.js';
import { SERVER_NODE_FLAGS, TEST_SECRET } from './helpers/stack.js';

// Inside the repository, so that node finds node_modules and package.json's "type" from there;
// per process, so that a concurrent `npm run build` into dist/ cannot race with it.
const OUT = resolve(`test-artifacts/production-start/dist-${process.pid}`);

let redis: EmbeddedRedis;
let server: { child: ChildProcess; url: string; output: () => string };

/** Every file under dir, relative. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

function startCompiled(redisUrl: string): Promise<typeof server> {
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, join(OUT, 'main.js')], {
    env: {
      PATH: process.env.PATH,
      // Nothing inherited may load tsx or a loader: this must be plain compiled JavaScript.
      NODE_OPTIONS: '',
      REDIS_URL: redisUrl,
      JWT_SECRET: TEST_SECRET,
      DEV_TOKENS: 'true',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      DEMO_DIR: join(OUT, 'demo'),
      // No mediasoup worker here (like the other non-media tests); scripts/check-image.sh starts
      // the image with one.
      MEDIA_ENABLED: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  return new Promise((ok, fail) => {
    const onData = () => {
      const m = /"url":"(http:\/\/[^"]+)"[^\n]*listening/.exec(out);
      if (!m?.[1]) return;
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      ok({ child, url: m[1], output: () => out });
    };
    const onExit = (code: number | null) => fail(new Error(`node ${OUT}/main.js exited (${code}):\n${out}`));
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}

beforeAll(async () => {
  const build = spawnSync(process.execPath, ['scripts/build.mjs', OUT], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`build failed (${build.status}):\n${build.stdout}\n${build.stderr}`);
  redis = await startEmbeddedRedis({ persist: false });
  server = await startCompiled(redis.url);
}, 240_000);

afterAll(async () => {
  closeAllSockets();
  if (server?.child.exitCode === null) {
    const exited = new Promise((done) => server.child.once('exit', done));
    server.child.kill('SIGKILL');
    await exited;
  }
  await redis?.stop();
  rmSync(OUT, { recursive: true, force: true });
});

describe('production start: node dist/main.js', () => {
  it('npm start runs the compiled build with plain node, npm run build makes it', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(`node ${SERVER_NODE_FLAGS.join(' ')} dist/main.js`);
    expect(pkg.scripts.build).toBe('node scripts/build.mjs');
  });

  it('the build holds compiled JavaScript and the demo pages, no TypeScript', () => {
    const files = filesUnder(OUT);
    expect(files).toContain('main.js');
    expect(files).toContain('server.js');
    expect(files).toContain(join('demo', 'index.html'));
    expect(files.filter((f) => f.endsWith('.ts'))).toEqual([]);
    // src/ only: nothing from test/, bench/ or scripts/.
    expect(existsSync(join(OUT, 'test')) || existsSync(join(OUT, 'src'))).toBe(false);
  });

  it('answers /healthz and /readyz with Redis up', async () => {
    expect(await http(server.url, 'GET', '/healthz', null)).toEqual({ status: 200, body: { ok: true } });
    expect(await http(server.url, 'GET', '/readyz', null)).toEqual({ status: 200, body: { ok: true } });
  });

  it('serves the built demo pages at /', async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    const html = await res.text();
    const asset = /(?:src|href)="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const js = await fetch(server.url + asset!);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
  });

  it('a viewer joins a live room over Socket.IO and chat goes both ways', async () => {
    const { host, roomId } = await liveRoom(server.url, 'Prod Host');
    const viewer = await devUser(server.url, 'Prod Viewer');
    const hostSocket = await connect(server.url, host);
    const viewerSocket = await connect(server.url, viewer);
    expect((await ok(hostSocket, 'room:join', { roomId })).role).toBe('host');
    const snap = await ok(viewerSocket, 'room:join', { roomId });
    expect(snap.role).toBe('viewer');
    expect(snap.room.status).toBe('live');

    const atHost = nextEvent(hostSocket, 'chat:message');
    const sent = await ok(viewerSocket, 'chat:send', { text: 'hello from the compiled build' });
    expect(await atHost).toEqual(sent);
  });

  it('stops cleanly on SIGTERM', async () => {
    closeAllSockets();
    const exited = new Promise<number | null>((done) => server.child.once('exit', (code) => done(code)));
    server.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(server.output()).toContain('"signal":"SIGTERM"');
  }, 30_000);
});
