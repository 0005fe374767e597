/**
 * Vouchers and the sold-out waitlist in the demo pages, in real Chromium against a real server
 * process and a real Redis. Alice and Bob watch on phones (390×844); the host works in the studio.
 *
 * Vouchers: the host drops "$5.00 off, min. $20" and a followers-only "10 % off, min. $100"; Alice
 * sees each strip at once over the video, claims the first, is told the second is for followers,
 * follows and claims it; she reserves in a flash sale, tries the 10 % voucher (refused: min spend,
 * in the page's words, checkout still possible), applies the $5 one (price, discount, you pay),
 * checks out and sees the discounted order; the host sees claims, redemptions and the discount.
 *
 * Waitlist: a one-unit sale; Alice reserves it, Bob finds it sold out and joins the waitlist
 * ("You're #1 in line"); Alice releases; Bob gets the offer card ("A unit is yours for 0:5x"),
 * buys it; the host sees the waitlist figures (offered 1, bought 1).
 * Screenshots go to test-artifacts/e2e/promo-*.png; axe-core finds nothing serious or critical.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ARTIFACTS, DESKTOP, PHONE, screenshot, type Actor } from './browser.js';
import { demoStage } from './demo-stage.js';
import { accessible, hasText, hostGoesLive, inFirstViewport, settled, smallTargets, watchSignedIn } from './page-probes.js';

const stage = demoStage({}, [
  { name: 'Hana', viewport: DESKTOP },
  { name: 'Alice', viewport: PHONE },
  { name: 'Bob', viewport: PHONE },
]);
let host: Actor;
let alice: Actor;
let bob: Actor;
let roomId = '';
beforeAll(() => {
  [host, alice, bob] = stage.actors as [Actor, Actor, Actor];
});

async function shot(actor: Actor, name: string): Promise<void> {
  await settled(actor.page);
  await screenshot(actor, name);
}

/** Parts of the studio at the width of a phone, as the host would scroll to them. */
async function hostShot(name: string, selector: string): Promise<void> {
  await host.page.setViewportSize(PHONE);
  await settled(host.page);
  await host.page.locator(selector).screenshot({ path: join(ARTIFACTS, `${name}.png`) });
  await host.page.setViewportSize(DESKTOP);
}

async function dropVoucher(o: { kind: 'amount' | 'percent'; value: string; minSpend: string; quantity: string; followersOnly?: boolean }): Promise<void> {
  const { page } = host;
  await page.getByLabel('Kind', { exact: true }).selectOption(o.kind);
  await page.locator('#voucher-value').fill(o.value);
  await page.getByLabel('Minimum spend').fill(o.minSpend);
  await page.getByLabel('How many').fill(o.quantity);
  await page.getByLabel('Valid after claim').selectOption('1800');
  await page.getByLabel('Claim window').selectOption('300');
  await page.getByLabel('Followers only').setChecked(o.followersOnly ?? false);
  await page.getByRole('button', { name: 'Drop voucher' }).click();
}

async function startSale(product: string, price: string, units: string): Promise<void> {
  const hp = host.page;
  await hp.getByLabel('Product', { exact: true }).selectOption({ label: product });
  await hp.getByLabel('Sale price').fill(price);
  await hp.getByLabel('Units', { exact: true }).fill(units);
  await hp.getByLabel('Limit per person').fill('1');
  await hp.getByLabel('Starts', { exact: true }).selectOption({ label: 'Now' });
  await hp.getByRole('button', { name: 'Start flash sale' }).click();
}

const voucherCard = (page: Page, text: string) => page.getByTestId('voucher-panel').locator('article', { hasText: text });
const saleCard = (page: Page, title: string) => page.getByTestId('sale-panel').locator('article', { hasText: title });

