//! The rows of the door x option table (`options.rs`): the options a row sends, the image,
//! and what must come back, door by door.

use crate::common::shapes_image;
use crate::doors::{Door, Input};

/// The image a row sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scene {
    /// A shapes fixture, 640x480 (the model runs it at its own size), whose detections
    /// score 1.0 (three), 0.79 and 0.21: thresholds cut it.
    Small,
    /// 2000x900 (the model shrinks it to 2/3: `tile=auto` cuts tiles), PNG so that no door
    /// decodes it at a reduced scale.
    Large,
}

/// What a row holds of the detections a door finds.
#[derive(Debug, Clone, Copy)]
pub enum Holds {
    Anything,
    Exactly(usize),
    /// Every score at least this, and at least one detection.
    ScoresAtLeast(f32),
    /// Where the door reports JSON: `tiles.count > 0`.
    Tiled,
    /// Where the door reports JSON: no `tiles`.
    Untiled,
}

/// What a row expects of a door.
#[derive(Debug, Clone, Copy)]
pub enum Want {
    /// 200 with detections: the same on every door of the row, and `Holds` of them.
    Found(Holds),
    /// 200 with the annotated picture, of this content type.
    Picture(&'static str),
    /// 200 with a COCO document, one annotation per detection the door finds without options.
    Coco,
    /// The option is not part of this door's API: the answer is the door's answer without it.
    Ignored,
    /// The problem: status, kind (`urn:lookout:problem:<kind>`), a phrase of the detail.
    Problem(u16, &'static str, &'static str),
}

pub struct Row {
    pub scene: Scene,
    pub input: Input,
    pub want: Want,
    /// Doors that answer otherwise (by design, with the reason in a comment where the row is
    /// written); `None`: the door is not asked.
    pub except: Vec<(Door, Option<Want>)>,
    /// Whether every door words the problem the same: not when the detail names where the
    /// unknown name was found (a field, a query parameter).
    pub same_detail: bool,
}

impl Row {
    pub fn new(scene: Scene, options: &[(&'static str, &'static str)], want: Want) -> Self {
        let input = options
            .iter()
            .fold(Input::default(), |input, (name, value)| {
                input.with(name, value)
            });
        let mut row = Self {
            scene,
            input,
            want,
            except: Vec::new(),
            same_detail: true,
        };
        // The old API has `threshold` and nothing else: other keys are ignored.
        if options.iter().any(|(name, _)| *name != "threshold") {
            row = row.except(Door::Predict, Want::Ignored);
        }
        row
    }

    /// `options` in the body, `query` in the query string over them.
    pub fn query_over(
        options: &[(&'static str, &'static str)],
        query: &[(&'static str, &'static str)],
        want: Want,
    ) -> Self {
        let mut row = Self::new(Scene::Small, options, want);
        row.input.query = query.to_vec();
        // The old API reads no query string, nor does the command line have one.
        row.skip(Door::Predict).skip(Door::Cli)
    }

    pub fn except(mut self, door: Door, want: Want) -> Self {
        self.except.retain(|(d, _)| *d != door);
        self.except.push((door, Some(want)));
        self
    }

    pub fn skip(mut self, door: Door) -> Self {
        self.except.retain(|(d, _)| *d != door);
        self.except.push((door, None));
        self
    }

    pub fn worded_by_door(mut self) -> Self {
        self.same_detail = false;
        self
    }

    pub fn want(&self, door: Door) -> Option<Want> {
        match self.except.iter().find(|(d, _)| *d == door) {
            Some((_, want)) => *want,
            None => Some(self.want),
        }
    }

    /// The threshold in force: the query's over the body's, else the contract's default.
    pub fn threshold(&self) -> f32 {
        let query = self
            .input
            .query
            .iter()
            .rev()
            .find(|(name, _)| *name == "threshold")
            .map(|(_, v)| *v);
        query
            .or(self.input.threshold)
            .and_then(|t| t.parse().ok())
            .unwrap_or(wire::DEFAULT_THRESHOLD)
    }

    pub fn name(&self) -> String {
        let show = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        };
        let mut name = show(&self.input.options());
        if name.is_empty() {
            name = "(no options)".to_owned();
        }
        if !self.input.query.is_empty() {
            name = format!("{name}, ?{}", show(&self.input.query));
        }
        format!("{name} [{:?}]", self.scene)
    }
}

/// The name of the model `/v1/models` lists (the demo model the test server serves).
pub const MODEL: &str = "shapes";

pub const PAGE_DOORS: [Door; 3] = [Door::PageUpload, Door::PageUrl, Door::Form];

/// The command line writes Lookout's JSON or a dataset export, never a picture: a format that
/// draws is refused as an invalid `--format` (its own words: there is no such flag value).
pub const NO_PICTURES: Want = Want::Problem(
    422,
    "invalid-value",
    "`lookout detect` writes json, coco, yolo, voc or csv",
);
pub const BATCHES: [Door; 2] = [Door::BatchMultipart, Door::BatchJson];

