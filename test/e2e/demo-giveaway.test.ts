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
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ARTIFACTS, DESKTOP, PHONE, screenshot, type Actor } from './browser.js';
import { demoStage } from './demo-stage.js';
import { accessible, hasText, hostGoesLive, inFirstViewport, smallTargets, watchSignedIn } from './page-probes.js';
import type { GiveawayEntries } from '../../src/protocol/index.js';

const stage = demoStage({ GIVEAWAY_SWEEP_MS: '100' }, [
  { name: 'Hana', viewport: DESKTOP },
  { name: 'Bob', viewport: PHONE },
]);
let host: Actor;
let bob: Actor;
let roomId = '';
beforeAll(() => {
  [host, bob] = stage.actors as [Actor, Actor];
});

/** The host's giveaway panel alone, at the width of a phone, as the host would scroll to it. */
async function hostPanelShot(name: string): Promise<void> {
  await host.page.setViewportSize(PHONE);
  await host.page.locator('#giveaway').screenshot({ path: join(ARTIFACTS, `${name}.png`) });
  await host.page.setViewportSize(DESKTOP);
}

const strip = (page: Page) => page.getByTestId('giveaway-panel');

describe('giveaway UI in Chromium', { timeout: 180_000 }, () => {
  it('host goes live with a bag product; Bob watches on a phone, signed in', async () => {
    roomId = await hostGoesLive(host, 'Giveaway night', [['Silk scarf', '25', 'Atelier']]);
    await watchSignedIn(bob, roomId);
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
    expect(await inFirstViewport(strip(bob.page))).toBe(true);
    await hasText(strip(bob.page), 'Silk scarf');
    await hasText(strip(bob.page), 'For followers of the host');
    await hasText(bob.page.getByTestId('giveaway-countdown'), /Ends in 0:[0-3]\d/);
    expect(await smallTargets(strip(bob.page))).toEqual([]);
    await screenshot(bob, 'giveaway-02-viewer-running');
    await accessible(bob, 'viewer, giveaway strip');

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
    await accessible(host, 'studio, giveaway running');
  });

  it('at the deadline Bob wins and claims the prize; the host sees the result, the seed, the download and the claim', async () => {
    await bob.page.getByTestId('giveaway-claim').waitFor({ state: 'visible', timeout: 45_000 });
    await hasText(bob.page.getByTestId('giveaway-win'), 'You won!');
    await hasText(bob.page.getByTestId('giveaway-line'), 'Winner: you');
    expect(await smallTargets(strip(bob.page))).toEqual([]);
    // The "You won!" pop has played out (it is not played at all with reduced motion).
    await bob.page.evaluate(() => Promise.all((globalThis as any).document.getAnimations().filter((a: any) => a.effect?.target?.closest?.('.giveaway-card')).map((a: any) => a.finished.catch(() => undefined))));
    await screenshot(bob, 'giveaway-05-viewer-won');
    await accessible(bob, 'viewer, won');

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
    await accessible(host, 'studio, giveaway drawn');
  });
});
