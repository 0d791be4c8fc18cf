// How long a first visit takes to show its first detection, in Debian's Chromium: from the
// navigation to a drawn result for a chosen file, with an empty cache, then a repeat visit
// (same context, so the browser's cache is warm). Prints one JSON line per server.
//
//   node end2end/perf/first-detection.mjs [--rounds 7] [--image FILE] [--link MBIT:MS] URL [URL...]
//
// --link emulates a network link (Chromium's own throttling: MBIT megabits per second down,
// half that up, MS milliseconds of latency); without it, loopback, where transfer is free and
// only the browser's work counts.
//
// Used to compare two builds of the page (issue #12: "the page's first detection is as fast
// as before or faster"); run each server with the same model and flags.

import { chromium } from 'playwright-core';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
let rounds = 7;
let link = null;
let image = path.join(ROOT, 'detector', 'tests', 'fixtures', 'shapes', '0000.png');
const bases = [];
for (let i = 0; i < args.length; i += 1) {
  if (args[i] === '--rounds') rounds = Number(args[++i]);
  else if (args[i] === '--image') image = args[++i];
  else if (args[i] === '--link') {
    const [mbit, ms] = args[++i].split(':').map(Number);
    link = { mbit, ms };
  }
  else bases.push(args[i].replace(/\/$/, ''));
}
if (!bases.length) throw new Error('usage: first-detection.mjs [--rounds N] [--image FILE] URL...');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** One visit: ms to hydration and ms to the drawn result. (The WASM's size on the wire is
 * checked by end2end/tests/assets.test.mjs.) */
async function visit(context, base) {
  const page = await context.newPage();
  if (link) {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: link.ms,
      downloadThroughput: (link.mbit * 1e6) / 8,
      uploadThroughput: (link.mbit * 1e6) / 16,
    });
  }
  const t0 = Date.now();
  await page.goto(`${base}/`, { waitUntil: 'commit' });
  await page.waitForSelector('.app[data-hydrated="true"]', { timeout: 60_000 });
  const hydrated = Date.now() - t0;
  await page.setInputFiles('#image-input', image);
  await page.waitForSelector('.app[data-phase="done"]', { timeout: 60_000 });
  await page.waitForSelector('#result-canvas[data-boxes]:not([data-boxes="pending"])');
  const result = Date.now() - t0;
  await page.close();
  return { hydrated, result };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'],
});
try {
  const all = Object.fromEntries(bases.map((b) => [b, { first: [], repeat: [] }]));
  // Servers alternate within each round, so drift on a shared machine hits both alike.
  for (let r = 0; r < rounds; r += 1) {
    for (const base of bases) {
      const context = await browser.newContext();
      all[base].first.push(await visit(context, base));
      all[base].repeat.push(await visit(context, base));
      await context.close();
    }
  }
  for (const base of bases) {
    const summary = (runs) => ({
      hydrated_ms: median(runs.map((v) => v.hydrated)),
      first_detection_ms: median(runs.map((v) => v.result)),
    });
    console.log(JSON.stringify({ base, rounds, link, first_visit: summary(all[base].first), repeat_visit: summary(all[base].repeat) }));
  }
} finally {
  await browser.close();
}
