//! Resampling an RGB picture into the model's input tensor exactly as onnxruntime's `Resize`
//! would resample it inside the graph (mode `linear`, `half_pixel` coordinates, no
//! antialiasing: what torchvision's `interpolate(..., mode="bilinear", align_corners=False)`
//! exports to), and the exact inverse of that resize for sizes the graph would resize again.
//!
//! The tap positions and weights follow onnxruntime's `SetupUpsampleBilinear` (float32
//! throughout): for output `x` of `n_out`, with `scale = n_out / n_in`, the input coordinate
//! is `(x + 0.5) / scale - 0.5` (or `x` when the scale is 1), clamped to `[0, n_in - 1]`; the
//! two taps are its floor and the next pixel, weighted by the distances to them.

use image::RgbImage;

/// The part of a decoded picture to resample, and the original pixels it stands for.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub image: &'a RgbImage,
    /// The view's top-left corner and size, in the picture's own pixels.
    pub x0: u32,
    pub y0: u32,
    pub width: u32,
    pub height: u32,
    /// How many original pixels one picture pixel spans (1, or 2/4/8 for a JPEG decoded at
    /// a reduced scale). Picture pixel `i` is centred on original coordinate `(i + 0.5) *
    /// pitch - 0.5`.
    pub pitch: u32,
}

impl<'a> Source<'a> {
    /// The whole picture at its own scale.
    pub fn whole(image: &'a RgbImage) -> Self {
        Self {
            image,
            x0: 0,
            y0: 0,
            width: image.width(),
            height: image.height(),
            pitch: 1,
        }
    }
}

/// The two taps and their weights for every output position along one axis.
#[derive(Debug, Clone)]
pub(crate) struct Taps {
    pub first: Vec<usize>,
    pub second: Vec<usize>,
    /// Weight of `first` (onnxruntime's `dx2`) and of `second` (`dx1`).
    pub w_first: Vec<f32>,
    pub w_second: Vec<f32>,
}

impl Taps {
    /// `n_out` samples over a frame `frame` original pixels long, read from `n_src` source
    /// pixels of `pitch` original pixels each.
    pub fn new(frame: u32, n_out: u32, n_src: u32, pitch: u32) -> Self {
        let n = n_out as usize;
        let mut taps = Taps {
            first: Vec::with_capacity(n),
            second: Vec::with_capacity(n),
            w_first: Vec::with_capacity(n),
            w_second: Vec::with_capacity(n),
        };
        let scale = n_out as f32 / frame.max(1) as f32;
        let last = n_src.max(1) - 1;
        for x in 0..n_out {
            let mut coordinate = if scale == 1.0 {
                x as f32
            } else {
                (x as f32 + 0.5) / scale - 0.5
            };
            if pitch > 1 {
                coordinate = (coordinate + 0.5) / pitch as f32 - 0.5;
            }
            let coordinate = coordinate.clamp(0.0, last as f32);
            let first = (coordinate as u32).min(last);
            let second = (first + 1).min(last);
            let (w_first, w_second) = if first == second {
                (0.5, 0.5)
            } else {
                (
                    (coordinate - second as f32).abs(),
                    (coordinate - first as f32).abs(),
                )
            };
            taps.first.push(first as usize);
            taps.second.push(second as usize);
            taps.w_first.push(w_first);
            taps.w_second.push(w_second);
        }
        taps
    }
}

/// `u8 / 255` in float32, by division as torchvision's `to_tensor` does.
fn unit_table() -> [f32; 256] {
    let mut table = [0f32; 256];
    for (v, slot) in table.iter_mut().enumerate() {
        *slot = v as f32 / 255.0;
    }
    table
}

