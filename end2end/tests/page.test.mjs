// The page itself: server-rendered then hydrated, the header, the layout on a phone and on
// resize (HiDPI canvas alignment), and screenshots for a person to look at.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  BASE,
  OUTPUT,
  ROOT,
  SHAPES_DIR,
  assertBoxesDrawn,
  closeBrowser,
  listedDetections,
  waitForResult,
  waitReady,
  withPage,
} from './helpers.mjs';

before(() => waitReady());
after(() => closeBrowser());

test('the server renders the page and the browser hydrates it', async () => {
  const html = await (await fetch(`${BASE}/`)).text();
  assert.match(html, /<form[^>]*id="upload-form"[^>]*action="\/detect"/);
  assert.match(html, /<input[^>]*type="file"[^>]*name="image"/);
  assert.match(html, /data-hydrated="false"/);
  assert.match(html, /id="model-name"/);
  const wasm = /href="(\/pkg\/[^"]+\.wasm)"/.exec(html);
  assert.ok(wasm, 'the page does not preload its WASM');
  const res = await fetch(`${BASE}${wasm[1]}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/wasm');

  await withPage({}, async ({ page }) => {
    // Only client code sets this, after hydration (withPage waited for it).
    assert.equal(await page.getAttribute('.app', 'data-hydrated'), 'true');
    assert.equal(await page.title(), 'Lookout: object detection');
    assert.match(await page.textContent('h1'), /Lookout/);
    const models = await fetch(`${BASE}/v1/models`).then((r) => r.json());
    assert.equal((await page.textContent('#model-name')).trim(), models.default);
    // Scripted controls are shown, the plain form's fields are not.
    assert.equal(await page.isVisible('#dropzone'), true);
    assert.equal(await page.isVisible('#url-input'), true);
    assert.equal(await page.isVisible('#nojs-threshold'), false);
    assert.equal(await page.isVisible('#result'), false);
    // Labels for the inputs.
    for (const id of ['url-input', 'image-input']) {
      assert.equal(await page.locator(`label[for="${id}"]`).count(), 1, `no label for #${id}`);
    }
    assert.equal(await page.getAttribute('#status', 'aria-live'), 'polite');
  });
});

test('on a phone-width HiDPI screen the result stacks and the canvas stays sharp and aligned', async () => {
  const contextOptions = {
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  };
  await withPage({ contextOptions }, async ({ page }) => {
    await page.setInputFiles('#image-input', path.join(SHAPES_DIR, '0000.png'));
    await waitForResult(page);
    const layout = await page.evaluate(() => {
      const rect = (s) => document.querySelector(s).getBoundingClientRect().toJSON();
      const canvas = document.querySelector('#result-canvas');
      return {
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
        stage: rect('.stage-card'),
        list: rect('.detections'),
        canvas: { css: rect('#result-canvas'), width: canvas.width, height: canvas.height },
        dpr: window.devicePixelRatio,
      };
    });
    assert.equal(layout.dpr, 2);
    assert.ok(layout.scrollWidth <= layout.innerWidth, `the page scrolls sideways (${layout.scrollWidth}px)`);
    assert.ok(layout.stage.bottom <= layout.list.top + 1, 'the canvas and the list are not stacked');
    assert.ok(layout.canvas.css.right <= layout.innerWidth, 'the canvas is wider than the screen');
    assert.equal(layout.canvas.width, Math.round(layout.canvas.css.width * 2), 'the canvas is not at 2x');
    await assertBoxesDrawn(page, await listedDetections(page));
    await page.screenshot({ path: path.join(OUTPUT, 'phone.png'), fullPage: true });
  });
});

test('the canvas follows the page when the window is resized', async () => {
  const contextOptions = { viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1.5 };
  await withPage({ contextOptions }, async ({ page }) => {
    await page.setInputFiles('#image-input', path.join(SHAPES_DIR, '0004.png'));
    await waitForResult(page);
    const listed = await listedDetections(page);
    const before = await page.$eval('#result-canvas', (c) => c.getBoundingClientRect().width);

    await page.setViewportSize({ width: 700, height: 700 });
    await page.waitForFunction(
      (w) => Math.abs(document.querySelector('#result-canvas').getBoundingClientRect().width - w) > 20,
      before,
    );
    // Sized to its new place at the screen's pixel ratio, and redrawn there.
    await page.waitForFunction(() => {
      const c = document.querySelector('#result-canvas');
      return c.width === Math.round(c.getBoundingClientRect().width * devicePixelRatio);
    });
    const stage = await page.$eval('.stage', (s) => s.clientWidth);
    const after = await page.$eval('#result-canvas', (c) => c.getBoundingClientRect().width);
    assert.ok(after <= stage + 0.5, `the canvas (${after}px) overflows its stage (${stage}px)`);
    await assertBoxesDrawn(page, listed);
  });
});

test('screenshots of the result page, light and dark', async () => {
  const contextOptions = { viewport: { width: 1280, height: 860 } };
  await withPage({ contextOptions }, async ({ page }) => {
    const first = await page.$eval('button.sample', (b) => b.dataset.sample).catch(() => null);
    if (first) {
      await page.click(`button.sample[data-sample="${first}"]`);
    } else {
      await page.setInputFiles('#image-input', path.join(ROOT, 'detector/tests/fixtures/shapes/0000.png'));
    }
    await waitForResult(page);
    await page.screenshot({ path: path.join(OUTPUT, 'result.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.locator('#detections tbody tr').first().hover();
    await page.waitForSelector('#result-canvas[data-active]:not([data-active=""])');
    await page.screenshot({ path: path.join(OUTPUT, 'result-dark.png'), fullPage: true });
  });
});
