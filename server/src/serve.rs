//! Starting and stopping the server.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use leptos::config::{Env, LeptosOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::ServeArgs;
use crate::fetch::{AddressPolicy, FetchConfig, Fetcher};
use crate::front::{Front, FrontLimits};
use crate::guards::HostGuard;
use crate::listen::ConnectionLimits;
use crate::models::{ModelSlot, Models};
use crate::repository::{Recipe, Repository};
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Runtime(#[from] detector::RuntimeError),
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
    #[error("cannot build the HTTP client for URL fetches: {0}")]
    Client(String),
    #[error("{0}")]
    Config(String),
}

/// A server that is accepting connections.
pub struct Running {
    pub addr: SocketAddr,
    /// Where the gRPC door listens (`--grpc-addr`), if it does.
    pub grpc_addr: Option<SocketAddr>,
    pub front: Arc<Front>,
    /// Resolves once every model has loaded or failed; `Err` when the default model failed
    /// (taken by whoever waits for it).
    pub model_loaded: Option<tokio::task::JoinHandle<Result<(), detector::EngineError>>>,
    shutdown: watch::Sender<bool>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stop accepting, report not ready, let in-flight requests finish within `grace`.
    pub async fn shutdown(self, grace: Duration) -> std::io::Result<()> {
        self.front.begin_shutdown();
        for slot in self.front.models().slots() {
            if let Some(engine) = slot.engine() {
                engine.stop_filling();
            }
        }
        let _ = self.shutdown.send(true);
        // Streams outlive their HTTP connection (an upgrade leaves hyper's graceful
        // shutdown): wait for them to close too (each says 1001 once its frame is answered).
        let front = Arc::clone(&self.front);
        let finished = async move {
            let served = self.served.await;
            front.streams().closed().await;
            served
        };
        match tokio::time::timeout(grace, finished).await {
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
        .hash_files(site_is_hashed())
        .build()
}

/// cargo-leptos (`hash-files`) names the site's WASM, JS and CSS by their hashes and writes
/// the hashes to `hash.txt` beside the executable; the page must then name them the same
/// way. `LEPTOS_HASH_FILES=true|false` overrides.
fn site_is_hashed() -> bool {
    match std::env::var("LEPTOS_HASH_FILES").as_deref() {
        Ok("true") => true,
        Ok("false") => false,
        _ => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join("hash.txt").is_file()))
            .unwrap_or(false),
    }
}

/// The application and what it needs to come alive, before the models are loaded.
pub struct Prepared {
    pub app: axum::Router,
    pub front: Arc<Front>,
    pub repository: Arc<Repository>,
}

/// Checks the onnxruntime library (so a missing one is a clear error, not a 503 forever) and
/// the model list, and builds the router. The models are not loaded yet.
pub fn prepare(args: &ServeArgs, addr: SocketAddr) -> Result<Prepared, StartError> {
    let library = detector::runtime::locate_library(args.model.ort_library.as_deref());
    detector::runtime::init(&library)?;

    let specs = args.model.specs().map_err(StartError::Config)?;
    let threads = args.model.threads_per_session(specs.len());
    // Each engine sees only its own sessions; with several models the cores are shared, so
    // idle threads must not spin on them.
    let spinning = specs.len() == 1;
    let default = args
        .model
        .default_model
        .as_ref()
        .and_then(|d| specs.iter().position(|s| &s.name == d))
        .unwrap_or(0);
    // How every model is set up, those loaded later through the repository too (which then
    // share the cores with the others: no spinning).
    let recipe = |spinning: bool| -> Recipe {
        let (model_args, library) = (args.model.clone(), library.clone());
        let (queue_depth, deadline, tile_deadline, fill_quiet) = (
            args.queue_depth,
            args.request_deadline(),
            args.tile_deadline(),
            args.fill_quiet,
        );
        Arc::new(move |name: &str, path: &Path| {
            let mut config = detector::EngineConfig::new(path);
            config.layout = model_args.layout_for(name);
            config.sessions = usize::from(model_args.sessions);
            config.intra_threads = threads;
            config.spinning = config.spinning && spinning;
            config.queue_depth = queue_depth;
            config.deadline = deadline;
            config.tile_deadline = tile_deadline;
            config.ort_library = Some(library.clone());
            config.fill_quiet = fill_quiet;
            config
        })
    };
    let at_start = recipe(spinning);
    let models = specs
        .into_iter()
        .map(|spec| {
            let config = at_start(&spec.name, &spec.path);
            (spec.name, config)
        })
        .collect();
    let repository = Arc::new(Repository::new(
        args.model.models_dir.clone(),
        recipe(false),
        args.admin_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .map(Arc::from),
    ));

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
    let front = Arc::new(Front::new(
        Models::new(models, default),
        FrontLimits {
            max_body_bytes: args.limits.max_body_bytes,
            max_batch_body_bytes: args.max_batch_body_bytes,
            body_timeout: args.body_timeout(),
            body_budget_bytes: args.limits.body_budget_bytes(),
            image_budget_bytes: args.limits.image_budget_bytes(),
            decode: args.model.image_limits(),
            max_batch_images: args.max_batch_images,
            max_streams: args.max_streams,
            stream_idle: args.stream_idle(),
        },
        fetcher,
        args.api_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .map(Arc::from),
    ));
    let state = AppState {
        front: Arc::clone(&front),
        metrics: crate::metrics::install(),
        leptos_options: leptos_options(addr),
        host_guard: HostGuard::for_binding(addr.ip().is_loopback(), &args.allowed_hosts),
        repository: Arc::clone(&repository),
    };
    Ok(Prepared {
        app: crate::routes::router(state),
        front,
        repository,
    })
}