/// Planar RGB in `0..1`, `[3, height, width]`, resampled from `source` (which stands for
/// `frame` original pixels) to `width` x `height`.
pub fn bilinear_planes(source: &Source<'_>, frame: (u32, u32), size: (u32, u32)) -> Vec<f32> {
    let (width, height) = size;
    let plane = width as usize * height as usize;
    let mut out = vec![0f32; 3 * plane];
    if plane == 0 || source.width == 0 || source.height == 0 {
        return out;
    }
    let lut = unit_table();
    let stride = source.image.width() as usize * 3;
    let raw = source.image.as_raw();
    let x0 = source.x0 as usize;
    let y0 = source.y0 as usize;
    // The frame's identity (same size, own scale): a plain copy, bit-identical to `to_tensor`.
    if frame == size && source.pitch == 1 && (source.width, source.height) == size {
        let (r, rest) = out.split_at_mut(plane);
        let (g, b) = rest.split_at_mut(plane);
        for y in 0..height as usize {
            let row = &raw[(y0 + y) * stride + x0 * 3..][..width as usize * 3];
            let at = y * width as usize;
            for (x, px) in row.chunks_exact(3).enumerate() {
                r[at + x] = lut[usize::from(px[0])];
                g[at + x] = lut[usize::from(px[1])];
                b[at + x] = lut[usize::from(px[2])];
            }
        }
        return out;
    }
    let xs = Taps::new(frame.0, width, source.width, source.pitch);
    let ys = Taps::new(frame.1, height, source.height, source.pitch);
    // Byte offsets of the taps within a row.
    let x_first: Vec<usize> = xs.first.iter().map(|&i| (x0 + i) * 3).collect();
    let x_second: Vec<usize> = xs.second.iter().map(|&i| (x0 + i) * 3).collect();
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    for y in 0..height as usize {
        let row1 = &raw[(y0 + ys.first[y]) * stride..][..stride];
        let row2 = &raw[(y0 + ys.second[y]) * stride..][..stride];
        let (dy2, dy1) = (ys.w_first[y], ys.w_second[y]);
        let at = y * width as usize;
        for x in 0..width as usize {
            let (dx2, dx1) = (xs.w_first[x], xs.w_second[x]);
            let (a, c) = (x_first[x], x_second[x]);
            // onnxruntime's order: dx2*dy2*X11 + dx1*dy2*X21 + dx2*dy1*X12 + dx1*dy1*X22.
            let (w11, w21, w12, w22) = (dx2 * dy2, dx1 * dy2, dx2 * dy1, dx1 * dy1);
            let sample = |ch: usize| {
                w11 * lut[usize::from(row1[a + ch])]
                    + w21 * lut[usize::from(row1[c + ch])]
                    + w12 * lut[usize::from(row2[a + ch])]
                    + w22 * lut[usize::from(row2[c + ch])]
            };
            r[at + x] = sample(0);
            g[at + x] = sample(1);
            b[at + x] = sample(2);
        }
    }
    out
}

/// One assignment of the inverse resize along an axis, in the order they must run.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    /// `v[col] = t[eq]`
    Set { col: usize, eq: usize },
    /// `v[col] = (t[eq] - w_from * v[from]) / w_col`
    Solve {
        col: usize,
        from: usize,
        eq: usize,
        w_from: f32,
        w_col: f32,
    },
    /// `v[col] = v[from]` (a column no output reads: any value does, a neighbour's keeps the
    /// picture sane)
    Copy { col: usize, from: usize },
}

/// The steps that compute, from `n_out` target samples `t`, `n_in` values `v` whose
/// onnxruntime bilinear resize to `n_out` is `t` (a right inverse of the resize, `n_in >=
/// n_out`).
///
/// Consecutive outputs read overlapping pairs of inputs (a chain); each chain has one more
/// unknown than equations. The free one is set where the weights are closest to even, and
/// the chain is solved outwards from it, dividing always by the larger weight, so that
/// rounding errors shrink rather than grow along the chain.
fn inverse_steps(n_in: u32, n_out: u32) -> Vec<Step> {
    let taps = Taps::new(n_in, n_out, n_in, 1);
    let m = n_out as usize;
    let n = n_in as usize;
    let mut steps = Vec::with_capacity(n + 1);
    let mut defined = vec![false; n];
    let linked = |q: usize| taps.first[q] != taps.second[q];
    let mut j = 0;
    while j < m {
        let mut e = j;
        while e + 1 < m && linked(e) && linked(e + 1) && taps.first[e + 1] == taps.second[e] {
            e += 1;
        }
        let k = (j..=e)
            .min_by(|&a, &b| {
                (taps.w_second[a] - 0.5)
                    .abs()
                    .total_cmp(&(taps.w_second[b] - 0.5).abs())
            })
            .unwrap_or(j);
        steps.push(Step::Set {
            col: taps.first[k],
            eq: k,
        });
        defined[taps.first[k]] = true;
        for q in k..=e {
            let col = taps.second[q];
            if !linked(q) || defined[col] {
                continue;
            }
            steps.push(if taps.w_second[q] > 1e-6 {
                Step::Solve {
                    col,
                    from: taps.first[q],
                    eq: q,
                    w_from: taps.w_first[q],
                    w_col: taps.w_second[q],
                }
            } else {
                Step::Set { col, eq: q }
            });
            defined[col] = true;
        }
        for q in (j..k).rev() {
            let col = taps.first[q];
            if defined[col] {
                continue;
            }
            steps.push(if taps.w_first[q] > 1e-6 {
                Step::Solve {
                    col,
                    from: taps.second[q],
                    eq: q,
                    w_from: taps.w_second[q],
                    w_col: taps.w_first[q],
                }
            } else {
                Step::Set { col, eq: q }
            });
            defined[col] = true;
        }
        j = e + 1;
    }
    // Columns no output reads (between chains): copy the nearest one on the left.
    for col in 0..n {
        if !defined[col] {
            let from = (0..col)
                .rev()
                .find(|&c| defined[c])
                .or_else(|| (col..n).find(|&c| defined[c]));
            if let Some(from) = from {
                steps.push(Step::Copy { col, from });
                defined[col] = true;
            }
        }
    }
    steps
}

