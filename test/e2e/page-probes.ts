/**
 * What the e2e test asks of a page, phrased as waits on DOM state (never sleeps): text that
 * matches, frames a <video> decoded, a button reached by keyboard, a product added.
 */
import type { Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { axeSerious, signIn, type Actor } from './browser.js';

/** Wait until this element's text matches. */
export const hasText = (locator: Locator, text: string | RegExp) => locator.filter({ hasText: text }).first().waitFor();

export interface Playback {
  time: number;
  frames: number;
  width: number;
}

/** Waits until the viewer's <video> has decoded at least `frames` frames. */
export async function waitForFrames(page: Page, frames: number): Promise<Playback> {
  // A function run in the page, not a string: the pages' CSP forbids eval, which string
  // predicates need. This project's tsconfig has no DOM types, hence the loose casts.
  const handle = await page.waitForFunction(
    (min: number) => {
      const v = (globalThis as any).document.querySelector('#video');
      if (!v || v.paused || v.readyState < 2) return null;
      const q = v.getVideoPlaybackQuality();
      const decoded = q.totalVideoFrames - q.droppedVideoFrames;
      return decoded >= min ? { time: v.currentTime, frames: decoded, width: v.videoWidth } : null;
    },
    frames,
    { timeout: 40_000 },
  );
  return (await handle.jsonValue()) as Playback;
}

/** Counts frames the viewer's <video> presents from now on (requestVideoFrameCallback), and
 * waits for `frames` of them: proof that fresh video arrives, whatever happened before. */
export async function waitForNewFrames(page: Page, frames: number): Promise<void> {
  await page.evaluate(() => {
    const g = globalThis as any;
    const v = g.document.querySelector('#video');
    const counter = { n: 0 };
    g.__newFrames = counter;
    const tick = () => {
      counter.n++;
      v.requestVideoFrameCallback(tick);
    };
    v.requestVideoFrameCallback(tick);
  });
  await page.waitForFunction(
    (min: number) => {
      const g = globalThis as any;
      return g.__newFrames.n >= min && g.document.querySelector('#video').dataset.state === 'playing';
    },
    frames,
    { timeout: 40_000 },
  );
}

/** Reach the heart button with Tab alone and press it with Space: the total goes up by one. */
export async function heartByKeyboard(page: Page): Promise<void> {
  const total = Number(await page.getByTestId('hearts-total').textContent());
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => (globalThis as any).document.activeElement?.getAttribute('aria-label') === 'Send a heart')) break;
  }
  await page.keyboard.press('Space');
  await hasText(page.getByTestId('hearts-total'), new RegExp(`^${total + 1}$`));
}

export async function addProduct(page: Page, title: string, price: string, brand: string) {
  await page.getByLabel('Name', { exact: true }).fill(title);
  await page.getByLabel('Price', { exact: true }).fill(price);
  await page.getByLabel('Brand').fill(brand);
  await page.getByRole('button', { name: 'Add product' }).click();
  await page.getByTestId('products').getByText(title).waitFor();
}

/** The host's studio: sign in, create a room titled `title`, add these products and go live.
 * Returns the room id. */
export async function hostGoesLive(host: Actor, title: string, products: [name: string, price: string, brand: string][]): Promise<string> {
  const { page } = host;
  await page.goto('/host.html');
  await signIn(host);
  await page.getByLabel('Title').fill(title);
  await page.getByRole('button', { name: 'Create room' }).click();
  await page.locator('#room-name').filter({ hasText: title }).waitFor();
  const roomId = new URL(page.url()).searchParams.get('room') ?? '';
  for (const [name, price, brand] of products) await addProduct(page, name, price, brand);
  await page.getByRole('button', { name: 'Go live' }).click();
  await page.locator('#live-badge').waitFor({ state: 'visible' });
  return roomId;
}

/** Open the room's viewer page, sign in and close the sign-in sheet. */
export async function watchSignedIn(actor: Actor, roomId: string): Promise<void> {
  await actor.page.goto(`/viewer.html?room=${encodeURIComponent(roomId)}`);
  await actor.page.locator('#room-live').waitFor({ state: 'visible' });
  await signIn(actor);
  await actor.page.locator('#chat-input:not([disabled])').waitFor();
  await actor.page.keyboard.press('Escape');
  await actor.page.locator('#sheet').waitFor({ state: 'hidden' });
}

/** The element's box lies inside the first viewport (what a phone shows without scrolling). */
export async function inFirstViewport(locator: Locator): Promise<boolean> {
  const box = await locator.first().boundingBox();
  const vp = locator.page().viewportSize()!;
  return box !== null && box.width > 0 && box.y >= 0 && box.x >= 0 && box.y + box.height <= vp.height && box.x + box.width <= vp.width;
}

/** Visible buttons inside `scope` smaller than 44 × 44 CSS px (a phone's tap target), described. */
export async function smallTargets(scope: Locator): Promise<string[]> {
  const buttons = scope.locator('button:visible');
  const out: string[] = [];
  for (let i = 0; i < (await buttons.count()); i++) {
    const box = await buttons.nth(i).boundingBox();
    if (box && (box.height < 44 || box.width < 44)) out.push(`${await buttons.nth(i).textContent()}: ${box.width}×${box.height}`);
  }
  return out;
}

/** What a person sees once things settle: entrance animations done, no toast covering the page. */
export async function settled(page: Page): Promise<void> {
  await page.evaluate(() => Promise.all((globalThis as any).document.getAnimations().map((a: any) => a.finished.catch(() => undefined))));
  await page.waitForFunction(() => !(globalThis as any).document.querySelector('.toast'), undefined, { timeout: 15_000 });
}

/** No serious or critical accessibility finding on this page as it is now. */
export async function accessible(actor: Actor, what: string): Promise<void> {
  expect(await axeSerious(actor.page), `${actor.name} ${what}`).toEqual([]);
}
