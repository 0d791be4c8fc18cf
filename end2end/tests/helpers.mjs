// Shared helpers for Lookout's browser tests: Debian's Chromium through playwright-core,
// every request that is not to 127.0.0.1 blocked, and any console error or page error
// failing the test.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BASE = (process.env.LOOKOUT_URL ?? 'http://127.0.0.1:3917').replace(/\/$/, '');
/** A second server, started with `--api-key $LOOKOUT_KEY` (end2end/run.sh starts both). */
export const KEYED_BASE = (process.env.LOOKOUT_KEYED_URL ?? 'http://127.0.0.1:3918').replace(/\/$/, '');
export const KEY = process.env.LOOKOUT_KEY ?? 'e2e-secret-key';
export const OUTPUT = path.join(ROOT, 'end2end', 'output');
export const SHAPES_DIR = path.join(ROOT, 'detector', 'tests', 'fixtures', 'shapes');
export const FIXTURES = path.join(ROOT, 'end2end', 'fixtures');
mkdirSync(OUTPUT, { recursive: true });

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Waits until the server under test (or `base`) answers /readyz with 200. */
export async function waitReady(timeoutMs = 90_000, base = BASE) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/readyz`);
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${base}/readyz did not answer 200 within ${timeoutMs} ms (${last})`);
}

let browserPromise;
/** One Chromium per test file (node --test runs each file in its own process). */
export function browser() {
  browserPromise ??= launchBrowser();
  return browserPromise;
}

/** Another Chromium, with `extraArgs` (a fake camera); the caller closes it. */
export function launchBrowser(extraArgs = []) {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

export async function closeBrowser() {
  if (browserPromise) {
    const b = await browserPromise;
    browserPromise = undefined;
    await b.close();
  }
}

/**
 * Runs `body` with a fresh context and page (in `options.browser`, else the file's Chromium).
 * Fails when the page logs a console error or throws, unless the message matches one of
 * `allowConsole` (for tests that provoke an HTTP error on purpose), or when it tried to reach
 * anything but 127.0.0.1.
 */
export async function withPage(options, body) {
  const { allowConsole = [], contextOptions = {}, ready = true, base = BASE } = options;
  const b = options.browser ?? (await browser());
  const context = await b.newContext({ acceptDownloads: true, ...contextOptions });
  const problems = [];
  const blocked = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1') return route.continue();
    blocked.push(url.href);
    return route.abort();
  });
  const page = await context.newPage();
  const requests = [];
  page.on('request', (r) => requests.push({ method: r.method(), url: r.url() }));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    if (allowConsole.some((re) => re.test(text))) return;
    problems.push(`console error: ${text}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('crash', () => problems.push('the page crashed'));
  const session = { page, context, requests, problems };
  try {
    if (ready) await openHome(page, contextOptions.javaScriptEnabled !== false, base);
    await body(session);
  } finally {
    await context.close();
  }
  assert.deepEqual(blocked, [], 'the page tried to reach something other than 127.0.0.1');
  assert.deepEqual(problems, [], 'the page logged errors');
}

/** Loads `/` and, with scripts on, waits for hydration. */
export async function openHome(page, scripted = true, base = BASE) {
  const res = await page.goto(`${base}/`, { waitUntil: 'load' });
  assert.equal(res.status(), 200);
  if (scripted) await page.waitForSelector('.app[data-hydrated="true"]', { timeout: 30_000 });
}

/** Ground truth of a folder: `{ file: { width, height, objects: [{label, class_id, box}] } }`. */
export function groundTruth(dir) {
  const gt = JSON.parse(readFileSync(path.join(dir, 'ground_truth.json'), 'utf8'));
  return Object.fromEntries(gt.images.map((i) => [i.file, i]));
}

/** Waits until the current request has finished and its boxes are drawn. */
export async function waitForResult(page, { image = true } = {}) {
  await page.waitForSelector('.app[data-phase="done"], .app[data-phase="failed"]', { timeout: 60_000 });
  const phase = await page.getAttribute('.app', 'data-phase');
  if (phase === 'failed') {
    const alert = await page.textContent('#alert');
    throw new Error(`the detection failed: ${alert}`);
  }
  if (image) await page.waitForSelector('#result-canvas[data-boxes]:not([data-boxes="pending"])');
}

/** Waits until the current request has failed, and returns the alert's status and text. */
export async function waitForFailure(page) {
  await page.waitForSelector('.app[data-phase="failed"]', { timeout: 60_000 });
  const alert = page.locator('#alert .alert');
  await alert.waitFor();
  return { status: Number(await alert.getAttribute('data-status')), text: (await alert.innerText()).trim() };
}

/** The rows of the detection list. */
export async function listedDetections(page) {
  return page.$$eval('#detections tbody tr', (rows) =>
    rows.map((r) => ({
      index: Number(r.dataset.index),
      label: r.dataset.label,
      classId: Number(r.dataset.classId),
      score: Number(r.dataset.score),
      box: r.dataset.box.split(',').map(Number),
    })),
  );
}

/**
 * Checks every ground-truth object is listed once with its label and a box within `tol`
 * pixels, and nothing else is listed.
 */
export function assertMatchesTruth(listed, objects, tol = 6) {
  const unmatched = [...listed];
  for (const o of objects) {
    const i = unmatched.findIndex(
      (d) => d.label === o.label && d.box.every((v, k) => Math.abs(v - o.box[k]) <= tol),
    );
    assert.ok(
      i >= 0,
      `no listed ${o.label} within ${tol} px of [${o.box}]; listed: ${JSON.stringify(listed)}`,
    );
    unmatched.splice(i, 1);
  }
  assert.deepEqual(unmatched, [], 'detections listed that are not in the ground truth');
}

/** `#56b4e9` -> [86, 180, 233] */
export function hexRgb(hex) {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex.trim());
  assert.ok(m, `not a colour: ${hex}`);
  return [1, 2, 3].map((k) => parseInt(m[k], 16));
}

