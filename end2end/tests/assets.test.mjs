// Light and locked down: the page's Content-Security-Policy (nonces, no inline script or
// style without one), hydration under it, and the WASM sent compressed once and then taken
// from the browser's cache.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BASE, OUTPUT, browser, closeBrowser, openHome, waitReady, withPage } from './helpers.mjs';

before(() => waitReady());
after(() => closeBrowser());

/** `{ directive: [sources] }` of a policy. */
function directives(policy) {
  return Object.fromEntries(
    policy
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...sources]) => [name, sources]),
  );
}

test('the page has a strict CSP, with a fresh nonce on each of its inline scripts', async () => {
  const [a, b] = await Promise.all([fetch(`${BASE}/`), fetch(`${BASE}/`)]);
  const policy = a.headers.get('content-security-policy');
  assert.ok(policy, 'no Content-Security-Policy on the page');
  const d = directives(policy);
  const script = d['script-src'];
  assert.ok(script, policy);
  for (const unsafe of ["'unsafe-inline'", "'unsafe-eval'", '*', 'data:', 'blob:']) {
    assert.ok(!script.includes(unsafe), `script-src allows ${unsafe}: ${policy}`);
  }
  assert.ok(!(d['style-src'] ?? []).includes("'unsafe-inline'"), policy);
  assert.deepEqual(d['connect-src'], ["'self'"]);
  assert.deepEqual(d['frame-ancestors'], ["'none'"]);
  assert.deepEqual(d['object-src'], ["'none'"]);
  const nonce = /^'nonce-([A-Za-z0-9_+/=-]{16,})'$/.exec(script.find((s) => s.startsWith("'nonce-")) ?? '')?.[1];
  assert.ok(nonce, `no nonce in ${policy}`);
  const other = directives(b.headers.get('content-security-policy'))['script-src'];
  assert.ok(!other.includes(`'nonce-${nonce}'`), 'two responses share a nonce');
  assert.equal(a.headers.get('cache-control'), 'no-cache');
  assert.equal(a.headers.get('x-frame-options'), 'DENY');

  const html = await a.text();
  const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]);
  assert.ok(scripts.length >= 2, 'expected the inline bootstrap scripts');
  for (const attrs of scripts) {
    assert.match(attrs, new RegExp(`\\bnonce="${nonce}"`), `a script without the nonce: <script${attrs}>`);
  }
  assert.doesNotMatch(html, /\sstyle="/, 'an inline style attribute (the policy would block it)');
  assert.doesNotMatch(html, /\son[a-z]+="/, 'an inline event handler');
});

test('under the policy the page hydrates and works with no violation and no console error', async () => {
  await withPage({ ready: false }, async ({ page, context }) => {
    await context.addInitScript(() => {
      window.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) =>
        window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`),
      );
    });
    await openHome(page);
    await page.click('button.sample');
    await page.waitForSelector('.app[data-phase="done"]', { timeout: 60_000 });
    await page.waitForSelector('#result-canvas[data-boxes]:not([data-boxes="pending"])');
    assert.deepEqual(await page.evaluate(() => window.__violations), []);
  });
});

test('the WASM comes compressed (at most 440 KiB), and a repeat visit takes it from the cache', async () => {
  // Not through withPage: request interception turns Chromium's HTTP cache off. Requests are
  // watched instead (the page asks nothing of any other host).
  const context = await (await browser()).newContext();
  const page = await context.newPage();
  const problems = [];
  page.on('request', (r) => {
    if (new URL(r.url()).hostname !== '127.0.0.1') problems.push(`request to ${r.url()}`);
  });
  page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  try {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const seen = new Map();
    cdp.on('Network.responseReceived', (e) => {
      const headers = Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), v]));
      seen.set(e.requestId, {
        url: e.response.url,
        status: e.response.status,
        encoding: headers['content-encoding'],
        cacheControl: headers['cache-control'],
        fromCache: Boolean(e.response.fromDiskCache || e.response.fromPrefetchCache),
        bytes: 0,
      });
    });
    cdp.on('Network.requestServedFromCache', (e) => {
      const s = seen.get(e.requestId) ?? { url: '?', bytes: 0 };
      s.fromCache = true;
      seen.set(e.requestId, s);
    });
    cdp.on('Network.loadingFinished', (e) => {
      const s = seen.get(e.requestId);
      if (s) s.bytes = e.encodedDataLength;
    });
    const wasm = () => [...seen.values()].filter((s) => s.url.endsWith('.wasm'));

    await openHome(page);
    await page.waitForLoadState('networkidle');
    const first = wasm();
    assert.ok(first.length >= 1, 'no WASM was fetched');
    const overWire = first.filter((s) => !s.fromCache).reduce((n, s) => n + s.bytes, 0);
    assert.ok(first.every((s) => s.encoding === 'br'), `not brotli: ${JSON.stringify(first)}`);
    assert.ok(first.every((s) => /immutable/.test(s.cacheControl ?? '')), JSON.stringify(first));
    // The budget: 400 KiB until the camera and video panel (#21), which added about 27 KiB
    // (measured 398.6 KiB -> 426.6 KiB of brotli; the panel is built in the browser, not
    // hydrated, to keep it at that).
    assert.ok(overWire > 50_000 && overWire <= 440 * 1024, `${overWire} bytes of WASM over the wire`);

    seen.clear();
    await openHome(page);
    await page.waitForLoadState('networkidle');
    const again = wasm();
    const repeat = again.filter((s) => !s.fromCache).reduce((n, s) => n + s.bytes, 0);
    writeFileSync(
      path.join(OUTPUT, 'wasm-transfer.json'),
      JSON.stringify({ firstVisitBytes: overWire, repeatVisitBytes: repeat, first, again }, null, 1),
    );
    assert.equal(repeat, 0, `the repeat visit fetched the WASM again: ${JSON.stringify(again)}`);
  } finally {
    await context.close();
  }
  assert.deepEqual(problems, []);
});

test('static files: precompressed, cached for good under hashed names, revalidated otherwise', async () => {
  const html = await (await fetch(`${BASE}/`)).text();
  const css = /href="(\/pkg\/lookout\.[A-Za-z0-9_-]+\.css)"/.exec(html)?.[1];
  assert.ok(css, 'the stylesheet has no hashed name');
  const res = await fetch(`${BASE}${css}`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-encoding'), 'gzip');
  assert.match(res.headers.get('cache-control'), /max-age=31536000.*immutable/);
  assert.match(res.headers.get('vary') ?? '', /accept-encoding/i);
  const icon = await fetch(`${BASE}/favicon.svg`);
  assert.equal(icon.headers.get('cache-control'), 'no-cache');
  const modified = icon.headers.get('last-modified');
  assert.ok(modified);
  const unchanged = await fetch(`${BASE}/favicon.svg`, { headers: { 'if-modified-since': modified } });
  assert.equal(unchanged.status, 304);
  const missing = await fetch(`${BASE}/no/such/page`);
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /Page not found/);
});