/// Runs `steps` on one row of scalars.
fn run_steps(steps: &[Step], t: &[f32], v: &mut [f32]) {
    for step in steps {
        match *step {
            Step::Set { col, eq } => v[col] = t[eq],
            Step::Solve {
                col,
                from,
                eq,
                w_from,
                w_col,
            } => v[col] = (t[eq] - w_from * v[from]) / w_col,
            Step::Copy { col, from } => v[col] = v[from],
        }
    }
}

/// Runs `steps` on whole rows (`t` holds the target rows, `v` receives the rows, each
/// `width` long).
fn run_steps_on_rows(steps: &[Step], t: &[f32], v: &mut [f32], width: usize) {
    for step in steps {
        match *step {
            Step::Set { col, eq } => {
                v[col * width..][..width].copy_from_slice(&t[eq * width..][..width])
            }
            Step::Solve {
                col,
                from,
                eq,
                w_from,
                w_col,
            } => {
                let target = &t[eq * width..][..width];
                let (src, dst) = if from < col {
                    let (a, b) = v.split_at_mut(col * width);
                    (&a[from * width..][..width], &mut b[..width])
                } else {
                    let (a, b) = v.split_at_mut(from * width);
                    (&b[..width], &mut a[col * width..][..width])
                };
                for ((d, &s), &t) in dst.iter_mut().zip(src).zip(target) {
                    *d = (t - w_from * s) / w_col;
                }
            }
            Step::Copy { col, from } => {
                v.copy_within(from * width..(from + 1) * width, col * width)
            }
        }
    }
}