/// Loads one model with its first session on a blocking thread, then marks it ready (or
/// failed). The rest of its pool is built and warmed by [`fill_pool`].
pub async fn load_model(slot: Arc<ModelSlot>) -> Result<(), detector::EngineError> {
    let started = std::time::Instant::now();
    let config = slot.config().clone();
    let loaded = tokio::task::spawn_blocking(move || detector::Engine::load_first(&config))
        .await
        .map_err(|e| {
            detector::EngineError::Inference(format!("the model loading thread failed: {e}"))
        })
        .and_then(|r| r);
    match loaded {
        Ok(engine) => {
            let info = engine.info();
            tracing::info!(
                model = slot.name(), layout = info.layout.as_str(), sessions = info.sessions, threads = info.intra_threads,
                resize = %info.resize.describe(), load_ms = started.elapsed().as_millis() as u64, "model loaded; serving with its first session"
            );
            slot.set_engine(Arc::new(engine));
            Ok(())
        }
        Err(e) => {
            tracing::error!(model = slot.name(), error = %e, "the model could not be loaded; the other models are not affected");
            slot.set_failed(e.to_string());
            Err(e)
        }
    }
}

/// Builds and warms a loaded model's other sessions; each takes requests once warm. A
/// failure leaves the model serving with the sessions it has.
pub async fn fill_pool(slot: Arc<ModelSlot>) {
    let Some(engine) = slot.engine() else {
        return;
    };
    let started = std::time::Instant::now();
    let filler = Arc::clone(&engine);
    let filled = tokio::task::spawn_blocking(move || filler.fill_pool()).await;
    let (ready, sessions) = (engine.sessions_pooled(), engine.info().sessions);
    match filled {
        Ok(Ok(())) if ready < sessions => tracing::info!(
            model = slot.name(),
            sessions_ready = ready,
            sessions,
            "stopped building sessions: shutting down"
        ),
        Ok(Ok(())) => tracing::info!(
            model = slot.name(),
            sessions,
            fill_ms = started.elapsed().as_millis() as u64,
            "every session warmed up"
        ),
        Ok(Err(e)) => tracing::error!(
            model = slot.name(), error = %e, sessions_ready = ready, sessions, "a session could not be built; serving with the others"
        ),
        Err(e) => {
            tracing::error!(model = slot.name(), error = %e, "the session building thread failed")
        }
    }
}

/// Loads every model, one after the other (each load uses every core), the default first;
/// each serves with its first session, then the pools are filled (the default's first).
/// Fails only when the default model does: the others are reported and skipped.
pub async fn load_models(front: Arc<Front>) -> Result<(), detector::EngineError> {
    let registry = front.models();
    let mut slots: Vec<Arc<ModelSlot>> = registry.slots().to_vec();
    let default = registry.default_slot().cloned();
    if let Some(default) = &default {
        slots.retain(|s| !Arc::ptr_eq(s, default));
        load_model(Arc::clone(default)).await?;
        tracing::info!("the default model is ready; serving");
    }
    for slot in &slots {
        let _ = load_model(Arc::clone(slot)).await;
    }
    for slot in default.into_iter().chain(slots) {
        fill_pool(slot).await;
    }
    Ok(())
}

/// Binds, starts serving at once (not ready yet), and loads the models in the background.
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
    // The gRPC door (Open Inference Protocol), when asked for: bound before anything starts.
    let grpc_listener = match args.grpc_addr {
        Some(grpc_addr) => {
            Some(
                TcpListener::bind(grpc_addr)
                    .await
                    .map_err(|e| StartError::Bind {
                        addr: grpc_addr,
                        reason: e.to_string(),
                    })?,
            )
        }
        None => None,
    };
    let grpc_addr = grpc_listener.as_ref().and_then(|l| l.local_addr().ok());
    let watch_interval = args
        .watch
        .interval(args.model.models_dir.as_deref())
        .map_err(StartError::Config)?;
    let Prepared {
        app,
        front,
        repository,
    } = prepare(&args, addr)?;
    let model_loaded = tokio::spawn(load_models(Arc::clone(&front)));

    let (shutdown, stop) = watch::channel(false);
    let limits = ConnectionLimits {
        max_connections: args.max_connections,
        header_timeout: args.header_timeout(),
        // Enough for any body up to twice the largest limit (a batch's, when larger) on a
        // fast link; slower or larger ones are cut (the connection closes, as it would have
        // without draining).
        drain_bytes: (front.limits().largest_body() as u64).saturating_mul(2),
        drain_time: Duration::from_secs(5),
    };
    let http = crate::listen::serve(listener, app, limits, stop.clone());
    // `--watch-models`: the changed files of `--models-dir` reloaded on their own.
    if let Some(interval) = watch_interval {
        let (front, repository) = (Arc::clone(&front), Arc::clone(&repository));
        tokio::spawn(crate::watch::run(front, repository, interval, stop.clone()));
    }
    let grpc = grpc_listener.map(|listener| {
        let router = crate::routes::oip::grpc::router(Arc::clone(&front), repository);
        crate::listen::serve(listener, router, limits, stop)
    });
    let served = tokio::spawn(async move {
        match grpc {
            Some(grpc) => {
                let (http, grpc) = tokio::join!(http, grpc);
                http.and(grpc)
            }
            None => http.await,
        }
    });
    tracing::info!(%addr, "listening");
    if let Some(grpc_addr) = grpc_addr {
        tracing::info!(%grpc_addr, "listening for gRPC (Open Inference Protocol)");
    }
    Ok(Running {
        addr,
        grpc_addr,
        front,
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
