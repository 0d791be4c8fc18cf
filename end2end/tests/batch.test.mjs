// Several images at once: a thumbnail per image with its state, the first result as soon as
// it is ready, switching between them (mouse and keyboard), and exports built in the
// browser from the results on the page (no second detection).

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  OUTPUT,
  SHAPES_DIR,
  assertBoxesDrawn,
  assertMatchesTruth,
  closeBrowser,
  dropFiles,
  fileSpec,
  groundTruth,
  listedDetections,
  unzip,
  waitReady,
  withPage,
} from './helpers.mjs';

const truth = groundTruth(SHAPES_DIR);
const FILES = ['0001.png', '0002.png', '0003.png'];

before(() => waitReady());
after(() => closeBrowser());

/** The thumbnails: name, state, whether on screen. */
async function thumbs(page) {
  return page.$$eval('#batch .thumb', (t) =>
    t.map((b) => ({ name: b.dataset.name, state: b.dataset.state, current: b.getAttribute('aria-current') === 'true' })),
  );
}

test('three dropped images each get a thumbnail that reaches done, and can be viewed', async () => {
  await withPage({}, async ({ page }) => {
    const specs = FILES.map((f) => fileSpec(path.join(SHAPES_DIR, f), 'image/png'));
    assert.deepEqual(await dropFiles(page, '#dropzone', specs), { highlighted: true, accepted: true });
    await page.waitForSelector('#batch:not([hidden])');
    assert.deepEqual(
      (await thumbs(page)).map((t) => t.name),
      FILES,
    );
    // The first is on screen from the start, and shown as soon as it is done.
    await page.waitForSelector('#batch .thumb[data-name="0001.png"][data-state="done"]', { timeout: 60_000 });
    await page.waitForSelector('.app[data-phase="done"]');
    assertMatchesTruth(await listedDetections(page), truth['0001.png'].objects);
    await page.waitForFunction(() => [...document.querySelectorAll('#batch .thumb')].every((t) => t.dataset.state === 'done'), null, {
      timeout: 60_000,
    });
    assert.match(await page.textContent('#batch-count'), /3 of 3 images finished/);
    assert.deepEqual(
      (await thumbs(page)).map((t) => t.current),
      [true, false, false],
    );

    // A click puts another on screen: its own detections and boxes.
    await page.click('#batch .thumb[data-name="0003.png"]');
    await page.waitForSelector('#batch .thumb[data-name="0003.png"][aria-current="true"]');
    await page.waitForSelector('#result-canvas[data-boxes]:not([data-boxes="pending"])');
    const third = await listedDetections(page);
    assertMatchesTruth(third, truth['0003.png'].objects);
    await page.waitForFunction(() => document.querySelector('.app').dataset.image === 'ready');
    await assertBoxesDrawn(page, third);

    // The keyboard works the strip too: Tab to a thumbnail, Enter.
    await page.focus('#batch .thumb[data-name="0002.png"]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#batch .thumb[data-name="0002.png"][aria-current="true"]');
    assertMatchesTruth(await listedDetections(page), truth['0002.png'].objects);
    assert.match(await page.getAttribute('#batch .thumb[data-name="0002.png"]', 'aria-label'), /0002\.png: done, \d+ objects?/);
  });
});

