/**
 * The demo pages end to end, in real Chromium against a real server and Redis: a host goes live
 * with a (fake) camera, viewers watch, pin, chat and hearts flow, a moderator deletes and bans,
 * and a viewer whose network drops reconnects and catches up. Each step waits on DOM state.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startStack, type Stack } from '../helpers/stack.js';
import { buildDemo, DESKTOP, launchChromium, newActor, PHONE, screenshot, signIn, type Actor } from './browser.js';
import { addProduct, hasText, heartByKeyboard, waitForFrames, waitForNewFrames } from './page-probes.js';

let stack: Stack;
let demo: Awaited<ReturnType<typeof buildDemo>>;
let browser: Browser;
let host: Actor;
let alice: Actor;
let bob: Actor;
let maya: Actor;
let roomId = '';
const ids: Record<string, string> = {};

beforeAll(async () => {
  demo = await buildDemo();
  // Video on: one mediasoup worker, on free ports (the test stack's media defaults).
  stack = await startStack({ config: { DEMO_DIR: demo.dir, MEDIA_ENABLED: 'true' } });
  browser = await launchChromium();
  host = await newActor(browser, stack.url, 'Hana', DESKTOP);
  alice = await newActor(browser, stack.url, 'Alice', PHONE);
  bob = await newActor(browser, stack.url, 'Bob', PHONE);
  maya = await newActor(browser, stack.url, 'Maya', { width: 1024, height: 800 });
  for (const a of [host, alice, bob, maya]) a.page.setDefaultTimeout(15_000);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await demo?.remove();
});

afterEach(() => {
  const errors = [host, alice, bob, maya].flatMap((a) => a?.errors.splice(0) ?? []);
  expect(errors).toEqual([]);
});

describe('demo pages in Chromium', () => {
  it('host signs in, creates a room, adds products and goes live; a viewer finds it', async () => {
    const { page } = host;
    await page.goto('/host.html');
    ids.host = await signIn(host);
    await page.getByLabel('Title').fill('Spring scarves live');
    await page.getByRole('button', { name: 'Create room' }).click();
    await page.getByRole('heading', { name: /On air/ }).waitFor();
    roomId = new URL(page.url()).searchParams.get('room') ?? '';
    expect(roomId).toMatch(/^r_/);

    await addProduct(page, 'Silk scarf', '29.99', 'Loom');
    await addProduct(page, 'Wool beanie', '15', 'Knitty');
    await page.getByRole('button', { name: 'Go live' }).click();
    await page.locator('#live-badge').waitFor({ state: 'visible' });
    await hasText(page.locator('#media-status'), 'On air');

    await alice.page.goto('/viewer.html');
    ids.alice = await signIn(alice);
    await alice.page.getByRole('link', { name: 'Spring scarves live' }).click();
    await alice.page.getByRole('heading', { name: 'Spring scarves live' }).waitFor();
    await alice.page.locator('#room-live').waitFor({ state: 'visible' });
    await hasText(host.page.locator('#stat-viewers'), /^[12]$/);

    // The host's camera really plays for the viewer: frames decoded and the clock moving.
    const first = await waitForFrames(alice.page, 10);
    const later = await waitForFrames(alice.page, first.frames + 15);
    expect(later.time).toBeGreaterThan(first.time);
    expect(later.width).toBeGreaterThan(0);
    await screenshot(host, '01-host-live');
    await screenshot(alice, '02-viewer-joined');
  });

  it('host pins a product: the viewer sees the card; unpin removes it', async () => {
    await host.page.getByRole('button', { name: 'Pin Silk scarf' }).click();
    const card = alice.page.getByTestId('pinned').locator('article[aria-label="Silk scarf"]');
    await card.waitFor();
    expect(await card.textContent()).toContain('$29.99');
    await screenshot(alice, '03-viewer-pinned');
    await host.page.getByRole('button', { name: 'Unpin Silk scarf' }).click();
    await card.waitFor({ state: 'detached' });
    await host.page.getByRole('button', { name: 'Pin Silk scarf' }).click();
    await card.waitFor();
  });

  it('chat and hearts reach everyone; the dashboard counts them', async () => {
    await alice.page.getByLabel('Message', { exact: true }).fill('Is the scarf real silk?');
    await alice.page.getByLabel('Message', { exact: true }).press('Enter');
    await host.page.getByTestId('chat-list').getByText('Is the scarf real silk?').waitFor();
    await host.page.getByLabel('Message', { exact: true }).fill('Yes, 100% mulberry silk');
    await host.page.getByRole('button', { name: 'Send' }).click();
    await alice.page.getByTestId('chat-list').getByText('Yes, 100% mulberry silk').waitFor();

    const heart = alice.page.getByRole('button', { name: 'Send a heart' });
    for (let i = 0; i < 3; i++) await heart.click();
    await hasText(alice.page.getByTestId('hearts-total'), /^3$/);
    await hasText(host.page.locator('#stat-hearts'), /^3$/);
    // CES: 3 hearts (1 each) + 2 comments (4 each), polled from room:stats.
    await hasText(host.page.locator('#stat-engagement'), /^11$/);
    await hasText(host.page.locator('#stat-chat'), /^2$/);
  });

  it('host starts a flash sale: a viewer reserves and checks out; the dashboard and a second viewer see it', async () => {
    await bob.page.goto(`/viewer.html?room=${roomId}`);
    ids.bob = await signIn(bob);
    await hasText(bob.page.locator('#room-title'), 'Spring scarves live');
    // Signing in after joining as a guest reconnects as Bob; chat turns on once that is done.
    await bob.page.locator('#chat-input:not([disabled])').waitFor();

    const hp = host.page;
    await hp.getByLabel('Product', { exact: true }).selectOption({ label: 'Silk scarf ($29.99)' });
    await hp.getByLabel('Sale price').fill('19.99');
    await hp.getByLabel('Units', { exact: true }).fill('5');
    await hp.getByLabel('Limit per person').fill('2');
    await hp.getByLabel('Starts in (s)').fill('2');
    await hp.getByRole('button', { name: 'Start flash sale' }).click();

    // The countdown shows first; Reserve turns on when the sale opens.
    const aliceSale = alice.page.getByTestId('sale-panel').locator('article', { hasText: 'Silk scarf' });
    await hasText(aliceSale.getByTestId('sale-countdown'), /Starts in 0:0\d/);
    await screenshot(alice, '04-viewer-sale-countdown');
    await aliceSale.getByRole('button', { name: 'Reserve' }).and(alice.page.locator(':enabled')).waitFor();
    await hasText(aliceSale.getByTestId('sale-countdown'), /Ends in/);
    await aliceSale.getByLabel('Quantity').selectOption('2');
    await aliceSale.getByRole('button', { name: 'Reserve' }).click();
    await hasText(aliceSale.getByTestId('hold-timer'), /^[12]:\d\d$/);
    const bobSale = bob.page.getByTestId('sale-panel').locator('article', { hasText: 'Silk scarf' });
    await hasText(bobSale.getByTestId('sale-stock'), /^3$/);
    await screenshot(alice, '05-viewer-sale-hold');

    await aliceSale.getByRole('button', { name: 'Check out' }).click();
    await hasText(aliceSale.getByTestId('orders'), 'Order placed');
    await aliceSale.getByTestId('hold').waitFor({ state: 'hidden' });
    await aliceSale.getByText('You have bought your limit of 2.').waitFor();
    await hasText(hp.locator('#stat-orders'), /^1$/);
    await hasText(hp.locator('#stat-units'), /^2$/);
    await hasText(hp.locator('#stat-gmv'), '$39.98');
    await hasText(hp.getByTestId('host-sale-stock'), '3 left · 0 held · 2 sold');
    await bob.page.getByText(/A\*+e just bought 2 × Silk scarf/).waitFor();
    await hasText(bobSale.getByTestId('sale-stock'), /^3$/);

    // Bob holds one and lets it go: the unit goes back for everyone.
    await bobSale.getByRole('button', { name: 'Reserve' }).click();
    await hasText(aliceSale.getByTestId('sale-stock'), /^2$/);
    await screenshot(bob, '06-viewer2-sale-hold');
    await bobSale.getByRole('button', { name: 'Release' }).click();
    await hasText(aliceSale.getByTestId('sale-stock'), /^3$/);
    await screenshot(host, '07-host-dashboard-sale');

    // A one-unit sale: Bob takes it, everyone hears it is sold out.
    await hp.getByLabel('Product', { exact: true }).selectOption({ label: 'Wool beanie ($15.00)' });
    await hp.getByLabel('Sale price').fill('9');
    await hp.getByLabel('Units', { exact: true }).fill('1');
    await hp.getByLabel('Starts in (s)').fill('0');
    await hp.getByRole('button', { name: 'Start flash sale' }).click();
    const bobBeanie = bob.page.getByTestId('sale-panel').locator('article', { hasText: 'Wool beanie' });
    await bobBeanie.getByRole('button', { name: 'Reserve' }).and(bob.page.locator(':enabled')).waitFor();
    await bobBeanie.getByRole('button', { name: 'Reserve' }).click();
    await alice.page.getByText('Sold out: Wool beanie').waitFor();
    await hasText(alice.page.getByTestId('sale-panel').locator('article', { hasText: 'Wool beanie' }).getByTestId('sale-countdown'), 'Sold out');

    // The host stops the scarf sale: viewers see it end.
    await hp.getByRole('button', { name: 'Stop the flash sale of Silk scarf' }).click();
    await hasText(aliceSale.getByTestId('sale-countdown'), 'Ended — 2 sold');
  });

  it('a moderator deletes a message for everyone and bans a viewer, with an audit trail', async () => {
    await maya.page.goto('/moderator.html');
    ids.maya = await signIn(maya);
    await host.page.getByLabel(/Appoint a moderator/).fill(ids.maya);
    await host.page.getByRole('button', { name: 'Appoint' }).click();
    await host.page.locator('#moderators').getByText(ids.maya).waitFor();
    await maya.page.getByLabel('Room id').fill(roomId);
    await maya.page.getByRole('button', { name: 'Open room' }).click();
    await hasText(maya.page.locator('#my-role'), 'moderator');

    await bob.page.getByLabel('Message', { exact: true }).fill('cheap scarves at spam.example');
    await bob.page.getByLabel('Message', { exact: true }).press('Enter');
    for (const a of [alice, host, maya]) await a.page.getByTestId('chat-list').getByText('cheap scarves at spam.example').waitFor();
    await screenshot(maya, '08-moderator-console');

    // Blocked words set in the console apply to the next message.
    await maya.page.getByRole('textbox', { name: /Blocked words/ }).fill('spam.example, fake');
    await maya.page.getByRole('button', { name: 'Save blocked words' }).click();
    await maya.page.getByTestId('audit-log').locator('li[data-action="blocked-words"]').waitFor();
    await alice.page.getByLabel('Message', { exact: true }).fill('is this FAKE?');
    await alice.page.getByLabel('Message', { exact: true }).press('Enter');
    await alice.page.getByText('message contains a blocked word: "fake"').waitFor();

    await maya.page.getByRole('button', { name: 'Delete message from Bob' }).click();
    for (const a of [alice, host, maya, bob]) {
      await a.page.getByTestId('chat-list').getByText('cheap scarves at spam.example').waitFor({ state: 'detached' });
    }

    await bob.page.getByLabel('Message', { exact: true }).fill('you cannot stop me');
    await bob.page.getByLabel('Message', { exact: true }).press('Enter');
    await maya.page.getByTestId('chat-list').getByText('you cannot stop me').waitFor();
    await maya.page.getByRole('button', { name: 'Ban Bob from this room' }).click();
    await hasText(bob.page.getByRole('alert'), 'You were removed from this room');
    await bob.page.locator('#watch').waitFor({ state: 'hidden' });
    await hasText(maya.page.getByTestId('audit-log').locator('li[data-action="ban"]'), 'Maya');
    await maya.page.getByTestId('audit-log').locator('li[data-action="delete"]').waitFor();
    await screenshot(bob, '09-viewer-banned');
    await screenshot(maya, '10-moderator-audit');

    // Coming back does not help: the join is refused.
    await bob.page.reload();
    await hasText(bob.page.getByRole('alert'), /banned/);
  });

  it("a viewer's network drops: it shows reconnecting, then catches up on what it missed", async () => {
    const server = stack.servers[0]!;
    await alice.context.setOffline(true);
    // Cut the live connection from the server side, as a dropped network would.
    for (const socket of server.io.of('/').sockets.values()) if (socket.data.user?.id === ids.alice) socket.conn.close();
    await hasText(alice.page.locator('#connection'), 'reconnecting');
    await screenshot(alice, '11-viewer-reconnecting');

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
    await screenshot(alice, '12-viewer-caught-up');
  });

  it('every page fits a phone screen and labels every form control', async () => {
    const pages: [Actor, string][] = [
      [host, `/host.html?room=${roomId}`],
      [maya, `/moderator.html?room=${roomId}`],
      [alice, `/viewer.html?room=${roomId}`],
      [alice, '/'],
    ];
    for (const [actor, path] of pages) {
      await actor.page.setViewportSize(PHONE);
      await actor.page.goto(path);
      await actor.page.getByTestId('me').waitFor();
      if (path !== '/') await actor.page.getByTestId('chat-list').waitFor();
      else await actor.page.locator('#rooms li').first().waitFor();
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
      // A reopened studio shows the figures so far at once, not after the first poll.
      if (actor === host) await hasText(host.page.locator('#stat-orders'), /^1$/);
      if (path.startsWith('/viewer')) await heartByKeyboard(actor.page);
      await screenshot(actor, `phone-${path === '/' ? 'home' : path.slice(1, path.indexOf('.'))}`);
    }
    // The host page reopened the live room: it offers to start the camera again.
    await host.page.getByRole('button', { name: 'Start camera' }).waitFor();
  });
});
