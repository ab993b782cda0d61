// Builds src/main.js into one minified IIFE for `ubxftp trace view` (and the control API's /view).
// Usage: node build.mjs [OUT]   (default: ../../crates/ubxftp/assets/trace-viewer.js)
import { build } from 'esbuild';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync, statSync } from 'node:fs';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ? resolve(process.argv[2]) : resolve(here, '../../crates/ubxftp/assets/trace-viewer.js');

await build({
  absWorkingDir: here,
  entryPoints: [resolve(here, 'src/main.js')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  platform: 'browser',
  legalComments: 'none',
  charset: 'ascii', // non-ASCII as escapes: the page's encoding cannot garble it
  sourcemap: false,
  logLevel: 'warning',
  outfile: out,
});

// The bundle is inlined in a <script> element: it must not close or comment out that element.
const js = readFileSync(out, 'utf8');
for (const bad of ['</script', '<!--']) {
  if (js.toLowerCase().includes(bad)) {
    console.error(`build: ${out} contains "${bad}", which breaks an inline <script>`);
    process.exit(1);
  }
}
console.log(`${out}: ${statSync(out).size} bytes`);