test('the Export menu builds YOLO and COCO from the results on the page', async () => {
  await withPage({}, async ({ page, requests }) => {
    const specs = FILES.map((f) => fileSpec(path.join(SHAPES_DIR, f), 'image/png'));
    await dropFiles(page, '#dropzone', specs);
    await page.waitForFunction(
      () => {
        const t = [...document.querySelectorAll('#batch .thumb')];
        return t.length === 3 && t.every((x) => x.dataset.state === 'done');
      },
      null,
      { timeout: 60_000 },
    );
    const sent = requests.length;
    const shownPerImage = {};
    for (const f of FILES) {
      await page.click(`#batch .thumb[data-name="${f}"]`);
      await page.waitForSelector(`#batch .thumb[data-name="${f}"][aria-current="true"]`);
      shownPerImage[f] = await listedDetections(page);
    }

    const download = async (kind) => {
      await page.click('#export > summary');
      const [file] = await Promise.all([page.waitForEvent('download'), page.click(`#export [data-export="${kind}"]`)]);
      const saved = path.join(OUTPUT, `export-${file.suggestedFilename()}`);
      await file.saveAs(saved);
      return { name: file.suggestedFilename(), bytes: readFileSync(saved) };
    };

    // YOLO: one label file per image, a class per line, boxes normalised.
    const yolo = await download('yolo');
    assert.equal(yolo.name, 'lookout-yolo.zip');
    const entries = await unzip(yolo.bytes);
    const names = Object.keys(entries).sort();
    for (const f of FILES) assert.ok(names.includes(`labels/${f.replace('.png', '.txt')}`), `${names}`);
    const classes = entries['classes.txt'].toString().trim().split('\n');
    assert.deepEqual(classes, ['red_rectangle', 'green_ellipse', 'blue_triangle']);
    for (const f of FILES) {
      const { width, height } = truth[f];
      const lines = entries[`labels/${f.replace('.png', '.txt')}`].toString().trim().split('\n').filter(Boolean);
      assert.equal(lines.length, shownPerImage[f].length, `${f}: ${lines}`);
      for (const d of shownPerImage[f]) {
        const [x1, y1, x2, y2] = d.box;
        const found = lines.some((line) => {
          const [c, cx, cy, w, h] = line.split(' ').map(Number);
          return (
            classes[c] === d.label &&
            Math.abs(cx * width - (x1 + x2) / 2) <= 1 &&
            Math.abs(cy * height - (y1 + y2) / 2) <= 1 &&
            Math.abs(w * width - (x2 - x1)) <= 1 &&
            Math.abs(h * height - (y2 - y1)) <= 1
          );
        });
        assert.ok(found, `${f}: ${d.label} [${d.box}] not in ${lines}`);
      }
    }

    // COCO: the three images, their annotations, the model's categories.
    const coco = await download('coco');
    assert.equal(coco.name, 'lookout-coco.json');
    const dataset = JSON.parse(coco.bytes.toString());
    writeFileSync(path.join(OUTPUT, 'export-coco.pretty.json'), JSON.stringify(dataset, null, 1));
    assert.deepEqual(
      dataset.images.map((i) => [i.file_name, i.width, i.height]),
      FILES.map((f) => [f, truth[f].width, truth[f].height]),
    );
    assert.deepEqual(
      dataset.categories.map((c) => c.name),
      ['red_rectangle', 'green_ellipse', 'blue_triangle'],
    );
    const total = Object.values(shownPerImage).reduce((n, l) => n + l.length, 0);
    assert.equal(dataset.annotations.length, total);
    for (const a of dataset.annotations) {
      const image = dataset.images.find((i) => i.id === a.image_id);
      const category = dataset.categories.find((c) => c.id === a.category_id).name;
      const [x, y, w, h] = a.bbox;
      assert.ok(
        shownPerImage[image.file_name].some(
          (d) =>
            d.label === category &&
            Math.abs(d.box[0] - x) <= 0.5 &&
            Math.abs(d.box[1] - y) <= 0.5 &&
            Math.abs(d.box[2] - (x + w)) <= 0.5 &&
            Math.abs(d.box[3] - (y + h)) <= 0.5,
        ),
        `${image.file_name}: ${category} ${a.bbox} is not on the page`,
      );
    }

    // Made in the browser: nothing was sent to the server.
    assert.deepEqual(
      requests.slice(sent).filter((r) => r.method !== 'GET' || r.url.includes('/api/')),
      [],
    );
    await page.waitForSelector('#flash .flash-text:text-matches("Exported 3 images")');
  });
});

test('a chosen folder becomes a batch of its images (other files are left out)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lookout-folder-'));
  mkdirSync(path.join(dir, 'more'));
  copyFileSync(path.join(SHAPES_DIR, '0004.png'), path.join(dir, '0004.png'));
  copyFileSync(path.join(SHAPES_DIR, '0005.png'), path.join(dir, 'more', '0005.png'));
  writeFileSync(path.join(dir, 'notes.txt'), 'not an image\n');
  await withPage({}, async ({ page }) => {
    await page.setInputFiles('#folder-input', dir);
    await page.waitForFunction(
      () => {
        const t = [...document.querySelectorAll('#batch .thumb')];
        return t.length === 2 && t.every((x) => x.dataset.state === 'done');
      },
      null,
      { timeout: 60_000 },
    );
    assert.deepEqual(
      (await thumbs(page)).map((t) => t.name).sort(),
      ['0004.png', '0005.png'],
    );
    const first = (await thumbs(page)).find((t) => t.current).name;
    assertMatchesTruth(await listedDetections(page), truth[first].objects);
  });
});
