/**
 * Vite plugin: every text asset of the build is also written gzip- and brotli-compressed beside
 * itself (`x.js.gz`, `x.js.br`), at the highest levels, once. The server (src/core/demo-static.ts,
 * express-static-gzip) then sends the encoding the browser accepts without compressing per request,
 * which at these levels would cost far more CPU than a live show can spare.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { Plugin } from 'vite';

const COMPRESSIBLE = /\.(js|mjs|css|html|svg|json|txt)$/;

export function precompress(): Plugin {
  return {
    name: 'precompress',
    apply: 'build',
    async writeBundle(options, bundle) {
      const dir = options.dir;
      if (!dir) return;
      await Promise.all(
        Object.values(bundle).map(async (file) => {
          if (!COMPRESSIBLE.test(file.fileName)) return;
          const raw = Buffer.from(file.type === 'chunk' ? file.code : file.source);
          const path = join(dir, file.fileName);
          const gz = gzipSync(raw, { level: 9 });
          const br = brotliCompressSync(raw, {
            params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
          });
          // A tiny file may grow when compressed: then the original is the best answer.
          if (gz.length < raw.length) await writeFile(`${path}.gz`, gz);
          if (br.length < raw.length) await writeFile(`${path}.br`, br);
        }),
      );
    },
  };
}
