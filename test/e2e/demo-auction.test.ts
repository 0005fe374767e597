/**
 * Live auctions in the demo pages, in real Chromium against a real server process and a real
 * Redis: the host (1280×800) puts a bag product up as a 30 s `extend` lot; Bob, already watching
 * on a phone (390×844), sees the strip appear inside the first viewport and bids; Alice joins
 * mid-lot (the lot comes from her join snapshot) and outbids him; Bob sees the price move, bids
 * a maximum in the last seconds and the countdown visibly extends; the lot closes on Redis's clock,
 * Bob gets "You won" and checks out. A second lot is cancelled by the host after a confirmation.
 * Screenshots go to test-artifacts/e2e/auction-*.png; axe-core finds nothing serious or critical.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { DESKTOP, PHONE, screenshot, type Actor } from './browser.js';
import { demoStage, MEDIA_ON } from './demo-stage.js';
import { accessible, hostGoesLive, hasText, inFirstViewport, watchSignedIn } from './page-probes.js';

const stage = demoStage(MEDIA_ON, [
  { name: 'Hana', viewport: DESKTOP },
  { name: 'Bob', viewport: PHONE },
  { name: 'Alice', viewport: PHONE },
]);
let host: Actor;
let bob: Actor;
let alice: Actor;
let roomId = '';
beforeAll(() => {
  [host, bob, alice] = stage.actors as [Actor, Actor, Actor];
});

/** Seconds left on the strip's countdown ("…0:23" → 23). */
async function secondsLeft(page: Page): Promise<number> {
  const text = (await page.getByTestId('auction-countdown').textContent()) ?? '';
  const m = /(\d+):(\d\d)$/.exec(text);
  return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
}

const strip = (page: Page) => page.getByTestId('auction-panel');

