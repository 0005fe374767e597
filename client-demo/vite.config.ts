/**
 * The demo pages: plain TypeScript + a few DOM helpers, one HTML entry per role. Built into
 * dist/demo (beside the compiled server, see scripts/build.mjs), which the server serves at `/`
 * when DEMO_DIR points there.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { precompress } from './precompress.js';

// `vite build --config client-demo/vite.config.ts` runs from the repo root; anchor paths here.
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/',
  plugins: [precompress()],
  // Relative asset URLs would break on /viewer.html?room=…; absolute ones are fine behind `/`.
  build: {
    outDir: here('../dist/demo'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    rolldownOptions: {
      input: {
        index: here('./index.html'),
        host: here('./host.html'),
        viewer: here('./viewer.html'),
        moderator: here('./moderator.html'),
      },
      output: {
        // Libraries in chunks named after them, so the size report says what weighs what.
        // mediasoup-client is imported on first use (media-session.ts): its chunk is not part of a first load.
        codeSplitting: {
          groups: [
            { name: 'zod', test: /node_modules[\\/]zod[\\/]/ },
            { name: 'socket.io-client', test: /node_modules[\\/](socket\.io-client|socket\.io-parser|engine\.io-client|engine\.io-parser|@socket\.io[\\/]component-emitter|debug|ms)[\\/]/ },
            { name: 'mediasoup-client', test: /node_modules[\\/]mediasoup-client[\\/]/ },
          ],
        },
      },
    },
  },
  server: {
    // `vite --config client-demo/vite.config.ts` for page work: API and socket go to a running server.
    proxy: {
      '/api': 'http://127.0.0.1:3000',
      '/socket.io': { target: 'ws://127.0.0.1:3000', ws: true },
    },
  },
});
