// Builds the page into dist/: app.js (one IIFE, minified), app.css (golden-layout's
// styles with its icons inlined as data: URLs) and index.html. The output depends only on
// the sources and the locked esbuild version, so the committed dist/ can be rebuilt and
// compared byte for byte (dashboard/tests/bundle_is_fresh.sh).
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';

const common = {
  bundle: true,
  minify: true,
  legalComments: 'eof',
  logLevel: 'warning',
  target: ['chrome110', 'firefox115', 'safari16'],
};

// DIST lets the freshness check build elsewhere and compare.
const out = process.env.DIST ?? 'dist';
await mkdir(out, { recursive: true });
await build({ ...common, entryPoints: ['src/main.js'], outfile: `${out}/app.js`, format: 'iife' });
await build({
  ...common,
  entryPoints: ['src/app.css'],
  outfile: `${out}/app.css`,
  loader: { '.png': 'dataurl' },
});
await copyFile('src/index.html', `${out}/index.html`);
