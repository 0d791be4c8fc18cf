//! Building the model's input tensor from an RGB image, for each layout.

use image::{imageops, RgbImage};

use crate::model::Layout;
use crate::resample::{self, Source};
use crate::resize::{FeedPlan, ResizeRule};

/// The Caffe-era BGR mean the ONNX model zoo's Faster R-CNN was trained with.
pub const ZOO_MEAN_BGR: [f32; 3] = [102.9801, 115.9465, 122.7717];

/// A CHW float32 tensor plus how its pixel grid relates to the original image.
#[derive(Debug, Clone)]
pub struct InputTensor {
    pub data: Vec<f32>,
    /// [channels, height, width]
    pub shape: [usize; 3],
    /// Multiply a model box's x by this to get original pixels (1.0 when the graph is
    /// handed the image at its own size).
    pub scale_x: f32,
    pub scale_y: f32,
    /// How the tensor was made, for torchvision-layout models.
    pub plan: Option<FeedPlan>,
}

/// The tensor for a whole image at its own scale.
pub fn build(image: &RgbImage, layout: Layout, rule: ResizeRule) -> InputTensor {
    let source = Source::whole(image);
    build_from(&source, image.dimensions(), layout, rule)
}

/// The tensor for `source`, which stands for an `original`-sized image (the whole decoded
/// picture, a reduced-scale decode of it, or a tile of it).
///
/// torchvision layout: built at the size the model works at (see [`FeedPlan`]), resampled
/// as the graph itself would resample the original, so the graph's own resize does nothing
/// and boxes map back to the original by the scale factors. Zoo layout: resized and padded
/// as that layout requires.
pub fn build_from(
    source: &Source<'_>,
    original: (u32, u32),
    layout: Layout,
    rule: ResizeRule,
) -> InputTensor {
    match layout {
        Layout::Torchvision => {
            torchvision_planned(source, original, rule.plan(original.0, original.1))
        }
        Layout::Zoo => zoo_from(source, original),
    }
}

/// The torchvision-layout tensor by `plan`.
pub fn torchvision_planned(
    source: &Source<'_>,
    original: (u32, u32),
    plan: FeedPlan,
) -> InputTensor {
    let resampled = plan.resample_size(original);
    let planes = resample::bilinear_planes(source, original, resampled);
    let (feed, data) = match plan {
        FeedPlan::Compensated { working, feed } => {
            (feed, resample::compensate(&planes, working, feed))
        }
        _ => (resampled, planes),
    };
    // The graph maps boxes back to the size it was handed; `Approximate` is handed the
    // working size (and resizes it once more itself).
    InputTensor {
        data,
        shape: [3, feed.1 as usize, feed.0 as usize],
        scale_x: original.0 as f32 / feed.0 as f32,
        scale_y: original.1 as f32 / feed.1 as f32,
        plan: Some(plan),
    }
}

/// RGB, `u8 / 255` in float32 (division, as torchvision's `to_tensor` does, so the tensor is
/// bit-identical to Python's), laid out as three planes.
pub fn torchvision(image: &RgbImage) -> InputTensor {
    let (w, h) = image.dimensions();
    let plane = w as usize * h as usize;
    let mut data = vec![0f32; 3 * plane];
    let (r, rest) = data.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    for (i, px) in image.as_raw().chunks_exact(3).enumerate() {
        r[i] = f32::from(px[0]) / 255.0;
        g[i] = f32::from(px[1]) / 255.0;
        b[i] = f32::from(px[2]) / 255.0;
    }
    InputTensor {
        data,
        shape: [3, h as usize, w as usize],
        scale_x: 1.0,
        scale_y: 1.0,
        plan: None,
    }
}

/// The size the zoo model wants: short side 800, long side at most 1333.
pub fn zoo_resized_size(width: u32, height: u32) -> (u32, u32) {
    let (short, long) = (width.min(height) as f32, width.max(height) as f32);
    let scale = (800.0 / short).min(1333.0 / long);
    let w = ((width as f32 * scale).round() as u32).max(1);
    let h = ((height as f32 * scale).round() as u32).max(1);
    (w, h)
}