/** The legend's colour for a class id, read from its swatch. */
export async function legendColour(page, classId) {
  const colour = await page.getAttribute(`#legend li[data-class-id="${classId}"] .swatch`, 'data-colour');
  assert.ok(colour, `no legend colour for class ${classId}`);
  return hexRgb(colour);
}

/** The legend as the page shows it: class id, label, count and colour of each entry. */
export async function legendEntries(page) {
  return page.$$eval('#legend li', (items) =>
    items.map((li) => ({
      classId: Number(li.dataset.classId),
      label: li.querySelector('.legend-label').textContent.trim(),
      count: li.querySelector('.legend-count').textContent.trim(),
      colour: li.querySelector('.swatch').getAttribute('data-colour'),
      fill: li.querySelector('.swatch rect').getAttribute('fill'),
      muted: li.classList.contains('muted'),
    })),
  );
}

/** The detection table as the page shows it: each row's texts and swatch colour. */
export async function tableRows(page) {
  return page.$$eval('#detections tbody tr', (rows) =>
    rows.map((r) => ({
      label: r.dataset.label,
      classId: Number(r.dataset.classId),
      cells: [...r.querySelectorAll('td')].map((td) => td.textContent.trim()),
      colour: r.querySelector('.swatch').getAttribute('data-colour'),
    })),
  );
}

