//! One HTTP transfer: ask a source's first URL (from the `.part`'s length, with `Range`),
//! follow its redirects by hand, and stream the body into the `.part` while hashing it.
//!
//! Redirects are followed here rather than by reqwest so that each hop's URL is checked and
//! the Hub token goes only to the host it is meant for.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

use futures_util::StreamExt;
use reqwest::header::{CONTENT_RANGE, LOCATION, RANGE};
use reqwest::{Response, StatusCode};
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::{io_error, root_cause, Answer, PullError};
use crate::files::{hash_prefix, remove_if_present};
use crate::options::PullOptions;
use crate::progress::{mib, Reporter};
use crate::source::{host_of, Pin, Source, SourceKind};

/// Hops after the first URL; the Hub needs one (to its storage host).
pub const MAX_REDIRECTS: usize = 10;

/// How one transfer failed, which decides what happens next.
pub(crate) enum Failure {
    /// Ask the source's first URL again, from what is on disk (a break, a stall, an expired
    /// signed URL, a server error).
    Broken(Answer),
    /// This source will not serve the pinned file: try the next.
    Refused(Answer),
    /// The `.part` cannot be continued from this source: start it over.
    Restart(String),
    /// Stop the pull (the disk failed).
    Fatal(PullError),
}

impl From<PullError> for Failure {
    fn from(e: PullError) -> Self {
        Self::Fatal(e)
    }
}

/// The hasher state at the `.part`'s end, so that a resume in the same run need not read
/// the prefix again.
pub(crate) struct Prefix {
    pub len: u64,
    pub hasher: Sha256,
}

/// What the transfers of one run share.
#[derive(Default)]
pub(crate) struct Tally {
    pub prefix: Option<Prefix>,
    /// Bytes received over the network this run.
    pub fetched: u64,
    /// Bytes that were on disk when the run began and still start the file.
    pub resumed_from: u64,
    /// Bytes that were on disk when the current source began and still start the file.
    pub source_start: u64,
}

pub(crate) struct Job<'a> {
    pub client: &'a reqwest::Client,
    pub source: &'a Source,
    pub pin: &'a Pin,
    pub part: &'a Path,
    pub options: &'a PullOptions,
}

