//! Every option of the contract (`wire::DetectParams`), valid and invalid, through every door
//! (issue #20, "one contract"): a table whose rows are (the options sent, what must come
//! back) and whose columns are the doors of `doors::DOORS`. A valid row gives the same
//! detections on every door, and the property the row names; an invalid one gives the same
//! status, the same problem `type` and the same detail on every door (the form: the page,
//! under the problem's status, with the detail in its alert).
//!
//! What differs by design is said in the row (`except`), with the reason:
//! - `PUT /predict` is the old API: it has `threshold` and nothing else. Any other option is
//!   a key the old service never knew, ignored as pydantic did: that door answers as it does
//!   without it. It reads no query string.
//! - The page's server functions and the form answer their own way (the page's JSON, the
//!   page itself), whatever `format` asks; they still refuse an invalid one.
//! - The page's server functions default to a low threshold (the slider filters in the
//!   browser), and the form shows what passes its threshold from a run at that floor: the
//!   table compares only what passes the threshold the row sets (0.5 when it sets none).
//! - The command line (`lookout detect`, through `doors::ask`) has the options as flags: no
//!   query string, no picture formats, no flag for a name that is no option, and its model is
//!   the one it starts with (`--default-model`).

use std::collections::HashMap;

use app::components::status::capitalise;
use futures_util::future::join_all;

use crate::common::{fixture, shapes_image, TestServer};
use crate::doors::{ask, found, tiles, Door, Found, Images, Input, DOORS};

/// The image a row sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scene {
    /// A shapes fixture, 640x480 (the model runs it at its own size), whose detections
    /// score 1.0 (three), 0.79 and 0.21: thresholds cut it.
    Small,
    /// 2000x900 (the model shrinks it to 2/3: `tile=auto` cuts tiles), PNG so that no door
    /// decodes it at a reduced scale.
    Large,
}

