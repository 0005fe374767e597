/**
 * What the e2e test asks of a page, phrased as waits on DOM state (never sleeps): text that
 * matches, frames a <video> decoded, a button reached by keyboard, a product added.
 */
import type { Locator, Page } from 'playwright-core';

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
