//! What can go wrong, typed: [`PullError`] ends a pull; an [`Answer`] is why one source did not
//! deliver, and only ends the pull once every source has given one.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why one source did not deliver the pinned file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Answer {
    #[error("cannot connect to {host} ({detail})")]
    Unreachable { host: String, detail: String },
    /// `via` names the host that answered when it is not the source's own (a redirect's).
    #[error("{}{}", status_text(*status), via.as_ref().map(|h| format!(" from {h}")).unwrap_or_default())]
    Status { status: u16, via: Option<String> },
    #[error("{host} stopped sending for {secs} s")]
    Stalled { host: String, secs: u64 },
    #[error("the transfer from {host} broke off at byte {received} of {expected} ({detail})")]
    Interrupted {
        host: String,
        received: u64,
        expected: u64,
        detail: String,
    },
    #[error("it offers {actual} bytes but the pin says {expected}, so it is not the pinned file{}", lfs_hint(*.actual))]
    SizeMismatch { expected: u64, actual: u64 },
    #[error("it sent more than the {expected} bytes pinned, so it is not the pinned file")]
    TooLong { expected: u64 },
    /// A redirect without a usable `Location`, to a scheme other than http(s), or too many.
    #[error("{0}")]
    Redirect(String),
    #[error("it kept answering resume requests inconsistently ({0})")]
    Unresumable(String),
}

fn status_text(status: u16) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    match reason {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

fn lfs_hint(actual: u64) -> &'static str {
    // GitHub serves the ~130-byte Git LFS pointer instead of the file when LFS does not.
    if actual < 1024 {
        " (a file that small is likely a Git LFS pointer, not the model)"
    } else {
        ""
    }
}

/// One source that did not deliver, for [`PullError::AllSourcesFailed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFailure {
    /// Its host (and port), as the progress lines name it.
    pub label: String,
    pub url: String,
    pub answer: Answer,
}

/// Every source was tried and none delivered.
#[derive(Debug, Error)]
#[error("{}", all_failed(self))]
pub struct AllFailed {
    pub file: String,
    /// Where the verified file would have gone: where to put it by hand.
    pub target: PathBuf,
    pub sha256: String,
    pub size: u64,
    /// In the order they were tried.
    pub failures: Vec<SourceFailure>,
    /// The `.part` file kept for the next run, and its length.
    pub partial: Option<(PathBuf, u64)>,
}

/// The bytes a source sent are not the pinned file's. Fail closed: they are deleted, and no
/// other source is tried, since a source that serves other bytes under a pinned name is a
/// wrong mirror, a moved file or tampering, and the user has to look.
#[derive(Debug, Error)]
#[error("{file} from {from} ({url}) failed verification: its sha256 is {actual} but {expected} was pinned. The download was deleted and no other source was tried: a source that serves other bytes than the pinned file is refused (check --url or the mirror's copy){}", resumed_note(*resumed_from))]
pub struct Mismatch {
    pub file: String,
    /// The label of the source that sent the last bytes.
    pub from: String,
    pub url: String,
    pub expected: String,
    pub actual: String,
    /// Bytes that were already on disk, from an earlier run or source, when it began.
    pub resumed_from: u64,
}

#[derive(Debug, Error)]
pub enum PullError {
    /// A bad URL, file name, hash or size, or an unknown model: nothing was contacted.
    #[error("{0}")]
    InvalidSource(String),
    #[error("{0}")]
    AllSourcesFailed(Box<AllFailed>),
    #[error("{0}")]
    HashMismatch(Box<Mismatch>),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

fn resumed_note(resumed_from: u64) -> String {
    if resumed_from == 0 {
        String::new()
    } else {
        format!(
            "; its first {resumed_from} bytes were already on disk from an earlier attempt, so \
             they may be the bad ones: run the command again to download it whole"
        )
    }
}

fn all_failed(failed: &AllFailed) -> String {
    let AllFailed {
        file,
        target,
        sha256,
        size,
        failures,
        partial,
    } = failed;
    let total = failures.len();
    let mut message = format!(
        "could not download {file} from {}: ",
        if total == 1 {
            "its source".to_owned()
        } else {
            format!("any of its {total} sources")
        }
    );
    for (i, failure) in failures.iter().enumerate() {
        if i > 0 {
            message.push_str("; ");
        }
        let _ = write!(
            message,
            "[{}/{total} {}] {}: {}",
            i + 1,
            failure.label,
            failure.url,
            failure.answer
        );
    }
    let _ = write!(
        message,
        ". Without these hosts: put the file at {} yourself (it must have sha256 {sha256} and \
         {size} bytes; this command then verifies it and downloads nothing), or pass --url with \
         a mirror you can reach (the sha256 and size pin still apply)",
        target.display()
    );
    if let Some((part, len)) = partial {
        let _ = write!(
            message,
            ". The partial download {} ({len} bytes) is kept: run the same command again to resume",
            part.display()
        );
    }
    message
}

/// Wraps an I/O error with the path it concerns.
pub(crate) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> PullError + '_ {
    move |source| PullError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The innermost cause's message: reqwest's own ("error sending request") says little.
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}
