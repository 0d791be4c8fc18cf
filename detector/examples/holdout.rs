//! Precision and recall of a model on a generated hold-out, through the engine exactly as the
//! server runs it (decode at the scale the model needs, or in full for tiling; the engine's
//! resize, tiling and merging), with and without tiling, and what each costs.
//!
//!     cargo run --release -p detector --example holdout -- --model models/shapes.onnx \
//!         --dir /tmp/holdout [--tile off,auto] [--overlap 0.2] [--threads 2] [--json out.json]
//!
//! `--dir` holds images and a `ground_truth.json` as models/shapes/dataset.py and
//! large_holdout.py write them. A detection counts as correct at score >= 0.5 with the right
//! label and IoU >= 0.5 with a ground-truth box not matched yet (greedy by score, best IoU),
//! as models/shapes/evaluate.py counts. Prints a Markdown table row per mode and, with
//! `--json`, writes every figure.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use detector::{BoundingBox, DetectOptions, Engine, EngineConfig, Limits, TileMode};
use serde::Deserialize;

#[derive(Deserialize)]
struct Truth {
    images: Vec<TruthImage>,
}

#[derive(Deserialize)]
struct TruthImage {
    file: String,
    objects: Vec<TruthObject>,
}

#[derive(Deserialize)]
struct TruthObject {
    label: String,
    #[serde(rename = "box")]
    bbox: [f32; 4],
}

struct Args {
    model: PathBuf,
    dir: PathBuf,
    modes: Vec<TileMode>,
    overlap: f32,
    threads: usize,
    json: Option<PathBuf>,
}

const USAGE: &str = "usage: holdout --model M.onnx --dir DIR [--tile off,auto] [--overlap 0.2] [--threads N] [--json OUT]";

