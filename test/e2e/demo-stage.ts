/**
 * One demo e2e file's world: the demo build, a Redis of its own, one server process (src/main.ts)
 * serving the pages, Chromium, and one browser context per cast member. demoStage registers the
 * file's vitest hooks: all of it is set up before the first test and torn down after the last,
 * and every test ends by asserting that no page logged a console error.
 */
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { Browser } from 'playwright-core';
import { spawnServerProcess, type ServerProcess } from '../helpers/stack.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { startTestRedis, type TestRedis } from '../helpers/test-redis.js';
import { buildDemo, launchChromium, newActor, type Actor } from './browser.js';

/** Video on: one mediasoup worker on free ports, like the in-process test stack. */
export const MEDIA_ON: Record<string, string> = {
  MEDIA_ENABLED: 'true',
  MEDIA_WORKERS: '1',
  MEDIA_PORT_BASE: '0',
  MEDIA_RTC_MIN_PORT: '20000',
  MEDIA_RTC_MAX_PORT: '32000',
};

export interface CastMember {
  name: string;
  viewport: { width: number; height: number };
  /** Reaches the server through a TCP proxy the test can cut (her network), not directly. */
  throughProxy?: boolean;
}

export interface Stage {
  /** One Actor per cast member, in cast order (filled in before the first test). */
  readonly actors: Actor[];
  readonly server: ServerProcess;
  /** Present when a cast member goes through it. */
  readonly proxy: TcpProxy | null;
}

export function demoStage(env: Record<string, string>, cast: CastMember[]): Stage {
  let redis: TestRedis | undefined;
  let demo: Awaited<ReturnType<typeof buildDemo>> | undefined;
  let browser: Browser | undefined;
  const stage = { actors: [] as Actor[], server: undefined as unknown as ServerProcess, proxy: null as TcpProxy | null };

  beforeAll(async () => {
    demo = await buildDemo();
    redis = await startTestRedis();
    stage.server = await spawnServerProcess(redis, { DEMO_DIR: demo.dir, MEDIA_ENABLED: 'false', ...env });
    if (cast.some((c) => c.throughProxy)) stage.proxy = await startTcpProxy(stage.server.url);
    browser = await launchChromium();
    for (const c of cast) {
      const actor = await newActor(browser, c.throughProxy ? stage.proxy!.url : stage.server.url, c.name, c.viewport);
      // Generous: the machine running this may be shared and busy (a wait ends as soon as its state shows).
      actor.page.setDefaultTimeout(30_000);
      actor.page.setDefaultNavigationTimeout(45_000);
      stage.actors.push(actor);
    }
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await stage.proxy?.close();
    await stage.server?.stop();
    await redis?.stop();
    await demo?.remove();
  });

  afterEach(() => {
    expect(stage.actors.flatMap((a) => a.errors.splice(0))).toEqual([]);
  });

  return stage;
}
