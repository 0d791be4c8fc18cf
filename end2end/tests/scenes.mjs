// Scenes of the demo model's shapes (a red rectangle, a green ellipse, a blue triangle on grey
// noise, the colours of the training scenes), drawn in Node, and the raw video Chromium's fake
// camera plays: YUV4MPEG2 (.y4m), 4:2:0, BT.601 studio range.

import { writeFileSync } from 'node:fs';

export const COLOURS = {
  red_rectangle: [200, 50, 60],
  green_ellipse: [10, 200, 10],
  blue_triangle: [50, 20, 200],
};

/** The scene at frame `i`: the three shapes, drifting a few pixels a frame (on 640x480). */
export function sceneShapes(i = 0) {
  const dx = 2 * i;
  return [
    { label: 'red_rectangle', box: [60 + dx, 70, 200 + dx, 180] },
    { label: 'green_ellipse', box: [330 - dx, 60, 500 - dx, 170] },
    { label: 'blue_triangle', box: [240, 270 + (i % 10), 380, 410 + (i % 10)] },
  ];
}

function inside(label, [x1, y1, x2, y2], x, y) {
  if (x < x1 || x > x2 || y < y1 || y > y2) return false;
  if (label === 'red_rectangle') return true;
  if (label === 'green_ellipse') {
    const rx = (x2 - x1) / 2;
    const ry = (y2 - y1) / 2;
    const u = (x - (x1 + rx)) / rx;
    const v = (y - (y1 + ry)) / ry;
    return u * u + v * v <= 1;
  }
  // blue_triangle: apex at the top middle, base along the bottom.
  const t = (y - y1) / (y2 - y1);
  const half = ((x2 - x1) / 2) * t;
  const mid = (x1 + x2) / 2;
  return x >= mid - half && x <= mid + half;
}

/** A `width` x `height` RGB frame of `shapes` on grey noise (seeded). */
export function sceneRgb(width, height, shapes, seed = 7, noise = 48) {
  const rgb = Buffer.alloc(width * height * 3);
  let s = seed >>> 0 || 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      let c = null;
      for (const { label, box } of shapes) if (inside(label, box, x + 0.5, y + 0.5)) c = COLOURS[label];
      const v = Math.round(128 + ((s & 0xff) / 255 - 0.5) * noise);
      const at = (y * width + x) * 3;
      rgb[at] = c ? c[0] : v;
      rgb[at + 1] = c ? c[1] : v;
      rgb[at + 2] = c ? c[2] : v;
    }
  }
  return rgb;
}

/** Writes `frames` (RGB buffers) as a YUV4MPEG2 clip at `fps`. */
export function writeY4m(file, width, height, frames, fps = 30) {
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`, 'latin1');
  const parts = [header];
  const cw = width / 2;
  const ch = height / 2;
  for (const rgb of frames) {
    const y = Buffer.alloc(width * height);
    const u = Buffer.alloc(cw * ch);
    const v = Buffer.alloc(cw * ch);
    for (let i = 0; i < width * height; i++) {
      const [r, g, b] = [rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]];
      y[i] = Math.round(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
    }
    for (let cy = 0; cy < ch; cy++) {
      for (let cx = 0; cx < cw; cx++) {
        let [r, g, b] = [0, 0, 0];
        for (const [ox, oy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
          const i = (2 * cy + oy) * width + 2 * cx + ox;
          r += rgb[3 * i] / 4;
          g += rgb[3 * i + 1] / 4;
          b += rgb[3 * i + 2] / 4;
        }
        u[cy * cw + cx] = Math.round(128 + (-37.797 * r - 74.203 * g + 112 * b) / 255);
        v[cy * cw + cx] = Math.round(128 + (112 * r - 93.786 * g - 18.214 * b) / 255);
      }
    }
    parts.push(Buffer.from('FRAME\n', 'latin1'), y, u, v);
  }
  writeFileSync(file, Buffer.concat(parts));
}
