// Uploading a file: the listed detections, the drawn boxes, the threshold slider, the
// row <-> box highlight, downloading the PNG and copying the JSON.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  OUTPUT,
  SHAPES_DIR,
  assertBoxesDrawn,
  assertMatchesTruth,
  canvasNear,
  closeBrowser,
  groundTruth,
  legendColour,
  listedDetections,
  noisePng,
  pngSize,
  waitForResult,
  waitReady,
  withPage,
} from './helpers.mjs';

const truth = groundTruth(SHAPES_DIR);

before(() => waitReady());
after(() => closeBrowser());

test('an uploaded shapes image lists its objects and draws each box in its class colour', async () => {
  await withPage({}, async ({ page }) => {
    const gt = truth['0000.png'];
    await page.setInputFiles('#image-input', path.join(SHAPES_DIR, '0000.png'));
    await waitForResult(page);

    const listed = await listedDetections(page);
    assertMatchesTruth(listed, gt.objects);
    assert.equal(Number(await page.getAttribute('#result-canvas', 'data-frame-width')), gt.width);
    assert.equal(Number(await page.getAttribute('#result-canvas', 'data-frame-height')), gt.height);
    assert.equal(Number(await page.getAttribute('#result-canvas', 'data-boxes')), listed.length);
    await assertBoxesDrawn(page, listed);

    // The legend has one entry per class found; the status and the model time are shown.
    const classes = [...new Set(gt.objects.map((o) => o.class_id))].sort();
    const legend = await page.$$eval('#legend li', (li) => li.map((l) => Number(l.dataset.classId)));
    assert.deepEqual(legend, classes);
    assert.match(await page.textContent('#status'), new RegExp(`Found ${gt.objects.length} objects`));
    assert.match(await page.textContent('#model-time'), /^\d+(\.\d+)? (ms|s)$/);
    assert.equal(await page.textContent('#threshold-value'), '0.50');
  });
});

test('the threshold slider filters boxes and rows without a network request', async () => {
  await withPage({}, async ({ page, requests }) => {
    // 0009.png has one weak (below 0.5) detection besides its four objects.
    await page.setInputFiles('#image-input', path.join(SHAPES_DIR, '0009.png'));
    await waitForResult(page);
    await page.waitForLoadState('networkidle');
    const sent = requests.length;

    await page.locator('#threshold').fill('0.05');
    const all = await listedDetections(page);
    await page.waitForSelector(`#result-canvas[data-boxes="${all.length}"]`);
    const scores = all.map((d) => d.score).sort((a, b) => a - b);
    assert.ok(scores.length >= 2, `expected several detections above 0.05, got ${scores}`);
    await assertBoxesDrawn(page, all);

    // Just above the weakest score: its row and its box go away, the others stay.
    const weakest = all.find((d) => d.score === scores[0]);
    const threshold = Math.min(1, Math.ceil((scores[0] + 0.005) * 100) / 100);
    assert.ok(threshold <= scores[1], 'the two weakest scores are too close for this test');
    await page.locator('#threshold').fill(String(threshold));
    await page.waitForSelector(`#result-canvas[data-boxes="${all.length - 1}"]`);
    const fewer = await listedDetections(page);
    assert.equal(fewer.length, all.length - 1);
    assert.ok(!fewer.some((d) => d.index === weakest.index), 'the weakest row is still listed');
    const colour = await legendColour(page, weakest.classId).catch(() => null);
    if (colour) {
      const [x1, , x2, y2] = weakest.box;
      const near = await canvasNear(page, (x1 + x2) / 2, y2, colour, 0);
      assert.ok(near.distance > 40, `the hidden box ${weakest.box} is still drawn (${near.pixel})`);
    }
    await assertBoxesDrawn(page, fewer);

    // All the way up, and back to the default.
    await page.locator('#threshold').fill('1');
    if (scores.at(-1) < 1) {
      await page.waitForSelector('#result-canvas[data-boxes="0"]');
      await page.waitForSelector('#no-detections');
    }
    await page.locator('#threshold').fill('0.5');
    const atDefault = all.filter((d) => d.score >= 0.5).length;
    await page.waitForSelector(`#result-canvas[data-boxes="${atDefault}"]`);
    assert.equal((await listedDetections(page)).length, atDefault);
    assert.equal(await page.textContent('#threshold-value'), '0.50');

    assert.deepEqual(requests.slice(sent), [], 'moving the slider sent requests');
  });
});

