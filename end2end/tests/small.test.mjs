// "Find small objects": a 12 MP photo whose shapes are a few dozen pixels wide. Seen whole
// (shrunk to the model's working size) they are a handful of pixels and mostly missed; with
// the toggle on, the server also looks at the photo tile by tile (`tile=auto`) and finds
// them. The toggle is kept for the tab, runs the current image again, and is a checkbox of
// the plain form too.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  OUTPUT,
  closeBrowser,
  listedDetections,
  photoJpeg,
  waitForResult,
  waitReady,
  withPage,
} from './helpers.mjs';

const LABELS = ['red_rectangle', 'green_ellipse', 'blue_triangle'];

/** Twelve shapes of 44-56 px spread over a 4000x3000 photo, away from each other. */
function smallShapes() {
  const shapes = [];
  for (let row = 0; row < 3; row += 1) {
    for (let col = 0; col < 4; col += 1) {
      const i = row * 4 + col;
      const size = 44 + (i % 4) * 4;
      const x = 400 + col * 1000 + (row % 2) * 170;
      const y = 450 + row * 950;
      shapes.push({ label: LABELS[i % 3], box: [x, y, x + size, y + size] });
    }
  }
  return shapes;
}

/** How many of `truth` are listed with their label and a box within `tol` px. */
function found(listed, truth, tol = 8) {
  return truth.filter((t) =>
    listed.some((d) => d.label === t.label && d.box.every((v, k) => Math.abs(v - t.box[k]) <= tol)),
  ).length;
}

let photoFile;
const truth = smallShapes();

before(async () => {
  await waitReady();
  const photo = await photoJpeg(4000, 3000, truth, { noise: 16, quality: 0.9 });
  photoFile = path.join(OUTPUT, 'small-objects-12mp.jpg');
  writeFileSync(photoFile, photo);
});
after(() => closeBrowser());

test('find small objects: off misses most of them, on finds them, and the choice is kept', async () => {
  await withPage({}, async ({ page, requests }) => {
    const toggle = page.locator('#tile-toggle');
    assert.equal(await toggle.isChecked(), false);
    assert.match(await page.textContent('label[for="tile-toggle"]'), /Find small objects/);

    await page.setInputFiles('#image-input', photoFile);
    await waitForResult(page);
    const whole = found(await listedDetections(page), truth);
    assert.ok(whole <= 6, `without tiling ${whole} of ${truth.length} were found; the photo is too easy`);

    // Switching it on runs the image on screen again, with tile=auto, and finds them.
    const sent = requests.length;
    await toggle.check();
    await page.waitForFunction(() => document.querySelector('.app')?.dataset.phase !== 'done');
    await waitForResult(page);
    const rerun = requests.slice(sent).filter((r) => r.url.endsWith('/api/detect_upload'));
    assert.equal(rerun.length, 1, 'the image was not sent again once');
    const listed = await listedDetections(page);
    const tiled = found(listed, truth);
    assert.ok(tiled >= 10, `with tiling ${tiled} of ${truth.length}: ${JSON.stringify(listed)}`);
    assert.ok(listed.length <= truth.length + 1, `false detections: ${JSON.stringify(listed)}`);
    await page.screenshot({ path: path.join(OUTPUT, 'small-objects.png') });

    // Kept for the tab: after a reload the toggle is still on.
    await page.reload();
    await page.waitForSelector('.app[data-hydrated="true"]');
    assert.equal(await page.locator('#tile-toggle').isChecked(), true);
  });
});

test('without JavaScript the form has the toggle, and it finds the small objects', async () => {
  const contextOptions = { javaScriptEnabled: false, viewport: { width: 1100, height: 900 } };
  await withPage({ contextOptions }, async ({ page }) => {
    await page.setInputFiles('#image-input', photoFile);
    await page.check('#tile-toggle');
    const [response] = await Promise.all([
      page.waitForNavigation(),
      page.click('#upload-form button[type="submit"]'),
    ]);
    assert.equal(response.status(), 200);
    const tiled = found(await listedDetections(page), truth);
    assert.ok(tiled >= 10, `with tiling ${tiled} of ${truth.length}`);
    // The result page shows the form as it was sent.
    assert.equal(await page.locator('#tile-toggle').isChecked(), true);
  });
});
