#!/usr/bin/env node
// Smoke test for the mediasoup worker binary: spawn a worker, create a router
// with Opus + VP8 and a WebRtcTransport on 127.0.0.1, print one "OK" line and
// exit 0; print the error and exit 1 on any failure (including a worker that
// dies or hangs).
//
// The runtime uses MEDIASOUP_WORKER_BIN when set (scripts/build-mediasoup-worker.sh
// sets it to test a fresh binary before caching it), else
// node_modules/mediasoup/worker/out/Release/mediasoup-worker.
//
// Usage: node scripts/check-mediasoup-worker.mjs

import * as mediasoup from 'mediasoup';

const TIMEOUT_MS = 20_000;

function fail(message, error) {
  console.error(`check-mediasoup-worker: FAILED: ${message}`);
  if (error) console.error(error);
  process.exit(1);
}

// A worker that hangs (e.g. cannot start) must not hang CI.
const timer = setTimeout(() => fail(`timed out after ${TIMEOUT_MS} ms`), TIMEOUT_MS);

let worker;

try {
  worker = await mediasoup.createWorker({ logLevel: 'warn' });
  worker.on('died', (error) => fail('mediasoup worker died', error));

  const router = await worker.createRouter({
    mediaCodecs: [
      { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
      { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
    ],
  });

  const codecs = router.rtpCapabilities.codecs ?? [];
  for (const mimeType of ['audio/opus', 'video/VP8']) {
    if (!codecs.some((c) => c.mimeType.toLowerCase() === mimeType.toLowerCase())) {
      fail(`router rtpCapabilities lack ${mimeType}`);
    }
  }

  const transport = await router.createWebRtcTransport({
    listenInfos: [
      { protocol: 'udp', ip: '127.0.0.1' },
      { protocol: 'tcp', ip: '127.0.0.1' },
    ],
  });

  const udp = transport.iceCandidates.find((c) => c.protocol === 'udp');
  if (!udp || udp.address !== '127.0.0.1' || !(udp.port > 0)) {
    fail(`unexpected ICE candidates: ${JSON.stringify(transport.iceCandidates)}`);
  }
  if (transport.dtlsParameters.fingerprints.length === 0) {
    fail('WebRtcTransport has no DTLS fingerprints');
  }

  // A round trip through the worker after creation, to be sure it still answers.
  const stats = await transport.getStats();
  if (!Array.isArray(stats) || stats.length === 0) fail('transport.getStats() returned nothing');

  console.log(
    `OK mediasoup ${mediasoup.version}: worker pid ${worker.pid}, router with ` +
      `${codecs.map((c) => c.mimeType).join(' + ')}, WebRtcTransport ICE ` +
      transport.iceCandidates.map((c) => `${c.protocol}/${c.address}:${c.port}`).join(' ') +
      `, DTLS ${transport.dtlsParameters.fingerprints.length} fingerprints`,
  );

  transport.close();
  router.close();
  worker.removeAllListeners('died');
  worker.close();
  clearTimeout(timer);
  process.exit(0);
} catch (error) {
  worker?.removeAllListeners('died');
  worker?.close();
  fail('mediasoup smoke test threw', error);
}
