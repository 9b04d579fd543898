// Browser-test support: the real registry and dashboard processes, a widget host serving
// dashboard/widgets/ and a synthetic tracker count endpoint, the heartbeat sidecar, and
// headless Chromium through playwright-core. They run in a network namespace whose
// /etc/hosts names the widget host widgets.test, 127.0.0.1 (tests/in_namespace.sh): the
// registry refuses URLs that name loopback literally, and the dashboard reaches it through
// --bundle-allow.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const crate = resolve(here, '../..');
const require = createRequire(join(crate, 'web/package.json'));
const { chromium } = require('playwright-core');

export const TOKEN = 'dashboard-browser-token-0123456789';
const target = process.env.CARGO_TARGET_DIR ?? resolve(crate, '../target');
export const screenshots = join(target, 'dashboard-screenshots');
mkdirSync(screenshots, { recursive: true });
const bin = (name) => process.env[`${name.toUpperCase()}_BIN`] ?? join(target, 'debug', name);

const children = [];

/** Spawns a server that prints "… listening on http://ADDR" first; resolves to its URL. */
function server(path, args, env = {}) {
  const child = spawn(path, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolveUrl, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) resolveUrl({ child, url: m[1].replace('0.0.0.0', '127.0.0.1') });
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${path} exited with ${code} before listening`)));
  });
}

export async function startRegistry() {
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-browser-'));
  const r = await server(bin('registry'), [
    'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dir, '--sweep-interval', '100ms',
    '--tokens', `${TOKEN} registry:* products:*`,
  ], { REGISTRY_LOG: 'warn' });
  r.dir = dir;
  return r;
}

/**
 * The tests refresh every 300 ms so that changes show quickly; `refresh` overrides it. The
 * widget host is on loopback, which the dashboard fetches from only when allowed.
 */
export function startDashboard(registryUrl, extra = [], refresh = '300ms') {
  return server(bin('dashboard'), [
    'serve', '--listen', '127.0.0.1:0', '--registry-url', registryUrl, '--refresh', refresh,
    '--bundle-allow', '127.0.0.1/32', ...extra,
  ], { DASHBOARD_LOG: 'warn' });
}

/** The registry sidecar keeping one registration alive. */
export function heartbeat(registryUrl, id, body) {
  const child = spawn(bin('registry'), ['heartbeat'], {
    env: { ...process.env, ID: id, BODY: JSON.stringify(body), REGISTRY_URL: registryUrl, REGISTRY_TOKEN: TOKEN, INTERVAL: '1s', REGISTRY_LOG: 'warn' },
    stdio: 'inherit',
  });
  children.push(child);
  return child;
}

export async function register(registryUrl, id, body) {
  const r = await fetch(`${registryUrl}/api/v1/registry/${encodeURIComponent(id)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return r.status;
}

export async function putProduct(registryUrl, id, body) {
  const r = await fetch(`${registryUrl}/api/v1/products/${encodeURIComponent(id)}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return r.status;
}

const TYPES = { '.js': 'text/javascript', '.css': 'text/css' };

/**
 * Serves dashboard/widgets/<name>/<file> and GET /count/{from}/{to}/{minutesPerBucket}
 * (a deterministic hit count per bucket), with CORS for the count endpoint.
 */
export function startWidgetHost() {
  const srv = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const count = url.pathname.match(/^\/count\/(\d+)\/(\d+)\/(\d+)$/);
    if (count) {
      const [from, to, minutes] = count.slice(1).map(Number);
      const step = minutes * 60_000;
      const buckets = [];
      for (let t = from, i = 0; t < to && i < 500; t += step, i++) buckets.push({ timestamp: t, count: (i * 7) % 23 + 1 });
      res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
      res.end(JSON.stringify(buckets));
      return;
    }
    const m = url.pathname.match(/^\/(hello|histogram)\/([a-z]+\.(js|css))$/);
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[`.${m[3]}`] });
    res.end(readFileSync(join(crate, 'widgets', m[1], m[2])));
  });
  return new Promise((ok) => srv.listen(0, '127.0.0.1', () => ok({ srv, url: `http://widgets.test:${srv.address().port}` })));
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

/** A page that records CSP violations and console errors. */
export async function newPage(context) {
  const page = await context.newPage();
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return page;
}

export function stopAll() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
}

export function cleanup(dir) {
  rmSync(dir, { recursive: true, force: true });
}
