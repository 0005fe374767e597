/**
 * The demo pages end to end, in real Chromium against a real server process (src/main.ts, with
 * its mediasoup worker) and a real Redis; one viewer reaches it through a TCP proxy that stands in
 * for her network. A host goes live with a fake camera at 1280×800; viewers watch on phones (390×844):
 * pin, chat, hearts, a flash sale with reserve and checkout, a sell-out; a moderator is appointed
 * from the chat mid-show and gets the tools without a reload; error codes read as sentences; a
 * viewer whose network drops catches up; End live leaves a summary with every control disabled.
 * Each step waits on DOM state; screenshots of every role at each key moment go to
 * test-artifacts/e2e/, and axe-core finds no serious or critical violation on any page.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { DESKTOP, PHONE, screenshot, sessionUserId, signIn, type Actor } from './browser.js';
import { demoStage, MEDIA_ON } from './demo-stage.js';
import { accessible, addProduct, hasText, heartByKeyboard, inFirstViewport, waitForFrames, waitForNewFrames } from './page-probes.js';

const stage = demoStage(MEDIA_ON, [
  { name: 'Hana', viewport: DESKTOP },
  // Alice's network: a proxy the reconnect case cuts. Everyone else reaches the server directly.
  { name: 'Alice', viewport: PHONE, throughProxy: true },
  { name: 'Bob', viewport: PHONE },
  { name: 'Maya', viewport: DESKTOP },
]);
let host: Actor;
let alice: Actor;
let bob: Actor;
let maya: Actor;
let roomId = '';
const ids: Record<string, string> = {};
beforeAll(() => {
  [host, alice, bob, maya] = stage.actors as [Actor, Actor, Actor, Actor];
});

/** Every button, input, select and textarea inside `root` is disabled. */
async function everyControlDisabled(page: Page, root: string): Promise<string[]> {
  return page.evaluate((sel: string) => {
    const out: string[] = [];
    for (const el of (globalThis as any).document.querySelectorAll(`${sel} button, ${sel} input, ${sel} select, ${sel} textarea`)) {
      if (!el.disabled) out.push(el.outerHTML.slice(0, 90));
    }
    return out;
  }, root);
}

const chatNote = (page: Page) => page.getByTestId('chat-note');
const send = async (page: Page, text: string) => {
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByLabel('Message', { exact: true }).press('Enter');
};