/** Reads a ZIP's entries ({ name: Buffer }), stored or deflated (enough for the exports). */
export async function unzip(bytes) {
  const { inflateRawSync } = await import('node:zlib');
  const entries = {};
  // The end of central directory record: its signature within the last 64 KiB.
  let end = bytes.length - 22;
  while (end >= 0 && bytes.readUInt32LE(end) !== 0x06054b50) end--;
  assert.ok(end >= 0, 'not a ZIP (no end of central directory)');
  const count = bytes.readUInt16LE(end + 10);
  let at = bytes.readUInt32LE(end + 16);
  for (let i = 0; i < count; i++) {
    assert.equal(bytes.readUInt32LE(at), 0x02014b50, 'bad central directory entry');
    const method = bytes.readUInt16LE(at + 10);
    const size = bytes.readUInt32LE(at + 20);
    const nameLength = bytes.readUInt16LE(at + 28);
    const extraLength = bytes.readUInt16LE(at + 30);
    const commentLength = bytes.readUInt16LE(at + 32);
    const local = bytes.readUInt32LE(at + 42);
    const name = bytes.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    const dataAt = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
    const data = bytes.subarray(dataAt, dataAt + size);
    entries[name] = method === 8 ? inflateRawSync(data) : Buffer.from(data);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/**
 * Reads the canvas around image point (x, y) (image pixels) and returns the pixel within
 * `radius` canvas pixels closest to `rgb`, with its distance (max channel difference).
 */
export async function canvasNear(page, x, y, rgb, radius = 2) {
  return page.evaluate(
    ({ x, y, rgb, radius }) => {
      const canvas = document.querySelector('#result-canvas');
      const ctx = canvas.getContext('2d');
      const frameWidth = Number(canvas.dataset.frameWidth || 0);
      const scale = canvas.width / frameWidth;
      const cx = Math.round(x * scale);
      const cy = Math.round(y * scale);
      const x0 = Math.max(0, cx - radius);
      const y0 = Math.max(0, cy - radius);
      const w = Math.min(canvas.width, cx + radius + 1) - x0;
      const h = Math.min(canvas.height, cy + radius + 1) - y0;
      const data = ctx.getImageData(x0, y0, w, h).data;
      let best = { distance: 1e9, pixel: null };
      for (let i = 0; i < data.length; i += 4) {
        const p = [data[i], data[i + 1], data[i + 2]];
        const d = Math.max(...p.map((v, k) => Math.abs(v - rgb[k])));
        if (d < best.distance) best = { distance: d, pixel: p };
      }
      return best;
    },
    { x, y, rgb, radius },
  );
}

/** The canvas pixel at image point (x, y). */
export async function canvasAt(page, x, y) {
  return page.evaluate(
    ({ x, y }) => {
      const canvas = document.querySelector('#result-canvas');
      const scale = canvas.width / Number(canvas.dataset.frameWidth || 0);
      const d = canvas.getContext('2d').getImageData(Math.round(x * scale), Math.round(y * scale), 1, 1).data;
      return [d[0], d[1], d[2]];
    },
    { x, y },
  );
}

/** Asserts the bottom edge of each listed box carries its class's legend colour. */
export async function assertBoxesDrawn(page, listed, tolerance = 40) {
  for (const d of listed) {
    const rgb = await legendColour(page, d.classId);
    const [x1, , x2, y2] = d.box;
    const near = await canvasNear(page, (x1 + x2) / 2, y2, rgb, 2);
    assert.ok(
      near.distance <= tolerance,
      `the bottom edge of ${d.label} [${d.box}] is not ${rgb} on the canvas (closest ${near.pixel})`,
    );
  }
}

/** Serves files on a random loopback port; `routes` maps a path to `{ body, type }`. */
export async function serveLoopback(routes) {
  const hits = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url);
    const route = routes[req.url.split('?')[0]];
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': route.type,
      'content-length': route.body.length,
      'access-control-allow-origin': '*',
    });
    res.end(route.body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: (p) => `http://127.0.0.1:${port}${p}`,
    hits,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Reads a PNG's width and height from its IHDR chunk, checking the signature first. */
export function pngSize(bytes) {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  assert.deepEqual([...bytes.subarray(0, 8)], signature, 'not a PNG (bad signature)');
  assert.equal(bytes.subarray(12, 16).toString('latin1'), 'IHDR', 'the first PNG chunk is not IHDR');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** Drops `files` ({name, type, base64}) on `selector` with a synthetic DataTransfer. */
export async function dropFiles(page, selector, files) {
  return page.evaluate(
    async ({ selector, files }) => {
      const dt = new DataTransfer();
      for (const f of files) {
        const bytes = Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0));
        dt.items.add(new File([bytes], f.name, { type: f.type }));
      }
      const target = document.querySelector(selector);
      const fire = (type) =>
        target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
      fire('dragenter');
      fire('dragover');
      // The page updates the drop zone's class on its next turn.
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      const highlighted = document.querySelector('#dropzone').classList.contains('dragging');
      const accepted = !fire('drop'); // dispatchEvent returns false when the page called preventDefault
      return { highlighted, accepted };
    },
    { selector, files },
  );
}