/// Expands planar RGB `planes` (`[3, working.1, working.0]`) to `feed` (at least as large on
/// both axes) so that onnxruntime's bilinear resize of the result to `working` gives `planes`
/// back, to float rounding. The result is not a picture anyone should look at (near sharp
/// edges it rings), but it is what makes the graph's second resize see the right pixels.
pub fn compensate(planes: &[f32], working: (u32, u32), feed: (u32, u32)) -> Vec<f32> {
    let (ww, wh) = (working.0 as usize, working.1 as usize);
    let (pw, ph) = (feed.0 as usize, feed.1 as usize);
    // Along x, row by row: [3][wh][ww] -> [3][wh][pw].
    let mut wide = vec![0f32; 3 * wh * pw];
    if pw == ww {
        wide.copy_from_slice(&planes[..3 * wh * ww]);
    } else {
        let steps = inverse_steps(feed.0, working.0);
        for (t, v) in planes.chunks_exact(ww).zip(wide.chunks_exact_mut(pw)) {
            run_steps(&steps, t, v);
        }
    }
    if ph == wh {
        return wide;
    }
    // Along y, whole rows at a time: [3][wh][pw] -> [3][ph][pw].
    let steps = inverse_steps(feed.1, working.1);
    let mut out = vec![0f32; 3 * ph * pw];
    for (t, v) in wide
        .chunks_exact(wh * pw)
        .zip(out.chunks_exact_mut(ph * pw))
    {
        run_steps_on_rows(&steps, t, v, pw);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// onnxruntime's bilinear resize of planar data, as a reference for the inverse.
    fn resize_planes(planes: &[f32], from: (u32, u32), to: (u32, u32)) -> Vec<f32> {
        let xs = Taps::new(from.0, to.0, from.0, 1);
        let ys = Taps::new(from.1, to.1, from.1, 1);
        let (fw, fh) = (from.0 as usize, from.1 as usize);
        let (tw, th) = (to.0 as usize, to.1 as usize);
        let mut out = vec![0f32; 3 * tw * th];
        for c in 0..3 {
            let src = &planes[c * fw * fh..][..fw * fh];
            for y in 0..th {
                for x in 0..tw {
                    let (dx2, dx1, dy2, dy1) =
                        (xs.w_first[x], xs.w_second[x], ys.w_first[y], ys.w_second[y]);
                    let at = |yy: usize, xx: usize| src[yy * fw + xx];
                    out[c * tw * th + y * tw + x] = dx2 * dy2 * at(ys.first[y], xs.first[x])
                        + dx1 * dy2 * at(ys.first[y], xs.second[x])
                        + dx2 * dy1 * at(ys.second[y], xs.first[x])
                        + dx1 * dy1 * at(ys.second[y], xs.second[x]);
                }
            }
        }
        out
    }

    fn picture(width: u32, height: u32) -> RgbImage {
        // Flat regions, hard edges and noise: the worst case for an inverse.
        RgbImage::from_fn(width, height, |x, y| {
            let noise = ((x * 7919 + y * 104_729) % 61) as u8;
            if (x / 37 + y / 23) % 2 == 0 {
                image::Rgb([200u8.saturating_sub(noise), 30 + noise, 40])
            } else {
                image::Rgb([20 + noise, 120, 250u8.saturating_sub(noise)])
            }
        })
    }

    #[test]
    fn the_identity_is_a_plain_copy_and_bit_exact() {
        let image = picture(13, 7);
        let planes = bilinear_planes(&Source::whole(&image), (13, 7), (13, 7));
        assert_eq!(planes[0], f32::from(image.get_pixel(0, 0)[0]) / 255.0);
        assert_eq!(
            planes[13 * 7 + 5],
            f32::from(image.get_pixel(5, 0)[1]) / 255.0
        );
    }

    #[test]
    fn taps_follow_onnxruntime() {
        // 4 -> 2: coordinates 0.5 and 2.5, even weights.
        let t = Taps::new(4, 2, 4, 1);
        assert_eq!(
            (t.first.clone(), t.second.clone()),
            (vec![0, 2], vec![1, 3])
        );
        assert_eq!((t.w_first[0], t.w_second[0]), (0.5, 0.5));
        // Upscale 2 -> 4: the first output clamps to pixel 0 (both taps the same, 0.5/0.5 as
        // onnxruntime sets them), the last to pixel 1.
        let t = Taps::new(2, 4, 2, 1);
        assert_eq!(t.first, vec![0, 0, 0, 1]);
        assert_eq!(t.second, vec![1, 1, 1, 1]);
        assert_eq!((t.w_first[0], t.w_second[0]), (1.0, 0.0));
        assert_eq!((t.w_first[3], t.w_second[3]), (0.5, 0.5));
        // A picture decoded at half scale stands for the same frame: sampling 8 -> 4 from the
        // 4-pixel half-scale picture lands on its pixel centres.
        let t = Taps::new(8, 4, 4, 2);
        assert_eq!(t.first, vec![0, 1, 2, 3]);
        assert!(t.w_second[..3].iter().all(|&w| w == 0.0));
    }

    #[test]
    fn the_inverse_is_undone_by_the_graphs_resize() {
        for (working, feed) in [
            ((1066u32, 799u32), (1068u32, 801u32)),
            ((799, 1066), (801, 1068)),
            ((511, 383), (622, 466)),
            ((40, 30), (79, 59)),
            ((50, 20), (50, 23)),
        ] {
            let image = picture(working.0, working.1);
            let target = bilinear_planes(&Source::whole(&image), working, working);
            let fed = compensate(&target, working, feed);
            assert_eq!(fed.len(), 3 * (feed.0 * feed.1) as usize);
            let back = resize_planes(&fed, feed, working);
            let worst = back
                .iter()
                .zip(&target)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            let range = fed.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(worst < 2e-5, "{working:?} -> {feed:?}: off by {worst}");
            assert!(range < 8.0, "{working:?} -> {feed:?}: values up to {range}");
        }
    }
}