describe('demo pages in Chromium', { timeout: 180_000 }, () => {
  it('host signs in, creates a room, adds products and goes live; a phone viewer finds it and the video plays full screen', async () => {
    const { page } = host;
    await page.goto('/host.html');
    ids.host = await signIn(host);
    await page.getByLabel('Title').fill('Spring scarves live');
    await page.getByRole('button', { name: 'Create room' }).click();
    await page.locator('#room-name').filter({ hasText: 'Spring scarves live' }).waitFor();
    roomId = new URL(page.url()).searchParams.get('room') ?? '';
    expect(roomId).toMatch(/^r_/);

    await addProduct(page, 'Silk scarf', '29.99', 'Loom');
    await addProduct(page, 'Wool beanie', '15', 'Knitty');
    await page.getByRole('button', { name: 'Go live' }).click();
    await page.locator('#live-badge').waitFor({ state: 'visible' });
    await hasText(page.locator('#media-status'), 'On air');

    await alice.page.goto('/viewer.html');
    await alice.page.getByRole('link', { name: 'Spring scarves live' }).click();
    await alice.page.getByRole('heading', { name: 'Spring scarves live' }).waitFor();
    await alice.page.locator('#room-live').waitFor({ state: 'visible' });
    ids.alice = await signIn(alice);
    await alice.page.locator('#chat-input:not([disabled])').waitFor();
    await alice.page.keyboard.press('Escape'); // the sign-in sheet
    await alice.page.locator('#sheet').waitFor({ state: 'hidden' });
    await hasText(host.page.locator('#stat-viewers'), /^[12]$/);

    // The host's camera really plays for the viewer: frames decoded and the clock moving.
    const first = await waitForFrames(alice.page, 10);
    const later = await waitForFrames(alice.page, first.frames + 15);
    expect(later.time).toBeGreaterThan(first.time);
    expect(later.width).toBeGreaterThan(0);
    // Full screen: the video element covers the phone's whole viewport.
    const video = await alice.page.locator('#video').boundingBox();
    expect(video).toMatchObject({ x: 0, y: 0, width: PHONE.width, height: PHONE.height });
    await screenshot(host, '01-host-live');
    await screenshot(alice, '02-viewer-joined');
    await accessible(host, 'studio, live');
    await accessible(alice, 'viewer, watching');
  });

  it('host pins a product: the card shows over the video with price and Save; unpin removes it', async () => {
    await host.page.getByRole('button', { name: 'Pin Silk scarf' }).click();
    const card = alice.page.getByTestId('pinned').locator('article[aria-label="Silk scarf"]');
    await card.waitFor();
    expect(await card.textContent()).toContain('$29.99');
    expect(await inFirstViewport(alice.page.locator('[data-testid="pinned"] article'))).toBe(true);
    // No stock of its own: the Buy slot stays hidden (flash sales sell through Reserve).
    expect(await card.locator('[data-slot="buy"]').isHidden()).toBe(true);
    await card.getByRole('button', { name: 'Save Silk scarf' }).click();
    await card.page().getByRole('button', { name: 'Saved Silk scarf' }).waitFor();
    await screenshot(alice, '03-viewer-pinned');
    await host.page.getByRole('button', { name: 'Unpin Silk scarf' }).click();
    await card.waitFor({ state: 'detached' });
    await host.page.getByRole('button', { name: 'Pin Silk scarf' }).click();
    await alice.page.getByTestId('pinned').locator('article[aria-label="Silk scarf"]').waitFor();
  });

  it('buy now: a pinned product with stock of its own is bought from its card in two taps', async () => {
    const hp = host.page;
    await hp.getByText('Add a product').click();
    await hp.getByLabel('Buy-now stock').fill('3');
    await addProduct(hp, 'Linen tote', '25', 'Loom');
    await hp.getByRole('button', { name: 'Pin Linen tote' }).click();
    const card = alice.page.getByTestId('pinned').locator('article[aria-label="Linen tote"]');
    await hasText(card.getByTestId('buy-stock'), '3 left');
    expect(await inFirstViewport(alice.page.locator('[data-testid="pinned"] button.buy'))).toBe(true);
    await card.getByRole('button', { name: 'Buy Linen tote for $25.00' }).click();
    // The hold waits in the sheet with its Check out focused.
    const hold = alice.page.getByTestId('holds').locator('li', { hasText: 'Linen tote' });
    await hold.getByRole('button', { name: 'Check out' }).and(alice.page.locator(':focus')).waitFor();
    await screenshot(alice, '03b-viewer-buy-now-hold');
    await hold.getByRole('button', { name: 'Check out' }).click();
    await alice.page.locator('.toast').filter({ hasText: 'You bought 1 × Linen tote' }).waitFor();
    await hasText(alice.page.locator('#orders'), 'Order placed ✓ 1 × Linen tote');
    await alice.page.keyboard.press('Escape');
    await hasText(card.getByTestId('buy-stock'), '2 left');
    await hasText(hp.getByTestId('products').locator('li', { hasText: 'Linen tote' }).getByTestId('buy-stock'), '2 left');
    await hp.getByRole('button', { name: 'Pin Silk scarf' }).click();
    await alice.page.getByTestId('pinned').locator('article[aria-label="Silk scarf"]').waitFor();
  });

  it('chat reaches everyone; a heart counts and floats at once; follow and share count as engagement', async () => {
    await send(alice.page, 'Is the scarf real silk?');
    await host.page.getByTestId('chat-list').getByText('Is the scarf real silk?').waitFor();
    await host.page.getByLabel('Message', { exact: true }).fill('Yes, 100% mulberry silk');
    await host.page.getByRole('button', { name: 'Send' }).click();
    await alice.page.getByTestId('chat-list').getByText('Yes, 100% mulberry silk').waitFor();

    // One tap: in the same task the count is one higher and a Web Animation is running.
    const tapped = await alice.page.evaluate(() => {
      const d = (globalThis as any).document;
      const before = Number(d.querySelector('#hearts-total').dataset.total ?? d.querySelector('#hearts-total').textContent);
      d.querySelector('#heart').click();
      return { before, after: Number(d.querySelector('#hearts-total').textContent), animations: d.getAnimations().filter((a: any) => a.playState === 'running').length };
    });
    expect(tapped.after).toBe(tapped.before + 1);
    expect(tapped.animations).toBeGreaterThan(0);
    const heart = alice.page.getByRole('button', { name: 'Send a heart' });
    await heart.click();
    await heart.click();
    await hasText(alice.page.getByTestId('hearts-total'), /^3$/);
    await hasText(host.page.locator('#stat-hearts'), /^3$/);
    await screenshot(alice, '04-viewer-hearts');

    await alice.page.getByRole('button', { name: 'Follow' }).click();
    await alice.page.locator('#follow[aria-pressed="true"]').waitFor();
    // CES: 3 hearts (1 each) + 2 comments (4 each) + a save (1) + a follow (8), polled from room:stats.
    await hasText(host.page.locator('#stat-chat'), /^2$/);
    await hasText(host.page.locator('#stat-engagement'), /^20$/);
  });

  it('a flash sale appears at once over the video: countdown, Reserve and chat input in the first viewport; checkout says "You bought"', async () => {
    await bob.page.goto(`/viewer.html?room=${roomId}`);
    ids.bob = await signIn(bob);
    await bob.page.keyboard.press('Escape');
    await bob.page.locator('#chat-input:not([disabled])').waitFor();

    const hp = host.page;
    await hp.getByLabel('Product', { exact: true }).selectOption({ label: 'Silk scarf ($29.99)' });
    // The sale price starts at the product's list price.
    expect(await hp.getByLabel('Sale price').inputValue()).toBe('29.99');
    await hp.getByLabel('Sale price').fill('19.99');
    await hp.getByLabel('Units', { exact: true }).fill('5');
    await hp.getByLabel('Limit per person').fill('2');
    await hp.getByLabel('Starts', { exact: true }).selectOption({ label: 'In 5 s' });
    await hp.getByRole('button', { name: 'Start flash sale' }).click();

    // The countdown shows at once; Reserve turns on when the sale opens. All of it, and the chat
    // input, inside the phone's first viewport while the video plays.
    const aliceSale = alice.page.getByTestId('sale-panel').locator('article', { hasText: 'Silk scarf' });
    await hasText(aliceSale.getByTestId('sale-countdown'), /Starts in 0:0\d/);
    expect(await alice.page.locator('#video').getAttribute('data-state')).toBe('playing');
    for (const sel of ['[data-testid="sale-countdown"]', '[data-testid="sale-panel"] button.cta', '#chat-input', '#heart']) {
      expect(await inFirstViewport(alice.page.locator(sel)), sel).toBe(true);
    }
    await screenshot(alice, '05-viewer-sale-countdown');
    await screenshot(host, '06-host-sale-countdown');
    await aliceSale.getByRole('button', { name: 'Reserve' }).and(alice.page.locator(':enabled')).waitFor();
    await hasText(aliceSale.getByTestId('sale-countdown'), /Ends in/);
    expect(await inFirstViewport(alice.page.locator('[data-testid="sale-panel"] button.cta'))).toBe(true);
    await aliceSale.getByLabel('Quantity').selectOption('2');
    await aliceSale.getByRole('button', { name: 'Reserve' }).click();
    await hasText(aliceSale.getByTestId('hold-timer'), /^[12]:\d\d$/);
    const bobSale = bob.page.getByTestId('sale-panel').locator('article', { hasText: 'Silk scarf' });
    await hasText(bobSale.getByTestId('sale-stock'), /^3$/);
    await screenshot(alice, '07-viewer-sale-hold');
    await accessible(alice, 'viewer, sale and hold');

    await aliceSale.getByRole('button', { name: 'Check out' }).click();
    // Her own purchase in her words; everyone else gets the anonymised line.
    await alice.page.locator('.toast').filter({ hasText: 'You bought 2 × Silk scarf' }).waitFor();
    await bob.page.locator('.toast').filter({ hasText: /A\*+e just bought 2 × Silk scarf/ }).waitFor();
    expect(await alice.page.locator('.toast', { hasText: /just bought/ }).count()).toBe(0);
    await aliceSale.getByText('You have bought your limit of 2.').waitFor();
    await hasText(hp.locator('#stat-orders'), /^1$/);
    await hasText(hp.locator('#stat-units'), /^2$/);
    await hasText(hp.locator('#stat-gmv'), '$39.98');
    await hasText(hp.getByTestId('host-sale-stock'), '3 left · 0 held · 2 sold');

    // The bag sheet: the order, the room's products.
    await alice.page.getByRole('button', { name: /Your bag/ }).click();
    await hasText(alice.page.locator('#orders'), 'Order placed ✓ 2 × Silk scarf');
    await alice.page.locator('#bag').getByText('Wool beanie').waitFor();
    await screenshot(alice, '08-viewer-bag-sheet');
    await accessible(alice, 'viewer, bag sheet');
    await alice.page.keyboard.press('Escape');

    // Bob holds one and lets it go from the sheet: the unit goes back for everyone.
    await bobSale.getByRole('button', { name: 'Reserve' }).click();
    await hasText(aliceSale.getByTestId('sale-stock'), /^2$/);
    await bob.page.getByRole('button', { name: /Your bag/ }).click();
    await bob.page.getByTestId('holds').getByText('Silk scarf').waitFor();
    await screenshot(bob, '09-viewer2-hold-in-sheet');
    await bob.page.getByTestId('holds').getByRole('button', { name: 'Release' }).click();
    await hasText(aliceSale.getByTestId('sale-stock'), /^3$/);
    await bob.page.keyboard.press('Escape');
    await screenshot(host, '10-host-dashboard-sale');

    // A one-unit sale: Bob takes it; sold out is news, told neutrally, not as an error.
    await hp.getByLabel('Product', { exact: true }).selectOption({ label: 'Wool beanie ($15.00)' });
    await hp.getByLabel('Sale price').fill('9');
    await hp.getByLabel('Units', { exact: true }).fill('1');
    await hp.getByLabel('Starts', { exact: true }).selectOption({ label: 'Now' });
    await hp.getByRole('button', { name: 'Start flash sale' }).click();
    const bobBeanie = bob.page.getByTestId('sale-panel').locator('article', { hasText: 'Wool beanie' });
    await bobBeanie.getByRole('button', { name: 'Reserve' }).and(bob.page.locator(':enabled')).waitFor();
    await bobBeanie.getByRole('button', { name: 'Reserve' }).click();
    const soldOut = alice.page.locator('.toast', { hasText: 'Sold out: Wool beanie' });
    await soldOut.waitFor();
    expect(await soldOut.getAttribute('class')).not.toContain('toast-error');
    await bobBeanie.getByRole('button', { name: 'Check out' }).click();
    await bob.page.locator('.toast').filter({ hasText: 'You bought 1 × Wool beanie' }).waitFor();
    await hasText(alice.page.getByTestId('sale-panel').locator('article', { hasText: 'Wool beanie' }).getByTestId('sale-countdown'), 'Sold out');
    await screenshot(alice, '11-viewer-sold-out');

    // The host stops the scarf sale, after confirming: viewers see it end.
    await hp.getByRole('button', { name: 'Stop the flash sale of Silk scarf' }).click();
    await hp.getByRole('dialog').getByRole('heading', { name: 'Stop the sale of Silk scarf?' }).waitFor();
    await screenshot(host, '12-host-stop-sale-confirm');
    await hp.getByRole('dialog').getByRole('button', { name: 'Stop sale' }).click();
    await hasText(aliceSale.getByTestId('sale-countdown'), 'Ended — 2 sold');
  });

  it('a moderator appointed from the chat mid-show gets the tools without a reload; actions read in words', async () => {
    const mp = maya.page;
    await mp.goto(`/moderator.html?room=${roomId}`);
    ids.maya = await signIn(maya);
    await hasText(mp.locator('#my-role'), 'viewer');
    // Not staff: no moderation menu anywhere, no moderation panels.
    await mp.getByTestId('chat-list').getByText('Yes, 100% mulberry silk').waitFor();
    expect(await mp.locator('.msg-menu').count()).toBe(0);
    expect(await mp.getByTestId('audit-log').isHidden()).toBe(true);
    await send(mp, 'Hi! Happy to help moderate');
    await screenshot(maya, '13-moderator-before-appointment');

    // The host picks her from the chat (⋯ → Make moderator): names, not ids.
    await host.page.getByLabel('Actions for Maya’s message').click();
    await screenshot(host, '14-host-message-menu');
    await host.page.getByRole('button', { name: 'Make Maya a moderator' }).click();
    await host.page.getByTestId('moderators').getByText('Maya').waitFor();
    await hasText(mp.locator('#my-role'), 'moderator');
    await mp.getByTestId('audit-log').waitFor();
    expect(await sessionUserId(mp)).toBe(ids.maya);

    await send(bob.page, 'cheap scarves at spam.example');
    for (const a of [alice, host, maya]) await a.page.getByTestId('chat-list').getByText('cheap scarves at spam.example').waitFor();
    // A moderator's menu on a viewer's message: delete, mute, ban — and on the host's, only delete.
    const spamMenu = mp.getByTestId('chat-list').locator('li', { hasText: 'cheap scarves at spam.example' }).locator('details');
    await spamMenu.getByLabel('Actions for Bob’s message').click();
    await spamMenu.getByRole('button', { name: 'Ban Bob from this room' }).waitFor();
    await screenshot(maya, '15-moderator-appointed-menu');
    await mp.keyboard.press('Escape');
    await spamMenu.and(mp.locator(':not([open])')).waitFor();
    // On the host's message a moderator may only delete.
    const hostLine = mp.getByTestId('chat-list').locator('li', { hasText: 'Yes, 100% mulberry silk' });
    await hostLine.getByLabel('Actions for Hana’s message').click();
    expect(await hostLine.getByRole('button').allTextContents()).toEqual(['Delete message']);
    await mp.keyboard.press('Escape');

    // Blocked words set in the console apply to the next message, said as a sentence.
    await mp.getByRole('textbox', { name: /Blocked words/ }).fill('spam.example, fake');
    await mp.getByRole('button', { name: 'Save blocked words' }).click();
    await mp.getByTestId('audit-log').locator('li[data-action="blocked-words"]').waitFor();
    await send(alice.page, 'is this FAKE?');
    await hasText(chatNote(alice.page), 'This room doesn’t allow the word “fake”.');
    await screenshot(alice, '16-viewer-blocked-word');

    const spam = mp.getByTestId('chat-list').locator('li', { hasText: 'cheap scarves at spam.example' });
    await spam.getByLabel('Actions for Bob’s message').click();
    await spam.getByRole('button', { name: 'Delete message from Bob' }).click();
    for (const a of [alice, host, maya, bob]) {
      await a.page.getByTestId('chat-list').getByText('cheap scarves at spam.example').waitFor({ state: 'detached' });
    }
    // The audit names people and keeps the deleted words.
    await hasText(mp.getByTestId('audit-log').locator('li[data-action="delete"]'), 'Maya deleted Bob’s message');
    await hasText(mp.getByTestId('audit-log').locator('li[data-action="delete"]'), 'cheap scarves at spam.example');

    // Mute: Bob is told until when, in his local time; the console lists him with Unmute.
    await send(bob.page, 'you cannot stop me');
    await mp.getByTestId('chat-list').getByText('you cannot stop me').waitFor();
    const defiant = mp.getByTestId('chat-list').locator('li', { hasText: 'you cannot stop me' });
    await defiant.getByLabel('Actions for Bob’s message').click();
    await defiant.getByRole('button', { name: 'Mute Bob for 5 minutes' }).click();
    await mp.getByTestId('muted-list').getByText('Bob').waitFor();
    await send(bob.page, 'hello?');
    await hasText(chatNote(bob.page), /^You’re muted until \d{1,2}:\d\d/);
    await screenshot(bob, '17-viewer-muted');
    await mp.getByRole('button', { name: 'Unmute Bob' }).click();
    await mp.getByTestId('muted-list').getByText('Nobody is muted.').waitFor();

    // Slow mode: a countdown instead of "slow mode: wait 10 s".
    await mp.getByRole('combobox', { name: 'Slow mode' }).selectOption({ label: '30 s' });
    await mp.getByRole('button', { name: 'Set', exact: true }).click();
    await mp.getByTestId('audit-log').locator('li[data-action="slow-mode"]').waitFor();
    await hasText(chatNote(alice.page), 'Slow mode: one message every 30 s.');
    await send(alice.page, 'first');
    await alice.page.getByTestId('chat-list').getByText('first').waitFor();
    await hasText(chatNote(alice.page), /Slow mode: you can send again in 0:[0-3]\d\./);
    await screenshot(alice, '18-viewer-slow-mode');
    await mp.getByRole('combobox', { name: 'Slow mode' }).selectOption({ label: 'Off' });
    await mp.getByRole('button', { name: 'Set', exact: true }).click();

    // Ban, confirmed: Bob is sent away, the console lists him with Unban.
    await send(bob.page, 'last words');
    await mp.getByTestId('chat-list').getByText('last words').waitFor();
    const last = mp.getByTestId('chat-list').locator('li', { hasText: 'last words' });
    await last.getByLabel('Actions for Bob’s message').click();
    await last.getByRole('button', { name: 'Ban Bob from this room' }).click();
    await mp.getByRole('dialog').getByRole('heading', { name: 'Ban Bob?' }).waitFor();
    await screenshot(maya, '19-moderator-ban-confirm');
    await mp.getByRole('dialog').getByRole('button', { name: 'Ban', exact: true }).click();
    await hasText(bob.page.getByRole('alert'), 'You were removed from this room');
    await bob.page.locator('#watch').waitFor({ state: 'hidden' });
    await mp.getByTestId('banned-list').getByText('Bob').waitFor();
    await hasText(mp.getByTestId('audit-log').locator('li[data-action="ban"]'), 'Maya banned Bob');
    await screenshot(bob, '20-viewer-banned');
    await screenshot(maya, '21-moderator-console');
    await accessible(maya, 'moderator console');

    // Coming back does not help: the join is refused, in words.
    await bob.page.reload();
    await hasText(bob.page.getByRole('alert'), 'You were banned from this live by a moderator.');
    await mp.getByRole('button', { name: 'Unban Bob' }).click();
    await mp.getByTestId('banned-list').getByText('Nobody is banned.').waitFor();
  });

  it("a viewer's network drops: it shows reconnecting, then catches up on what it missed", async () => {
    await alice.context.setOffline(true);
    stage.proxy!.cut(); // her open connections die, as on a dropped network
    await hasText(alice.page.locator('#connection'), 'reconnecting');
    await screenshot(alice, '22-viewer-reconnecting');

    await host.page.getByLabel('Message', { exact: true }).fill('Beanies are next!');
    await host.page.getByRole('button', { name: 'Send' }).click();
    await host.page.getByRole('button', { name: 'Pin Wool beanie' }).click();
    await host.page.getByRole('button', { name: 'Unpin Wool beanie' }).waitFor();

    await alice.context.setOffline(false);
    await alice.page.locator('#connection').waitFor({ state: 'hidden' });
    await alice.page.getByTestId('chat-list').getByText('Beanies are next!').waitFor();
    await alice.page.getByTestId('pinned').locator('article[aria-label="Wool beanie"]').waitFor();
    // The server closed the viewer's media with the old connection; the page consumes again.
    await waitForNewFrames(alice.page, 15);
    await screenshot(alice, '23-viewer-caught-up');
  });

  it('the viewer works from the keyboard, and on a desktop the chat sits beside the video', async () => {
    await heartByKeyboard(alice.page);
    await alice.page.setViewportSize(DESKTOP);
    const chat = await alice.page.getByTestId('chat-list').boundingBox();
    const video = await alice.page.locator('#video').boundingBox();
    expect(chat!.x).toBeGreaterThanOrEqual(video!.x + video!.width - 1);
    await screenshot(alice, '24-viewer-desktop');
    await accessible(alice, 'viewer, desktop');
    await alice.page.setViewportSize(PHONE);
  });

  it('End live, confirmed, leaves a summary with every control disabled; viewers are told the live ended', async () => {
    const hp = host.page;
    await hp.getByRole('button', { name: 'End live' }).click();
    await hp.getByRole('dialog').getByRole('heading', { name: 'End this live?' }).waitFor();
    await screenshot(host, '25-host-end-confirm');
    await hp.getByRole('dialog').getByRole('button', { name: 'End live' }).click();
    const summary = hp.getByTestId('summary');
    await summary.getByRole('heading', { name: 'Show summary' }).waitFor();
    // Every order of the show: Alice's scarves (2 × $19.99), Bob's beanie ($9) and Alice's tote ($25, buy now).
    await hasText(summary.locator('[data-summary="orders"]'), /^3$/);
    await hasText(summary.locator('[data-summary="units"]'), /^4$/);
    await hasText(summary.locator('[data-summary="gmv"]'), '$73.98');
    await hasText(summary.locator('[data-summary="hearts"]'), /^[3-9]$/);
    await hasText(summary.getByTestId('top-products').locator('li').first(), 'Silk scarf — 2 sold · $39.98');
    await hasText(summary.getByTestId('top-products').locator('li').nth(1), 'Linen tote — 1 sold · $25.00');
    expect(await everyControlDisabled(hp, '#studio')).toEqual([]);
    // Nothing keeps running: no "LIVE", no sale counting down, no moderation menu.
    expect(await hp.locator('#live-badge').isHidden()).toBe(true);
    expect(await hp.locator('.msg-menu').count()).toBe(0);
    await hasText(hp.getByTestId('host-sales').locator('li').first(), 'Ended');
    await screenshot(host, '26-host-summary');
    await accessible(host, 'studio, summary');

    await hasText(alice.page.getByRole('alert'), 'This live has ended.');
    await screenshot(alice, '27-viewer-ended');

    // Reopened later, the studio shows the summary again, from what the server keeps.
    await hp.reload();
    await hasText(hp.getByTestId('summary').locator('[data-summary="gmv"]'), '$73.98');
    await hasText(hp.getByTestId('summary').locator('[data-summary="orders"]'), /^3$/);
    expect(await everyControlDisabled(hp, '#studio')).toEqual([]);
  });

  it('every page fits a phone screen, labels every control and passes axe', async () => {
    const pages: [Actor, string][] = [
      [alice, '/'],
      [host, '/host.html'],
      [maya, '/moderator.html'],
      [alice, '/viewer.html'],
    ];
    for (const [actor, path] of pages) {
      await actor.page.setViewportSize(PHONE);
      await actor.page.goto(path);
      await actor.page.locator('#rooms, #setup').first().waitFor();
      const problems = (await actor.page.evaluate(`(() => {
        const out = [];
        const doc = document.documentElement;
        if (doc.scrollWidth > doc.clientWidth + 1) out.push('scrolls sideways: ' + doc.scrollWidth + ' > ' + doc.clientWidth);
        for (const el of document.querySelectorAll('input, select, textarea, button')) {
          if (el.closest('[hidden]') || el.type === 'hidden') continue;
          const named = (el.labels && el.labels.length) || el.getAttribute('aria-label') || (el.tagName === 'BUTTON' && el.textContent.trim());
          if (!named) out.push('no label: ' + el.outerHTML.slice(0, 80));
        }
        return out;
      })()`)) as string[];
      expect(problems, `${actor.name} ${path}`).toEqual([]);
      await accessible(actor, path);
      await screenshot(actor, `phone-${path === '/' ? 'home' : path.slice(1, path.indexOf('.'))}`, { fullPage: true });
    }
  });
});