describe('auction UI in Chromium', { timeout: 180_000 }, () => {
  it('host goes live with a bag product; Bob watches on a phone', async () => {
    roomId = await hostGoesLive(host, 'Vintage bags auction', [['Kelly-style bag', '18', 'Atelier']]);
    await watchSignedIn(bob, roomId);
    expect(await strip(bob.page).isVisible()).toBe(false);
  });

  it('host starts a lot: the start price comes from the product; Bob sees the strip in the first viewport and bids', async () => {
    const { page } = host;
    // Prefilled from the product's price.
    await expect.poll(() => page.getByLabel('Start price').inputValue()).toBe('18.00');
    await page.getByLabel('Auction length').selectOption('30');
    await page.getByLabel('Late bids').selectOption('extend');
    await page.getByRole('button', { name: 'Start auction' }).click();
    await hasText(page.getByTestId('host-auction-countdown'), /Ends in 0:[0-3]\d/);
    // One lot at a time: the form steps aside while it runs.
    expect(await page.getByRole('button', { name: 'Start auction' }).isVisible()).toBe(false);

    await strip(bob.page).waitFor({ state: 'visible' });
    expect(await inFirstViewport(strip(bob.page))).toBe(true);
    await hasText(bob.page.getByTestId('auction-price'), '$18.00');
    await hasText(bob.page.getByTestId('auction-leader'), 'No bids yet');
    // The next valid amounts: the start price, then one $1 increment above it.
    await hasText(bob.page.getByTestId('auction-bid-1'), 'Bid $18.00');
    await hasText(bob.page.getByTestId('auction-bid-2'), 'Bid $19.00');
    await screenshot(bob, 'auction-01-viewer-lot-open');

    await bob.page.getByTestId('auction-bid-1').click();
    await hasText(bob.page.getByTestId('auction-leader'), 'You’re winning');
    await hasText(bob.page.getByTestId('auction-bids'), '1 bid');
    // Leading: no bid against oneself.
    expect(await bob.page.getByTestId('auction-bid-1').isDisabled()).toBe(true);
    await hasText(page.getByTestId('host-auction-figures'), /\$18\.00 · 1 bid · B\*+/);
    await screenshot(bob, 'auction-02-viewer-winning');
    await accessible(bob, 'viewer, auction strip');
  });

  it('Alice joins mid-lot and outbids Bob; Bob sees the price move, sets a max bid in the last seconds and the timer extends', async () => {
    await watchSignedIn(alice, roomId);
    await strip(alice.page).waitFor({ state: 'visible' });
    await hasText(alice.page.getByTestId('auction-bid-1'), 'Bid $19.00');
    await alice.page.getByTestId('auction-bid-1').click();
    await hasText(alice.page.getByTestId('auction-leader'), 'You’re winning');

    await hasText(bob.page.getByTestId('auction-price'), '$19.00');
    await hasText(bob.page.getByTestId('auction-leader'), /A\*+e leads/);
    await hasText(bob.page.getByTestId('auction-bid-1'), 'Bid $20.00');
    // Past $20 the step is $2 (the default table).
    await hasText(bob.page.getByTestId('auction-bid-2'), 'Bid $22.00');

    // Into the last 10 s, then a bid: the countdown jumps back to 10 s and says so.
    await bob.page.waitForFunction(() => /0:0\d$/.test((globalThis as any).document.querySelector('[data-testid="auction-countdown"]')?.textContent ?? ''), undefined, { timeout: 40_000 });
    const before = await secondsLeft(bob.page);
    // A maximum this time: the server bids for him just enough to lead ($20), not the $30.
    await bob.page.getByLabel('Max bid in USD').fill('30');
    await bob.page.getByRole('button', { name: 'Set max' }).click();
    await hasText(bob.page.locator('.toasts'), 'Max bid set: up to $30.00');
    await hasText(bob.page.getByTestId('auction-countdown'), 'Extended');
    await hasText(bob.page.getByTestId('auction-leader'), 'You’re winning');
    expect(await secondsLeft(bob.page)).toBeGreaterThan(before);
    await hasText(alice.page.getByTestId('auction-price'), '$20.00');
    await screenshot(bob, 'auction-03-viewer-extended');
    await screenshot(host, 'auction-04-host-lot-live');
    await accessible(host, 'studio, auction running');
  });

  it('the lot closes: Bob won and checks out; the host sees it awaiting payment then sold', async () => {
    await bob.page.getByTestId('auction-checkout').waitFor({ state: 'visible', timeout: 40_000 });
    await hasText(bob.page.getByTestId('auction-countdown'), 'Sold');
    await hasText(bob.page.getByTestId('auction-leader'), 'You won');
    await hasText(alice.page.getByTestId('auction-leader'), /Won by B\*+b/);
    await screenshot(bob, 'auction-05-viewer-won');
    await accessible(bob, 'viewer, won');
    await bob.page.getByTestId('auction-checkout').click();
    await hasText(bob.page.locator('.toasts'), 'You bought Kelly-style bag for $20.00');
    expect(await bob.page.getByTestId('orders').textContent()).toContain('Kelly-style bag');
    await hasText(host.page.getByTestId('host-auction-countdown'), /Sold|awaiting payment/);
    // Alice lost: no checkout for her.
    expect(await alice.page.getByTestId('auction-checkout').isVisible()).toBe(false);
  });

  it('host starts a second lot and cancels it after a confirmation; the viewers see it cancelled', async () => {
    const { page } = host;
    await page.getByRole('button', { name: 'Start auction' }).click();
    await hasText(page.getByTestId('host-auction-countdown'), 'Ends in');
    await hasText(bob.page.getByTestId('auction-leader'), 'No bids yet');
    await page.getByRole('button', { name: 'Cancel lot' }).click();
    const dialog = page.getByRole('dialog', { name: /Cancel the auction/ });
    await dialog.waitFor();
    // The safe answer first: "Cancel" keeps the lot running.
    await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
    await hasText(page.getByTestId('host-auction-countdown'), 'Ends in');
    await page.getByRole('button', { name: 'Cancel lot' }).click();
    await dialog.waitFor();
    await screenshot(host, 'auction-06-host-cancel-confirm');
    await accessible(host, 'studio, cancel dialog');
    await dialog.getByRole('button', { name: 'Cancel lot' }).click();
    await hasText(page.getByTestId('host-auction-countdown'), 'Cancelled');
    await hasText(bob.page.getByTestId('auction-countdown'), 'Cancelled');
    await screenshot(bob, 'auction-07-viewer-cancelled');
    expect(await bob.page.getByTestId('auction-bid-1').isVisible()).toBe(false);
  });
});
