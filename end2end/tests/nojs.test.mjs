// With JavaScript off the page is a plain form; posting it gets a whole HTML result page.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  OUTPUT,
  SHAPES_DIR,
  assertMatchesTruth,
  closeBrowser,
  groundTruth,
  listedDetections,
  waitReady,
  withPage,
} from './helpers.mjs';

const truth = groundTruth(SHAPES_DIR);

before(() => waitReady());
after(() => closeBrowser());

test('without JavaScript the form posts and the server renders the result', async () => {
  const contextOptions = { javaScriptEnabled: false, viewport: { width: 1100, height: 900 } };
  // The error page's status is reported on the console.
  const allowConsole = [/Failed to load resource: the server responded with a status of 4\d\d/];
  await withPage({ contextOptions, allowConsole }, async ({ page }) => {
    // The scripted controls are hidden; the plain form is there.
    assert.equal(await page.isVisible('#dropzone'), false);
    assert.equal(await page.isVisible('#url-form'), false);
    assert.equal(await page.isVisible('#image-input'), true);
    assert.equal(await page.getAttribute('.app', 'data-hydrated'), 'false');
    assert.match((await page.textContent('#model-name')).trim(), /\S/);

    const gt = truth['0010.png'];
    await page.setInputFiles('#image-input', path.join(SHAPES_DIR, '0010.png'));
    await page.fill('#nojs-threshold', '0.5');
    const [response] = await Promise.all([
      page.waitForNavigation(),
      page.click('#upload-form button[type="submit"]'),
    ]);
    assert.equal(response.status(), 200);
    assert.equal(new URL(page.url()).pathname, '/detect');

    assertMatchesTruth(await listedDetections(page), gt.objects);
    const img = page.locator('img#annotated');
    assert.equal(await img.getAttribute('width'), String(gt.width));
    assert.match(await img.getAttribute('src'), /^data:image\/png;base64,/);
    const natural = await img.evaluate((el) => [el.complete, el.naturalWidth, el.naturalHeight]);
    assert.deepEqual(natural, [true, gt.width, gt.height]);
    assert.ok(await page.isVisible('a[href="/"]'));
    await page.screenshot({ path: path.join(OUTPUT, 'nojs-result.png'), fullPage: true });

    // And an error is a page too.
    await page.goto(new URL('/', page.url()).href);
    await page.setInputFiles('#image-input', {
      name: 'notes.png',
      mimeType: 'image/png',
      buffer: Buffer.from('not a picture at all'),
    });
    const [bad] = await Promise.all([
      page.waitForNavigation(),
      page.click('#upload-form button[type="submit"]'),
    ]);
    assert.ok(bad.status() >= 400);
    assert.match(await page.textContent('#alert'), /\S/);
    assert.ok(await page.isVisible('a[href="/"]'));
  });
});
