#!/usr/bin/env node
// Clients through a load balancer in front of several servers (used by scripts/check-cluster-profile.sh):
// for each transport (websocket; HTTP long-polling only, which needs sticky sessions), N viewers
// connect through the proxy, join one live room and must all receive one chat message sent by
// another viewer, whichever server each landed on. Prints which server each client reached (from
// HAProxy's cookie) and exits 0 when every client got the message.
//
// Usage: node scripts/cluster-smoke.mjs <proxy url> [clients per transport]
import { io } from 'socket.io-client';

const url = process.argv[2];
const perTransport = Number(process.argv[3] ?? 9);
if (!url) {
  console.error('usage: node scripts/cluster-smoke.mjs <proxy url> [clients per transport]');
  process.exit(2);
}
const sockets = [];
function fail(message) {
  console.error(`cluster-smoke: FAILED: ${message}`);
  for (const s of sockets) s.disconnect();
  process.exit(1);
}
setTimeout(() => fail('timed out after 30 s'), 30_000).unref();

async function call(method, path, token, body) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status >= 300) fail(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

/** Connects and joins; resolves with the socket and the server HAProxy pinned it to. */
function viewer(token, roomId, transports) {
  // withCredentials: engine.io-client keeps HAProxy's cookie in Node too (its cookie jar).
  const socket = io(url, { transports, auth: { token }, reconnection: false, forceNew: true, withCredentials: true });
  sockets.push(socket);
  return new Promise((ok) => {
    socket.once('connect_error', (err) => fail(`${transports} connect: ${err.message}`));
    socket.once('connect', () => {
      socket.emit('room:join', { roomId }, (ack) => {
        if (!ack?.ok) fail(`${transports} room:join: ${JSON.stringify(ack)}`);
        const jar = socket.io.engine._cookieJar;
        ok({ socket, node: (jar ? new Map(jar.cookies) : new Map()).get('lc_node')?.value ?? '?' });
      });
    });
  });
}

const host = await call('POST', '/api/dev/token', null, { name: 'Cluster Host' });
const { room } = await call('POST', '/api/rooms', host.token, { title: 'Through the proxy', hostKind: 'buyer' });
await call('POST', `/api/rooms/${room.id}/live`, host.token);

for (const transports of [['websocket'], ['polling']]) {
  const users = [];
  for (let i = 0; i < perTransport; i++) users.push(await call('POST', '/api/dev/token', null, { name: `V${i} ${transports[0]}` }));
  const viewers = await Promise.all(users.map((u) => viewer(u.token, room.id, transports)));
  const nodes = new Set(viewers.map((v) => v.node));
  const text = `${transports[0]} ${Date.now()}`;
  const received = viewers.map(({ socket }) => new Promise((ok) => socket.on('chat:message', (m) => m.text === text && ok(m))));
  const sent = await new Promise((ok) => viewers[0].socket.emit('chat:send', { text }, ok));
  if (!sent?.ok) fail(`chat:send: ${JSON.stringify(sent)}`);
  await Promise.all(received);
  // Polling clients see HAProxy's cookie in their jar; websocket clients don't keep it.
  const where = nodes.has('?') ? 'server not visible to the client' : `servers [${[...nodes].sort()}]`;
  console.log(`cluster-smoke: ${transports[0]}: ${viewers.length} viewers (${where}) all got the chat message`);
  if (transports[0] === 'polling' && nodes.size < 2) fail('every polling client landed on one server: the check proves nothing');
  for (const { socket } of viewers) socket.disconnect();
}
console.log('cluster-smoke: ok');
process.exit(0);