pub fn table() -> Vec<Row> {
    use Holds::*;
    use Scene::*;
    use Want::*;
    let invalid = |detail| Problem(422, "invalid-value", detail);
    let rows = vec![
        // First for each scene: what every door answers without options (`Ignored` is held
        // against it).
        Row::new(Small, &[], Found(Anything)),
        Row::new(Large, &[], Found(Untiled)),
        // threshold
        Row::new(Small, &[("threshold", "0.9")], Found(ScoresAtLeast(0.9))),
        Row::new(Small, &[("threshold", "0")], Found(ScoresAtLeast(0.0))),
        Row::new(Small, &[("threshold", "1")], Found(Anything)),
        Row::new(
            Small,
            &[("threshold", "2")],
            invalid("threshold must be between 0 and 1, got 2"),
        ),
        Row::new(
            Small,
            &[("threshold", "-0.1")],
            invalid("threshold must be between 0 and 1, got -0.1"),
        ),
        Row::new(
            Small,
            &[("threshold", "abc")],
            invalid("threshold `abc` is not a number"),
        ),
        // max_detections
        Row::new(Small, &[("max_detections", "1")], Found(Exactly(1))),
        Row::new(Small, &[("max_detections", "1000")], Found(Anything)),
        Row::new(
            Small,
            &[("max_detections", "0")],
            invalid("max_detections must be between 1 and 1000, got 0"),
        ),
        Row::new(
            Small,
            &[("max_detections", "1001")],
            invalid("max_detections must be between 1 and 1000, got 1001"),
        ),
        Row::new(
            Small,
            &[("max_detections", "2.5")],
            invalid("max_detections `2.5` is not a whole number"),
        ),
        // format
        Row::new(Small, &[("format", "json")], Found(Anything)),
        {
            // The API answers the picture; a batch has no one picture to answer with; the
            // page's doors answer their own way.
            let mut row = Row::new(Small, &[("format", "png")], Picture("image/png"))
                .except(Door::Cli, NO_PICTURES);
            for door in BATCHES {
                row = row.except(
                    door,
                    invalid("a batch cannot answer with one picture: use format=zip"),
                );
            }
            for door in PAGE_DOORS {
                row = row.except(door, Found(Anything));
            }
            row
        },
        {
            // `jpg` is `jpeg`'s other name.
            let mut row = Row::new(Small, &[("format", "jpg")], Picture("image/jpeg"))
                .except(Door::Cli, NO_PICTURES);
            for door in BATCHES {
                row = row.except(
                    door,
                    invalid("a batch cannot answer with one picture: use format=zip"),
                );
            }
            for door in PAGE_DOORS {
                row = row.except(door, Found(Anything));
            }
            row
        },
        {
            let mut row = Row::new(Small, &[("format", "coco")], Coco);
            for door in PAGE_DOORS {
                row = row.except(door, Found(Anything));
            }
            row
        },
        Row::new(
            Small,
            &[("format", "gif")],
            invalid("format `gif` is not one of json, png, jpeg, coco, yolo, voc, csv, zip"),
        ),
        // model
        Row::new(Small, &[("model", MODEL)], Found(Anything)),
        // An empty name is the default model (a form's empty picker).
        Row::new(Small, &[("model", "")], Found(Anything)),
        // The command line's model is its --default-model, checked when it starts, in the
        // words of the server's start (`--default-model `nope` is not one of the models`:
        // tests/cli.rs), not a request's problem.
        Row::new(
            Small,
            &[("model", "nope")],
            Problem(404, "unknown-model", "nope"),
        )
        .skip(Door::Cli),
        // tile, tile_overlap
        Row::new(Small, &[("tile", "off")], Found(Untiled)),
        Row::new(Large, &[("tile", "auto")], Found(Tiled)),
        Row::new(Large, &[("tile", "AUTO")], Found(Tiled)),
        Row::new(
            Large,
            &[("tile", "auto"), ("tile_overlap", "0.5")],
            Found(Tiled),
        ),
        Row::new(
            Small,
            &[("tile", "maybe")],
            invalid("tile must be `auto` or `off`, got `maybe`"),
        ),
        Row::new(Small, &[("tile_overlap", "0")], Found(Anything)),
        Row::new(
            Small,
            &[("tile_overlap", "0.9")],
            invalid("tile_overlap must be between 0 and 0.5, got 0.9"),
        ),
        Row::new(
            Small,
            &[("tile_overlap", "lots")],
            invalid("tile_overlap `lots` is not a number"),
        ),
        // A name that is no option: refused, in words that say where it was found (a field
        // of the body, or a query parameter for the raw door).
        Row::new(Small, &[("colour", "red")], invalid("`colour`"))
            .except(Door::Cli, invalid("unexpected argument '--colour'"))
            .worded_by_door(),
        // The query string over the body: the query wins (the body's values are not
        // validated when the query overrides them).
        Row::query_over(
            &[("max_detections", "1")],
            &[("max_detections", "2")],
            Found(Exactly(2)),
        ),
        Row::query_over(
            &[("threshold", "2")],
            &[("threshold", "0.9")],
            Found(ScoresAtLeast(0.9)),
        ),
        Row::query_over(
            &[("threshold", "0.9")],
            &[("threshold", "abc")],
            invalid("threshold `abc` is not a number"),
        ),
        Row::query_over(
            &[],
            &[("colour", "red")],
            invalid("unknown query parameter `colour`"),
        ),
    ];
    rows
}

pub fn large_scene() -> Vec<u8> {
    let (png, _) = shapes_image();
    let small = image::load_from_memory(&png).unwrap().to_rgb8();
    let mut big = image::RgbImage::from_pixel(2000, 900, image::Rgb([128, 128, 128]));
    for (x, y) in [(0, 0), (1300, 400)] {
        image::imageops::replace(&mut big, &small, x, y);
    }
    let mut out = std::io::Cursor::new(Vec::new());
    big.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}
