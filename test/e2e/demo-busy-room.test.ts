/**
 * The busiest a viewer's phone gets, in real Chromium against a real server process: a flash
 * sale, a voucher, a giveaway and an auction lot all running at once in one room. On a 390×844
 * phone every strip's main action, the chat input and the heart button must all be in the first
 * viewport and none of them may cover another (what a person can tap is what they see).
 * Screenshot: test-artifacts/e2e/busy-01-viewer-everything.png.
 */
import { describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { DESKTOP, PHONE, screenshot, type Actor } from './browser.js';
import { demoStage } from './demo-stage.js';
import { accessible, hostGoesLive, inFirstViewport, settled, watchSignedIn } from './page-probes.js';

const stage = demoStage({}, [
  { name: 'Hana', viewport: DESKTOP },
  { name: 'Bob', viewport: PHONE },
]);

type Box = { x: number; y: number; width: number; height: number };
const overlap = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/** Pairs of these elements whose boxes intersect, named. */
async function overlapping(targets: Record<string, Locator>): Promise<string[]> {
  const boxes: [string, Box][] = [];
  for (const [name, loc] of Object.entries(targets)) {
    const box = await loc.first().boundingBox();
    if (box) boxes.push([name, box]);
  }
  const out: string[] = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) if (overlap(boxes[i]![1], boxes[j]![1])) out.push(`${boxes[i]![0]} × ${boxes[j]![0]}`);
  }
  return out;
}

async function startEverything(page: Page): Promise<void> {
  // Flash sale
  await page.getByLabel('Product', { exact: true }).selectOption({ label: 'Silk scarf ($29.99)' });
  await page.getByLabel('Sale price').fill('19.99');
  await page.getByLabel('Units', { exact: true }).fill('20');
  await page.getByLabel('Limit per person').fill('2');
  await page.getByLabel('Starts', { exact: true }).selectOption({ label: 'Now' });
  await page.getByRole('button', { name: 'Start flash sale' }).click();
  await page.getByTestId('host-sale-countdown').first().waitFor();
  // Voucher
  await page.getByLabel('Kind', { exact: true }).selectOption('amount');
  await page.locator('#voucher-value').fill('5');
  await page.getByLabel('Minimum spend').fill('20');
  await page.getByLabel('How many').fill('10');
  await page.getByRole('button', { name: 'Drop voucher' }).click();
  // Giveaway
  await page.getByLabel('Prize type').selectOption('product');
  await page.locator('#giveaway-product').selectOption({ label: 'Wool beanie' });
  await page.getByLabel('Open for').selectOption('120');
  await page.getByLabel('Winners', { exact: true }).fill('1');
  await page.getByLabel('Who may enter').selectOption('everyone');
  await page.getByRole('button', { name: 'Start giveaway' }).click();
  await page.getByTestId('host-giveaway-countdown').waitFor();
  // Auction
  await page.getByLabel('Auction length').selectOption('120');
  await page.getByRole('button', { name: 'Start auction' }).click();
  await page.getByTestId('host-auction-countdown').waitFor();
}

describe('a busy room on a phone', { timeout: 180_000 }, () => {
  it('sale, voucher, giveaway and auction at once: every strip, the chat input and the heart in the first viewport, none covering another', async () => {
    const [host, bob] = stage.actors as [Actor, Actor];
    const roomId = await hostGoesLive(host, 'Everything at once', [['Silk scarf', '29.99', 'Atelier'], ['Wool beanie', '15', 'Knitworks']]);
    await watchSignedIn(bob, roomId);
    await startEverything(host.page);

    const p = bob.page;
    const targets: Record<string, Locator> = {
      'sale Reserve': p.locator('[data-testid="sale-panel"] button.cta'),
      'voucher Claim': p.getByTestId('voucher-claim'),
      'giveaway Enter': p.getByTestId('giveaway-enter'),
      'auction bid': p.getByTestId('auction-bid-1'),
      'chat input': p.locator('#chat-input'),
      'heart': p.getByRole('button', { name: 'Send a heart' }),
    };
    for (const loc of Object.values(targets)) await loc.first().waitFor({ state: 'visible' });
    await settled(p);
    await screenshot(bob, 'busy-01-viewer-everything');
    const outside: string[] = [];
    for (const [name, loc] of Object.entries(targets)) if (!(await inFirstViewport(loc))) outside.push(name);
    expect(outside).toEqual([]);
    expect(await overlapping(targets)).toEqual([]);
    await accessible(bob, 'viewer, everything at once');
  });
});
