// Builds the viewer bundle: src/main.js and three.js into one minified script,
// ../assets/viewer.js, which the Rust side embeds (include_str!) in every HTML view.
//
//   npm ci && npm run build     rebuild the bundle (commit it with the sources)
//   npm run check               fail if the committed bundle differs from a fresh build
//
// esbuild's output depends only on its version (pinned in package-lock.json) and the
// sources, so the check is byte for byte.

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'assets', 'viewer.js');

const result = await esbuild.build({
  entryPoints: [join(here, 'src', 'main.js')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  charset: 'utf8',
  // three.js's MIT notice travels with the code, at the end of the bundle.
  legalComments: 'eof',
  write: false,
  logLevel: 'warning',
});
const text = result.outputFiles[0].text;

// The bundle is inlined in a <script> element: it must not be able to end it.
for (const bad of ['</script', '<!--']) {
  if (text.toLowerCase().includes(bad)) {
    console.error(`the bundle contains ${bad}, which would break the inline <script>`);
    process.exit(1);
  }
}

if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(out, 'utf8');
  } catch {
    // Missing: differs.
  }
  if (committed !== text) {
    console.error(
      `render/assets/viewer.js differs from a fresh build (${committed.length} vs ${text.length} bytes): ` +
        'run `npm ci && npm run build` in render/viewer and commit the result',
    );
    process.exit(1);
  }
  console.log(`render/assets/viewer.js is up to date (${text.length} bytes)`);
} else {
  writeFileSync(out, text);
  console.log(`wrote render/assets/viewer.js (${text.length} bytes)`);
}
