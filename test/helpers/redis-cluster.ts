/**
 * A real 3-master Redis Cluster on free ports, for tests: each redis-server in its own temp
 * directory (cluster mode writes nodes.conf there), joined with `redis-cli --cluster create`.
 * No replicas and no persistence: the tests need slots spread over several processes, not
 * failover. `stop()` kills the nodes and removes their directories.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { createServer } from 'node:net';
import { findRedisServer, freePort } from '../../src/core/embedded-redis.js';

const run = promisify(execFile);

export interface RedisClusterNodes {
  nodes: { host: string; port: number }[];
  /** `host:port,…`, the REDIS_CLUSTER_NODES value. */
  spec: string;
  stop(): Promise<void>;
}

interface Node {
  port: number;
  dir: string;
  child: ChildProcess;
}

export async function startRedisCluster(masters = 3): Promise<RedisClusterNodes> {
  const bin = findRedisServer();
  if (!bin) throw new Error('redis-server not found on PATH');
  const started: Node[] = [];
  const stop = async () => {
    await Promise.all(started.map((n) => stopNode(n)));
    for (const n of started) rmSync(n.dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) started.push(await startNode(bin));
    const addrs = started.map((n) => `127.0.0.1:${n.port}`);
    // --cluster-yes accepts the proposed slot layout without a prompt.
    await run('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 60_000 });
    await Promise.all(started.map((n) => waitClusterOk(n.port)));
  } catch (err) {
    await stop();
    throw err;
  }
  const nodes = started.map((n) => ({ host: '127.0.0.1', port: n.port }));
  return { nodes, spec: nodes.map((n) => `${n.host}:${n.port}`).join(','), stop };
}

/** A free port P whose cluster-bus port P + 10000 is free too (Redis binds both). */
async function freeNodePort(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const port = await freePort();
    if (port + 10000 <= 65535 && (await isFree(port + 10000))) return port;
  }
  throw new Error('no free port pair for a cluster node');
}

function isFree(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const srv = createServer();
    srv.once('error', () => ok(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => ok(true)));
  });
}

async function startNode(bin: string): Promise<Node> {
  const port = await freeNodePort();
  const dir = mkdtempSync(join(tmpdir(), `redis-cluster-${port}-`));
  const child = spawn(
    bin,
    [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--cluster-enabled', 'yes',
      '--cluster-config-file', 'nodes.conf',
      '--save', '',
      '--appendonly', 'no',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const node = { port, dir, child };
  await new Promise<void>((ok, fail) => {
    let out = '';
    const onData = (buf: Buffer) => {
      out += buf.toString();
      if (out.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        ok();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.resume();
    child.once('exit', (code) => {
      rmSync(dir, { recursive: true, force: true });
      fail(new Error(`cluster node on ${port} exited with ${code}:\n${out.slice(-2000)}`));
    });
  });
  return node;
}

/** `redis-cli --cluster create` returns once slots are assigned; every node must also have
 * heard of the others (cluster_state:ok) before a client may rely on its slot map. */
async function waitClusterOk(port: number): Promise<void> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const info = await client.cluster('INFO');
      if (/cluster_state:ok/.test(info)) return;
      if (Date.now() > deadline) throw new Error(`cluster node ${port} not ok after 30 s:\n${info}`);
      // Polling a state Redis exposes no event for; the gossip takes a few hundred ms.
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    client.disconnect();
  }
}

function stopNode(n: Node): Promise<void> {
  const { child } = n;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((ok) => {
    child.once('exit', () => ok());
    child.kill('SIGKILL'); // nothing to persist
  });
}
