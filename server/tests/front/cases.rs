//! What a person can send (a phone photo, too large a body, a bad option, no image, not an image,
//! a truncated JPEG, an extreme aspect ratio), and every door answering each the same way.

use crate::common::{phone_photo, TestServer};
use crate::doors::{ask, check, found, Images, Input, DOORS};
use crate::LIMIT;

fn truncated_jpeg() -> Vec<u8> {
    let photo = phone_photo();
    photo[..photo.len() / 3].to_vec()
}

fn sliver_png() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(16_000, 1, image::Rgb([90, 90, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

struct Case {
    name: &'static str,
    input: Input,
    status: u16,
    /// The problem kind (`urn:lookout:problem:<kind>`); `None` for success.
    kind: Option<&'static str>,
    /// Words the answer must contain (the detail, or the HTML page).
    says: &'static str,
}

fn cases() -> Vec<Case> {
    let photo = phone_photo();
    assert!(
        (3_000_000..9_000_000).contains(&photo.len()),
        "a phone-sized JPEG, got {} bytes",
        photo.len()
    );
    vec![
        Case {
            name: "a 12-megapixel phone photo",
            input: Input {
                image: Some(photo.clone()),
                ..Input::default()
            },
            status: 200,
            kind: None,
            says: "",
        },
        Case {
            name: "a body over the limit",
            input: Input {
                image: Some(photo.clone()),
                oversize: true,
                ..Input::default()
            },
            status: 413,
            kind: Some("body-too-large"),
            says: "12 MiB",
        },
        Case {
            name: "a bad option",
            input: Input {
                image: Some(photo.clone()),
                threshold: Some("2"),
                ..Input::default()
            },
            status: 422,
            kind: Some("invalid-value"),
            says: "threshold",
        },
        Case {
            name: "no image at all",
            input: Input::default(),
            status: 422,
            kind: Some("missing-image"),
            says: "image",
        },
        Case {
            name: "not an image",
            input: Input {
                image: Some(b"just some text, certainly not a picture".to_vec()),
                ..Input::default()
            },
            status: 415,
            kind: Some("not-an-image"),
            says: "not an image",
        },
        Case {
            name: "a truncated JPEG",
            input: Input {
                image: Some(truncated_jpeg()),
                ..Input::default()
            },
            status: 400,
            kind: Some("corrupt-image"),
            says: "truncated",
        },
        Case {
            name: "an extreme aspect ratio",
            input: Input {
                image: Some(sliver_png()),
                ..Input::default()
            },
            status: 422,
            kind: Some("image-shape"),
            says: "16000x1",
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_door_answers_every_case_the_same_way() {
    let limit = LIMIT.to_string();
    // The batch's own body limit set to the same: every door then refuses the same body.
    let server = TestServer::start(&[
        "--max-body-bytes",
        &limit,
        "--max-batch-body-bytes",
        &limit,
        "--allow-private-urls",
    ])
    .await;
    let images = Images::start().await;
    for case in cases() {
        for door in DOORS {
            let answer = ask(&server, &images, door, &case.input).await;
            let found = (answer.status == 200).then(|| found(door, &answer).len());
            check(
                door,
                case.name,
                (case.status, case.kind, case.says),
                (answer.status, answer.kind.clone(), answer.text()),
            );
            if let Some(found) = found {
                assert!(found > 0, "{door:?} finds the shapes in the photo");
            }
        }
    }
}
