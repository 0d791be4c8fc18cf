//! The model's own compute, timed in-process: what Lookout's HTTP path is measured against.
//!
//! Loads a model through `detector::Engine` (warm-up on), decodes one image, then times
//! `detect_blocking` `--runs` times and prints one JSON object with the medians of each stage:
//! `session_run` (the bare onnxruntime `Session::run`), `tensor_build`, `postprocess`, and
//! `detect` (everything after decoding). Used by `bench/run.sh`.
//!
//!     cargo run --release -p detector --example floor -- \
//!         --model models/coco-fasterrcnn_resnet50_fpn.onnx --image bench/out/inputs/640x480.jpg \
//!         --threads 2 --runs 8 [--warmup 1] [--decode-runs 20] [--engine-warm-up 1]
//!
//! The first of the `--warmup` runs (at least one) is reported as `first_detect_ms`.
//! `--engine-warm-up 0` loads without the engine's own warm-up run, so `first_detect_ms` shows
//! what the first request after a cold start costs compared with the steady state.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use detector::{Decoded, DetectOptions, Engine, EngineConfig, Limits};

struct Args {
    model: PathBuf,
    image: PathBuf,
    threads: usize,
    runs: usize,
    warmup: usize,
    decode_runs: usize,
    engine_warm_up: bool,
}

const USAGE: &str = "usage: floor --model M.onnx --image I.jpg [--threads N] [--runs N] [--warmup N] [--decode-runs N] [--engine-warm-up 0|1]";

fn parse() -> Result<Args, String> {
    let mut args = Args {
        model: PathBuf::new(),
        image: PathBuf::new(),
        threads: 0,
        runs: 8,
        warmup: 1,
        decode_runs: 20,
        engine_warm_up: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--model" => args.model = value.clone().into(),
            "--image" => args.image = value.clone().into(),
            "--threads" => args.threads = number()?,
            "--runs" => args.runs = number()?.max(1),
            "--warmup" => args.warmup = number()?,
            "--decode-runs" => args.decode_runs = number()?.max(1),
            "--engine-warm-up" => args.engine_warm_up = number()? != 0,
            other => return Err(format!("unknown argument {other}; {USAGE}")),
        }
    }
    if args.model.as_os_str().is_empty() || args.image.as_os_str().is_empty() {
        return Err(USAGE.into());
    }
    Ok(args)
}

/// Sorts `values` and returns their median.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn run(args: &Args) -> Result<serde_json::Value, String> {
    let bytes = std::fs::read(&args.image).map_err(|e| format!("{}: {e}", args.image.display()))?;
    let limits = Limits::default();
    let mut decode_ms = Vec::with_capacity(args.decode_runs);
    let mut image = None;
    for _ in 0..args.decode_runs {
        let t = Instant::now();
        let decoded = detector::decode(&bytes, &limits).map_err(|e| e.to_string())?;
        decode_ms.push(ms(t));
        image = Some(decoded);
    }
    let picture = Decoded::full(image.ok_or("no image decoded")?);

    let mut config = EngineConfig::new(&args.model);
    config.intra_threads = args.threads;
    config.sessions = 1;
    config.warm_up = args.engine_warm_up;
    let t = Instant::now();
    let engine = Engine::load(&config).map_err(|e| e.to_string())?;
    let load_ms = ms(t);

    let options = DetectOptions::default();
    let t = Instant::now();
    engine
        .detect_blocking(&picture, options)
        .map_err(|e| e.to_string())?;
    let first_detect_ms = ms(t);
    for _ in 1..args.warmup {
        engine
            .detect_blocking(&picture, options)
            .map_err(|e| e.to_string())?;
    }
    let (mut run_ms, mut pre_ms, mut post_ms, mut total_ms) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut detections = 0;
    for _ in 0..args.runs {
        let t = Instant::now();
        let result = engine
            .detect_blocking(&picture, options)
            .map_err(|e| e.to_string())?;
        total_ms.push(ms(t));
        run_ms.push(result.timings.inference_ms);
        pre_ms.push(result.timings.preprocess_ms);
        post_ms.push(result.timings.postprocess_ms);
        detections = result.detections.len();
    }
    let samples = run_ms.clone();
    let run_median = median(&mut run_ms);
    Ok(serde_json::json!({
        "model": args.model.display().to_string(),
        "image": args.image.display().to_string(),
        "width": picture.image.width(),
        "height": picture.image.height(),
        "threads": engine.info().intra_threads,
        "runs": args.runs,
        "engine_warm_up": args.engine_warm_up,
        "load_ms": load_ms,
        "first_detect_ms": first_detect_ms,
        "detections_at_default_threshold": detections,
        "decode_median_ms": median(&mut decode_ms),
        "tensor_build_median_ms": median(&mut pre_ms),
        "session_run_median_ms": run_median,
        "session_run_min_ms": run_ms[0],
        "session_run_max_ms": run_ms[run_ms.len() - 1],
        "postprocess_median_ms": median(&mut post_ms),
        "detect_median_ms": median(&mut total_ms),
        "session_run_samples_ms": samples,
    }))
}

fn main() -> ExitCode {
    match parse().and_then(|args| run(&args)) {
        Ok(value) => {
            println!("{value}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("floor: error: {e}");
            ExitCode::FAILURE
        }
    }
}
