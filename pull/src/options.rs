//! The options of a pull, shared by the download loop and each transfer.

use std::fmt;
use std::time::Duration;

use crate::progress::{Notes, Progress};

/// How [`crate::pull`] behaves.
#[derive(Clone)]
pub struct PullOptions {
    pub progress: Progress,
    pub notes: Notes,
    /// Download again even when the target already matches, and drop any partial download.
    pub force: bool,
    /// Most time to open a connection (DNS, TCP and TLS).
    pub connect_timeout: Duration,
    /// Most time without a byte arriving (the response headers included).
    pub stall_timeout: Duration,
    /// How many times, within one run, a source whose transfer broke is asked again.
    pub retries: u32,
    /// The wait before the first of those; each next one waits twice as long.
    pub retry_backoff: Duration,
    /// `HF_TOKEN`: sent as `Authorization: Bearer` to a Hub source's own host only.
    pub hub_token: Option<String>,
}

impl Default for PullOptions {
    fn default() -> Self {
        Self {
            progress: Progress::Auto,
            notes: Notes::Stderr,
            force: false,
            connect_timeout: Duration::from_secs(15),
            stall_timeout: Duration::from_secs(60),
            retries: 4,
            retry_backoff: Duration::from_millis(500),
            hub_token: None,
        }
    }
}

// By hand, so that the token never reaches a log through `{:?}`.
impl fmt::Debug for PullOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PullOptions")
            .field("progress", &self.progress)
            .field("notes", &self.notes)
            .field("force", &self.force)
            .field("connect_timeout", &self.connect_timeout)
            .field("stall_timeout", &self.stall_timeout)
            .field("retries", &self.retries)
            .field("retry_backoff", &self.retry_backoff)
            .field("hub_token", &self.hub_token.as_ref().map(|_| "<set>"))
            .finish()
    }
}
