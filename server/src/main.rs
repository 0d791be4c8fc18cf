#![recursion_limit = "256"]
use std::process::ExitCode;

use clap::Parser;
use server::config::{Cli, Command, DetectArgs, LogFormat};

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,ort=warn,hyper=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Detect(args)) => detect(args),
        Some(Command::PullModel(args)) => server::download::run(args),
        None => serve(cli.serve),
    }
}

fn serve(args: server::config::ServeArgs) -> ExitCode {
    init_tracing(args.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lookout: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let grace = args.shutdown_grace();
        let mut running = match server::serve::start(args).await {
            Ok(running) => running,
            Err(e) => {
                eprintln!("lookout: {e}");
                return ExitCode::FAILURE;
            }
        };
        let Some(model_loaded) = running.model_loaded.take() else {
            return ExitCode::FAILURE;
        };
        tokio::select! {
            loaded = model_loaded => {
                match loaded {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => { eprintln!("lookout: {e}"); return ExitCode::FAILURE; }
                    Err(e) => { eprintln!("lookout: the model loader failed: {e}"); return ExitCode::FAILURE; }
                }
                server::serve::shutdown_signal().await;
            }
            _ = server::serve::shutdown_signal() => {}
        }
        tracing::info!("shutting down: finishing in-flight requests");
        match running.shutdown(grace).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lookout: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// `lookout detect FILE...`: detections as JSON on stdout (an object for one file, an array
/// for several), problems on stderr.
fn detect(args: DetectArgs) -> ExitCode {
    let spec = match args.model.specs() {
        Ok(specs) => {
            let wanted = args.model.default_model.as_deref();
            specs
                .into_iter()
                .find(|s| wanted.is_none_or(|w| w == s.name))
        }
        Err(e) => {
            eprintln!("lookout: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(spec) = spec else {
        eprintln!("lookout: no model to run");
        return ExitCode::FAILURE;
    };
    let options = match detector::DetectOptions::new(args.threshold, args.max_detections) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("lookout: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut config = detector::EngineConfig::new(&spec.path);
    config.layout = args.model.layout;
    config.intra_threads = args.model.threads;
    config.ort_library = args.model.ort_library.clone();
    config.warm_up = false;
    let engine = match detector::Engine::load(&config) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("lookout: {e}");
            return ExitCode::FAILURE;
        }
    };
    let limits = args.model.image_limits();
    let mut results = Vec::new();
    let mut failed = false;
    for path in &args.images {
        let outcome = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| detector::decode(&bytes, &limits).map_err(|e| e.to_string()))
            .and_then(|image| {
                engine
                    .detect_blocking(&image, &options)
                    .map_err(|e| e.to_string())
            });
        match outcome {
            Ok(result) => results.push(serde_json::json!({
                "file": path.display().to_string(),
                "image": { "width": result.width, "height": result.height },
                "detections": result.detections,
                "timing_ms": { "inference": result.timings.inference_ms },
            })),
            Err(e) => {
                eprintln!("lookout: {}: {e}", path.display());
                failed = true;
            }
        }
    }
    let output = if args.images.len() == 1 {
        results.pop().unwrap_or(serde_json::Value::Null)
    } else {
        serde_json::Value::Array(results)
    };
    if !output.is_null() {
        match serde_json::to_string_pretty(&output) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("lookout: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
