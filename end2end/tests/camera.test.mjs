// Camera mode, with Chromium's fake camera playing a clip of the demo shapes (made here, from
// the same scenes the model was trained on): the shapes are boxed over the live video, with
// the legend, a frame rate and a lag; pause, a snapshot that becomes the page's result, stop.
// A refused camera, no camera, and a server that needs a key say so.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  BASE,
  KEY,
  KEYED_BASE,
  OUTPUT,
  closeBrowser,
  launchBrowser,
  listedDetections,
  pngSize,
  waitForResult,
  waitReady,
  withPage,
} from './helpers.mjs';
import { sceneRgb, sceneShapes, writeY4m } from './scenes.mjs';

const LABELS = ['blue_triangle', 'green_ellipse', 'red_rectangle'];
const dir = mkdtempSync(path.join(os.tmpdir(), 'lookout-camera-'));
const CLIP = path.join(dir, 'shapes.y4m');
const FAKE_CAMERA = ['--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${CLIP}`];
/** A Chromium whose fake camera plays CLIP, allowed without asking. */
let camera;

before(async () => {
  await Promise.all([waitReady(), waitReady(90_000, KEYED_BASE)]);
  const frames = Array.from({ length: 20 }, (_, i) => sceneRgb(640, 480, sceneShapes(i), i + 1));
  writeY4m(CLIP, 640, 480, frames);
  camera = await launchBrowser(['--use-fake-ui-for-media-stream', ...FAKE_CAMERA]);
});

after(async () => {
  await camera?.close();
  await closeBrowser();
  rmSync(dir, { recursive: true, force: true });
});

/** The live legend: label -> count. */
async function liveLegend(page) {
  return Object.fromEntries(
    await page.$$eval('#live-legend li', (items) =>
      items.map((li) => [li.dataset.label, Number(li.querySelector('.legend-count').textContent)]),
    ),
  );
}

/** Waits until the overlay shows every shape of the clip, each class counted in the legend. */
async function waitForShapes(page) {
  await page.waitForFunction(() => Number(document.querySelector('#live-canvas').dataset.boxes) >= 3, null, {
    timeout: 30_000,
  });
  await page.waitForFunction(
    (labels) => labels.every((l) => Number(document.querySelector(`#live-legend li[data-label="${l}"] .legend-count`)?.textContent) >= 1),
    LABELS,
    { timeout: 10_000 },
  );
}

test('camera mode boxes the shapes over the live video, with a frame rate and lag', async () => {
  await withPage({ browser: camera }, async ({ page }) => {
    assert.ok(await page.isHidden('#live'), 'the live panel shows before the camera is started');
    await page.click('#camera-start');
    await page.waitForSelector('#live[data-state="running"]', { timeout: 20_000 });
    assert.equal(await page.textContent('#live-title'), 'Camera');
    await waitForShapes(page);
    const legend = await liveLegend(page);
    for (const label of LABELS) assert.ok(legend[label] >= 1, `${label} not counted: ${JSON.stringify(legend)}`);

    // The boxes are drawn over the picture in their classes' colours (the legend's).
    const drawn = await page.evaluate(() => {
      const canvas = document.querySelector('#live-canvas');
      const video = document.querySelector('#live-video');
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let painted = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
      const c = canvas.getBoundingClientRect();
      const v = video.getBoundingClientRect();
      return { painted, canvas: [c.width, c.height], video: [v.width, v.height], frame: [canvas.dataset.frameWidth, canvas.dataset.frameHeight].map(Number) };
    });
    assert.ok(drawn.painted > 500, `the overlay is nearly empty: ${JSON.stringify(drawn)}`);
    // Laid over the picture (the clip is 4:3), and the frames were sent at 640 px at most.
    assert.ok(Math.abs(drawn.canvas[0] / drawn.canvas[1] - 4 / 3) < 0.02, JSON.stringify(drawn));
    assert.ok(drawn.canvas[0] <= drawn.video[0] + 1 && drawn.canvas[1] <= drawn.video[1] + 1, JSON.stringify(drawn));
    assert.ok(Math.max(...drawn.frame) <= 640 && Math.min(...drawn.frame) > 0, JSON.stringify(drawn));

    // Measured answered frames per second and lag.
    await page.waitForFunction(() => parseFloat(document.querySelector('#live-stats').textContent) > 0, null, { timeout: 10_000 });
    const stats = await page.textContent('#live-stats');
    assert.match(stats, /^\d+\.\d frames\/s · lag \d+(\.\d+)? (ms|s) · \d+ answered, \d+ skipped$/);
    await page.screenshot({ path: path.join(OUTPUT, 'camera.png') });

    // The threshold applies live, and is the page's one value: the overlay follows the
    // legend's counts at 1.00, and the result's slider moves too.
    await page.locator('#live-threshold').fill('1');
    assert.equal(await page.textContent('#live-threshold-value'), '1.00');
    assert.equal(await page.inputValue('#threshold'), '1');
    await page.waitForFunction(() => {
      const counts = [...document.querySelectorAll('#live-legend .legend-count')].map((c) => Number(c.textContent));
      return Number(document.querySelector('#live-canvas').dataset.boxes) === counts.reduce((a, b) => a + b, 0);
    });
    await page.locator('#live-threshold').fill('0.5');
    await waitForShapes(page);

    // Pause: the video and the frames stop.
    await page.click('#live-pause');
    await page.waitForSelector('#live[data-state="paused"]');
    assert.equal(await page.textContent('#live-pause'), 'Resume');
    const answered = () => page.$eval('#live-stats', (p) => Number(/(\d+) answered/.exec(p.textContent)?.[1]));
    const before = await answered();
    await page.waitForTimeout(600);
    assert.ok((await answered()) <= before + 2, 'frames are still sent while paused');

    // A snapshot becomes the page's result: listed, drawn, downloadable.
    await page.click('#live-snapshot');
    await waitForResult(page);
    const listed = await listedDetections(page);
    assert.deepEqual([...new Set(listed.map((d) => d.label))].sort(), LABELS, JSON.stringify(listed));
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    assert.match(download.suggestedFilename(), /^camera-\d{8}-\d{6}-lookout\.png$/);
    const png = readFileSync(await download.path());
    assert.deepEqual(pngSize(png), { width: drawn.frame[0], height: drawn.frame[1] });

    // Resume, then stop: the camera goes off and the panel away.
    await page.click('#live-pause');
    await page.waitForSelector('#live[data-state="running"]');
    await page.click('#live-stop');
    await page.waitForSelector('#live', { state: 'hidden' });
    assert.equal(await page.$eval('#live-video', (v) => v.srcObject), null);
  });
});

test('a refused camera, and no camera at all, say so', async () => {
  const asking = await launchBrowser(FAKE_CAMERA);
  try {
    await withPage({ browser: asking }, async ({ page, context }) => {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Browser.setPermission', { permission: { name: 'camera' }, setting: 'denied', origin: BASE });
      await page.click('#camera-start');
      await page.waitForSelector('#live[data-state="failed"]', { timeout: 10_000 });
      assert.match(await page.textContent('#live-message'), /camera was not allowed/i);
      // Resume asks again (and is refused again).
      await page.click('#live-pause');
      await page.waitForSelector('#live[data-state="failed"] #live-message');
    });
  } finally {
    await asking.close();
  }
  // The file's own Chromium has no camera, fake or real.
  await withPage({}, async ({ page, context }) => {
    await context.grantPermissions(['camera'], { origin: BASE });
    await page.click('#camera-start');
    await page.waitForSelector('#live[data-state="failed"]', { timeout: 10_000 });
    assert.match(await page.textContent('#live-message'), /No camera was found/);
  });
});

// Playwright's WebSocket route hands the page a stand-in that still reads OPEN for a moment
// after the route closed the real socket behind it; a frame sent then is refused by Chromium
// with this console error (a real socket reads CLOSING at once, and the page checks).
const ROUTE_CLOSING = /WebSocket is already in CLOSING or CLOSED state/;

test('a stream the server closes says why, and Resume opens a new one', async () => {
  await withPage({ browser: camera, allowConsole: [ROUTE_CLOSING] }, async ({ page }) => {
    // The page's stream goes to the real server, through a route that can close it as the
    // server would when shutting down.
    const routes = [];
    await page.routeWebSocket(/\/v1\/detect\/stream/, (ws) => {
      ws.connectToServer();
      routes.push(ws);
    });
    await page.click('#camera-start');
    await waitForShapes(page);
    await routes[0].close({ code: 1001, reason: 'the server is shutting down' });
    await page.waitForSelector('#live[data-state="failed"]', { timeout: 10_000 });
    assert.equal(
      await page.textContent('#live-message'),
      'The server closed the stream (the server is shutting down, 1001). Press Resume to start again.',
    );
    assert.equal(await page.$eval('#live-canvas', (c) => c.dataset.boxes), '0');
    await page.click('#live-pause');
    await page.waitForSelector('#live[data-state="running"]', { timeout: 10_000 });
    await waitForShapes(page);
    assert.equal(routes.length, 2);
    assert.ok(await page.isHidden('#live-message'));
  });
});

test('on a phone the live video fits the screen, its boxes over it', async () => {
  await withPage(
    { browser: camera, contextOptions: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true } },
    async ({ page }) => {
      await page.click('#camera-start');
      await waitForShapes(page);
      const layout = await page.evaluate(() => {
        const box = (s) => document.querySelector(s).getBoundingClientRect();
        const [video, canvas, section] = ['#live-video', '#live-canvas', '#live'].map(box);
        const overlay = document.querySelector('#live-canvas');
        return {
          page: document.documentElement.scrollWidth,
          screen: window.innerWidth,
          video: [video.left, video.right],
          canvas: [canvas.left, canvas.top, canvas.right, canvas.bottom],
          videoBox: [video.left, video.top, video.right, video.bottom],
          section: [section.left, section.right],
          sharp: overlay.width / canvas.width,
        };
      });
      assert.ok(layout.page <= layout.screen, `the page is wider than the screen: ${JSON.stringify(layout)}`);
      assert.ok(layout.section[0] >= 0 && layout.section[1] <= layout.screen, JSON.stringify(layout));
      const [l, t, r, b] = layout.canvas;
      const [vl, vt, vr, vb] = layout.videoBox;
      assert.ok(l >= vl - 1 && t >= vt - 1 && r <= vr + 1 && b <= vb + 1, `the boxes are not over the video: ${JSON.stringify(layout)}`);
      assert.ok(Math.abs(layout.sharp - 3) < 0.05, `the overlay is not drawn at the screen's pixel ratio: ${layout.sharp}`);
      await page.screenshot({ path: path.join(OUTPUT, 'camera-phone.png'), fullPage: false });
    },
  );
});

test('a server that needs a key: the camera waits for it, then streams with it', async () => {
  await withPage({ browser: camera, base: KEYED_BASE }, async ({ page }) => {
    await page.waitForSelector('#key[data-key="missing"]');
    await page.click('#camera-start');
    await page.waitForSelector('#live[data-state="failed"]', { timeout: 20_000 });
    assert.match(await page.textContent('#live-message'), /needs an API key/);
    await page.fill('#key-input', KEY);
    await page.press('#key-input', 'Enter');
    await page.waitForSelector('#key[data-key="given"]');
    await page.click('#live-pause');
    await page.waitForSelector('#live[data-state="running"]', { timeout: 20_000 });
    await waitForShapes(page);
  });
});