/// Resize, BGR minus the mean, zero-pad to multiples of 32.
pub fn zoo(image: &RgbImage) -> InputTensor {
    zoo_from(&Source::whole(image), image.dimensions())
}

/// [`zoo`] for a source standing for an `original`-sized image (reduced or a tile).
pub fn zoo_from(view: &Source<'_>, original: (u32, u32)) -> InputTensor {
    let (w0, h0) = original;
    let (w, h) = zoo_resized_size(w0, h0);
    let whole =
        view.x0 == 0 && view.y0 == 0 && (view.width, view.height) == view.image.dimensions();
    let cropped;
    let image = if whole {
        view.image
    } else {
        cropped =
            imageops::crop_imm(view.image, view.x0, view.y0, view.width, view.height).to_image();
        &cropped
    };
    let resized;
    let source = if (w, h) == image.dimensions() {
        image
    } else {
        resized = imageops::resize(image, w, h, imageops::FilterType::Triangle);
        &resized
    };
    let pad = |v: u32| v.div_ceil(32) * 32;
    let (pw, ph) = (pad(w) as usize, pad(h) as usize);
    let plane = pw * ph;
    let mut data = vec![0f32; 3 * plane];
    for (y, row) in source.as_raw().chunks_exact(w as usize * 3).enumerate() {
        for (x, px) in row.chunks_exact(3).enumerate() {
            let i = y * pw + x;
            data[i] = f32::from(px[2]) - ZOO_MEAN_BGR[0];
            data[plane + i] = f32::from(px[1]) - ZOO_MEAN_BGR[1];
            data[2 * plane + i] = f32::from(px[0]) - ZOO_MEAN_BGR[2];
        }
    }
    InputTensor {
        data,
        shape: [3, ph, pw],
        scale_x: w0 as f32 / w as f32,
        scale_y: h0 as f32 / h as f32,
        plan: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchvision_tensor_is_planar_rgb_over_255() {
        let mut img = RgbImage::new(2, 1);
        img.put_pixel(0, 0, image::Rgb([255, 0, 51]));
        img.put_pixel(1, 0, image::Rgb([1, 2, 3]));
        let t = torchvision(&img);
        assert_eq!(t.shape, [3, 1, 2]);
        assert_eq!(
            t.data,
            vec![1.0, 1.0 / 255.0, 0.0, 2.0 / 255.0, 0.2, 3.0 / 255.0]
        );
    }

    /// Images the graph keeps at their size get exactly the tensor Lookout always built.
    #[test]
    fn small_images_get_the_plain_tensor_bit_for_bit() {
        let img = RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, (x ^ y) as u8])
        });
        for rule in [
            ResizeRule::default(),
            ResizeRule::NativeCap { max_long: 1333 },
        ] {
            let built = build(&img, Layout::Torchvision, rule);
            let plain = torchvision(&img);
            assert_eq!(built.shape, plain.shape);
            assert_eq!(built.data, plain.data, "{rule:?}");
            assert_eq!((built.scale_x, built.scale_y), (1.0, 1.0));
        }
    }

    #[test]
    fn zoo_size_follows_short_800_long_1333() {
        assert_eq!(zoo_resized_size(640, 480), (1067, 800));
        assert_eq!(zoo_resized_size(480, 640), (800, 1067));
        // A panorama is bounded by its long side.
        assert_eq!(zoo_resized_size(4000, 1000), (1333, 333));
    }

    #[test]
    fn zoo_tensor_is_bgr_minus_mean_and_zero_padded() {
        let img = RgbImage::from_pixel(1067, 800, image::Rgb([10, 20, 30]));
        let t = zoo(&img);
        assert_eq!(t.shape, [3, 800, 1088]);
        let plane = 800 * 1088;
        assert_eq!(t.data[0], 30.0 - ZOO_MEAN_BGR[0]);
        assert_eq!(t.data[plane], 20.0 - ZOO_MEAN_BGR[1]);
        assert_eq!(t.data[2 * plane], 10.0 - ZOO_MEAN_BGR[2]);
        assert_eq!(t.data[1087], 0.0, "padding is zero");
        assert_eq!((t.scale_x, t.scale_y), (1.0, 1.0));
    }
}
