// The page in headless Chromium against the real registry and dashboard processes. The
// tests run in order and share one set-up: each builds on the windows the previous left.

import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import {
  cleanup, heartbeat, launch, newPage, putProduct, register, screenshots, startDashboard,
  startRegistry, startWidgetHost, stopAll,
} from './harness.mjs';

let registry;
let dashboard;
let host;
let browser;
let context;
let page;

const CANARY_LABEL = '<img src=x onerror="window.__canary=1"><script>window.__canary=2</script>';

async function shot(name) {
  const path = join(screenshots, `${name}.png`);
  await page.screenshot({ path });
  assert.ok(statSync(path).size > 5000, `${name}.png looks blank`);
}

async function noViolations(p = page) {
  assert.deepEqual(await p.evaluate(() => window.__violations), []);
}

before(async () => {
  registry = await startRegistry();
  host = await startWidgetHost();
  const h = host.url;
  heartbeat(registry.url, 'hello', {
    webComponent: { jsUrl: `${h}/hello/hello.js`, cssUrl: `${h}/hello/hello.css`, componentId: '<dm-hello greeting="Hello from the mesh"></dm-hello>' },
    label: 'Hello',
    tags: { owner: 'team-ui' },
  });
  const to = Date.UTC(2025, 0, 2);
  assert.equal(await register(registry.url, 'histogram', {
    webComponent: {
      jsUrl: `${h}/histogram/histogram.js`,
      element: { tag: 'dm-histogram', attributes: { src: `${h}/count`, from: String(to - 86_400_000), to: String(to), 'minutes-per-bucket': '60' } },
    },
    label: 'Page hits',
    tags: { owner: 'team-tracking' },
    ttlSeconds: 3600,
  }), 200);
  assert.equal(await register(registry.url, 'canary', {
    webComponent: { jsUrl: `${h}/hello/hello.js`, componentId: '<dm-hello greeting="canary"></dm-hello>' },
    label: CANARY_LABEL,
    ttlSeconds: 3600,
  }), 200);
  assert.equal(await register(registry.url, 'gone', {
    webComponent: { jsUrl: `${h}/hello/hello.js`, componentId: '<dm-hello></dm-hello>' },
    label: 'Gone quiet',
    tags: { owner: 'team-old' },
    ttlSeconds: 1,
  }), 200);
  dashboard = await startDashboard(registry.url, ['--connect-src', h]);
  browser = await launch();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await newPage(context);
  await page.goto(dashboard.url);
  await page.waitForSelector('html[data-ready="true"]');
});

after(async () => {
  await browser?.close();
  host?.srv.close();
  stopAll();
  if (registry) cleanup(registry.dir);
});

test('the registry refuses script in markup', async () => {
  for (const markup of ['<img src=x onerror=alert(1)>', '<dm-hello></dm-hello><script>alert(1)</script>']) {
    const status = await register(registry.url, 'evil', { webComponent: { jsUrl: `${host.url}/x.js`, componentId: markup } });
    assert.equal(status, 422, markup);
  }
});

test('the picker lists every widget and disables the stale one', async () => {
  const pick = (id) => page.locator(`button.pick[data-widget-id="${id}"]`);
  await pick('hello').waitFor();
  await page.waitForFunction(() => document.querySelector('button.pick[data-widget-id="gone"]')?.disabled === true);
  assert.equal(await page.locator('button.pick').count(), 4);
  assert.equal(await pick('hello').isEnabled(), true);
  assert.equal(await pick('histogram').isEnabled(), true);
  assert.match(await pick('hello').textContent(), /Hello.*team-ui.*updated/);
  assert.match(await pick('gone').textContent(), /stale/);
  await shot('picker');
  await noViolations();
});

test('a label with markup is shown as text and runs nothing', async () => {
  assert.equal(await page.locator('button.pick[data-widget-id="canary"] .pick-label').textContent(), CANARY_LABEL);
  assert.equal(await page.locator('.picker img, .picker script').count(), 0);
  await page.locator('button.pick[data-widget-id="canary"]').click();
  await page.locator('#workspace .lm_tab .lm_title', { hasText: 'onerror' }).waitFor();
  assert.equal(await page.locator('#workspace img, #workspace script').count(), 0);
  assert.equal(await page.evaluate(() => window.__canary), undefined);
  await page.locator('.lm_tab', { hasText: 'onerror' }).locator('.lm_close_tab').click();
  await noViolations();
});

