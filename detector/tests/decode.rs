//! `decode` on every format and failure people can send it.

use std::io::Cursor;

use detector::{decode, ImageError, Limits};
use image::{ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

fn encode(image: &image::DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn gradient(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x + y) % 256) as u8,
        ])
    })
}

#[test]
fn empty_input_says_no_image_was_sent() {
    assert_eq!(decode(&[], &Limits::default()), Err(ImageError::Empty));
}

#[test]
fn text_is_not_an_image() {
    let err = decode(
        b"hello, this is plainly text and not a picture",
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err, ImageError::NotAnImage);
    assert!(err.to_string().contains("not an image"));
}

#[test]
fn known_but_unsupported_formats_are_named() {
    let cases: [(&[u8], &str); 4] = [
        (b"%PDF-1.7\n%....", "PDF"),
        (
            b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
            "HEIC/HEIF",
        ),
        (b"<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>", "SVG"),
        (b"qoif\x00\x00\x00\x10\x00\x00\x00\x10\x03\x00", "QOI"),
    ];
    for (bytes, name) in cases {
        let err = decode(bytes, &Limits::default()).unwrap_err();
        assert_eq!(
            err,
            ImageError::UnsupportedFormat(name.to_owned()),
            "{name}"
        );
        assert!(err.to_string().contains(name));
    }
}

#[test]
fn every_supported_format_round_trips() {
    let original = gradient(37, 23);
    let dynamic = image::DynamicImage::ImageRgb8(original.clone());
    for (format, lossless) in [
        (ImageFormat::Png, true),
        (ImageFormat::Bmp, true),
        (ImageFormat::Tiff, true),
        (ImageFormat::WebP, true),
        (ImageFormat::Gif, false),
        (ImageFormat::Jpeg, false),
    ] {
        let bytes = encode(&dynamic, format);
        let decoded =
            decode(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(decoded.dimensions(), (37, 23), "{format:?}");
        if lossless {
            assert_eq!(decoded, original, "{format:?} is lossless");
        } else {
            let max_diff = decoded
                .as_raw()
                .iter()
                .zip(original.as_raw())
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap();
            assert!(max_diff < 80, "{format:?} differs by {max_diff}");
        }
    }
}

#[test]
fn sixteen_bit_becomes_eight_bit() {
    let img = image::ImageBuffer::<Rgb<u16>, _>::from_fn(4, 2, |x, _| {
        Rgb([x as u16 * 20000, 65535, 257])
    });
    let bytes = encode(&image::DynamicImage::ImageRgb16(img), ImageFormat::Png);
    let decoded = decode(&bytes, &Limits::default()).unwrap();
    assert_eq!(decoded.get_pixel(0, 0), &Rgb([0, 255, 1]));
    assert_eq!(decoded.get_pixel(3, 1), &Rgb([233, 255, 1]));
}

#[test]
fn alpha_is_composited_on_white() {
    let img = RgbaImage::from_fn(3, 1, |x, _| match x {
        0 => Rgba([0, 0, 0, 0]),
        1 => Rgba([0, 0, 0, 255]),
        _ => Rgba([0, 0, 0, 128]),
    });
    let bytes = encode(&image::DynamicImage::ImageRgba8(img), ImageFormat::Png);
    let decoded = decode(&bytes, &Limits::default()).unwrap();
    assert_eq!(
        decoded.get_pixel(0, 0),
        &Rgb([255, 255, 255]),
        "transparent shows white"
    );
    assert_eq!(
        decoded.get_pixel(1, 0),
        &Rgb([0, 0, 0]),
        "opaque is unchanged"
    );
    assert_eq!(
        decoded.get_pixel(2, 0),
        &Rgb([127, 127, 127]),
        "half transparent black is mid grey"
    );
}

#[test]
fn gif_gives_its_first_frame() {
    use image::codecs::gif::GifEncoder;
    use image::{Delay, Frame};
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut bytes);
        let red = RgbaImage::from_pixel(8, 8, Rgba([255, 0, 0, 255]));
        let blue = RgbaImage::from_pixel(8, 8, Rgba([0, 0, 255, 255]));
        encoder
            .encode_frames([
                Frame::from_parts(red, 0, 0, Delay::from_numer_denom_ms(100, 1)),
                Frame::from_parts(blue, 0, 0, Delay::from_numer_denom_ms(100, 1)),
            ])
            .unwrap();
    }
    let decoded = decode(&bytes, &Limits::default()).unwrap();
    let px = decoded.get_pixel(4, 4);
    assert!(px[0] > 200 && px[2] < 50, "first frame is red, got {px:?}");
}