impl Job<'_> {
    /// The Hub token, for the Hub source's own origin only: never for a redirect's storage
    /// host, a mirror or GitHub.
    fn token_for(&self, url: &Url) -> Option<&str> {
        let own = self.source.kind == SourceKind::Hub && url.origin() == self.source.url.origin();
        self.options.hub_token.as_deref().filter(|_| own)
    }

    fn stalled(&self, host: String) -> Answer {
        Answer::Stalled {
            host,
            secs: self.options.stall_timeout.as_secs(),
        }
    }

    /// Sends the request for the first URL and follows redirects; the final answer and how
    /// many hops it took.
    async fn open(&self, offset: u64) -> Result<(Response, usize), Failure> {
        let mut url = self.source.url.clone();
        for hop in 0..=MAX_REDIRECTS {
            if !matches!(url.scheme(), "http" | "https") {
                return Err(Failure::Refused(Answer::Redirect(format!(
                    "it redirected to {url}, which is not an http or https address"
                ))));
            }
            let mut request = self.client.get(url.clone());
            if offset > 0 {
                request = request.header(RANGE, format!("bytes={offset}-"));
            }
            if let Some(token) = self.token_for(&url) {
                request = request.bearer_auth(token);
            }
            let response =
                match tokio::time::timeout(self.options.stall_timeout, request.send()).await {
                    Err(_) => return Err(Failure::Broken(self.stalled(host_of(&url)))),
                    Ok(Err(e)) => return Err(self.request_failure(&e, &url, hop, offset)),
                    Ok(Ok(response)) => response,
                };
            let status = response.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                return Ok((response, hop));
            }
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let Some(location) = location else {
                return Err(Failure::Refused(Answer::Redirect(format!(
                    "{} answered {status} without a Location",
                    host_of(&url)
                ))));
            };
            url = url.join(&location).map_err(|e| {
                Failure::Refused(Answer::Redirect(format!(
                    "{} redirected to {location:?}, which is not a URL ({e})",
                    host_of(&url)
                )))
            })?;
        }
        Err(Failure::Refused(Answer::Redirect(format!(
            "more than {MAX_REDIRECTS} redirects"
        ))))
    }

    /// A host that cannot be reached at the first hop is given up at once (offline, or a
    /// blocked host: asking again would only wait); anything later is worth asking again.
    fn request_failure(&self, e: &reqwest::Error, url: &Url, hop: usize, offset: u64) -> Failure {
        let host = host_of(url);
        let detail = root_cause(e);
        if e.is_connect() {
            let answer = Answer::Unreachable { host, detail };
            if hop == 0 {
                Failure::Refused(answer)
            } else {
                Failure::Broken(answer)
            }
        } else if e.is_timeout() {
            Failure::Broken(self.stalled(host))
        } else {
            Failure::Broken(Answer::Interrupted {
                host,
                received: offset,
                expected: self.pin.size,
                detail,
            })
        }
    }

    /// Where the body starts in the file, from the answer's status.
    fn body_start(&self, response: &Response, hop: usize, offset: u64) -> Result<u64, Failure> {
        let host = host_of(response.url());
        let status = response.status();
        match status {
            StatusCode::PARTIAL_CONTENT => {
                let range = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_content_range);
                match range {
                    Some(range) if range.start == offset => {
                        if let Some(total) = range.total.filter(|&t| t != self.pin.size) {
                            remove_if_present(self.part)?;
                            return Err(Failure::Refused(Answer::SizeMismatch {
                                expected: self.pin.size,
                                actual: total,
                            }));
                        }
                        Ok(offset)
                    }
                    _ => Err(Failure::Restart(format!(
                        "{host} answered the resume request with another range"
                    ))),
                }
            }
            StatusCode::OK => {
                if let Some(len) = response.content_length().filter(|&l| l != self.pin.size) {
                    remove_if_present(self.part)?;
                    return Err(Failure::Refused(Answer::SizeMismatch {
                        expected: self.pin.size,
                        actual: len,
                    }));
                }
                Ok(0)
            }
            StatusCode::RANGE_NOT_SATISFIABLE if offset > 0 => Err(Failure::Restart(format!(
                "{host} refused to resume at byte {offset} (416)"
            ))),
            _ => {
                let answer = Answer::Status {
                    status: status.as_u16(),
                    via: (hop > 0).then_some(host),
                };
                // A storage host's 403/410 is how an expired signed URL reads; the first URL
                // issues a fresh one.
                let expired = hop > 0 && matches!(status.as_u16(), 403 | 410);
                let transient = matches!(status.as_u16(), 408 | 429) || status.is_server_error();
                if expired || transient {
                    Err(Failure::Broken(answer))
                } else {
                    Err(Failure::Refused(answer))
                }
            }
        }
    }

    /// One request, from `offset` (the `.part`'s length), to the end of the file or a
    /// failure. The pinned file's sha256 when every byte is on disk (not yet compared).
    pub(crate) async fn run(
        &self,
        offset: u64,
        tally: &mut Tally,
        reporter: &mut Reporter,
    ) -> Result<[u8; 32], Failure> {
        if offset > 0 {
            reporter.note(&format!(
                "resuming {} at byte {offset} of {} from {}",
                self.part.display(),
                self.pin.size,
                self.source.url
            ));
        } else {
            reporter.note(&format!(
                "downloading {} ({}) from {}",
                self.pin.file_name,
                mib(self.pin.size),
                self.source.url
            ));
        }
        let (response, hop) = self.open(offset).await?;
        let start = self.body_start(&response, hop, offset)?;
        let host = host_of(response.url());
        if start == 0 && offset > 0 {
            reporter.note(&format!(
                "{host} does not resume downloads (it sent the whole file): starting again from the beginning"
            ));
        }
        let cached = tally.prefix.take().filter(|p| p.len == start && start > 0);
        let (file, mut hasher) = if start == 0 {
            tally.resumed_from = 0;
            tally.source_start = 0;
            let file = File::create(self.part).map_err(io_error(self.part))?;
            (file, Sha256::new())
        } else {
            let hasher = match cached {
                Some(prefix) => prefix.hasher,
                None => hash_prefix(self.part.to_path_buf(), start).await?,
            };
            let file = OpenOptions::new()
                .append(true)
                .open(self.part)
                .map_err(io_error(self.part))?;
            (file, hasher)
        };
        // Writes go to the page cache through a 1 MiB buffer: short enough not to matter on
        // the executor, which keeps this a plain loop.
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        let mut received = start;
        reporter.begin(start);
        let mut body = response.bytes_stream();
        let outcome = loop {
            let chunk = match tokio::time::timeout(self.options.stall_timeout, body.next()).await {
                Err(_) => break Err(Failure::Broken(self.stalled(host.clone()))),
                Ok(None) => break Ok(()),
                Ok(Some(Err(e))) => {
                    break Err(Failure::Broken(Answer::Interrupted {
                        host: host.clone(),
                        received,
                        expected: self.pin.size,
                        detail: root_cause(&e),
                    }))
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            let len = chunk.len() as u64;
            tally.fetched += len;
            if received.saturating_add(len) > self.pin.size {
                drop(writer);
                reporter.abandon();
                remove_if_present(self.part)?;
                return Err(Failure::Refused(Answer::TooLong {
                    expected: self.pin.size,
                }));
            }
            if let Err(e) = writer.write_all(&chunk) {
                break Err(Failure::Fatal(io_error(self.part)(e)));
            }
            hasher.update(&chunk);
            received += len;
            reporter.advance(received);
        };
        // Whatever happened, what arrived is on disk so that the next attempt can resume.
        let flushed = writer
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|file| file.sync_all())
            .map_err(io_error(self.part));
        if let Err(e) = flushed {
            reporter.abandon();
            return Err(Failure::Fatal(e));
        }
        if let Err(failure) = outcome {
            reporter.abandon();
            tally.prefix = Some(Prefix {
                len: received,
                hasher,
            });
            return Err(failure);
        }
        if received < self.pin.size {
            reporter.abandon();
            tally.prefix = Some(Prefix {
                len: received,
                hasher,
            });
            return Err(Failure::Broken(Answer::Interrupted {
                host,
                received,
                expected: self.pin.size,
                detail: "the server closed the connection early".to_owned(),
            }));
        }
        reporter.finish();
        Ok(hasher.finalize().into())
    }
}

/// `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    pub start: u64,
    pub end: u64,
    pub total: Option<u64>,
}

pub fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.trim().split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    (start <= end && total.is_none_or(|t| end < t)).then_some(ContentRange { start, end, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parses() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            Some(ContentRange {
                start: 100,
                end: 199,
                total: Some(200)
            })
        );
        assert_eq!(
            parse_content_range("bytes 0-9/*").map(|r| r.total),
            Some(None)
        );
        for bad in [
            "bytes 5-4/10",
            "bytes 0-10/10",
            "items 0-1/2",
            "bytes */10",
            "bytes 1-2",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }
}
