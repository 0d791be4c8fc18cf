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

use crate::common::{fixture, TestServer};
use crate::doors::{ask, found, tiles, Door, Found, Images, Input, DOORS};
use crate::rows::{large_scene, table, Holds, Scene, Want, MODEL};

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
    let models = server.get_json("/v1/models").await;
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
