//! `lookout pull-model`'s arguments, `--list`, and the command itself.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::catalogue::{catalogue_entry, catalogue_names, CatalogueEntry, Origin, CATALOGUE};
use crate::download::pull;
use crate::error::PullError;
use crate::options::PullOptions;
use crate::progress::{Notes, Progress};
use crate::source::{file_name_from_url, HubEnv, Pin, Plan, Source, SourceKind};

/// `lookout pull-model`: fetch a model into the models directory, verified.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Sources are tried in order: --url when given, then the catalogue's \
    (the Hugging Face Hub first, GitHub LFS after it). HF_ENDPOINT replaces the Hub's address \
    (https://huggingface.co) with a mirror's; HF_TOKEN is sent to the Hub's own host only.\n\n\
    Examples:\n  \
    lookout pull-model                       # coco-zoo: the ONNX model zoo's FasterRCNN-12 (169 MB)\n  \
    lookout pull-model --list                # the catalogue and each entry's sources\n  \
    lookout pull-model coco-zoo --url https://mirror.example/FasterRCNN-12.onnx\n  \
    HF_ENDPOINT=https://hf-mirror.example lookout pull-model coco-zoo\n  \
    lookout pull-model --url URL --sha256 HEX --size BYTES [--file NAME]"
)]
pub struct PullArgs {
    /// A model from the catalogue (`--list` shows them). Default: coco-zoo, unless --url is given.
    pub name: Option<String>,
    /// Where the model goes.
    #[arg(long, default_value = "models")]
    pub dir: PathBuf,
    /// Try this address first (a mirror, an air-gapped server). With a catalogue NAME its pin
    /// still applies and its own sources follow; without one, --sha256 and --size are required.
    #[arg(long)]
    pub url: Option<String>,
    /// The sha256 the file must have (64 hex digits).
    #[arg(long, requires = "url")]
    pub sha256: Option<String>,
    /// The size the file must have, in bytes.
    #[arg(long, requires = "url")]
    pub size: Option<u64>,
    /// The file name in --dir (default: the catalogue's, else the URL's last segment).
    #[arg(long, requires = "url")]
    pub file: Option<String>,
    /// Download again even if a verified copy is there, discarding any partial download.
    #[arg(long)]
    pub force: bool,
    /// List the catalogue, with each entry's sources in the order they are tried, and exit.
    #[arg(long)]
    pub list: bool,
    /// Progress on stderr.
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,
    /// Give up connecting after this many seconds.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    pub connect_timeout_secs: u64,
    /// Ask again (resuming) when no data arrives for this many seconds; the partial file is kept.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub stall_timeout_secs: u64,
}

impl PullArgs {
    /// The plan these arguments describe, and the catalogue entry they name, if any.
    pub fn plan(&self, hub: &HubEnv) -> Result<(Plan, Option<&'static CatalogueEntry>), PullError> {
        let entry = match (&self.name, &self.url) {
            (Some(name), _) => Some(catalogue_entry(name).ok_or_else(|| {
                PullError::InvalidSource(format!(
                    "no model called {name:?}; known: {} (or pass --url, --sha256 and --size)",
                    catalogue_names()
                ))
            })?),
            (None, Some(_)) => None,
            (None, None) => catalogue_entry("coco-zoo"),
        };
        if let Some(entry) = entry {
            let mut plan = Plan::for_entry(entry, self.url.as_deref(), hub)?;
            // A catalogue model may be given another pin or name only with --url, and then
            // the pin is the user's, as the file is.
            let custom = self.sha256.is_some() || self.size.is_some() || self.file.is_some();
            if custom {
                plan.pin = Pin::new(
                    self.file.as_deref().unwrap_or(entry.file_name),
                    self.sha256.as_deref().unwrap_or(entry.sha256),
                    self.size.unwrap_or(entry.size),
                )?;
            }
            return Ok((plan, Some(entry)));
        }
        let missing = |what: &str| {
            PullError::InvalidSource(format!(
                "--url without a catalogue model needs {what} (the file is verified against them)"
            ))
        };
        let url = self.url.as_deref().ok_or_else(|| missing("a NAME"))?;
        let sha256 = self.sha256.as_deref().ok_or_else(|| missing("--sha256"))?;
        let size = self.size.ok_or_else(|| missing("--size"))?;
        let file = match &self.file {
            Some(file) => file.clone(),
            None => file_name_from_url(url).ok_or_else(|| {
                PullError::InvalidSource(format!("cannot tell a file name from {url}: pass --file"))
            })?,
        };
        let pin = Pin::new(&file, sha256, size)?;
        Ok((
            Plan::single(Source::new(SourceKind::Mirror, url)?, pin),
            None,
        ))
    }

    pub fn options(&self, hub: &HubEnv) -> PullOptions {
        PullOptions {
            progress: self.progress,
            notes: Notes::Stderr,
            force: self.force,
            connect_timeout: Duration::from_secs(self.connect_timeout_secs),
            stall_timeout: Duration::from_secs(self.stall_timeout_secs),
            hub_token: hub.token.clone(),
            ..PullOptions::default()
        }
    }
}

/// `--list`: each entry, then its sources in the order they are tried.
pub fn listing(hub: &HubEnv) -> Result<String, PullError> {
    let mut out = String::new();
    for entry in CATALOGUE {
        let plan = Plan::for_entry(entry, None, hub)?;
        let _ = writeln!(
            out,
            "{}\t{}\t{} bytes\tsha256 {}\n  {}",
            entry.name, entry.file_name, entry.size, entry.sha256, entry.summary
        );
        for (i, (source, origin)) in plan.sources.iter().zip(entry.origins).enumerate() {
            let who = match origin {
                Origin::Hub { .. } if hub.endpoint.is_some() => {
                    "Hugging Face Hub mirror (HF_ENDPOINT)"
                }
                Origin::Hub { .. } => "Hugging Face Hub",
                Origin::Web { name, .. } => name,
            };
            let _ = writeln!(out, "  source {}: {who}: {}", i + 1, source.url);
        }
    }
    Ok(out)
}

/// Runs `lookout pull-model`: the verified file's path on stdout, everything else on stderr.
pub fn run(args: PullArgs) -> ExitCode {
    let hub = HubEnv::from_env();
    if args.list {
        return match listing(&hub) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("lookout: {e}");
                ExitCode::from(2)
            }
        };
    }
    let (plan, entry) = match args.plan(&hub) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("lookout: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("lookout: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(pull(&plan, &args.dir, &args.options(&hub))) {
        Ok(pulled) => {
            if let Some(entry) = entry {
                if args.progress != Progress::Quiet {
                    let path = pulled.path.display().to_string();
                    eprintln!("lookout: {}", entry.usage.replace("{path}", &path));
                }
            }
            println!("{}", pulled.path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lookout: {e}");
            ExitCode::FAILURE
        }
    }
}
