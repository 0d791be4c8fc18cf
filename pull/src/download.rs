//! [`pull`]: the sources of a [`Plan`] in order, each asked again (with `Range`) when its
//! transfer breaks, until the pinned file is on disk and verified.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{io_error, root_cause, AllFailed, Answer, Mismatch, PullError, SourceFailure};
use crate::files::{
    check_existing, file_len, part_path, promote, remove_if_present, sha256_of, Existing,
};
use crate::options::PullOptions;
use crate::progress::Reporter;
use crate::source::Plan;
use crate::transfer::{Failure, Job, Tally};

/// What [`pull`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The verified file.
    pub path: PathBuf,
    /// It was already there and matched: nothing was requested.
    pub already_present: bool,
    /// Bytes that came over the network this run.
    pub fetched: u64,
    /// Bytes of the `.part` that an earlier run left and that start the file (0: it was
    /// downloaded whole this run).
    pub resumed_from: u64,
    /// The label of the source that sent the last bytes; `None` when nothing was requested.
    pub source: Option<String>,
    /// Times a broken transfer was asked again.
    pub retries: u32,
}

fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32 << attempt.min(16))
}

enum Delivered {
    /// Every byte is on disk; the sha256 it has (not yet compared with the pin).
    Digest([u8; 32]),
    /// The source's last answer.
    Failed(Answer),
}

/// Downloads `plan`'s file into `dir` (created if missing) unless a verified copy is already
/// there, trying its sources in order. Returns the verified file's path.
pub async fn pull(plan: &Plan, dir: &Path, options: &PullOptions) -> Result<Pulled, PullError> {
    if plan.sources.is_empty() {
        return Err(PullError::InvalidSource(
            "there is no source to download from".to_owned(),
        ));
    }
    let pin = &plan.pin;
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let target = dir.join(&pin.file_name);
    let part = part_path(&target);
    let mut reporter = Reporter::new(
        options.progress,
        options.notes.clone(),
        &pin.file_name,
        pin.size,
    );
    let done = |fetched, resumed_from, source, retries| Pulled {
        path: target.clone(),
        already_present: false,
        fetched,
        resumed_from,
        source,
        retries,
    };

    if options.force {
        remove_if_present(&part)?;
    } else {
        match check_existing(&target, pin).await? {
            Existing::Missing => {}
            Existing::Verified => {
                reporter.note(&format!(
                    "{} is already here and verified (sha256 {}, {} bytes): nothing to download",
                    target.display(),
                    pin.sha256_hex(),
                    pin.size
                ));
                return Ok(Pulled {
                    already_present: true,
                    ..done(0, 0, None, 0)
                });
            }
            Existing::Differs(why) => reporter.note(&format!(
                "{} exists but {why}; downloading the pinned file (it replaces that one only once it verifies)",
                target.display()
            )),
        }
    }

    let mut tally = Tally::default();
    match file_len(&part)? {
        Some(len) if len > pin.size => {
            reporter.note(&format!(
                "{} is larger than the pinned file: starting again",
                part.display()
            ));
            remove_if_present(&part)?;
        }
        Some(len) if len == pin.size => {
            // Complete but never verified (interrupted during the check): no need to ask.
            if sha256_of(&part, len).await? == pin.sha256 {
                promote(&part, &target)?;
                reporter.note(&format!("{} verified from its .part", target.display()));
                return Ok(done(0, len, None, 0));
            }
            reporter.note(&format!(
                "{} is complete but is not the pinned file: deleted, downloading it again",
                part.display()
            ));
            remove_if_present(&part)?;
        }
        Some(len) => tally.resumed_from = len,
        None => {}
    }

    let client = reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("lookout/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| PullError::Client(root_cause(&e)))?;

    let total = plan.sources.len();
    let mut failures = Vec::with_capacity(total);
    let mut retries = 0;
    for (index, source) in plan.sources.iter().enumerate() {
        let job = Job {
            client: &client,
            source,
            pin,
            part: &part,
            options,
        };
        match from_source(&job, &mut tally, &mut reporter, &mut retries).await? {
            Delivered::Digest(digest) if digest == pin.sha256 => {
                promote(&part, &target)?;
                reporter.note(&format!(
                    "{} verified (sha256 {}, {} bytes)",
                    target.display(),
                    pin.sha256_hex(),
                    pin.size
                ));
                return Ok(done(
                    tally.fetched,
                    tally.resumed_from,
                    Some(source.label()),
                    retries,
                ));
            }
            Delivered::Digest(digest) => {
                remove_if_present(&part)?;
                return Err(PullError::HashMismatch(Box::new(Mismatch {
                    file: pin.file_name.clone(),
                    from: source.label(),
                    url: source.url.to_string(),
                    expected: pin.sha256_hex(),
                    actual: hex::encode(digest),
                    resumed_from: tally.source_start,
                })));
            }
            Delivered::Failed(answer) => {
                if let Some(next) = plan.sources.get(index + 1) {
                    reporter.warn(&format!(
                        "source {}/{total} {}: {answer}; trying {}",
                        index + 1,
                        source.label(),
                        next.label()
                    ));
                }
                failures.push(SourceFailure {
                    label: source.label(),
                    url: source.url.to_string(),
                    answer,
                });
            }
        }
    }
    let partial = file_len(&part)?
        .filter(|&len| len > 0)
        .map(|len| (part.clone(), len));
    Err(PullError::AllSourcesFailed(Box::new(AllFailed {
        file: pin.file_name.clone(),
        target: std::path::absolute(&target).unwrap_or(target),
        sha256: pin.sha256_hex(),
        size: pin.size,
        failures,
        partial,
    })))
}

/// One source: its first URL, asked again after each break (up to `options.retries` times)
/// from what is on disk, never from byte 0 while a prefix is there.
async fn from_source(
    job: &Job<'_>,
    tally: &mut Tally,
    reporter: &mut Reporter,
    retries: &mut u32,
) -> Result<Delivered, PullError> {
    let allowed = job.options.retries;
    let mut used = 0;
    let mut restarts = 0;
    tally.source_start = file_len(job.part)?.unwrap_or(0);
    loop {
        let offset = file_len(job.part)?.unwrap_or(0);
        match job.run(offset, tally, reporter).await {
            Ok(digest) => return Ok(Delivered::Digest(digest)),
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Refused(answer)) => return Ok(Delivered::Failed(answer)),
            Err(Failure::Broken(answer)) if used >= allowed => {
                return Ok(Delivered::Failed(answer))
            }
            Err(Failure::Broken(answer)) => {
                let wait = backoff(job.options.retry_backoff, used);
                used += 1;
                *retries += 1;
                let on_disk = file_len(job.part)?.unwrap_or(0);
                reporter.note(&format!(
                    "{answer}; asking {} again for the rest (from byte {on_disk}) in {:.1} s, retry {used} of {allowed}",
                    job.source.url,
                    wait.as_secs_f64()
                ));
                tokio::time::sleep(wait).await;
            }
            Err(Failure::Restart(reason)) => {
                restarts += 1;
                if restarts > 2 {
                    return Ok(Delivered::Failed(Answer::Unresumable(reason)));
                }
                reporter.note(&format!("{reason}: starting again from the beginning"));
                remove_if_present(job.part)?;
                tally.prefix = None;
                tally.resumed_from = 0;
                tally.source_start = 0;
            }
        }
    }
}