fn png_header_claiming(width: u32, height: u32) -> Vec<u8> {
    // A valid signature, IHDR and (CRC-correct) IDAT for a huge image: the kind of small
    // file that would expand to gigabytes.
    fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(
        &mut png,
        b"IDAT",
        &[
            0x78, 0x9c, 0x63, 0x60, 0x18, 0x05, 0xa3, 0x60, 0x14, 0x0c, 0x77, 0x00, 0x00,
        ],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn decompression_bomb_is_refused_before_allocating() {
    let bomb = png_header_claiming(100_000, 100_000);
    let started = std::time::Instant::now();
    let err = decode(&bomb, &Limits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            ImageError::TooLarge {
                width: 100_000,
                height: 100_000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("100000x100000"), "{err}");
    assert!(err.to_string().contains("16384"), "names the limit: {err}");
    assert!(started.elapsed().as_secs() < 2, "refused at once");
}

#[test]
fn pixel_count_limit_applies_within_the_side_limit() {
    let bomb = png_header_claiming(10_000, 10_000);
    let err = decode(&bomb, &Limits::default()).unwrap_err();
    assert!(matches!(err, ImageError::TooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("40.0 megapixels"), "{err}");
}

#[test]
fn custom_limits_are_honoured() {
    let bytes = encode(
        &image::DynamicImage::ImageRgb8(gradient(30, 30)),
        ImageFormat::Png,
    );
    let small = Limits {
        max_side: 20,
        ..Limits::default()
    };
    assert!(matches!(
        decode(&bytes, &small),
        Err(ImageError::TooLarge { .. })
    ));
    let few_pixels = Limits {
        max_pixels: 100,
        ..Limits::default()
    };
    assert!(matches!(
        decode(&bytes, &few_pixels),
        Err(ImageError::TooLarge { .. })
    ));
    let little_memory = Limits {
        max_alloc: 1000,
        ..Limits::default()
    };
    assert!(matches!(
        decode(&bytes, &little_memory),
        Err(ImageError::TooMuchMemory { .. })
    ));
}

#[test]
fn truncated_images_are_reported_as_corrupt() {
    let dynamic = image::DynamicImage::ImageRgb8(gradient(64, 64));
    for format in [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Gif,
        ImageFormat::Bmp,
        ImageFormat::WebP,
        ImageFormat::Tiff,
    ] {
        let bytes = encode(&dynamic, format);
        let cut = &bytes[..bytes.len() / 2];
        match decode(cut, &Limits::default()) {
            Err(ImageError::Corrupt { reason, .. }) => assert!(!reason.is_empty()),
            // Some decoders fill a truncated tail with grey rather than failing (JPEG does);
            // then the image must still have its full size.
            Ok(img) => assert_eq!(img.dimensions(), (64, 64), "{format:?}"),
            Err(other) => panic!("{format:?}: {other:?}"),
        }
    }
}

#[test]
fn hostile_bytes_never_panic() {
    let dynamic = image::DynamicImage::ImageRgb8(gradient(48, 40));
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for format in [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Gif,
        ImageFormat::Bmp,
        ImageFormat::WebP,
        ImageFormat::Tiff,
    ] {
        let clean = encode(&dynamic, format);
        for _ in 0..150 {
            let mut bytes = clean.clone();
            for _ in 0..(1 + next() % 8) {
                let i = (next() as usize) % bytes.len();
                bytes[i] = next() as u8;
            }
            if next() % 4 == 0 {
                bytes.truncate((next() as usize) % bytes.len());
            }
            // Ok or a typed error; never a panic.
            let _ = decode(&bytes, &Limits::default());
            let _ = detector::decode_reduced(&bytes, &Limits::default(), 2);
        }
    }
}

/// Every fixture in `fixtures/formats` (made by PIL, see its README) decodes to the same
/// upright 64x48 picture, sampled at known points.
#[test]
fn format_fixtures_decode_to_the_upright_reference() {
    #[derive(serde::Deserialize)]
    struct Expected {
        width: u32,
        height: u32,
        points: std::collections::HashMap<String, [u32; 2]>,
        files: std::collections::BTreeMap<String, FileExpectation>,
    }
    #[derive(serde::Deserialize)]
    struct FileExpectation {
        tolerance: u8,
        expected: std::collections::HashMap<String, [u8; 3]>,
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats");
    let spec: Expected =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    assert!(
        spec.files.len() >= 20,
        "all formats and orientations are covered"
    );
    for (file, expectation) in &spec.files {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let image = decode(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(image.dimensions(), (spec.width, spec.height), "{file}");
        for (point, want) in &expectation.expected {
            let [x, y] = spec.points[point];
            let got = image.get_pixel(x, y).0;
            for c in 0..3 {
                assert!(
                    got[c].abs_diff(want[c]) <= expectation.tolerance,
                    "{file} at {point} ({x},{y}): got {got:?}, want {want:?} ±{}",
                    expectation.tolerance
                );
            }
        }
    }
}

/// A phone-sized JPEG: flat shapes over a gradient, like a photo's large structures.
fn photo_jpeg(w: u32, h: u32) -> Vec<u8> {
    let image = RgbImage::from_fn(w, h, |x, y| {
        if (x / 300 + y / 200) % 3 == 0 {
            Rgb([220, 40, 30])
        } else {
            Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 120])
        }
    });
    encode(&image::DynamicImage::ImageRgb8(image), ImageFormat::Jpeg)
}

fn mean_difference(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.as_raw().len() as f64
}

/// The full decode shrunk by `k` with a box filter: what a reduced DCT decode approximates.
fn box_shrink(image: &RgbImage, k: u32) -> RgbImage {
    let (w, h) = (image.width().div_ceil(k), image.height().div_ceil(k));
    RgbImage::from_fn(w, h, |x, y| {
        let mut sum = [0u32; 3];
        let mut n = 0;
        for yy in y * k..((y + 1) * k).min(image.height()) {
            for xx in x * k..((x + 1) * k).min(image.width()) {
                let p = image.get_pixel(xx, yy);
                for c in 0..3 {
                    sum[c] += u32::from(p[c]);
                }
                n += 1;
            }
        }
        Rgb(sum.map(|s| ((s + n / 2) / n) as u8))
    })
}

#[test]
fn a_large_jpeg_decodes_straight_at_the_reduced_scale_the_model_needs() {
    let bytes = photo_jpeg(4032, 3024);
    let probe = detector::probe(&bytes, &Limits::default()).unwrap();
    assert!(probe.reducible && !probe.progressive);
    assert_eq!(probe.upright(), (4032, 3024));
    // The shapes model works at 1333x999: half scale (2016x1512) still covers it, a quarter
    // (1008x756) does not.
    assert_eq!(probe.pitch_for((1333, 999)), 2);
    assert_eq!(probe.pitch_for((1000, 700)), 4);
    assert_eq!(probe.pitch_for((4032, 3024)), 1);
    assert_eq!(probe.pitch_for((400, 300)), 8);
    // What the budget reserves is what the reduced decode holds: a quarter of the pixels.
    assert!(
        probe.decode_bytes_at(2) * 3 < probe.decode_bytes,
        "{probe:?}"
    );
    assert_eq!(probe.decode_bytes_at(1), probe.decode_bytes);

    let reduced = detector::decode_reduced(&bytes, &Limits::default(), 2).unwrap();
    assert_eq!(reduced.image.dimensions(), (2016, 1512));
    assert_eq!((reduced.original(), reduced.pitch), ((4032, 3024), 2));
    let full = decode(&bytes, &Limits::default()).unwrap();
    let diff = mean_difference(&reduced.image, &box_shrink(&full, 2));
    assert!(
        diff < 2.0,
        "the reduced decode is the picture at half size: {diff}"
    );
}

#[test]
fn reduced_decodes_keep_the_orientation_and_report_the_upright_original() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats");
    for n in 1..=8 {
        let bytes = std::fs::read(dir.join(format!("exif/orientation_{n}.jpg"))).unwrap();
        let probe = detector::probe(&bytes, &Limits::default()).unwrap();
        assert_eq!(probe.upright(), (64, 48), "orientation {n}");
        let full = decode(&bytes, &Limits::default()).unwrap();
        let reduced = detector::decode_reduced(&bytes, &Limits::default(), 2).unwrap();
        assert_eq!(reduced.original(), (64, 48), "orientation {n}");
        assert_eq!(reduced.image.dimensions(), (32, 24), "orientation {n}");
        let diff = mean_difference(&reduced.image, &box_shrink(&full, 2));
        assert!(diff < 6.0, "orientation {n}: {diff}");
    }
}

#[test]
fn what_cannot_be_reduced_decodes_at_full_size() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats");
    for file in ["cmyk.jpg", "rgb.tiff", "rgba.png", "rgb.webp"] {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let probe = detector::probe(&bytes, &Limits::default()).unwrap();
        assert!(!probe.reducible, "{file}");
        assert_eq!(probe.pitch_for((8, 8)), 1, "{file}");
        let decoded = detector::decode_reduced(&bytes, &Limits::default(), 4).unwrap();
        assert_eq!(decoded.pitch, 1, "{file}");
        assert_eq!(
            *decoded.image,
            decode(&bytes, &Limits::default()).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn reduced_decodes_refuse_what_the_full_decode_refuses() {
    let mut bytes = photo_jpeg(800, 600);
    bytes.truncate(bytes.len() * 2 / 3);
    let err = detector::decode_reduced(&bytes, &Limits::default(), 2).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    let tight = Limits {
        max_pixels: 100_000,
        ..Limits::default()
    };
    let err = detector::decode_reduced(&photo_jpeg(800, 600), &tight, 8).unwrap_err();
    assert!(matches!(err, ImageError::TooLarge { .. }), "{err:?}");
}
