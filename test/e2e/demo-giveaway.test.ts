/**
 * Giveaways in the demo pages, in real Chromium against a real server process and a real Redis:
 * the host starts a 30 s giveaway of a bag product for followers; Bob, watching on a phone
 * (390×844), sees the strip in the first viewport and takes the free route (no purchase
 * necessary); the host sees the entry and the commitment; at the deadline the server draws, Bob
 * gets "You won!" and claims the prize (a zero-price checkout: an order in his sheet); the host
 * sees the winner, the revealed seed, the entries download and the prizes claimed.
 * Screenshots go to test-artifacts/e2e/giveaway-*.png; axe-core finds nothing serious or critical.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { spawnServerProcess, type ServerProcess } from '../helpers/stack.js';
import { startTestRedis, type TestRedis } from '../helpers/test-redis.js';
import { ARTIFACTS, axeSerious, buildDemo, DESKTOP, launchChromium, newActor, PHONE, screenshot, signIn, type Actor } from './browser.js';
import { addProduct, hasText } from './page-probes.js';
import type { GiveawayEntries } from '../../src/protocol/index.js';

let redis: TestRedis;
let server: ServerProcess;
let demo: Awaited<ReturnType<typeof buildDemo>>;
let browser: Browser;
let host: Actor;
let bob: Actor;
let roomId = '';

beforeAll(async () => {
  demo = await buildDemo();
  redis = await startTestRedis();
  server = await spawnServerProcess(redis, { DEMO_DIR: demo.dir, MEDIA_ENABLED: 'false', GIVEAWAY_SWEEP_MS: '100' });
  browser = await launchChromium();
  host = await newActor(browser, server.url, 'Hana', DESKTOP);
  bob = await newActor(browser, server.url, 'Bob', PHONE);
  for (const a of [host, bob]) {
    a.page.setDefaultTimeout(30_000);
    a.page.setDefaultNavigationTimeout(45_000);
  }
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await redis?.stop();
  await demo?.remove();
});

afterEach(() => {
  const errors = [host, bob].flatMap((a) => a?.errors.splice(0) ?? []);
  expect(errors).toEqual([]);
});

async function inFirstViewport(page: Page, selector: string): Promise<boolean> {
  const box = await page.locator(selector).first().boundingBox();
  const vp = page.viewportSize()!;
  return box !== null && box.width > 0 && box.y >= 0 && box.x >= 0 && box.y + box.height <= vp.height && box.x + box.width <= vp.width;
}

/** Every visible button in the strip is at least 44 × 44 CSS px. */
async function smallTargets(page: Page): Promise<string[]> {
  const buttons = page.getByTestId('giveaway-panel').locator('button:visible');
  const out: string[] = [];
  for (let i = 0; i < (await buttons.count()); i++) {
    const b = buttons.nth(i);
    const box = await b.boundingBox();
    if (box && (box.height < 44 || box.width < 44)) out.push(`${await b.textContent()}: ${box.width}×${box.height}`);
  }
  return out;
}

/** The host's giveaway panel alone, at the width of a phone, as the host would scroll to it. */
async function hostPanelShot(name: string): Promise<void> {
  await host.page.setViewportSize(PHONE);
  await host.page.locator('#giveaway').screenshot({ path: join(ARTIFACTS, `${name}.png`) });
  await host.page.setViewportSize(DESKTOP);
}

const strip = (page: Page) => page.getByTestId('giveaway-panel');

