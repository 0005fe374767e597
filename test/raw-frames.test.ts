/**
 * Frames a socket.io-client would never send, written straight onto the WebSocket in the
 * Socket.IO wire format: a bare `42`, numeric or object event names, an ack with no name. Each is
 * refused (UNKNOWN_EVENT when it asks for an ack), never INTERNAL, and the server logs no error.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedRedis, type EmbeddedRedis } from '../src/core/embedded-redis.js';
import { startServer, type RunningServer } from '../src/server.js';
import { closeAllSockets, connect, devUser, liveRoom, ok, requestRaw } from './helpers/clients.js';
import { testConfig } from './helpers/stack.js';

let redis: EmbeddedRedis;
let server: RunningServer;
const logLines: { level: number; msg: string; err?: { stack?: string } }[] = [];

beforeAll(async () => {
  redis = await startEmbeddedRedis({ persist: false });
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line));
      done();
    },
  });
  server = await startServer(testConfig({ LOG_LEVEL: 'info' }), redis.url, pino({ level: 'info' }, sink));
});

afterAll(async () => {
  closeAllSockets();
  await server?.close();
  await redis?.stop();
});

/** A raw Socket.IO connection on the default namespace; `send` writes one frame. */
async function rawSocket(url: string) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
  const inbox: string[] = [];
  const waiters: { match: (f: string) => boolean; resolve: (f: string) => void }[] = [];
  ws.on('message', (data) => {
    const frame = data.toString();
    if (frame === '2') return ws.send('3'); // Engine.IO ping → pong
    const i = waiters.findIndex((w) => w.match(frame));
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(frame);
    else inbox.push(frame);
  });
  const next = (match: (f: string) => boolean, timeoutMs = 15_000) =>
    new Promise<string>((resolve, reject) => {
      const i = inbox.findIndex(match);
      if (i >= 0) return resolve(inbox.splice(i, 1)[0]!);
      const timer = setTimeout(() => reject(new Error('no such frame')), timeoutMs);
      waiters.push({ match, resolve: (f) => (clearTimeout(timer), resolve(f)) });
    });
  await next((f) => f.startsWith('0{'));
  ws.send('40');
  await next((f) => f.startsWith('40'));
  return {
    ws,
    send: (frame: string) => ws.send(frame),
    /** The ack frame `43<id>[...]` for ack id `id`, parsed. */
    ack: async (id: number) => JSON.parse((await next((f) => f.startsWith(`43${id}[`))).slice(`43${id}`.length))[0],
    close: () => ws.close(),
  };
}

describe('raw frames', () => {
  it('nameless, numeric and object event names are UNKNOWN_EVENT or ignored; nothing is INTERNAL or logged as an error', async () => {
    const raw = await rawSocket(server.url);
    // Without an ack: nothing to answer; the connection must survive them.
    for (const frame of ['42', '42[1]', '42[1,{"roomId":"x"}]', '42[-0.5]']) raw.send(frame);
    // With ack ids: each is answered.
    const withAck = ['420', '421', '422[1]', '423[1.5,{}]', '424[0,"room:join"]', '425[-1]'];
    for (const frame of withAck) raw.send(frame);
    for (let id = 0; id < withAck.length; id++) {
      expect(await raw.ack(id), withAck[id]).toEqual({ ok: false, error: { code: 'UNKNOWN_EVENT', message: expect.any(String) } });
    }
    // Still the same healthy connection: a real event gets a real answer.
    raw.send('429["room:join",{"roomId":"r_nope"}]');
    expect(await raw.ack(9)).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    raw.close();
    expect(logLines.filter((l) => l.level >= 50)).toEqual([]);
    expect(logLines.filter((l) => l.err?.stack)).toEqual([]);
  });

  it('frames the Socket.IO parser rejects (no name, object names) close that connection only, quietly', async () => {
    for (const frame of ['42[]', '42[null]', '42[{"a":1}]', '420[true,1]', '42["connect"]']) {
      const raw = await rawSocket(server.url);
      const closed = new Promise<void>((resolve) => raw.ws.once('close', () => resolve()));
      raw.send(frame);
      await closed;
    }
    const fresh = await connect(server.url, null);
    expect(await requestRaw(fresh, 'room:join', { roomId: 'r_nope' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(logLines.filter((l) => l.level >= 50)).toEqual([]);
  });

  it("a guest's chat:history before 0-0 is an empty page, not INTERNAL", async () => {
    const { roomId } = await liveRoom(server.url, 'Hist');
    const guest = await connect(server.url, null);
    await ok(guest, 'room:join', { roomId });
    for (const before of ['0-0', '00-000', '0-1', '1-0', '9999999999999999999-9999999999999999999']) {
      const res = await requestRaw(guest, 'chat:history', { before, limit: 5 });
      expect(res, before).toMatchObject({ ok: true });
    }
    expect(await requestRaw(guest, 'chat:history', { before: '0-0' })).toEqual({ ok: true, data: [] });
    const signedIn = await connect(server.url, await devUser(server.url, 'Sid'));
    expect(await requestRaw(signedIn, 'chat:history', { before: '0-0' })).toMatchObject({ ok: false, error: { code: 'NOT_IN_ROOM' } });
  });

  it('refusals are logged at info at most, and only a few of a flood', async () => {
    const before = logLines.length;
    const raw = await rawSocket(server.url);
    for (let i = 0; i < 2000; i++) raw.send(`42${i}["nope",{}]`);
    await raw.ack(1999);
    raw.close();
    const lines = logLines.slice(before);
    expect(lines.every((l) => l.level <= 30)).toBe(true);
    expect(lines.length).toBeLessThan(200);
  });
});
