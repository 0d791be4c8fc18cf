// A server started with --api-key: the page says so, asks for the key once (kept for the
// tab, never in a URL), sends it with every detection, and says clearly when it is wrong.
// The plain form has a key field too.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  KEY,
  KEYED_BASE,
  SHAPES_DIR,
  assertMatchesTruth,
  closeBrowser,
  groundTruth,
  listedDetections,
  openHome,
  serveLoopback,
  waitForFailure,
  waitForResult,
  waitReady,
  withPage,
} from './helpers.mjs';

const truth = groundTruth(SHAPES_DIR);
// A refused detection is reported on the console by the browser; here that is the point.
const HTTP_401 = /Failed to load resource: the server responded with a status of 401/;

before(() => waitReady(90_000, KEYED_BASE));
after(() => closeBrowser());

test('the page asks for the key once, sends it, and says when it is wrong', async () => {
  await withPage({ base: KEYED_BASE, allowConsole: [HTTP_401] }, async ({ page, requests }) => {
    const authorization = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/')) {
        authorization.push(r.allHeaders().then((h) => [new URL(r.url()).pathname, h.authorization ?? null]));
      }
    });
    // The page says the server wants a key.
    await page.waitForSelector('#key[data-key="missing"]');
    assert.match(await page.textContent('#key-title'), /needs a key/);
    assert.match(await page.textContent('#key-hint'), /API key/);
    assert.equal(await page.getAttribute('#key-input', 'type'), 'password');

    // Without it, a detection is refused with a clear message.
    await page.setInputFiles('#image-input', path.join(SHAPES_DIR, '0006.png'));
    let failure = await waitForFailure(page);
    assert.equal(failure.status, 401);
    assert.match(failure.text, /key/i);

    // A wrong key: refused, forgotten, asked for again.
    await page.fill('#key-input', 'not-the-key');
    await page.press('#key-input', 'Enter');
    await page.waitForSelector('#key[data-key="refused"]');
    failure = await waitForFailure(page);
    assert.equal(failure.status, 401);
    assert.match(failure.text, /not valid/i);
    assert.match(await page.textContent('#key-refused'), /did not accept/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('lookout.api_key')), null);

    // The right key: what was refused runs again, and the key is kept for the tab.
    await page.fill('#key-input', KEY);
    await page.click('#key-submit');
    await page.waitForSelector('#key[data-key="given"]');
    await waitForResult(page);
    assertMatchesTruth(await listedDetections(page), truth['0006.png'].objects);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('lookout.api_key')), KEY);
    const uploads = (await Promise.all(authorization)).filter(([p]) => p === '/api/detect_upload');
    assert.deepEqual(
      uploads.map(([, a]) => a),
      [null, 'Bearer not-the-key', `Bearer ${KEY}`],
    );

    // Asked once: a new visit in the same tab has it, and URL detections (and the picture
    // the server kept) carry it too.
    authorization.length = 0;
    await openHome(page, true, KEYED_BASE);
    await page.waitForSelector('#key[data-key="given"]');
    const png = readFileSync(path.join(SHAPES_DIR, '0008.png'));
    const images = await serveLoopback({ '/0008.png': { body: png, type: 'image/png' } });
    try {
      await page.fill('#url-input', images.url('/0008.png'));
      await page.press('#url-input', 'Enter');
      await waitForResult(page);
    } finally {
      await images.close();
    }
    assertMatchesTruth(await listedDetections(page), truth['0008.png'].objects);
    const calls = (await Promise.all(authorization)).filter(([p]) => !p.endsWith('ui_config'));
    assert.deepEqual(
      calls.map(([p, a]) => [p.replace(/[0-9a-f]{32}$/, 'ID'), a]),
      [
        ['/api/detect_url', `Bearer ${KEY}`],
        ['/api/fetched/ID', `Bearer ${KEY}`],
      ],
    );
    assert.ok(!requests.some((r) => r.url.includes(KEY)), 'the key appeared in a URL');

    // Forgetting it brings the prompt back.
    await page.click('#key-forget');
    await page.waitForSelector('#key[data-key="missing"]');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('lookout.api_key')), null);
  });
});

test('without JavaScript the form has a key field before the file, and the key works', async () => {
  const contextOptions = { javaScriptEnabled: false };
  const allowConsole = [HTTP_401];
  await withPage({ base: KEYED_BASE, contextOptions, allowConsole }, async ({ page }) => {
    const order = await page.$$eval('#upload-form input[name]', (inputs) => inputs.map((i) => i.name));
    assert.ok(order.indexOf('api_key') >= 0 && order.indexOf('api_key') < order.indexOf('image'), `${order}`);
    assert.equal(await page.getAttribute('#nojs-key', 'type'), 'password');

    // A wrong key: the page says so, with the 401.
    await page.fill('#nojs-key', 'wrong');
    await page.setInputFiles('#image-input', path.join(SHAPES_DIR, '0010.png'));
    const [refused] = await Promise.all([page.waitForNavigation(), page.click('#upload-form button[type="submit"]')]);
    assert.equal(refused.status(), 401);
    assert.match(await page.textContent('#alert'), /key/i);

    await page.fill('#nojs-key', KEY);
    await page.setInputFiles('#image-input', path.join(SHAPES_DIR, '0010.png'));
    const [ok] = await Promise.all([page.waitForNavigation(), page.click('#upload-form button[type="submit"]')]);
    assert.equal(ok.status(), 200);
    assertMatchesTruth(await listedDetections(page), truth['0010.png'].objects);
  });
});
