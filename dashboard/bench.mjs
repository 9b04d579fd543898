// The dashboard's benchmark (not a test: it reports figures, it does not judge them).
// With 50 widgets registered in a real registry: the time from navigation to the first
// widget rendered (performance measure dappmesh:time-to-first-widget, layout opened from a
// shared link in a fresh browser context, median of 7), the page's JavaScript gzipped, and
// the dashboard server's resident memory when idle.

import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';

import {
  cleanup, crate, launch, newPage, register, startDashboard, startRegistry, startWidgetHost, stopAll,
} from './tests/browser/harness.mjs';

const WIDGETS = 50;
const RUNS = 7;

const registry = await startRegistry();
const host = await startWidgetHost();
try {
  for (let i = 0; i < WIDGETS; i++) {
    const status = await register(registry.url, `hello-${String(i).padStart(2, '0')}`, {
      webComponent: { jsUrl: `${host.url}/hello/hello.js`, cssUrl: `${host.url}/hello/hello.css`, componentId: `<dm-hello greeting="Hello ${i}"></dm-hello>` },
      label: `Hello ${i}`,
      tags: { owner: 'team-bench' },
      ttlSeconds: 3600,
    });
    if (status !== 200) throw new Error(`registering widget ${i}: HTTP ${status}`);
  }
  const dashboard = await startDashboard(registry.url, [], '3s');
  const browser = await launch();
  // One visit to build the shared link of a layout with one widget window.
  const setup = await browser.newContext();
  const page = await newPage(setup);
  await page.goto(dashboard.url);
  await page.waitForSelector('html[data-ready="true"]');
  const listed = await page.locator('button.pick').count();
  await page.locator('button.pick[data-widget-id="hello-00"]').click();
  await page.locator('#workspace dm-hello .greeting').waitFor();
  await page.locator('#share-layout').click();
  const link = await page.locator('#share-link').inputValue();
  await setup.close();

  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext();
    const p = await newPage(context);
    await p.goto(link);
    await p.waitForFunction(() => performance.getEntriesByName('dappmesh:time-to-first-widget').length > 0);
    times.push(await p.evaluate(() => performance.getEntriesByName('dappmesh:time-to-first-widget')[0].duration));
    await context.close();
  }
  await browser.close();
  times.sort((a, b) => a - b);

  await new Promise((r) => setTimeout(r, 5000));
  const status = readFileSync(`/proc/${dashboard.child.pid}/status`, 'utf8');
  const rss = Number(status.match(/VmRSS:\s+(\d+) kB/)[1]);
  const js = readFileSync(join(crate, 'web/dist/app.js'));
  const css = readFileSync(join(crate, 'web/dist/app.css'));

  console.log(`widgets listed in the picker: ${listed}`);
  console.log(`time to first widget rendered: median ${times[RUNS >> 1].toFixed(0)} ms, min ${times[0].toFixed(0)} ms, max ${times[RUNS - 1].toFixed(0)} ms (target <= 1000 ms)`);
  console.log(`page JavaScript: ${js.length} bytes, ${gzipSync(js, { level: 9 }).length} bytes gzipped (target <= 300 KB); CSS ${gzipSync(css, { level: 9 }).length} bytes gzipped`);
  console.log(`dashboard idle RSS: ${(rss / 1024).toFixed(1)} MiB (target <= 20 MiB)`);
} finally {
  host.srv.close();
  stopAll();
  cleanup(registry.dir);
}