test('hovering or focusing a row highlights its box, and hovering a box its row', async () => {
  await withPage({}, async ({ page }) => {
    await page.setInputFiles('#image-input', path.join(SHAPES_DIR, '0000.png'));
    await waitForResult(page);
    const listed = await listedDetections(page);

    // Row -> box.
    const second = page.locator('#detections tbody tr').nth(1);
    await second.hover();
    await page.waitForSelector(`#result-canvas[data-active="${listed[1].index}"]`);
    assert.match(await second.getAttribute('class'), /\bactive\b/);

    // Keyboard focus does the same.
    await page.locator('#detections tbody tr').nth(2).focus();
    await page.waitForSelector(`#result-canvas[data-active="${listed[2].index}"]`);

    // Box -> row: point at the middle of the first box on the canvas.
    await page.locator('#threshold').focus();
    await page.$eval('#result-canvas', (c) => c.scrollIntoView({ block: 'center' }));
    const box = await page.locator('#result-canvas').boundingBox();
    const frameWidth = Number(await page.getAttribute('#result-canvas', 'data-frame-width'));
    const s = box.width / frameWidth;
    const [x1, y1, x2, y2] = listed[0].box;
    await page.mouse.move(box.x + ((x1 + x2) / 2) * s, box.y + ((y1 + y2) / 2) * s);
    await page.waitForSelector(`#detections tbody tr[data-index="${listed[0].index}"].active`);
    assert.equal(await page.getAttribute('#result-canvas', 'data-active'), String(listed[0].index));

    await page.mouse.move(box.x + box.width + 50, box.y - 20);
    await page.waitForSelector('#result-canvas[data-active=""]');
    assert.equal(await page.locator('#detections tbody tr.active').count(), 0);
  });
});

test('the annotated PNG downloads at the image size, and the JSON copies', async () => {
  const contextOptions = { permissions: ['clipboard-read', 'clipboard-write'] };
  await withPage({ contextOptions }, async ({ page }) => {
    const gt = truth['0004.png'];
    await page.setInputFiles('#image-input', path.join(SHAPES_DIR, '0004.png'));
    await waitForResult(page);
    const listed = await listedDetections(page);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    assert.equal(download.suggestedFilename(), '0004-lookout.png');
    const file = path.join(OUTPUT, 'download.png');
    await download.saveAs(file);
    const { readFileSync } = await import('node:fs');
    const size = pngSize(readFileSync(file));
    assert.deepEqual(size, { width: gt.width, height: gt.height });

    await page.click('#copy-json');
    await page.waitForSelector('#flash .flash-text:text-is("Copied")');
    const copied = JSON.parse(await page.evaluate(() => navigator.clipboard.readText()));
    writeFileSync(path.join(OUTPUT, 'copied.json'), JSON.stringify(copied, null, 1));
    assert.equal(copied.source, '0004.png');
    assert.deepEqual(copied.image, { width: gt.width, height: gt.height });
    assert.equal(copied.threshold, 0.5);
    assert.deepEqual(
      copied.detections.map((d) => d.label),
      listed.map((d) => d.label),
    );
    for (const d of copied.detections) {
      assert.deepEqual(Object.keys(d.box).sort(), ['x1', 'x2', 'y1', 'y2']);
      assert.ok(d.score >= 0.5);
    }
    // The confirmation goes away by itself.
    await page.waitForSelector('#flash .flash-text', { state: 'detached', timeout: 10_000 });
  });
});

test('a large upload shows its progress, then the model time', async () => {
  const png = await noisePng(1000, 1000, 7); // ~3 MB, under the 4 MiB limit
  assert.ok(png.length > 2.5e6 && png.length < 4 * 1024 * 1024, `${png.length} bytes`);
  await withPage({}, async ({ page, context }) => {
    // Slow the upload down (about 1.5 MB/s) so the progress can be seen.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 1.5e6,
    });
    const seen = page.evaluate(
      () =>
        new Promise((resolve) => {
          const values = new Set();
          const look = () => {
            const bar = document.querySelector('#progress[value]');
            const status = document.querySelector('#status').textContent;
            if (bar) values.add(Number(bar.getAttribute('value')));
            if (document.querySelector('.app').dataset.phase === 'done') {
              resolve({ values: [...values].sort((a, b) => a - b), status });
            } else {
              requestAnimationFrame(look);
            }
          };
          look();
        }),
    );
    await page.setInputFiles('#image-input', { name: 'noise.png', mimeType: 'image/png', buffer: png });
    await page.waitForSelector('#status:text-matches("Uploading noise\\\\.png… \\\\d+%")');
    const { values } = await seen;
    assert.ok(values.length >= 3, `too few progress steps: ${values}`);
    assert.ok(values.some((v) => v > 0 && v < 100), `no intermediate progress: ${values}`);
    await waitForResult(page);
    assert.match(await page.textContent('#model-time'), /^\d+(\.\d+)? (ms|s)$/);
  });
});
