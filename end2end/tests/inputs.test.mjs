// Every way to give an image besides the file input: the drop zone (keyboard and file
// chooser), drag and drop, paste, an image URL, the samples, and an EXIF-rotated JPEG.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  BASE,
  FIXTURES,
  OUTPUT,
  ROOT,
  SHAPES_DIR,
  assertBoxesDrawn,
  assertMatchesTruth,
  canvasAt,
  closeBrowser,
  dropFiles,
  fileSpec,
  groundTruth,
  listedDetections,
  paste,
  pngSize,
  serveLoopback,
  waitForResult,
  waitReady,
  withPage,
} from './helpers.mjs';

const truth = groundTruth(SHAPES_DIR);

before(() => waitReady());
after(() => closeBrowser());

test('the drop zone is reached with Tab, shows focus, and opens the file chooser', async () => {
  await withPage({}, async ({ page }) => {
    // Listen before anything happens: Chromium needs a moment to start intercepting choosers.
    const chooserOpened = page.waitForEvent('filechooser', { timeout: 15_000 });
    let focused = '';
    for (let i = 0; i < 6 && focused !== 'dropzone'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.id ?? '');
    }
    assert.equal(focused, 'dropzone', 'Tab never reached the drop zone');
    const outline = await page.$eval('#dropzone', (el) => getComputedStyle(el).outlineStyle);
    assert.notEqual(outline, 'none', 'the focused drop zone has no visible focus ring');
    assert.ok(await page.$eval('#dropzone', (el) => el.getAttribute('aria-describedby')));

    await page.keyboard.press('Enter');
    const chooser = await chooserOpened;
    await chooser.setFiles(path.join(SHAPES_DIR, '0002.png'));
    await waitForResult(page);
    assertMatchesTruth(await listedDetections(page), truth['0002.png'].objects);
  });
});

test('dropping a file on the drop zone detects it', async () => {
  await withPage({}, async ({ page }) => {
    const result = await dropFiles(page, '#dropzone', [fileSpec(path.join(SHAPES_DIR, '0003.png'), 'image/png')]);
    assert.deepEqual(result, { highlighted: true, accepted: true });
    await waitForResult(page);
    assert.equal(await page.$eval('#dropzone', (el) => el.classList.contains('dragging')), false);
    const listed = await listedDetections(page);
    assertMatchesTruth(listed, truth['0003.png'].objects);
    await assertBoxesDrawn(page, listed);
  });
});

test('pasting an image, or an image URL, detects it', async () => {
  const png = readFileSync(path.join(SHAPES_DIR, '0007.png'));
  const server = await serveLoopback({ '/pasted.png': { body: png, type: 'image/png' } });
  try {
    await withPage({}, async ({ page }) => {
      assert.equal(await paste(page, { files: [fileSpec(path.join(SHAPES_DIR, '0005.png'), 'image/png')] }), true);
      await waitForResult(page);
      assertMatchesTruth(await listedDetections(page), truth['0005.png'].objects);

      const url = server.url('/pasted.png');
      assert.equal(await paste(page, { text: `  ${url}\n` }), true);
      await waitForResult(page);
      assert.equal(await page.inputValue('#url-input'), url);
      assertMatchesTruth(await listedDetections(page), truth['0007.png'].objects);
    });
  } finally {
    await server.close();
  }
});

test('an image URL is fetched once, by Lookout: drawn from those bytes, listed, and downloadable', async () => {
  const png = readFileSync(path.join(SHAPES_DIR, '0001.png'));
  const gt = truth['0001.png'];
  const server = await serveLoopback({ '/shapes/0001.png': { body: png, type: 'image/png' } });
  try {
    await withPage({}, async ({ page, requests }) => {
      const url = server.url('/shapes/0001.png');
      await page.fill('#url-input', url);
      await page.press('#url-input', 'Enter');
      await waitForResult(page);
      const listed = await listedDetections(page);
      assertMatchesTruth(listed, gt.objects);
      await assertBoxesDrawn(page, listed);
      // Fetched by Lookout for the model; the browser painted the bytes Lookout kept.
      assert.deepEqual(server.hits, ['/shapes/0001.png'], 'the image host was contacted more than once');
      assert.ok(!requests.some((r) => r.url.startsWith(url)), 'the browser contacted the image host');
      assert.ok(requests.some((r) => /\/api\/fetched\/[0-9a-f]{32}$/.test(r.url)), 'the kept bytes were not fetched');

      // The canvas is this site's: the annotated PNG downloads at the image size.
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
      assert.equal(download.suggestedFilename(), '0001-lookout.png');
      const file = path.join(OUTPUT, 'download-url.png');
      await download.saveAs(file);
      assert.deepEqual(pngSize(readFileSync(file)), { width: gt.width, height: gt.height });

      // The button works as well as Enter (a second detection, a second fetch).
      await page.click('#url-submit');
      for (let i = 0; i < 200 && server.hits.length < 2; i++) await page.waitForTimeout(50);
      assert.equal(server.hits.length, 2, 'the button did not detect the address again');
      await waitForResult(page);
      assertMatchesTruth(await listedDetections(page), gt.objects);
    });
  } finally {
    await server.close();
  }
});

