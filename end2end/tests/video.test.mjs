// Video files: a small WebM clip of the demo shapes (recorded by Chromium itself, from the same
// scenes as the fake camera's clip) plays in the page, its frames go through the stream and are
// boxed over it, and its detections per analysed frame export as CSV (frame number and time)
// and COCO (one image per frame).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { browser, closeBrowser, dropFiles, waitReady, withPage } from './helpers.mjs';
import { COLOURS, sceneShapes } from './scenes.mjs';

const LABELS = ['blue_triangle', 'green_ellipse', 'red_rectangle'];
const SECONDS = 1.5;
let webm;

/** Records `seconds` of the drifting shapes as WebM (VP8) in a blank page. */
async function recordWebm(seconds) {
  const context = await (await browser()).newContext();
  try {
    const page = await context.newPage();
    await page.setContent('<canvas width="640" height="480"></canvas>');
    const frames = Array.from({ length: Math.ceil(seconds * 30) + 5 }, (_, i) => sceneShapes(i));
    const base64 = await page.evaluate(
      async ({ frames, colours, seconds }) => {
        const canvas = document.querySelector('canvas');
        const ctx = canvas.getContext('2d');
        const noise = ctx.createImageData(640, 480);
        let s = 7;
        for (let i = 0; i < noise.data.length; i += 4) {
          s ^= s << 13;
          s ^= s >>> 17;
          s ^= s << 5;
          const v = 128 + ((s & 0xff) / 255 - 0.5) * 48;
          noise.data.set([v, v, v, 255], i);
        }
        const draw = (shapes) => {
          ctx.putImageData(noise, 0, 0);
          for (const { label, box } of shapes) {
            const [x1, y1, x2, y2] = box;
            ctx.fillStyle = `rgb(${colours[label].join(',')})`;
            ctx.beginPath();
            if (label === 'red_rectangle') ctx.rect(x1, y1, x2 - x1, y2 - y1);
            if (label === 'green_ellipse') ctx.ellipse((x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2, 0, 0, 2 * Math.PI);
            if (label === 'blue_triangle') {
              ctx.moveTo((x1 + x2) / 2, y1);
              ctx.lineTo(x2, y2);
              ctx.lineTo(x1, y2);
              ctx.closePath();
            }
            ctx.fill();
          }
        };
        draw(frames[0]);
        const recorder = new MediaRecorder(canvas.captureStream(30), { mimeType: 'video/webm;codecs=vp8', videoBitsPerSecond: 4_000_000 });
        const chunks = [];
        recorder.ondataavailable = (e) => chunks.push(e.data);
        const stopped = new Promise((resolve) => (recorder.onstop = resolve));
        recorder.start(100);
        const start = performance.now();
        await new Promise((resolve) => {
          const step = () => {
            const elapsed = (performance.now() - start) / 1000;
            if (elapsed >= seconds) return resolve();
            draw(frames[Math.min(frames.length - 1, Math.floor(elapsed * 30))]);
            setTimeout(step, 1000 / 30);
          };
          step();
        });
        recorder.stop();
        await stopped;
        const bytes = new Uint8Array(await new Blob(chunks, { type: 'video/webm' }).arrayBuffer());
        let text = '';
        for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        return btoa(text);
      },
      { frames, colours: COLOURS, seconds },
    );
    return Buffer.from(base64, 'base64');
  } finally {
    await context.close();
  }
}

before(async () => {
  await waitReady();
  webm = await recordWebm(SECONDS);
});
after(() => closeBrowser());

/** Parses the export's CSV (no quoted fields in it). */
function csvRows(text) {
  const [header, ...rows] = text.trim().split('\r\n').map((l) => l.split(','));
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

test('a WebM clip plays in the page, its shapes are boxed, and its frames export as CSV and COCO', async () => {
  assert.ok(webm.length > 1000 && webm.subarray(0, 4).equals(Buffer.from([0x1a, 0x45, 0xdf, 0xa3])), 'not a WebM');
  await withPage({}, async ({ page }) => {
    await page.setInputFiles('#video-input', { name: 'shapes.webm', mimeType: 'video/webm', buffer: webm });
    await page.waitForSelector('#live:not([hidden])');
    assert.equal(await page.textContent('#live-title'), 'Video: shapes.webm');
    await page.waitForFunction(() => Number(document.querySelector('#live-canvas').dataset.boxes) >= 3, null, {
      timeout: 30_000,
    });
    await page.waitForSelector('#live[data-state="ended"]', { timeout: 30_000 });
    // The last frames' answers come just after the end.
    const count = async () => Number(/(\d+) frames? analysed/.exec(await page.textContent('#live-analysed'))?.[1]);
    let analysed = await count();
    for (let settled = false; !settled; ) {
      await page.waitForTimeout(400);
      const now = await count();
      settled = now === analysed;
      analysed = now;
    }
    assert.ok(analysed >= 5, `only ${analysed} frames analysed`);
    const legend = await page.$$eval('#live-legend li', (items) => items.map((li) => li.dataset.label).sort());
    assert.deepEqual(legend, LABELS);

    // CSV: frame number and time first, one row per detection, every shape in every frame.
    const [csvDownload] = await Promise.all([page.waitForEvent('download'), page.click('#live-export-csv')]);
    assert.equal(csvDownload.suggestedFilename(), 'shapes-frames.csv');
    const text = readFileSync(await csvDownload.path(), 'utf8');
    assert.ok(
      text.startsWith('frame,time_s,file,label,class_id,score,x1,y1,x2,y2,image_width,image_height\r\n'),
      text.slice(0, 200),
    );
    const rows = csvRows(text);
    const frames = [...new Set(rows.map((r) => Number(r.frame)))];
    assert.ok(frames.length >= analysed * 0.8, `${frames.length} frames with rows of ${analysed}`);
    assert.deepEqual(frames, [...frames].sort((a, b) => a - b), 'frames out of order');
    for (const r of rows) {
      const t = Number(r.time_s);
      assert.ok(t >= 0 && t <= SECONDS + 0.5, `time ${r.time_s}`);
      assert.equal(r.file, `shapes_t${Math.round(t * 1000)}.jpg`);
      assert.ok(Number(r.score) >= 0.5, r.score);
      assert.equal(`${r.image_width}x${r.image_height}`, '640x480');
    }
    const times = rows.map((r) => Number(r.time_s));
    assert.ok(Math.max(...times) - Math.min(...times) >= SECONDS / 2, `the frames span ${Math.min(...times)}..${Math.max(...times)} s`);
    for (const label of LABELS) {
      const framesWith = new Set(rows.filter((r) => r.label === label).map((r) => r.frame));
      assert.ok(framesWith.size >= frames.length * 0.8, `${label} found in ${framesWith.size} of ${frames.length} frames`);
    }

    // COCO: one image per analysed frame, named after the video and its time.
    const [cocoDownload] = await Promise.all([page.waitForEvent('download'), page.click('#live-export-coco')]);
    assert.equal(cocoDownload.suggestedFilename(), 'shapes-frames.coco.json');
    const coco = JSON.parse(readFileSync(await cocoDownload.path(), 'utf8'));
    assert.equal(coco.images.length, analysed);
    for (const image of coco.images) assert.match(image.file_name, /^shapes_t\d+(-\d+)?\.jpg$/);
    assert.deepEqual(coco.categories.map((c) => c.name).sort(), LABELS);
    assert.equal(coco.annotations.length, rows.length);

    // Played again: a new analysis.
    await page.click('#live-pause');
    await page.waitForSelector('#live[data-state="running"]', { timeout: 10_000 });
    await page.click('#live-stop');
    await page.waitForSelector('#live', { state: 'hidden' });
  });
});

test('a video dropped on the page plays in the live panel', async () => {
  await withPage({}, async ({ page }) => {
    const spec = { name: 'dropped.webm', type: 'video/webm', base64: webm.toString('base64') };
    const dropped = await dropFiles(page, '#dropzone', [spec]);
    assert.equal(dropped.accepted, true);
    await page.waitForSelector('#live:not([hidden])');
    assert.equal(await page.textContent('#live-title'), 'Video: dropped.webm');
    await page.waitForFunction(() => Number(document.querySelector('#live-canvas').dataset.boxes) >= 3, null, {
      timeout: 30_000,
    });
    // The image path was not used: no batch, no upload.
    assert.equal(await page.getAttribute('.app', 'data-phase'), 'idle');
  });
});
