// Several models (end2end/run.sh starts the server with the shapes model and its zoo-layout
// twin): the picker in the header, the choice kept for the tab and the current image run
// again with it, the legend and the line naming the classes following the model; a select in
// the plain form.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  BASE,
  SHAPES_DIR,
  assertMatchesTruth,
  closeBrowser,
  groundTruth,
  legendEntries,
  listedDetections,
  openHome,
  waitForResult,
  waitReady,
  withPage,
} from './helpers.mjs';

const truth = groundTruth(SHAPES_DIR);

before(() => waitReady());
after(() => closeBrowser());

test('the picker switches models, runs the image again, and the legend follows', async () => {
  const config = await (await fetch(`${BASE}/api/ui_config`, { method: 'POST' })).json();
  const names = config.models.map((m) => m.name);
  assert.deepEqual(names, ['shapes', 'zoo'], 'run the e2e server with the two shapes models');

  await withPage({}, async ({ page, requests }) => {
    const options = await page.$$eval('#model-picker option', (o) => o.map((x) => [x.value, x.textContent]));
    assert.deepEqual(
      options.map(([v]) => v),
      names,
    );
    assert.match(options[1][1], /zoo · 3 classes/);
    assert.equal(await page.inputValue('#model-picker'), 'shapes');
    assert.equal(await page.$$eval('label[for="model-picker"]', (l) => l.length), 1);
    // Before any image: the classes of the model the picker shows.
    assert.equal(await page.getAttribute('#model-finds', 'data-model'), 'shapes');
    const classesBefore = await page.textContent('#model-finds .class-names');
    assert.equal(classesBefore, 'red_rectangle, green_ellipse, blue_triangle');

    const gt = truth['0003.png'];
    await page.setInputFiles('#image-input', path.join(SHAPES_DIR, '0003.png'));
    await waitForResult(page);
    assert.equal(await page.getAttribute('#legend', 'data-model'), 'shapes');
    const before = await legendEntries(page);

    // Another model: the same image is detected again, with it, without choosing it again.
    const sent = requests.length;
    await page.selectOption('#model-picker', 'zoo');
    // The line about the model's classes follows the picker at once.
    await page.waitForSelector('#model-finds[data-model="zoo"]');
    assert.equal((await page.textContent('#model-finds .model-finds-name')).trim(), 'zoo');
    assert.equal(await page.textContent('#model-finds .class-names'), classesBefore);
    await page.waitForSelector('#legend[data-model="zoo"]', { timeout: 60_000 });
    await waitForResult(page);
    const rerun = requests.slice(sent).filter((r) => r.url.endsWith('/api/detect_upload'));
    assert.equal(rerun.length, 1, 'the image was not sent again once');
    assertMatchesTruth(await listedDetections(page), gt.objects);
    const after = await legendEntries(page);
    // The zoo twin has the same labels: the legend is rebuilt from its result with the same
    // names and colours per class.
    assert.deepEqual(
      after.map((e) => [e.classId, e.label, e.colour]),
      before.map((e) => [e.classId, e.label, e.colour]),
    );
    assert.equal(await page.evaluate(() => sessionStorage.getItem('lookout.model')), 'zoo');

    // Kept for the tab: a new visit detects with it.
    await openHome(page);
    await page.waitForFunction(() => document.querySelector('#model-picker').value === 'zoo');
    await page.waitForSelector('#model-finds[data-model="zoo"]');
    await page.setInputFiles('#image-input', path.join(SHAPES_DIR, '0004.png'));
    await waitForResult(page);
    assert.equal(await page.getAttribute('#legend', 'data-model'), 'zoo');

    // Back to the default.
    await page.selectOption('#model-picker', 'shapes');
    await page.waitForSelector('#model-finds[data-model="shapes"]');
    await page.waitForSelector('#legend[data-model="shapes"]', { timeout: 60_000 });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('lookout.model')), null);
  });
});

test('without JavaScript the form has a model select, and the result says which model ran', async () => {
  const contextOptions = { javaScriptEnabled: false };
  await withPage({ contextOptions }, async ({ page }) => {
    const options = await page.$$eval('select[name="model"] option', (o) => o.map((x) => x.value));
    assert.deepEqual(options, ['shapes', 'zoo']);
    await page.selectOption('select[name="model"]', 'zoo');
    await page.setInputFiles('#image-input', path.join(SHAPES_DIR, '0005.png'));
    const [response] = await Promise.all([page.waitForNavigation(), page.click('#upload-form button[type="submit"]')]);
    assert.equal(response.status(), 200);
    assert.equal(await page.getAttribute('#legend', 'data-model'), 'zoo');
    assert.equal((await page.textContent('#model-name')).trim(), 'zoo');
    assert.equal(await page.getAttribute('#model-finds', 'data-model'), 'zoo');
    assert.equal(await page.inputValue('select[name="model"]'), 'zoo');
    assertMatchesTruth(await listedDetections(page), truth['0005.png'].objects);
  });
});