fn parse() -> Result<Args, String> {
    let mut args = Args {
        model: PathBuf::new(),
        dir: PathBuf::new(),
        modes: vec![TileMode::Off, TileMode::Auto],
        overlap: detector::DEFAULT_TILE_OVERLAP,
        threads: 0,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--model" => args.model = value.into(),
            "--dir" => args.dir = value.into(),
            "--tile" => {
                args.modes = value
                    .split(',')
                    .map(|m| m.parse().map_err(|e| format!("--tile: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--overlap" => args.overlap = value.parse().map_err(|e| format!("--overlap: {e}"))?,
            "--threads" => args.threads = value.parse().map_err(|e| format!("--threads: {e}"))?,
            "--json" => args.json = Some(value.into()),
            other => return Err(format!("unknown argument {other}; {USAGE}")),
        }
    }
    if args.model.as_os_str().is_empty() || args.dir.as_os_str().is_empty() {
        return Err(USAGE.into());
    }
    Ok(args)
}

#[derive(Default, serde::Serialize)]
struct Tally {
    mode: &'static str,
    images: usize,
    objects: usize,
    detections: usize,
    correct: usize,
    precision: f64,
    recall: f64,
    tiles_per_image: f64,
    decode_ms_per_image: f64,
    detect_ms_per_image: f64,
    /// Recall by the object's longer side: [<32, 32..48, >=48] px (None: no such object).
    recall_by_size: [Option<f64>; 3],
}

fn iou(a: &BoundingBox, b: &[f32; 4]) -> f32 {
    a.iou(&BoundingBox {
        x1: b[0],
        y1: b[1],
        x2: b[2],
        y2: b[3],
    })
}

fn run() -> Result<(), String> {
    let args = parse()?;
    let truth: Truth = serde_json::from_str(
        &std::fs::read_to_string(args.dir.join("ground_truth.json"))
            .map_err(|e| format!("{}: {e}", args.dir.display()))?,
    )
    .map_err(|e| format!("ground_truth.json: {e}"))?;
    let mut config = EngineConfig::new(&args.model);
    config.intra_threads = args.threads;
    let engine = Engine::load(&config).map_err(|e| e.to_string())?;
    let limits = Limits::default();
    let mut tallies = Vec::new();
    for mode in &args.modes {
        let options = DetectOptions::new(0.5, detector::MAX_DETECTIONS)
            .and_then(|o| o.with_tiling(*mode, Some(args.overlap)))
            .map_err(|e| e.to_string())?;
        let mut t = Tally {
            mode: mode.as_str(),
            ..Tally::default()
        };
        let (mut by_size_hit, mut by_size_all) = ([0usize; 3], [0usize; 3]);
        let (mut decode_ms, mut detect_ms, mut tiles) = (0.0, 0.0, 0usize);
        for image in &truth.images {
            let bytes = std::fs::read(args.dir.join(&image.file)).map_err(|e| e.to_string())?;
            let t0 = Instant::now();
            let probe = detector::probe(&bytes, &limits).map_err(|e| e.to_string())?;
            // As the server does: the whole picture for tiles, else no more than needed.
            let pitch = match mode {
                TileMode::Auto => 1,
                TileMode::Off => {
                    let (w, h) = probe.upright();
                    probe.pitch_for(engine.needed_size(w, h))
                }
            };
            let picture =
                detector::decode_reduced(&bytes, &limits, pitch).map_err(|e| e.to_string())?;
            let t1 = Instant::now();
            let result = engine
                .detect_blocking(&picture, options)
                .map_err(|e| e.to_string())?;
            let t2 = Instant::now();
            decode_ms += (t1 - t0).as_secs_f64() * 1000.0;
            detect_ms += (t2 - t1).as_secs_f64() * 1000.0;
            tiles += result.tiles.map_or(0, |t| t.count as usize);
            let mut used = vec![false; image.objects.len()];
            for d in &result.detections {
                let best = image
                    .objects
                    .iter()
                    .enumerate()
                    .filter(|(j, o)| !used[*j] && o.label == d.label)
                    .map(|(j, o)| (j, iou(&d.bbox, &o.bbox)))
                    .filter(|(_, v)| *v >= 0.5)
                    .max_by(|a, b| a.1.total_cmp(&b.1));
                if let Some((j, _)) = best {
                    used[j] = true;
                    t.correct += 1;
                } else if std::env::var_os("HOLDOUT_VERBOSE").is_some() {
                    let near = image
                        .objects
                        .iter()
                        .enumerate()
                        .map(|(j, o)| (iou(&d.bbox, &o.bbox), &o.label, o.bbox, used[j]))
                        .max_by(|a, b| a.0.total_cmp(&b.0));
                    eprintln!(
                        "{} {}: false {} {:.2} {:?} nearest {near:?}",
                        t.mode, image.file, d.label, d.score, d.bbox
                    );
                }
            }
            for (o, hit) in image.objects.iter().zip(&used) {
                let long = (o.bbox[2] - o.bbox[0]).max(o.bbox[3] - o.bbox[1]);
                let bucket = if long < 32.0 {
                    0
                } else if long < 48.0 {
                    1
                } else {
                    2
                };
                by_size_all[bucket] += 1;
                by_size_hit[bucket] += usize::from(*hit);
            }
            t.images += 1;
            t.objects += image.objects.len();
            t.detections += result.detections.len();
        }
        let n = t.images.max(1) as f64;
        t.precision = t.correct as f64 / t.detections.max(1) as f64;
        t.recall = t.correct as f64 / t.objects.max(1) as f64;
        t.tiles_per_image = tiles as f64 / n;
        t.decode_ms_per_image = decode_ms / n;
        t.detect_ms_per_image = detect_ms / n;
        for k in 0..3 {
            t.recall_by_size[k] =
                (by_size_all[k] > 0).then(|| by_size_hit[k] as f64 / by_size_all[k] as f64);
        }
        let by_size: Vec<String> = t
            .recall_by_size
            .iter()
            .map(|r| r.map_or("-".to_owned(), |r| format!("{r:.2}")))
            .collect();
        println!(
            "| {} | {:.4} | {:.4} | {} | {} | {} | {:.1} | {:.0} | {:.0} | {} |",
            t.mode,
            t.precision,
            t.recall,
            t.correct,
            t.detections,
            t.objects,
            t.tiles_per_image,
            t.decode_ms_per_image,
            t.detect_ms_per_image,
            by_size.join(" / ")
        );
        tallies.push(t);
    }
    if let Some(path) = args.json {
        let text = serde_json::to_string_pretty(&tallies).map_err(|e| e.to_string())?;
        std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("holdout: {e}");
            ExitCode::FAILURE
        }
    }
}
