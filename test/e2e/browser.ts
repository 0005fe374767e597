/**
 * E2E harness: the demo pages built once with Vite into a temp dir, served by a real stack, and
 * driven in Debian's chromium through playwright-core, with a fake camera and microphone.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';

export const ARTIFACTS = resolve('test-artifacts/e2e');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Build client-demo with its own config into a fresh directory (never the shared client-demo/dist,
 * which a concurrent `npm run build:demo` may be rewriting). */
export async function buildDemo(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'demo-e2e-'));
  await build({ configFile: resolve('client-demo/vite.config.ts'), logLevel: 'warn', build: { outDir: dir, emptyOutDir: true, sourcemap: false } });
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}: run scripts/setup.sh (installs it) or set CHROMIUM_PATH`);
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      // Background tabs must keep decoding video and running timers like a watched one would.
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };

export interface Actor {
  name: string;
  context: BrowserContext;
  page: Page;
  /** Uncaught exceptions and console errors in the page: a demo page must have none. */
  errors: string[];
}

export async function newActor(browser: Browser, baseURL: string, name: string, viewport = DESKTOP): Promise<Actor> {
  const context = await browser.newContext({ baseURL, viewport, permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`${name}: ${err.message}`));
  page.on('console', (msg) => {
    // Failing while the network is down is expected (the reconnect test asserts it through the
    // UI); any other error, a failed request included, is a page bug.
    if (msg.type() !== 'error' || /WebSocket connection to .* failed|ERR_INTERNET_DISCONNECTED/.test(msg.text())) return;
    errors.push(`${name} console: ${msg.text()}`);
  });
  return { name, context, page, errors };
}

/** Sign in through the page's form, the way a person does (on the viewer it sits in the bottom
 * sheet, opened from the top bar); returns the user id of the new session. */
export async function signIn(actor: Actor): Promise<string> {
  const { page } = actor;
  const name = page.getByLabel('Your name');
  if (!(await name.isVisible())) await page.locator('#me-button').click();
  await name.fill(actor.name);
  await page.locator('form[aria-label="Sign in"] button[type=submit]').click();
  await page.getByTestId('me').waitFor({ state: 'attached' });
  return sessionUserId(page);
}

/** The signed-in user's id, from the tab's session (the pages no longer show raw ids). */
export async function sessionUserId(page: Page): Promise<string> {
  const raw = await page.evaluate(() => (globalThis as any).sessionStorage.getItem('live-commerce:session') as string | null);
  return raw ? (JSON.parse(raw) as { user: { id: string } }).user.id : '';
}

/** What the person sees: the viewport (the live pages fit one screen), or the whole page. */
export async function screenshot(actor: Actor, name: string, opts: { fullPage?: boolean } = {}): Promise<void> {
  // A sheet or dialog still sliding in would be caught half-transparent; floating hearts may float.
  await actor.page.evaluate(() =>
    Promise.all(
      (globalThis as any).document
        .getAnimations()
        .filter((a: any) => a.effect?.target?.closest?.('dialog'))
        .map((a: any) => a.finished.catch(() => undefined)),
    ),
  );
  await actor.page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: opts.fullPage ?? false });
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeFinding {
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

/**
 * axe-core's serious and critical violations on the page as it is now (WCAG 2.x A/AA and best
 * practices). Injected through the DevTools protocol, which the pages' CSP does not govern, so the
 * page under test keeps its real CSP.
 */
export async function axeSerious(page: Page): Promise<AxeFinding[]> {
  if (!(await page.evaluate(() => Boolean((globalThis as any).axe)))) await page.evaluate(AXE_SOURCE);
  // Colours are judged as they settle: mid-animation (a sheet fading in) they are not what people read.
  await page.evaluate(() => Promise.all((globalThis as any).document.getAnimations().map((a: any) => a.finished.catch(() => undefined))));
  const results = (await page.evaluate(() =>
    (globalThis as any).axe.run((globalThis as any).document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }),
  )) as { violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[] };
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact ?? '', help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) }));
}
