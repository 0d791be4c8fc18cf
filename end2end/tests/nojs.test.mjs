// With JavaScript off the page is a plain form; posting it gets the same page, rendered by
// the server with the result: the same legend, table and colours as the scripted page.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  OUTPUT,
  SHAPES_DIR,
  assertMatchesTruth,
  closeBrowser,
  groundTruth,
  legendEntries,
  listedDetections,
  photoJpeg,
  tableRows,
  waitForResult,
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

/** Posts the plain form with `file` and `threshold`; returns the navigation's response. */
async function postForm(page, file, threshold = '0.5') {
  await page.setInputFiles('#image-input', file);
  await page.fill('#nojs-threshold', threshold);
  const [response] = await Promise.all([page.waitForNavigation(), page.click('#upload-form button[type="submit"]')]);
  return response;
}

/** What both pages show about a result. */
async function shown(page) {
  return {
    legend: await legendEntries(page),
    rows: await tableRows(page),
    status: (await page.textContent('#status')).trim(),
    count: (await page.textContent('#detection-count')).trim(),
  };
}

test('the scripted and the plain page show the same legend, table and colours', async () => {
  // 0009.png has a weak detection below 0.5 besides its four objects: both pages hide it
  // and say so.
  const file = path.join(SHAPES_DIR, '0009.png');
  let scripted;
  await withPage({}, async ({ page }) => {
    await page.setInputFiles('#image-input', file);
    await waitForResult(page);
    scripted = await shown(page);
  });
  const contextOptions = { javaScriptEnabled: false };
  await withPage({ contextOptions }, async ({ page }) => {
    assert.equal((await postForm(page, file)).status(), 200);
    const plain = await shown(page);
    assert.deepEqual(plain, scripted);
  });
  assert.ok(scripted.rows.length >= 3, JSON.stringify(scripted));
  assert.match(scripted.status, /weaker hidden/);
  for (const entry of scripted.legend) assert.equal(entry.colour, entry.fill);
  for (const row of scripted.rows) {
    assert.equal(row.colour, scripted.legend.find((l) => l.classId === row.classId).colour);
  }
});

test('without JavaScript a 12 MP photo of several MB is detected and shown', async () => {
  const truthBoxes = [
    { label: 'red_rectangle', box: [500, 600, 1000, 1000] },
    { label: 'green_ellipse', box: [2300, 500, 2800, 1100] },
    { label: 'blue_triangle', box: [1500, 1800, 2100, 2300] },
  ];
  const photo = await photoJpeg(4000, 3000, truthBoxes, { noise: 28, quality: 0.9 });
  assert.ok(photo.length > 2.5e6 && photo.length < 4_000_000, `${photo.length} bytes`);
  const file = path.join(OUTPUT, 'photo-12mp.jpg');
  writeFileSync(file, photo);
  const contextOptions = { javaScriptEnabled: false, viewport: { width: 1100, height: 900 } };
  await withPage({ contextOptions }, async ({ page }) => {
    const response = await postForm(page, file);
    assert.equal(response.status(), 200);
    assertMatchesTruth(await listedDetections(page), truthBoxes, 15);
    const img = page.locator('img#annotated');
    assert.equal(await img.getAttribute('width'), '4000');
    assert.equal(await img.getAttribute('height'), '3000');
    // A photo's annotated picture is a JPEG (as a PNG it would be many times the photo).
    assert.match(await img.getAttribute('src'), /^data:image\/jpeg;base64,/);
    const natural = await img.evaluate((el) => [el.complete, el.naturalWidth, el.naturalHeight]);
    assert.deepEqual(natural, [true, 4000, 3000]);
    await page.screenshot({ path: path.join(OUTPUT, 'nojs-photo.png') });
  });
});
