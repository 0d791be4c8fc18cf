//! Progress and notes on stderr (or into a buffer, for tests).

use std::io::{self, IsTerminal};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Progress {
    /// A progress bar when stderr is a terminal, else `lines`.
    #[default]
    Auto,
    /// A progress bar.
    Bar,
    /// A plain line every few seconds (logs, CI).
    Lines,
    /// Nothing but problems.
    Quiet,
}

/// Where notes go.
#[derive(Debug, Clone, Default)]
pub enum Notes {
    #[default]
    Stderr,
    /// Each line, without the `lookout: ` prefix, instead of stderr (and never a bar), so that
    /// a test can read what a user would.
    Capture(Arc<Mutex<Vec<String>>>),
}

impl Notes {
    /// A fresh capture, and the buffer it fills.
    pub fn capture() -> (Self, Arc<Mutex<Vec<String>>>) {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        (Self::Capture(Arc::clone(&buffer)), buffer)
    }
}

const LINE_EVERY: Duration = Duration::from_secs(5);

pub(crate) struct Reporter {
    mode: Progress,
    notes: Notes,
    file: String,
    total: u64,
    bar: Option<ProgressBar>,
    started: Instant,
    start_offset: u64,
    last_line: Instant,
}

impl Reporter {
    pub(crate) fn new(mode: Progress, notes: Notes, file: &str, total: u64) -> Self {
        let mode = match (mode, &notes) {
            (Progress::Auto | Progress::Bar, Notes::Capture(_)) => Progress::Lines,
            (Progress::Auto, Notes::Stderr) if io::stderr().is_terminal() => Progress::Bar,
            (Progress::Auto, Notes::Stderr) => Progress::Lines,
            (other, _) => other,
        };
        Self {
            mode,
            notes,
            file: file.to_owned(),
            total,
            bar: None,
            started: Instant::now(),
            start_offset: 0,
            last_line: Instant::now(),
        }
    }

    fn emit(&self, message: &str) {
        match (&self.notes, &self.bar) {
            (Notes::Capture(buffer), _) => buffer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(message.to_owned()),
            (Notes::Stderr, Some(bar)) => bar.println(format!("lookout: {message}")),
            (Notes::Stderr, None) => eprintln!("lookout: {message}"),
        }
    }

    /// What is happening; hidden by `--progress quiet`.
    pub(crate) fn note(&self, message: &str) {
        if self.mode != Progress::Quiet {
            self.emit(message);
        }
    }

    /// A problem the pull survives (a source given up): shown even with `--progress quiet`.
    pub(crate) fn warn(&self, message: &str) {
        self.emit(message);
    }

    pub(crate) fn begin(&mut self, offset: u64) {
        self.started = Instant::now();
        self.start_offset = offset;
        self.last_line = Instant::now();
        if self.mode == Progress::Bar {
            let bar = ProgressBar::with_draw_target(Some(self.total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(self.file.clone());
            bar.set_position(offset);
            self.bar = Some(bar);
        }
    }

    pub(crate) fn advance(&mut self, position: u64) {
        match self.mode {
            Progress::Bar => {
                if let Some(bar) = &self.bar {
                    bar.set_position(position);
                }
            }
            Progress::Lines if self.last_line.elapsed() >= LINE_EVERY => {
                self.last_line = Instant::now();
                let secs = self.started.elapsed().as_secs_f64().max(0.001);
                let rate = position.saturating_sub(self.start_offset) as f64 / secs;
                self.emit(&format!(
                    "{}: {} of {} ({:.0}%), {}/s",
                    self.file,
                    mib(position),
                    mib(self.total),
                    position as f64 * 100.0 / self.total.max(1) as f64,
                    mib(rate as u64)
                ));
            }
            _ => {}
        }
    }

    pub(crate) fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.note(&format!(
            "{}: {} received in {:.1} s",
            self.file,
            mib(self.total.saturating_sub(self.start_offset)),
            self.started.elapsed().as_secs_f64()
        ));
    }

    pub(crate) fn abandon(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }
}

pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
