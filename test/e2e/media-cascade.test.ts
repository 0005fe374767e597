/**
 * The cascade in Chromium: a host goes live with the (fake) camera from the host page on node A;
 * a viewer page served by node B (another server on the same Redis, with its own mediasoup
 * worker) plays the host's video, piped from A. Then the viewer page is reloaded JOINS times and
 * each time the span from the room:join ack (the socket.io ack frame carrying the join snapshot)
 * to the first video frame presented (requestVideoFrameCallback) is measured in the page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { quantile } from '../../bench/bench-kit.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { buildDemo, DESKTOP, launchChromium, newActor, signIn, type Actor } from './browser.js';
import { hasText, waitForFrames } from './page-probes.js';

const JOINS = Number(process.env.FIRST_FRAME_JOINS ?? 20);
/** VIEWER_NODE=0 puts the viewer on the origin instead, to compare (the pipe check is skipped). */
const VIEWER_NODE = process.env.VIEWER_NODE === '0' ? 0 : 1;

let stack: Stack;
let demo: Awaited<ReturnType<typeof buildDemo>>;
let browser: Browser;
let host: Actor;
let viewer: Actor;

beforeAll(async () => {
  demo = await buildDemo();
  stack = await startStack({ nodes: 2, config: { DEMO_DIR: demo.dir, MEDIA_ENABLED: 'true' } });
  browser = await launchChromium();
  host = await newActor(browser, stack.servers[0]!.url, 'Hana', DESKTOP);
  viewer = await newActor(browser, stack.servers[VIEWER_NODE]!.url, 'Vic', DESKTOP);
  for (const a of [host, viewer]) a.page.setDefaultTimeout(15_000);
  // In the viewer page, before its scripts: note when each room:join ack arrives (a socket.io ack
  // frame, "43<id>[…]", carrying the snapshot's media part) and when the first frame is presented.
  await viewer.page.addInitScript(() => {
    const g = globalThis as any;
    g.__joinAcks = [];
    const Base = g.WebSocket;
    g.WebSocket = class extends Base {
      constructor(...args: unknown[]) {
        super(...args);
        const send = this.send.bind(this);
        (this as any).send = (d: unknown) => {
          (g.__log ||= []).push([Math.round(g.performance.now()), 'out', String(d).slice(0, 60)]);
          return send(d);
        };
        this.addEventListener('message', (e: { data: unknown }) => {
          (g.__log ||= []).push([Math.round(g.performance.now()), 'in', String(e.data).slice(0, 60)]);
          if (typeof e.data === 'string' && e.data.startsWith('43') && e.data.includes('"media":{"producers"')) g.__joinAcks.push(g.performance.now());
        });
      }
    };
    g.document.addEventListener('DOMContentLoaded', () => {
      const v = g.document.querySelector('#video');
      v?.requestVideoFrameCallback((_now: number, meta: { presentationTime: number }) => {
        g.__firstFrameAt = meta.presentationTime;
      });
    });
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await demo?.remove();
});

describe('video across nodes in Chromium', () => {
  it('a viewer on node B plays the video the host publishes on node A; join ack → first frame', async () => {
    const { page } = host;
    await page.goto('/host.html');
    await signIn(host);
    await page.getByLabel('Title').fill('Cascade live');
    await page.getByRole('button', { name: 'Create room' }).click();
    await page.locator('#room-name').filter({ hasText: 'Cascade live' }).waitFor();
    const roomId = new URL(page.url()).searchParams.get('room') ?? '';
    await page.getByRole('button', { name: 'Go live' }).click();
    await page.locator('#live-badge').waitFor({ state: 'visible' });
    await hasText(page.locator('#media-status'), 'On air');

    await viewer.page.goto(`/viewer.html?room=${encodeURIComponent(roomId)}`);
    await signIn(viewer);
    const first = await waitForFrames(viewer.page, 10);
    const later = await waitForFrames(viewer.page, first.frames + 15);
    expect(later.time).toBeGreaterThan(first.time);
    expect(later.width).toBeGreaterThan(0);
    // The viewer's node took the video from A: one pipe in on B, one out on A.
    const mediaOf = (i: number) => stack.servers[i]!.domains.find((d) => d.name === 'media') as unknown as { existingRoomMedia(id: string): { pipedProducer(id: string): unknown; producerInfos(): { id: string }[] } | undefined };
    const producerIds = mediaOf(0).existingRoomMedia(roomId)!.producerInfos().map((p) => p.id);
    if (VIEWER_NODE === 1) expect(producerIds.some((id) => mediaOf(1).existingRoomMedia(roomId)?.pipedProducer(id))).toBe(true);

    const spans: number[] = [];
    for (let i = 0; i < JOINS; i++) {
      await viewer.page.reload();
      const handle = await viewer.page.waitForFunction(
        () => {
          const g = globalThis as any;
          if (g.__firstFrameAt === undefined) return null;
          const acks = (g.__joinAcks as number[]).filter((t) => t <= g.__firstFrameAt);
          return acks.length ? g.__firstFrameAt - acks[acks.length - 1]! : null;
        },
        undefined,
        { timeout: 15_000 },
      );
      spans.push((await handle.jsonValue()) as number);
      if (i >= JOINS - 2) console.log(JSON.stringify(await viewer.page.evaluate(() => [(globalThis as any).__log, (globalThis as any).__firstFrameAt])));
    }
    spans.sort((a, b) => a - b);
    const p50 = quantile(spans, 0.5);
    const p99 = quantile(spans, 0.99);
    console.log(`first frame in Chromium on the edge node (join ack → presented), ${spans.length} joins: p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms; all: ${spans.map((s) => s.toFixed(0)).join(' ')}`);
    // Target p50 ≤ 500 ms; asserted with room for a shared, busy test machine.
    expect(p50).toBeLessThan(1000);
    expect([...host.errors, ...viewer.errors]).toEqual([]);
  }, 180_000);
});
