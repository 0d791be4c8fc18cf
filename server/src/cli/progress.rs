//! Progress on stderr while `lookout detect` runs, and the problems with single inputs.

use std::io::{self, IsTerminal};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pull::Progress;

/// Progress on stderr: a bar on a terminal, else a line every few seconds and at the end.
pub(super) struct Reporter {
    mode: Progress,
    bar: Option<ProgressBar>,
    total: usize,
    position: std::cell::Cell<usize>,
    started: Instant,
    last_line: std::cell::Cell<Instant>,
}

const LINE_EVERY: Duration = Duration::from_secs(5);

impl Reporter {
    pub(super) fn new(mode: Progress) -> Self {
        let mode = match mode {
            Progress::Auto if io::stderr().is_terminal() => Progress::Bar,
            Progress::Auto => Progress::Lines,
            other => other,
        };
        Self {
            mode,
            bar: None,
            total: 0,
            position: std::cell::Cell::new(0),
            started: Instant::now(),
            last_line: std::cell::Cell::new(Instant::now()),
        }
    }

    /// A problem with one input: always shown (even with `--progress quiet`).
    pub(super) fn note(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(format!("lookout: {message}")),
            None => eprintln!("lookout: {message}"),
        }
    }

    pub(super) fn begin(&mut self, total: usize) {
        self.total = total;
        self.started = Instant::now();
        if self.mode == Progress::Bar && total > 1 {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "detecting [{bar:30}] {pos}/{len} images {per_sec} eta {eta} {msg}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            self.bar = Some(bar);
        }
    }

    pub(super) fn advance(&self, failed: usize) {
        let position = self.position.get() + 1;
        self.position.set(position);
        match (&self.bar, self.mode) {
            (Some(bar), _) => {
                bar.set_position(position as u64);
                if failed > 0 {
                    bar.set_message(format!("({failed} failed)"));
                }
            }
            (None, Progress::Lines) if self.last_line.get().elapsed() >= LINE_EVERY => {
                self.last_line.set(Instant::now());
                eprintln!(
                    "lookout: {position}/{} images, {failed} failed, {:.1} images/s",
                    self.total,
                    position as f64 / self.started.elapsed().as_secs_f64().max(0.001)
                );
            }
            _ => {}
        }
    }

    pub(super) fn finish(&self, succeeded: usize, failed: usize) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.mode != Progress::Quiet && self.total > 1 {
            let secs = self.started.elapsed().as_secs_f64();
            eprintln!(
                "lookout: {succeeded} images detected, {failed} failed, in {secs:.1} s ({:.1} images/s)",
                succeeded as f64 / secs.max(0.001)
            );
        }
    }
}