describe('giveaway UI in Chromium', { timeout: 180_000 }, () => {
  it('host goes live with a bag product; Bob watches on a phone, signed in', async () => {
    const { page } = host;
    await page.goto('/host.html');
    await signIn(host);
    await page.getByLabel('Title').fill('Giveaway night');
    await page.getByRole('button', { name: 'Create room' }).click();
    await page.locator('#room-name').filter({ hasText: 'Giveaway night' }).waitFor();
    roomId = new URL(page.url()).searchParams.get('room') ?? '';
    await addProduct(page, 'Silk scarf', '25', 'Atelier');
    await page.getByRole('button', { name: 'Go live' }).click();
    await page.locator('#live-badge').waitFor({ state: 'visible' });

    await bob.page.goto(`/viewer.html?room=${encodeURIComponent(roomId)}`);
    await bob.page.locator('#room-live').waitFor({ state: 'visible' });
    await signIn(bob);
    await bob.page.locator('#chat-input:not([disabled])').waitFor();
    await bob.page.keyboard.press('Escape');
    await bob.page.locator('#sheet').waitFor({ state: 'hidden' });
    expect(await strip(bob.page).isVisible()).toBe(false);
  });

  it('host starts a giveaway for followers; Bob sees the strip and enters free; the host sees the entry and the commitment', async () => {
    const { page } = host;
    await page.getByLabel('Prize type').selectOption('product');
    await page.locator('#giveaway-product').selectOption({ label: 'Silk scarf' });
    await page.getByLabel('Open for').selectOption('30');
    await page.getByLabel('Winners', { exact: true }).fill('1');
    await page.getByLabel('Who may enter').selectOption('followers');
    await hostPanelShot('giveaway-01-host-form');
    await page.getByRole('button', { name: 'Start giveaway' }).click();
    await hasText(page.getByTestId('host-giveaway-countdown'), /Ends in 0:[0-3]\d/);
    await hasText(page.getByTestId('host-giveaway-commitment'), /^[0-9a-f]{64}$/);

    await strip(bob.page).waitFor({ state: 'visible' });
    expect(await inFirstViewport(bob.page, '[data-testid="giveaway-panel"]')).toBe(true);
    await hasText(strip(bob.page), 'Silk scarf');
    await hasText(strip(bob.page), 'For followers of the host');
    await hasText(bob.page.getByTestId('giveaway-countdown'), /Ends in 0:[0-3]\d/);
    expect(await smallTargets(bob.page)).toEqual([]);
    await screenshot(bob, 'giveaway-02-viewer-running');
    expect(await axeSerious(bob.page), 'viewer, giveaway strip').toEqual([]);

    // Not a follower: the rule's Enter is refused with the way out; the free route takes him in.
    await bob.page.getByTestId('giveaway-enter').click();
    await hasText(bob.page.locator('.toasts'), 'for followers of the host — you can still enter free');
    await bob.page.getByTestId('giveaway-enter-free').click();
    await hasText(bob.page.getByTestId('giveaway-line'), 'You’re in ✓ (free entry)');
    expect(await bob.page.getByTestId('giveaway-enter').isVisible()).toBe(false);
    await screenshot(bob, 'giveaway-03-viewer-entered');

    await hasText(page.getByTestId('host-giveaway-entries'), '1 entry');
    await hasText(page.getByTestId('giveaway-stat-free'), '1');
    await hostPanelShot('giveaway-04-host-running');
    expect(await axeSerious(page), 'studio, giveaway running').toEqual([]);
  });

  it('at the deadline Bob wins and claims the prize; the host sees the result, the seed, the download and the claim', async () => {
    await bob.page.getByTestId('giveaway-claim').waitFor({ state: 'visible', timeout: 45_000 });
    await hasText(bob.page.getByTestId('giveaway-win'), 'You won!');
    await hasText(bob.page.getByTestId('giveaway-line'), 'Winner: you');
    expect(await smallTargets(bob.page)).toEqual([]);
    // The "You won!" pop has played out (it is not played at all with reduced motion).
    await bob.page.evaluate(() => Promise.all((globalThis as any).document.getAnimations().filter((a: any) => a.effect?.target?.closest?.('.giveaway-card')).map((a: any) => a.finished.catch(() => undefined))));
    await screenshot(bob, 'giveaway-05-viewer-won');
    expect(await axeSerious(bob.page), 'viewer, won').toEqual([]);

    await bob.page.getByTestId('giveaway-claim').click();
    await hasText(bob.page.locator('.toasts'), 'Prize claimed: Silk scarf');
    await hasText(bob.page.getByTestId('giveaway-win'), 'Claimed ✓');
    expect(await bob.page.getByTestId('orders').textContent()).toContain('Silk scarf');
    await screenshot(bob, 'giveaway-06-viewer-claimed');

    const { page } = host;
    await hasText(page.getByTestId('host-giveaway-countdown'), 'Drawn');
    await hasText(page.getByTestId('host-giveaway-result'), /Winner: B\*+b/);
    await hasText(page.getByTestId('host-giveaway-seed'), /^[0-9a-f]{64}$/);
    await hasText(page.getByTestId('host-giveaway-claimed'), 'Prizes claimed: 1 of 1');
    await hasText(page.getByTestId('giveaway-stat-claimed'), '1');
    const href = await page.getByTestId('host-giveaway-entries-link').getAttribute('href');
    const published = (await (await fetch(href!)).json()) as GiveawayEntries;
    expect(published.entries).toHaveLength(1);
    expect(published.giveaway.winners[0]!.entry).toBe(published.entries[0]);
    await hostPanelShot('giveaway-07-host-result');
    expect(await axeSerious(page), 'studio, giveaway drawn').toEqual([]);
  });
});