/** Pastes `files` ({name, type, base64}) and/or `text` as a ClipboardEvent on the document. */
export async function paste(page, { files = [], text } = {}) {
  return page.evaluate(
    ({ files, text }) => {
      const dt = new DataTransfer();
      for (const f of files) {
        const bytes = Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0));
        dt.items.add(new File([bytes], f.name, { type: f.type }));
      }
      if (text !== undefined) dt.setData('text/plain', text);
      const event = new ClipboardEvent('paste', { bubbles: true, cancelable: true, clipboardData: dt });
      return !document.dispatchEvent(event);
    },
    { files, text },
  );
}

/** A fixture as `{ name, type, base64 }` for dropFiles/paste. */
export function fileSpec(filePath, type) {
  return { name: path.basename(filePath), type, base64: readFileSync(filePath).toString('base64') };
}

/** A `width` x `height` RGB PNG of seeded noise (incompressible: about 3 bytes a pixel). */
export async function noisePng(width, height, seed = 1) {
  const { deflateSync, crc32 } = await import('node:zlib');
  const raw = Buffer.alloc((width * 3 + 1) * height);
  let s = seed >>> 0 || 1;
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    raw[row] = 0; // no filter
    for (let i = 1; i <= width * 3; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      raw[row + i] = s & 0xff;
    }
  }
  const chunk = (type, data) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'latin1');
    data.copy(out, 8);
    out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)) >>> 0, 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 1 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * A `width` x `height` JPEG "photo" made by Chromium: grey noise (so it compresses like a
 * photo, several MB at 12 MP) with the shapes the demo model knows drawn on it. `shapes` are
 * `{ label, box: [x1, y1, x2, y2] }`; returns the JPEG's bytes.
 */
export async function photoJpeg(width, height, shapes, { quality = 0.9, noise = 48, seed = 7 } = {}) {
  const b = await browser();
  const context = await b.newContext();
  try {
    const page = await context.newPage();
    await page.setContent('<canvas></canvas>');
    const base64 = await page.evaluate(
      async ({ width, height, shapes, quality, noise, seed }) => {
        const canvas = document.querySelector('canvas');
        canvas.width = width;
        canvas.height = height;
        const ctx = canvas.getContext('2d');
        const image = ctx.createImageData(width, height);
        let s = seed >>> 0 || 1;
        for (let i = 0; i < image.data.length; i += 4) {
          s ^= s << 13;
          s ^= s >>> 17;
          s ^= s << 5;
          const v = 128 + ((s & 0xff) / 255 - 0.5) * noise;
          image.data[i] = v;
          image.data[i + 1] = v;
          image.data[i + 2] = v;
          image.data[i + 3] = 255;
        }
        ctx.putImageData(image, 0, 0);
        const colours = { red_rectangle: '#c8323c', green_ellipse: '#0ac80a', blue_triangle: '#3214c8' };
        for (const { label, box } of shapes) {
          const [x1, y1, x2, y2] = box;
          ctx.fillStyle = colours[label];
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
        const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
        const bytes = new Uint8Array(await blob.arrayBuffer());
        let text = '';
        for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        return btoa(text);
      },
      { width, height, shapes, quality, noise, seed },
    );
    return Buffer.from(base64, 'base64');
  } finally {
    await context.close();
  }
}
