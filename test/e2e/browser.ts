/**
 * E2E harness: the demo pages built once with Vite into a temp dir, served by a real stack, and
 * driven in Debian's chromium through playwright-core, with a fake camera and microphone.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
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
export const DESKTOP = { width: 1280, height: 900 };

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

/** Sign in through the header form, the way a person does; returns the user id it shows. */
export async function signIn(actor: Actor): Promise<string> {
  const { page } = actor;
  await page.getByLabel('Your name').fill(actor.name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const id = page.getByTestId('my-id');
  await id.waitFor();
  return (await id.textContent()) ?? '';
}

export async function screenshot(actor: Actor, name: string): Promise<void> {
  await actor.page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