describe('vouchers and the waitlist in Chromium', { timeout: 240_000 }, () => {
  it('host goes live with two products; Alice watches on a phone, signed in', async () => {
    roomId = await hostGoesLive(host, 'Voucher night', [['Silk scarf', '29.99', 'Atelier'], ['Wool beanie', '15', 'Knitworks']]);
    await watchSignedIn(alice, roomId);
    expect(await alice.page.getByTestId('voucher-panel').isVisible()).toBe(false);
  });

  it('a voucher drop shows at once over the video; Alice claims it; a followers-only one asks her to follow first', async () => {
    await dropVoucher({ kind: 'amount', value: '5', minSpend: '20', quantity: '10' });
    const five = voucherCard(alice.page, '$5.00 off');
    await five.waitFor();
    expect(await inFirstViewport(five)).toBe(true);
    await hasText(five, 'Min. spend $20.00');
    await hasText(five.getByTestId('voucher-remaining'), '10 of 10 left');
    await hasText(five.getByTestId('voucher-countdown'), /closes in [45]:\d\d/);
    expect(await smallTargets(alice.page.getByTestId('voucher-panel'))).toEqual([]);
    await shot(alice, 'promo-01-viewer-voucher-card');
    await accessible(alice, 'viewer, voucher strip');

    await five.getByTestId('voucher-claim').click();
    await hasText(five.getByTestId('voucher-state'), /Claimed ✓ · use within (30|29):\d\d/);
    expect(await five.getByTestId('voucher-claim').isVisible()).toBe(false);
    await hasText(host.page.getByTestId('host-vouchers').locator('li', { hasText: '$5.00 off' }).getByTestId('host-voucher-remaining'), '9 of 10 left · 1 claimed');
    await hasText(host.page.getByTestId('stat-voucher-claims'), /^1$/);

    await dropVoucher({ kind: 'percent', value: '10', minSpend: '100', quantity: '3', followersOnly: true });
    const ten = voucherCard(alice.page, '10 % off');
    await ten.waitFor();
    await hasText(ten, 'Min. spend $100.00');
    await hasText(ten, 'Followers only');
    await shot(alice, 'promo-02-viewer-two-vouchers');
    await ten.getByTestId('voucher-claim').click();
    await hasText(alice.page.locator('.toasts'), 'This voucher is for followers of the host: follow to claim it.');
    await alice.page.locator('#follow').click();
    await hasText(alice.page.locator('#follow'), 'Following');
    await ten.getByTestId('voucher-claim').click();
    await hasText(ten.getByTestId('voucher-state'), 'Claimed ✓');
    await hostShot('promo-03-host-vouchers', '#voucher');
    await accessible(host, 'studio, vouchers');
  });

  it('Alice reserves in a flash sale, a voucher under its minimum spend is refused in words, the $5 one applies; the order shows the discount', async () => {
    await startSale('Silk scarf ($29.99)', '25', '5');
    const sale = saleCard(alice.page, 'Silk scarf');
    await sale.getByRole('button', { name: 'Reserve' }).and(alice.page.locator(':enabled')).waitFor();
    await sale.getByRole('button', { name: 'Reserve' }).click();
    await sale.getByTestId('hold').waitFor();
    await sale.getByTestId('hold-use-voucher').click();
    const row = alice.page.getByTestId('holds').locator('li', { hasText: 'Silk scarf' });
    const picker = row.getByTestId('voucher-checkout');
    await picker.waitFor();

    await picker.getByLabel('Voucher').selectOption({ label: '10 % off · min. $100.00' });
    await picker.getByRole('button', { name: 'Apply' }).click();
    await hasText(row.getByTestId('voucher-refusal'), 'Spend a little more to use this voucher. You can still check out without it.');
    expect(await row.getByRole('button', { name: 'Check out' }).isEnabled()).toBe(true);

    await row.getByTestId('voucher-checkout').getByLabel('Voucher').selectOption({ label: '$5.00 off · min. $20.00' });
    await row.getByTestId('voucher-checkout').getByRole('button', { name: 'Apply' }).click();
    const price = row.getByTestId('voucher-price');
    await hasText(price, 'Price$25.00');
    await hasText(price, 'Voucher−$5.00');
    await hasText(row.getByTestId('voucher-you-pay'), '$20.00');
    expect(await row.getByTestId('voucher-refusal').count()).toBe(0);
    expect(await smallTargets(row)).toEqual([]);
    await shot(alice, 'promo-04-viewer-checkout-voucher');
    await accessible(alice, 'viewer, checkout with a voucher');

    await row.getByRole('button', { name: 'Check out' }).click();
    await hasText(alice.page.getByTestId('orders'), 'Order placed ✓ 1 × Silk scarf · $20.00 (voucher −$5.00)');
    await hasText(alice.page.getByTestId('my-vouchers').locator('li', { hasText: '$5.00 off' }), 'Used ✓');
    await shot(alice, 'promo-05-viewer-order-discounted');
    await alice.page.keyboard.press('Escape');

    await hasText(host.page.getByTestId('stat-voucher-redemptions'), /^1$/);
    await hasText(host.page.getByTestId('stat-voucher-discount'), '$5.00');
    await hasText(host.page.locator('#stat-gmv'), '$25.00');
    await hasText(host.page.getByTestId('host-vouchers').locator('li', { hasText: '$5.00 off' }).getByTestId('host-voucher-figures'), '1 used on orders · $5.00 off');
    await hostShot('promo-06-host-dashboard', '[data-testid="dashboard"]');
  });

  it('a sold-out sale: Bob joins the waitlist, Alice releases, Bob gets the offer card and buys', async () => {
    await watchSignedIn(bob, roomId);
    await startSale('Wool beanie ($15.00)', '9', '1');
    const aliceBeanie = saleCard(alice.page, 'Wool beanie');
    await aliceBeanie.getByRole('button', { name: 'Reserve' }).and(alice.page.locator(':enabled')).waitFor();
    await aliceBeanie.getByRole('button', { name: 'Reserve' }).click();
    await aliceBeanie.getByTestId('hold').waitFor();

    const bobBeanie = saleCard(bob.page, 'Wool beanie');
    await hasText(bobBeanie.getByTestId('sale-countdown'), 'Sold out');
    await bobBeanie.getByTestId('waitlist-join').click();
    await hasText(bobBeanie.getByTestId('waitlist-line'), 'You’re #1 in line · 1 waiting');
    expect(await bobBeanie.getByTestId('waitlist-leave').isVisible()).toBe(true);
    expect(await inFirstViewport(bobBeanie.getByTestId('waitlist'))).toBe(true);
    expect(await smallTargets(bobBeanie)).toEqual([]);
    await shot(bob, 'promo-07-viewer-waitlist-position');
    await accessible(bob, 'viewer, on the waitlist');
    const hostBeanie = host.page.getByTestId('host-sales').locator('li', { hasText: 'Wool beanie' });
    await hasText(hostBeanie.getByTestId('host-sale-waitlist'), 'Waitlist: 1 waiting · 0 offered');

    await aliceBeanie.getByRole('button', { name: 'Release' }).click();
    const offer = bobBeanie.getByTestId('offer');
    await offer.waitFor();
    await hasText(offer.getByTestId('offer-timer'), /^0:[45]\d$|^1:00$/);
    await hasText(offer, 'A unit is yours for');
    expect(await bobBeanie.getByTestId('waitlist').isVisible()).toBe(false);
    expect(await inFirstViewport(bobBeanie.getByTestId('offer-buy'))).toBe(true);
    // The offer's pop has played out (not played at all with reduced motion).
    await bob.page.evaluate(() => Promise.all((globalThis as any).document.getAnimations().map((a: any) => a.finished.catch(() => undefined))));
    expect(await smallTargets(bobBeanie)).toEqual([]);
    await shot(bob, 'promo-08-viewer-offer');
    await accessible(bob, 'viewer, waitlist offer');
    await hasText(hostBeanie.getByTestId('host-sale-waitlist'), 'Waitlist: 0 waiting · 1 offered · 0 bought');

    await bobBeanie.getByTestId('offer-buy').click();
    await hasText(bob.page.locator('.toasts'), 'You bought 1 × Wool beanie for $9.00');
    expect(await bob.page.getByTestId('orders').textContent()).toContain('1 × Wool beanie · $9.00');
    await hasText(hostBeanie.getByTestId('host-sale-waitlist'), 'Waitlist: 0 waiting · 1 offered · 1 bought · 0 lapsed');
    await hostShot('promo-09-host-sales-waitlist', '#sale');
  });
});