test('adding a widget opens a window that mounts and renders it', async () => {
  await page.locator('button.pick[data-widget-id="hello"]').click();
  const hello = page.locator('#workspace dm-hello');
  await hello.locator('.greeting', { hasText: 'Hello from the mesh' }).waitFor();
  assert.equal(await hello.getAttribute('greeting'), 'Hello from the mesh');
  const measure = await page.evaluate(() => performance.getEntriesByName('dappmesh:time-to-first-widget')[0]?.duration);
  assert.ok(measure > 0, 'time to first widget is measured');
  console.log(`time to first widget (navigation to render, widget added by a click): ${measure.toFixed(0)} ms`);
  await shot('widget-mounted');
  await noViolations();
});

test('the event bus carries a message from one widget to another', async () => {
  await page.locator('button.pick[data-widget-id="hello"]').click();
  const hellos = page.locator('#workspace dm-hello');
  await hellos.nth(1).locator('.greeting').waitFor();
  await hellos.nth(1).locator('button').click();
  await hellos.nth(0).locator('.inbox', { hasText: 'Received: Hello from the mesh' }).waitFor({ state: 'attached' });
  assert.equal(await hellos.nth(1).locator('.inbox').textContent(), 'Nothing received yet.', 'no echo to the sender');
  await page.locator('button.pick[data-widget-id="histogram"]').click();
  const histogram = page.locator('#workspace dm-histogram');
  await histogram.locator('rect').first().waitFor();
  assert.equal(await histogram.locator('rect').count(), 24);
  await histogram.locator('input.from').fill('20');
  await hellos.nth(0).locator('.inbox', { hasText: /Range: \d+ hits/ }).waitFor({ state: 'attached' });
  await hellos.nth(1).locator('.inbox', { hasText: /Range: \d+ hits/ }).waitFor({ state: 'attached' });
  await shot('event-bus-and-histogram');
  await noViolations();
});

test('a reload restores the last layout; a saved layout can be restored', async () => {
  await page.locator('#save-layout').click();
  await page.reload();
  await page.waitForSelector('html[data-ready="true"]');
  await page.locator('#workspace dm-histogram rect').first().waitFor();
  assert.equal(await page.locator('#workspace dm-hello').count(), 2);
  assert.equal(await page.locator('#workspace dm-histogram').count(), 1);
  await page.locator('button.pick[data-widget-id="hello"]').click();
  await page.waitForFunction(() => document.querySelectorAll('#workspace dm-hello').length === 3);
  await page.locator('#restore-layout').click();
  await page.waitForFunction(() => document.querySelectorAll('#workspace dm-hello').length === 2);
  await noViolations();
});

