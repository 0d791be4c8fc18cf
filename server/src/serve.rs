//! Starting and stopping the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use leptos::config::{Env, LeptosOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::ServeArgs;
use crate::fetch::{AddressPolicy, FetchConfig, Fetcher};
use crate::pipeline::Pipeline;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Runtime(#[from] detector::RuntimeError),
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
    #[error("cannot build the HTTP client for URL fetches: {0}")]
    Client(String),
}

/// A server that is accepting connections.
pub struct Running {
    pub addr: SocketAddr,
    pub pipeline: Arc<Pipeline>,
    /// Resolves with the model load's outcome (taken by whoever waits for it).
    pub model_loaded: Option<tokio::task::JoinHandle<Result<(), detector::EngineError>>>,
    shutdown: watch::Sender<bool>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stop accepting, report not ready, let in-flight requests finish within `grace`.
    pub async fn shutdown(self, grace: Duration) -> std::io::Result<()> {
        self.pipeline.begin_shutdown();
        let _ = self.shutdown.send(true);
        match tokio::time::timeout(grace, self.served).await {
            Ok(joined) => joined.unwrap_or(Ok(())),
            Err(_) => {
                tracing::warn!(
                    grace_secs = grace.as_secs_f64(),
                    "in-flight requests did not finish within the grace period"
                );
                Ok(())
            }
        }
    }
}

fn leptos_options(addr: SocketAddr) -> LeptosOptions {
    let env = match std::env::var("LEPTOS_ENV").as_deref() {
        Ok("DEV") | Ok("dev") | Ok("development") => Env::DEV,
        _ => Env::PROD,
    };
    LeptosOptions::builder()
        .output_name(option_env!("LEPTOS_OUTPUT_NAME").unwrap_or("lookout"))
        .site_root(std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".to_owned()))
        .site_pkg_dir(std::env::var("LEPTOS_SITE_PKG_DIR").unwrap_or_else(|_| "pkg".to_owned()))
        .site_addr(addr)
        .env(env)
        .build()
}

/// The application and what it needs to come alive, before any socket is bound.
pub struct Prepared {
    pub app: axum::Router,
    pub pipeline: Arc<Pipeline>,
    pub engine_config: detector::EngineConfig,
}

/// Checks the onnxruntime library (so a missing one is a clear error, not a 503 forever) and
/// builds the router. The model is not loaded yet.
pub fn prepare(args: &ServeArgs, addr: SocketAddr) -> Result<Prepared, StartError> {
    let library = detector::runtime::locate_library(args.model.ort_library.as_deref());
    detector::runtime::init(&library)?;

    let fetcher = Fetcher::new(FetchConfig {
        policy: AddressPolicy {
            allow_private: args.allow_private_urls,
            allowed_networks: args.allow_cidrs.clone(),
        },
        timeout: args.url_timeout(),
        max_bytes: args.url_max_bytes,
        max_redirects: args.url_max_redirects,
    })
    .map_err(|e| StartError::Client(e.to_string()))?;
    let pipeline = Arc::new(Pipeline::new(
        args.model.image_limits(),
        fetcher,
        args.max_body_bytes,
    ));
    let state = AppState {
        pipeline: Arc::clone(&pipeline),
        metrics: crate::metrics::install(),
        api_key: args
            .api_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .map(Arc::from),
        leptos_options: leptos_options(addr),
    };
    let mut engine_config = detector::EngineConfig::new(&args.model.model);
    engine_config.layout = args.model.layout;
    engine_config.sessions = usize::from(args.model.sessions);
    engine_config.intra_threads = args.model.threads;
    engine_config.queue_depth = args.queue_depth;
    engine_config.deadline = args.request_deadline();
    engine_config.ort_library = Some(library);
    Ok(Prepared {
        app: crate::routes::router(state),
        pipeline,
        engine_config,
    })
}

/// Loads and warms the model on a blocking thread, then marks the pipeline ready.
pub async fn load_model(
    pipeline: Arc<Pipeline>,
    config: detector::EngineConfig,
) -> Result<(), detector::EngineError> {
    let started = std::time::Instant::now();
    let engine = tokio::task::spawn_blocking(move || detector::Engine::load(&config))
        .await
        .map_err(|e| {
            detector::EngineError::Inference(format!("the model loading thread failed: {e}"))
        })??;
    let info = engine.info();
    tracing::info!(
        model = %info.name, layout = info.layout.as_str(), sessions = info.sessions, threads = info.intra_threads,
        load_ms = started.elapsed().as_millis() as u64, "model loaded and warmed up; ready"
    );
    pipeline.set_engine(Arc::new(engine));
    Ok(())
}

/// Binds, starts serving at once (not ready yet), and loads the model in the background.
pub async fn start(args: ServeArgs) -> Result<Running, StartError> {
    let listener = TcpListener::bind(args.addr)
        .await
        .map_err(|e| StartError::Bind {
            addr: args.addr,
            reason: e.to_string(),
        })?;
    let addr = listener.local_addr().map_err(|e| StartError::Bind {
        addr: args.addr,
        reason: e.to_string(),
    })?;
    let Prepared {
        app,
        pipeline,
        engine_config,
    } = prepare(&args, addr)?;
    let model_loaded = tokio::spawn(load_model(Arc::clone(&pipeline), engine_config));

    let (shutdown, mut stop) = watch::channel(false);
    let served = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service())
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stop| *stop).await;
            })
            .await
    });
    tracing::info!(%addr, "listening");
    Ok(Running {
        addr,
        pipeline,
        model_loaded: Some(model_loaded),
        shutdown,
        served,
    })
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
