// Before any image is sent the page says what the model finds: the demo model's three
// classes, and (only the demo being served) how to serve the COCO model. The same without
// JavaScript, and on a phone; screenshots for a person to look at.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BASE, OUTPUT, closeBrowser, waitReady, withPage } from './helpers.mjs';

const DEMO = ['red_rectangle', 'green_ellipse', 'blue_triangle'];
const COMMANDS = [
  'make run-coco',
  'lookout pull-model coco-zoo',
  'lookout --model coco=models/FasterRCNN-12.onnx',
];

before(() => waitReady());
after(() => closeBrowser());

/** What the page says about the model: its name, the class count and names, the hint. */
async function modelInfo(page) {
  return page.evaluate(() => {
    const finds = document.querySelector('#model-finds');
    const hint = document.querySelector('#coco-hint');
    return {
      tag: finds.tagName.toLowerCase(),
      model: finds.dataset.model,
      classes: Number(finds.dataset.classes),
      name: finds.querySelector('.model-finds-name').textContent.trim(),
      names: finds.querySelector('.class-names').textContent.trim(),
      text: finds.textContent.replace(/\s+/g, ' ').trim(),
      hint: hint && hint.textContent.replace(/\s+/g, ' ').trim(),
      commands: hint ? [...hint.querySelectorAll('code')].map((c) => c.textContent) : [],
    };
  });
}

/** Checks the first page names the demo model's classes and says how to serve COCO. */
async function assertNamesTheDemo(page) {
  const config = await (await fetch(`${BASE}/api/ui_config`, { method: 'POST' })).json();
  const info = await modelInfo(page);
  assert.equal(info.tag, 'p', 'three classes are named in a line, not behind a <details>');
  assert.equal(info.model, config.models[0].name);
  assert.equal(info.name, config.models[0].name);
  assert.equal(info.classes, 3);
  assert.equal(info.names, DEMO.join(', '));
  assert.match(info.text, /finds 3 classes: red_rectangle, green_ellipse, blue_triangle\.$/);
  assert.ok(await page.isVisible('#model-finds'));
  assert.ok(await page.isVisible('#coco-hint'));
  assert.match(info.hint, /only the demo model/);
  assert.deepEqual(info.commands, COMMANDS);
  // Nothing was sent, nothing is shown yet.
  assert.equal(await page.getAttribute('.app', 'data-phase'), 'idle');
}

test('the first page names the model, its classes, and how to serve the COCO model', async () => {
  const html = await (await fetch(`${BASE}/`)).text();
  for (const name of DEMO) assert.ok(html.includes(name), `${name} is not in the server-rendered page`);
  assert.ok(html.includes('make run-coco'));

  const contextOptions = { viewport: { width: 1280, height: 860 } };
  await withPage({ contextOptions }, async ({ page }) => {
    await assertNamesTheDemo(page);
    await page.screenshot({ path: path.join(OUTPUT, 'classes.png') });
  });
});

test('without JavaScript the plain page says the same', async () => {
  const contextOptions = { javaScriptEnabled: false, viewport: { width: 1100, height: 900 } };
  await withPage({ contextOptions }, async ({ page }) => {
    assert.equal(await page.getAttribute('.app', 'data-hydrated'), 'false');
    await assertNamesTheDemo(page);
  });
});

test('on a phone the lines wrap inside the card, with nothing wider than the screen', async () => {
  const contextOptions = {
    viewport: { width: 360, height: 780 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  };
  await withPage({ contextOptions }, async ({ page }) => {
    await assertNamesTheDemo(page);
    const widths = await page.evaluate(() => {
      const card = document.querySelector('.input-card').getBoundingClientRect();
      const inside = [...document.querySelectorAll('.model-info, .model-info *')].every((el) => {
        const r = el.getBoundingClientRect();
        return r.left >= card.left - 0.5 && r.right <= card.right + 0.5;
      });
      return { page: document.documentElement.scrollWidth, screen: window.innerWidth, inside };
    });
    assert.ok(widths.page <= widths.screen, `the page is ${widths.page} px wide on a ${widths.screen} px screen`);
    assert.ok(widths.inside, 'the model lines stick out of the input card');
    await page.screenshot({ path: path.join(OUTPUT, 'classes-phone.png'), fullPage: true });
  });
});
