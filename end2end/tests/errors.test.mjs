// Everything that can go wrong is shown in the page, in words: not an image, too large,
// a URL that is refused or unreachable, and text that is not a URL.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { closeBrowser, serveLoopback, waitForFailure, waitReady, withPage } from './helpers.mjs';

// The browser reports a failed request's status on the console; here that is the point.
const HTTP_ERROR = /Failed to load resource: the server responded with a status of \d{3}/;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'lookout-e2e-'));

before(() => waitReady());
after(() => closeBrowser());

async function resultHidden(page) {
  return page.$eval('#result', (el) => el.hidden);
}

test('a text file named .png shows the server’s “not an image” error', async () => {
  const file = path.join(tmp, 'notes.png');
  writeFileSync(file, 'These are notes, not a picture.\n'.repeat(20));
  await withPage({ allowConsole: [HTTP_ERROR] }, async ({ page }) => {
    await page.setInputFiles('#image-input', file);
    const { status, text } = await waitForFailure(page);
    assert.equal(status, 415, text);
    assert.match(text, /image/i);
    assert.ok(text.length > 20, `too terse: ${text}`);
    assert.equal(await resultHidden(page), true);
    assert.match(await page.textContent('#status'), /Could not process notes\.png/);
  });
});

test('a file of another type is refused before it is sent', async () => {
  const file = path.join(tmp, 'notes.txt');
  writeFileSync(file, 'plain text\n');
  await withPage({}, async ({ page, requests }) => {
    await page.setInputFiles('#image-input', file);
    const { status, text } = await waitForFailure(page);
    assert.equal(status, 415);
    assert.match(text, /notes\.txt.*not an image/is);
    assert.ok(!requests.some((r) => r.url.includes('/api/detect')), 'the file was uploaded anyway');
  });
});

test('a 5 MiB upload shows the too-large error with the limit', async () => {
  const file = path.join(tmp, 'huge.png');
  const big = Buffer.alloc(5 * 1024 * 1024, 7);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(big);
  writeFileSync(file, big);
  await withPage({ allowConsole: [HTTP_ERROR] }, async ({ page }) => {
    await page.setInputFiles('#image-input', file);
    const { status, text } = await waitForFailure(page);
    assert.equal(status, 413, text);
    assert.match(text, /too large/i);
    assert.match(text, /4 MiB/);
    assert.equal(await resultHidden(page), true);
  });
});

test('an unreachable or non-image URL shows why, and a non-URL is caught at once', async () => {
  // A port nobody listens on.
  const probe = net.createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const deadPort = probe.address().port;
  await new Promise((r) => probe.close(r));
  const server = await serveLoopback({ '/page.html': { body: Buffer.from('<p>hello</p>'), type: 'text/html' } });
  try {
    await withPage({ allowConsole: [HTTP_ERROR] }, async ({ page }) => {
      await page.fill('#url-input', `http://127.0.0.1:${deadPort}/nothing.png`);
      await page.press('#url-input', 'Enter');
      let failure = await waitForFailure(page);
      assert.ok(failure.status >= 400, JSON.stringify(failure));
      assert.ok(failure.text.length > 20, failure.text);

      await page.fill('#url-input', server.url('/page.html'));
      await page.click('#url-submit');
      await page.waitForFunction(
        (old) => document.querySelector('#alert')?.innerText.trim() !== old,
        failure.text,
      );
      failure = await waitForFailure(page);
      assert.ok(failure.status >= 400, JSON.stringify(failure));

      await page.fill('#url-input', 'not a web address');
      await page.press('#url-input', 'Enter');
      failure = await waitForFailure(page);
      assert.equal(failure.status, 400);
      assert.match(failure.text, /web address/);
    });
  } finally {
    await server.close();
  }
});