test('a shared link restores the layout in a fresh browser context', async () => {
  await page.locator('#share-layout').click();
  const link = await page.locator('#share-link').inputValue();
  assert.match(link, /#layout=[A-Za-z0-9_-]+$/);
  const fresh = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const other = await newPage(fresh);
  await other.goto(link);
  await other.locator('#workspace dm-histogram rect').first().waitFor();
  assert.equal(await other.locator('#workspace dm-hello').count(), 2);
  assert.equal(new URL(other.url()).hash, '', 'the link is consumed');
  await noViolations(other);
  await fresh.close();
});

test('widget bundles are loaded with the integrity the dashboard pinned', async () => {
  const pinned = await page.evaluate(() =>
    [...document.querySelectorAll('script[src^="/api/bundles/"], link[href^="/api/bundles/"]')].map((n) => n.integrity));
  assert.ok(pinned.length >= 3, `${pinned}`);
  for (const integrity of pinned) assert.match(integrity, /^sha256-[A-Za-z0-9+/]{43}=$/);
});

test('a bundle whose bytes differ from the pinned integrity is not executed', async () => {
  const fresh = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const other = await newPage(fresh);
  // The bytes reaching the browser are swapped (as a cache or a restarted proxy could
  // serve them); the integrity value still comes from the dashboard.
  await other.route(/\/api\/bundles\/hello\?url=/, (route) => route.fulfill({
    status: 200,
    contentType: 'text/javascript',
    body: 'window.__swapped = 1; customElements.define("dm-hello", class extends HTMLElement {});',
  }));
  await other.goto(dashboard.url);
  await other.waitForSelector('html[data-ready="true"]');
  await other.locator('button.pick[data-widget-id="hello"]').click();
  await other.locator('#workspace .widget-message', { hasText: 'failed to load' }).waitFor();
  assert.equal(await other.evaluate(() => window.__swapped), undefined);
  assert.equal(await other.evaluate(() => customElements.get('dm-hello')), undefined);
  await fresh.close();
});

test('a bundle URL not registered for the widget is refused', async () => {
  const statuses = await page.evaluate(async (h) => {
    const get = async (u) => (await fetch(u)).status;
    return [
      await get(`/api/bundles/hello?url=${encodeURIComponent(`${h}/histogram/histogram.js`)}`),
      await get(`/api/bundles/hello?url=${encodeURIComponent('http://169.254.169.254/')}`),
      await get(`/api/bundles/nobody?url=${encodeURIComponent(`${h}/hello/hello.js`)}`),
      await get(`/api/bundles/hello?url=${encodeURIComponent(`${h}/hello/hello.js`)}`),
    ];
  }, host.url);
  assert.deepEqual(statuses, [403, 403, 404, 200]);
});

test('the catalog lists the data products and draws them', async () => {
  const product = (name, domain, port) => ({
    name, domain, owner: `team-${domain}`, version: '1.2.0', status: 'active',
    outputPorts: [{ name: port, type: 'sql', version: '1.0.0', contract: { id: `${name}-${port}`, version: '1.0.0' } }],
  });
  // sales-orders reads crm-customers' port: the entry the operator writes names its contract.
  const orders = product('sales-orders', 'sales', 'orders-sql');
  orders.inputPorts = [{ name: 'customers', contractId: 'crm-customers-customers-sql' }, { name: 'web-shop-cdc' }];
  assert.equal(await putProduct(registry.url, 'sales-orders', orders), 201);
  assert.equal(await putProduct(registry.url, 'crm-customers', product('crm-customers', 'crm', 'customers-sql')), 201);
  await page.locator('#show-catalog').click();
  await page.locator('#product-table tr[data-product-id="sales-orders"]').waitFor();
  const row = await page.locator('#product-table tr[data-product-id="sales-orders"]').textContent();
  for (const part of ['sales-orders', 'sales', 'team-sales', '1.2.0', 'active', 'orders-sql (sql 1.0.0)', 'sales-orders-orders-sql']) {
    assert.ok(row.includes(part), `${part} in ${row}`);
  }
  assert.equal(await page.locator('#lineage svg g.product').count(), 2);
  const edges = page.locator('#lineage svg path.edge');
  assert.equal(await edges.count(), 1);
  assert.equal(await edges.getAttribute('data-from'), 'crm-customers/customers-sql');
  assert.equal(await edges.getAttribute('data-to'), 'sales-orders/customers');
  await shot('catalog');
  await page.locator('#show-widgets').click();
  await noViolations();
});

test('with the registry killed the page works on the cached list and says so', async () => {
  registry.child.kill('SIGKILL');
  const banner = page.locator('#banner');
  await banner.waitFor({ state: 'visible' });
  assert.match(await banner.textContent(), /cached list .*the registry is unreachable/);
  assert.equal(await page.locator('button.pick').count(), 4);
  await page.locator('button.pick[data-widget-id="hello"]').click();
  await page.waitForFunction(() => document.querySelectorAll('#workspace dm-hello').length === 3);
  await page.locator('#workspace dm-hello').nth(2).locator('.greeting').waitFor();
  await shot('registry-down');
  await noViolations();
});