/// What a row holds of the detections a door finds.
#[derive(Debug, Clone, Copy)]
enum Holds {
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
enum Want {
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

struct Row {
    scene: Scene,
    input: Input,
    want: Want,
    /// Doors that answer otherwise (by design, with the reason in a comment where the row is
    /// written); `None`: the door is not asked.
    except: Vec<(Door, Option<Want>)>,
    /// Whether every door words the problem the same: not when the detail names where the
    /// unknown name was found (a field, a query parameter).
    same_detail: bool,
}

impl Row {
    fn new(scene: Scene, options: &[(&'static str, &'static str)], want: Want) -> Self {
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
    fn query_over(
        options: &[(&'static str, &'static str)],
        query: &[(&'static str, &'static str)],
        want: Want,
    ) -> Self {
        let mut row = Self::new(Scene::Small, options, want);
        row.input.query = query.to_vec();
        // The old API reads no query string, nor does the command line have one.
        row.skip(Door::Predict).skip(Door::Cli)
    }

    fn except(mut self, door: Door, want: Want) -> Self {
        self.except.retain(|(d, _)| *d != door);
        self.except.push((door, Some(want)));
        self
    }

    fn skip(mut self, door: Door) -> Self {
        self.except.retain(|(d, _)| *d != door);
        self.except.push((door, None));
        self
    }

    fn worded_by_door(mut self) -> Self {
        self.same_detail = false;
        self
    }

    fn want(&self, door: Door) -> Option<Want> {
        match self.except.iter().find(|(d, _)| *d == door) {
            Some((_, want)) => *want,
            None => Some(self.want),
        }
    }

    /// The threshold in force: the query's over the body's, else the contract's default.
    fn threshold(&self) -> f32 {
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

    fn name(&self) -> String {
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
const MODEL: &str = "shapes";

const PAGE_DOORS: [Door; 3] = [Door::PageUpload, Door::PageUrl, Door::Form];

/// The command line writes Lookout's JSON or a dataset export, never a picture: a format that
/// draws is refused as an invalid `--format` (its own words: there is no such flag value).
const NO_PICTURES: Want = Want::Problem(
    422,
    "invalid-value",
    "`lookout detect` writes json, coco, yolo, voc or csv",
);
const BATCHES: [Door; 2] = [Door::BatchMultipart, Door::BatchJson];

fn table() -> Vec<Row> {
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

fn large_scene() -> Vec<u8> {
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

fn same(a: &[Found], b: &[Found]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.label == y.label
                && (x.score - y.score).abs() <= 1e-4
                && x.bbox
                    .iter()
                    .zip(y.bbox)
                    .all(|(p, q)| (p - q).abs() <= 0.06)
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_option_through_every_door_gives_the_same_result_or_the_same_problem() {
    let server = TestServer::start(&["--allow-private-urls"]).await;
    let images = Images::start().await;
    let models: serde_json::Value = server
        .client
        .get(server.url("/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&MODEL), "{models}");
    assert!(!names.contains(&"nope"), "{models}");

    let scenes: HashMap<Scene, Vec<u8>> = HashMap::from([
        (
            Scene::Small,
            fixture("detector/tests/fixtures/shapes/0009.png"),
        ),
        (Scene::Large, large_scene()),
    ]);
    // What each door finds without options, per scene (the first rows).
    let mut plain: HashMap<(Scene, Door), Vec<Found>> = HashMap::new();
    let rows = table();
    let mut failures = Vec::new();
    // How many detections the doors agreed on, per row that finds.
    let mut counts: HashMap<String, usize> = HashMap::new();
    for row in &rows {
        let name = row.name();
        let input = Input {
            image: Some(scenes[&row.scene].clone()),
            ..row.input.clone()
        };
        let asked: Vec<(Door, Want)> = DOORS
            .into_iter()
            .filter_map(|door| Some((door, row.want(door)?)))
            .collect();
        // The doors of a row run at once (the engine queues them).
        let answers = join_all(
            asked
                .iter()
                .map(|(door, _)| ask(&server, &images, *door, &input)),
        )
        .await;
        let threshold = row.threshold();
        // The detections (cut at the row's threshold) of the first door that finds, and the
        // detail of the first that refuses, per problem the row expects (a door excepted to
        // another problem has its own words): every other door must give the same.
        let mut agreed: Option<(Door, Vec<Found>)> = None;
        let mut worded: HashMap<&str, (Door, String)> = HashMap::new();
        for ((door, want), answer) in asked.iter().copied().zip(&answers) {
            let mut fail = |what: String| failures.push(format!("{name} / {door:?}: {what}"));
            let text = || answer.text().chars().take(400).collect::<String>();
            match want {
                Want::Found(_) | Want::Ignored if answer.status != 200 => {
                    fail(format!("{} instead of 200: {}", answer.status, text()));
                }
                Want::Found(holds) => {
                    let all = found(door, answer);
                    let passing: Vec<Found> = all
                        .iter()
                        .filter(|d| wire::passes(d.score, threshold))
                        .cloned()
                        .collect();
                    if row.input.options().is_empty() && row.input.query.is_empty() {
                        plain.insert((row.scene, door), passing.clone());
                    }
                    let ok = match holds {
                        Holds::Anything => true,
                        Holds::Exactly(n) => all.len() == n,
                        Holds::ScoresAtLeast(t) => {
                            !all.is_empty() && all.iter().all(|d| wire::passes(d.score, t))
                        }
                        Holds::Tiled => tiles(door, answer)
                            .is_none_or(|t| t["count"].as_u64().is_some_and(|n| n > 0)),
                        Holds::Untiled => tiles(door, answer).is_none_or(|t| t.is_null()),
                    };
                    if !ok {
                        fail(format!(
                            "{holds:?} does not hold: {} found, tiles {:?}",
                            all.len(),
                            tiles(door, answer)
                        ));
                    }
                    match &agreed {
                        None => agreed = Some((door, passing)),
                        Some((first, theirs)) if !same(theirs, &passing) => {
                            fail(format!("found {passing:?}, {first:?} found {theirs:?}"))
                        }
                        Some(_) => {}
                    }
                }
                Want::Ignored => {
                    let without = &plain[&(row.scene, door)];
                    let passing: Vec<Found> = found(door, answer)
                        .into_iter()
                        .filter(|d| wire::passes(d.score, threshold))
                        .collect();
                    if !same(without, &passing) {
                        fail(format!("found {passing:?}, without the option {without:?}"));
                    }
                }
                Want::Picture(content_type) => {
                    let magic: &[u8] = if content_type == "image/png" {
                        b"\x89PNG"
                    } else {
                        b"\xff\xd8"
                    };
                    if answer.status != 200
                        || answer.content_type != content_type
                        || !answer.body.starts_with(magic)
                    {
                        fail(format!(
                            "{} {} instead of a picture: {}",
                            answer.status,
                            answer.content_type,
                            text()
                        ));
                    }
                }
                Want::Coco => {
                    let want = plain[&(row.scene, Door::ApiJson)].len();
                    let annotations = (answer.status == 200)
                        .then(|| answer.json()["annotations"].as_array().map(Vec::len))
                        .flatten();
                    if annotations != Some(want) {
                        fail(format!(
                            "{} with {annotations:?} annotations instead of {want}: {}",
                            answer.status,
                            text()
                        ));
                    }
                }
                Want::Problem(status, kind, says) => {
                    let kind = format!("urn:lookout:problem:{kind}");
                    if answer.status != status
                        || (!door.answers_html() && answer.kind.as_deref() != Some(&kind))
                    {
                        fail(format!(
                            "{} {:?} instead of {status} {kind}: {}",
                            answer.status,
                            answer.kind,
                            text()
                        ));
                        continue;
                    }
                    let Some(detail) = &answer.detail else {
                        fail(format!("no detail: {}", text()));
                        continue;
                    };
                    // The form's alert shows the detail as a sentence.
                    let detail = capitalise(detail);
                    if !detail.to_lowercase().contains(&says.to_lowercase()) {
                        fail(format!("`{says}` not in the detail: {detail}"));
                    }
                    if row.same_detail {
                        match worded.get(says) {
                            None => {
                                worded.insert(says, (door, detail));
                            }
                            Some((first, theirs)) if *theirs != detail => {
                                fail(format!("says `{detail}`, {first:?} says `{theirs}`"))
                            }
                            Some(_) => {}
                        }
                    }
                }
            }
        }
        if let Some((_, set)) = agreed {
            counts.insert(name, set.len());
        }
    }
    // The threshold rows cut the small scene where it has detections to cut.
    let count = |row: &str| counts.get(row).copied();
    assert!(
        count("threshold=0.9 [Small]") < count("(no options) [Small]")
            && count("(no options) [Small]") < count("threshold=0 [Small]"),
        "{counts:?}"
    );
    let doors = DOORS.len();
    let cells: usize = rows
        .iter()
        .map(|r| DOORS.iter().filter(|d| r.want(**d).is_some()).count())
        .sum();
    assert!(
        failures.is_empty(),
        "{} of {cells} cells ({} rows x {doors} doors) differ:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
