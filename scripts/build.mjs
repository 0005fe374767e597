#!/usr/bin/env node
// `npm run build`: the server compiled by tsc (tsconfig.build.json, src/ only) into <out>/ and the
// demo pages built by Vite into <out>/demo, which the server serves at `/` with DEMO_DIR=<out>/demo.
// Run it with `node dist/main.js` (`npm start`); tsx is only for development.
//
// Usage: node scripts/build.mjs [out]   (default: dist). The out directory is emptied first, so no
// file of a deleted module survives. It must lie inside the repository: node resolves the
// dependencies (node_modules) and the module type (package.json "type") from there.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(root, process.argv[2] ?? 'dist');
if (relative(root, out).startsWith('..') || out === root) {
  console.error(`build: ${out} must be a directory inside ${root}`);
  process.exit(2);
}

function run(label, bin, args) {
  const started = performance.now();
  const r = spawnSync(process.execPath, [join(root, 'node_modules', bin), ...args], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build: ${label} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
    process.exit(1);
  }
  console.error(`build: ${label} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

rmSync(out, { recursive: true, force: true });
run('server (tsc)', 'typescript/bin/tsc', ['-p', 'tsconfig.build.json', '--outDir', out]);
run('demo pages (vite)', 'vite/bin/vite.js', ['build', '--config', 'client-demo/vite.config.ts', '--logLevel', 'warn', '--outDir', join(out, 'demo'), '--emptyOutDir']);
console.error(`build: ${relative(root, out) || '.'}/main.js and ${relative(root, join(out, 'demo'))}/`);
