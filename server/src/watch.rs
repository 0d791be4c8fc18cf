//! `--watch-models`: a model file of `--models-dir` that changes is reloaded on its own,
//! through the same path as `POST /v2/repository/models/{name}/load`
//! ([`Repository::reload_if_changed`]): the new engine is built first and swapped in at once,
//! a file that does not load leaves the old model serving (logged with the reason), and a
//! file whose sha256 is the one serving changes nothing.
//!
//! The directory is polled rather than watched with inotify (or the like): polling sees
//! every way a file can change, on every filesystem, where change notifications miss some.
//! Network filesystems (NFS, SMB, FUSE mounts) send none for changes made elsewhere, and
//! Kubernetes' ConfigMap and projected volumes replace a file by swapping a `..data` symlink
//! one directory up, which a watch on the file (or its inode) does not see. A poll every
//! few seconds is one `stat` per model: nothing next to an inference.
//!
//! A file is reloaded once its fingerprint (size, modification time and where its symlinks
//! lead) has changed and then stayed the same for one more poll, so a file still being
//! copied in place is not loaded half-written.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::Args;
use tokio::sync::watch;

use crate::front::Front;
use crate::repository::{Reload, Repository};

/// The `--watch-models` flags of `lookout serve`.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Reload a model of --models-dir on its own when its file changes (polled every
    /// --watch-interval-secs; a file must stay unchanged for one more poll before it is
    /// loaded). As `POST /v2/repository/models/NAME/load`: built first, then swapped in; a
    /// file that does not load leaves the old model serving. Off by default.
    #[arg(long, env = "LOOKOUT_WATCH_MODELS")]
    pub watch_models: bool,
    /// How often --watch-models looks at the model files, in seconds.
    #[arg(long, env = "LOOKOUT_WATCH_INTERVAL_SECS", default_value_t = 2.0)]
    pub watch_interval_secs: f64,
}

impl WatchArgs {
    /// The poll interval, when watching is on: needs `--models-dir` and a sane interval.
    pub fn interval(&self, models_dir: Option<&Path>) -> Result<Option<Duration>, String> {
        if !self.watch_models {
            return Ok(None);
        }
        if models_dir.is_none() {
            return Err(
                "--watch-models reloads the models of --models-dir: give --models-dir too"
                    .to_owned(),
            );
        }
        let secs = self.watch_interval_secs;
        if !(secs.is_finite() && (0.01..=3600.0).contains(&secs)) {
            return Err(format!(
                "--watch-interval-secs must be between 0.01 and 3600 seconds, not {secs}"
            ));
        }
        Ok(Some(Duration::from_secs_f64(secs)))
    }
}

/// What a poll sees of a file: its size, modification time and the file its path leads to
/// (a symlink swap changes this even when size and time happen to be equal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
    target: Option<PathBuf>,
}

impl Fingerprint {
    /// `None` when the file is not there (or cannot be read): nothing is done about it.
    pub fn of(path: &Path) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        Some(Self {
            len: meta.len(),
            modified: meta.modified().ok(),
            target: std::fs::canonicalize(path).ok(),
        })
    }
}

/// One model file's watch: what was loaded, and a change waiting to settle.
#[derive(Debug, Default)]
pub struct Tracker {
    loaded: Option<Fingerprint>,
    pending: Option<Fingerprint>,
}

impl Tracker {
    /// Takes one poll's sight of the file; true when it should be reloaded now: it differs
    /// from what was loaded, and the previous poll saw it the same (it settled). The first
    /// sight is what serves.
    pub fn observe(&mut self, seen: Option<Fingerprint>) -> bool {
        let Some(seen) = seen else {
            self.pending = None;
            return false;
        };
        if self.loaded.is_none() {
            self.loaded = Some(seen);
            return false;
        }
        if self.loaded.as_ref() == Some(&seen) {
            self.pending = None;
            return false;
        }
        if self.pending.as_ref() == Some(&seen) {
            return true;
        }
        self.pending = Some(seen);
        false
    }

    /// The reload asked for by [`Tracker::observe`] is done (or failed: a broken file is
    /// tried again only once it changes again).
    pub fn settled(&mut self) {
        if let Some(seen) = self.pending.take() {
            self.loaded = Some(seen);
        }
    }
}

/// Polls the files of the served models that live in `--models-dir` every `interval` until
/// `stop` says so, reloading those that changed.
pub async fn run(
    front: Arc<Front>,
    repository: Arc<Repository>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let Some(dir) = repository.dir().map(Path::to_path_buf) else {
        return;
    };
    tracing::info!(dir = %dir.display(), interval_secs = interval.as_secs_f64(), "watching the model files for changes");
    let mut trackers: std::collections::HashMap<String, Tracker> = Default::default();
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() || front.is_shutting_down() {
            return;
        }
        let watched: Vec<(String, PathBuf)> = front
            .models()
            .slots()
            .iter()
            .filter(|slot| slot.config().model_path.starts_with(&dir))
            .map(|slot| (slot.name().to_owned(), slot.config().model_path.clone()))
            .collect();
        // A model no longer served (unloaded) is forgotten; loaded again, it starts afresh.
        trackers.retain(|name, _| watched.iter().any(|(n, _)| n == name));
        let seen = tokio::task::spawn_blocking(move || {
            watched
                .into_iter()
                .map(|(name, path)| {
                    let fingerprint = Fingerprint::of(&path);
                    (name, fingerprint)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for (name, fingerprint) in seen {
            let tracker = trackers.entry(name.clone()).or_default();
            if !tracker.observe(fingerprint) {
                continue;
            }
            let started = std::time::Instant::now();
            let outcome = repository.reload_if_changed(front.models(), &name).await;
            if outcome == Reload::Skipped {
                // Still loading from start: looked at again next poll.
                continue;
            }
            tracker.settled();
            crate::metrics::record_model_reload(&name, outcome.as_str());
            let ms = started.elapsed().as_millis() as u64;
            match outcome {
                Reload::Reloaded => {
                    tracing::info!(model = %name, reload_ms = ms, "the model file changed; reloaded")
                }
                Reload::Unchanged => {
                    tracing::info!(model = %name, "the model file was touched but its contents are the same; nothing to reload")
                }
                _ => {
                    tracing::warn!(model = %name, "the model file changed but did not load; the model already loaded keeps serving")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(len: u64) -> Option<Fingerprint> {
        Some(Fingerprint {
            len,
            modified: None,
            target: None,
        })
    }

    #[test]
    fn a_change_is_reloaded_once_it_has_settled() {
        let mut tracker = Tracker::default();
        assert!(
            !tracker.observe(print(10)),
            "the first sight is what serves"
        );
        assert!(!tracker.observe(print(10)));
        // Being copied: it grows, then stays.
        assert!(!tracker.observe(print(4)));
        assert!(!tracker.observe(print(8)));
        assert!(!tracker.observe(print(12)));
        assert!(tracker.observe(print(12)));
        tracker.settled();
        assert!(!tracker.observe(print(12)), "reloaded: nothing more to do");
        // Gone for a while (a rename in progress): nothing, then back as it was.
        assert!(!tracker.observe(None));
        assert!(!tracker.observe(print(12)));
        // Changed back before it settled: nothing.
        assert!(!tracker.observe(print(3)));
        assert!(!tracker.observe(print(12)));
        assert!(!tracker.observe(print(12)));
    }
}
