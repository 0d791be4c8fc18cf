#![recursion_limit = "256"]
use std::process::ExitCode;

use clap::Parser;
use server::config::{Cli, Command, LogFormat};

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
        Some(Command::Detect(args)) => server::cli::run(args),
        Some(Command::PullModel(args)) => pull::run(args),
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