test('a kept image is served once, and only to whoever asked for it', async () => {
  const png = readFileSync(path.join(SHAPES_DIR, '0002.png'));
  const server = await serveLoopback({ '/a.png': { body: png, type: 'image/png' } });
  try {
    const res = await fetch(`${BASE}/api/detect_url`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ url: server.url('/a.png') }),
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.ok(body.result.detections.length > 0);
    assert.match(body.picture, /^\/api\/fetched\/[0-9a-f]{32}$/);
    const first = await fetch(`${BASE}${body.picture}`);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('content-type'), 'image/png');
    assert.equal(first.headers.get('cache-control'), 'no-store');
    assert.deepEqual(Buffer.from(await first.arrayBuffer()), png);
    const again = await fetch(`${BASE}${body.picture}`);
    assert.equal(again.status, 404);
    assert.equal(again.headers.get('content-type'), 'application/problem+json');
  } finally {
    await server.close();
  }
});

test('an EXIF-rotated JPEG is shown upright with its boxes on the shapes', async () => {
  const fixture = path.join(FIXTURES, 'exif6_shapes.jpg');
  const gt = JSON.parse(readFileSync(path.join(FIXTURES, 'exif6_shapes.json'), 'utf8'));
  await withPage({}, async ({ page }) => {
    await page.setInputFiles('#image-input', fixture);
    await waitForResult(page);
    const listed = await listedDetections(page);
    assertMatchesTruth(listed, gt.objects);

    // The canvas holds the upright (landscape) frame, not the stored (portrait) pixels.
    const canvas = await page.$eval('#result-canvas', (c) => ({ w: c.width, h: c.height }));
    assert.ok(Math.abs(canvas.w / canvas.h - gt.width / gt.height) < 0.02, `canvas ${canvas.w}x${canvas.h}`);
    await assertBoxesDrawn(page, listed);

    // Under each box is the shape of its class: red, green or blue at the box's middle.
    const channel = { red_rectangle: 0, green_ellipse: 1, blue_triangle: 2 };
    for (const o of gt.objects) {
      const [x1, y1, x2, y2] = o.box;
      const pixel = await canvasAt(page, (x1 + x2) / 2, (y1 + y2) / 2);
      const c = channel[o.label];
      const others = [0, 1, 2].filter((k) => k !== c).map((k) => pixel[k]);
      assert.ok(
        pixel[c] > 140 && others.every((v) => v < 110),
        `the middle of ${o.label} [${o.box}] is ${pixel} on the canvas, not that shape's colour`,
      );
    }
  });
});

test('clicking a sample fetches it from this site and detects it', async (t) => {
  const dir = path.join(ROOT, 'public', 'samples');
  if (!existsSync(path.join(dir, 'ground_truth.json'))) {
    t.skip('public/samples has no ground_truth.json');
    return;
  }
  const samples = groundTruth(dir);
  await withPage({}, async ({ page, requests }) => {
    const buttons = await page.$$eval('button.sample', (b) => b.map((x) => x.dataset.sample));
    assert.ok(buttons.length >= 1, 'no sample buttons on the page');
    const url = buttons.find((u) => samples[u.split('/').pop()]);
    assert.ok(url, `none of the samples ${buttons} has ground truth`);
    const gt = samples[url.split('/').pop()];
    await page.click(`button.sample[data-sample="${url}"]`);
    await waitForResult(page);
    assert.ok(requests.some((r) => r.url.endsWith(url)), 'the sample was not fetched');
    assert.ok(requests.some((r) => r.method === 'POST' && r.url.endsWith('/api/detect_upload')));
    // Samples are JPEGs: allow a little more than for PNGs, and extra weak detections.
    const listed = await listedDetections(page);
    for (const o of gt.objects) {
      assert.ok(
        listed.some((d) => d.label === o.label && d.box.every((v, k) => Math.abs(v - o.box[k]) <= 8)),
        `${o.label} [${o.box}] not listed: ${JSON.stringify(listed)}`,
      );
    }
  });
});
