#!/usr/bin/env node
// Smoke test of a running server from outside (used by scripts/check-image.sh against the image):
// /healthz and /readyz, a dev token, a live room, a viewer's Socket.IO join and a chat round trip
// (the viewer sends, the host receives). Needs DEV_TOKENS=true on the server and the dev
// dependencies here (socket.io-client). Prints one line per check; exit 0 when all pass.
//
// Usage: node scripts/smoke-server.mjs http://127.0.0.1:3000
import { io } from 'socket.io-client';

const url = process.argv[2];
if (!url) {
  console.error('usage: node scripts/smoke-server.mjs <server url>');
  process.exit(2);
}
const TIMEOUT_MS = 15_000;
const sockets = [];

function fail(message) {
  console.error(`smoke: FAILED: ${message}`);
  for (const s of sockets) s.disconnect();
  process.exit(1);
}
setTimeout(() => fail(`timed out after ${TIMEOUT_MS} ms`), TIMEOUT_MS).unref();

async function call(method, path, token, body) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function expectStatus(label, promise, status) {
  const res = await promise;
  if (res.status !== status) fail(`${label}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

function connect(token) {
  const socket = io(url, { transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true });
  sockets.push(socket);
  return new Promise((ok) => {
    socket.once('connect', () => ok(socket));
    socket.once('connect_error', (err) => fail(`socket connect: ${err.message}`));
  });
}

function emit(socket, event, payload) {
  return new Promise((ok) => socket.emit(event, payload, ok)).then((ack) => {
    if (!ack?.ok) fail(`${event}: ${JSON.stringify(ack)}`);
    return ack.data;
  });
}

const started = performance.now();
await expectStatus('/healthz', call('GET', '/healthz'), 200);
console.log('smoke: /healthz 200');
await expectStatus('/readyz', call('GET', '/readyz'), 200);
console.log('smoke: /readyz 200');

const host = await expectStatus('dev token', call('POST', '/api/dev/token', null, { name: 'Smoke Host' }), 201);
const viewer = await expectStatus('dev token', call('POST', '/api/dev/token', null, { name: 'Smoke Viewer' }), 201);
const { room } = await expectStatus('create room', call('POST', '/api/rooms', host.token, { title: 'Image smoke test', hostKind: 'buyer' }), 201);
await expectStatus('go live', call('POST', `/api/rooms/${room.id}/live`, host.token), 200);

const hostSocket = await connect(host.token);
const viewerSocket = await connect(viewer.token);
await emit(hostSocket, 'room:join', { roomId: room.id });
const snap = await emit(viewerSocket, 'room:join', { roomId: room.id });
if (snap.role !== 'viewer' || snap.room?.status !== 'live') fail(`room:join snapshot: ${JSON.stringify(snap).slice(0, 300)}`);
console.log(`smoke: socket join ok (room ${room.id}, role ${snap.role})`);

const text = `round trip ${Date.now()}`;
const received = new Promise((ok) => {
  const seen = (msg) => msg?.text === text && ok(msg);
  hostSocket.on('chat:message', seen);
  // High-rate room events arrive coalesced in room:batch frames: [[event, payload], …] (docs/PROTOCOL.md).
  hostSocket.on('room:batch', (batch) => {
    for (const entry of Array.isArray(batch) ? batch : []) if (Array.isArray(entry) && entry[0] === 'chat:message') seen(entry[1]);
  });
});
const sent = await emit(viewerSocket, 'chat:send', { text });
const got = await received;
if (got.id !== sent.id) fail(`chat: host got ${JSON.stringify(got)}, viewer sent ${JSON.stringify(sent)}`);
console.log(`smoke: chat round trip ok (${got.id})`);

for (const s of sockets) s.disconnect();
console.log(`smoke: all checks passed in ${Math.round(performance.now() - started)} ms`);
process.exit(0);
