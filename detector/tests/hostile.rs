//! Small files that claim or hide a lot of memory (fixtures: tests/fixtures/hostile/make.py).
//! One test binary of its own, so the process's peak memory is this test's alone.

use detector::{decode, probe, ImageError, Limits};

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hostile")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Peak resident memory of this process so far, in bytes (Linux).
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

#[test]
fn hostile_files_cost_what_their_pixels_cost() {
    let before = peak_rss();

    // A 255 KB PNG whose colour profile inflates to 256 MiB: the profile is dropped unread.
    let bomb = fixture("iccp_bomb.png");
    assert!(bomb.len() < 300_000);
    let image = decode(&bomb, &Limits::default()).expect("the pixels are fine");
    assert_eq!(image.dimensions(), (16, 16));

    // A 1x1 GIF screen with an 8000x8000 first frame: judged by the frame.
    let err = probe(&fixture("gif_big_frame.gif"), &Limits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            ImageError::TooLarge {
                width: 8000,
                height: 8000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(decode(&fixture("gif_big_frame.gif"), &Limits::default()).is_err());

    // Within the limits, the frame's real size is what memory is reserved for.
    let within = fixture("gif_frame_within.gif");
    let probed = probe(&within, &Limits::default()).unwrap();
    assert!(
        probed.decode_bytes >= 3000 * 2000 * 4,
        "budgeted for the frame, not the 1x1 screen: {probed:?}"
    );
    let _ = decode(&within, &Limits::default());

    let grew = peak_rss().saturating_sub(before);
    assert!(
        grew < 96 * 1024 * 1024,
        "decoding these files raised peak memory by {} MiB",
        grew / (1024 * 1024)
    );
}
