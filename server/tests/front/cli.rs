//! `lookout detect` as a door of the tables: the image written to a file, the options as
//! flags, the server's limits, models and threads as the command line's; what it prints read
//! back as an [`Answer`]: its JSON record or export (200), or the problem it words (`lookout:
//! FILE: Title: detail`) as the problem of that title, with its status and `type`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use wire::ProblemKind;

use crate::common::{repo, TestServer};
use crate::doors::{Answer, Input};
use crate::LIMIT;

/// The problems `lookout detect` can print, each known by its title. It fetches no URL (an
/// `Image too large` is the image's), and an empty file is a missing image.
const KINDS: [ProblemKind; 11] = [
    ProblemKind::Invalid,
    ProblemKind::MissingImage,
    ProblemKind::NotAnImage,
    ProblemKind::UnsupportedImage,
    ProblemKind::ImageTooLarge,
    ProblemKind::CorruptImage,
    ProblemKind::ImageShape,
    ProblemKind::BodyTooLarge,
    ProblemKind::Busy,
    ProblemKind::Timeout,
    ProblemKind::Internal,
];

/// Runs `input` through `lookout detect` with `server`'s limits and models.
pub async fn ask(server: &TestServer, input: &Input) -> Answer {
    let file = image_file(input);
    let args = command_line(server, input, &file);
    let out = tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_lookout"))
            .current_dir(repo())
            .stdin(Stdio::null())
            .args(&args)
            .output()
            .unwrap();
        std::fs::remove_file(&file).unwrap();
        (out, file)
    })
    .await
    .unwrap();
    read(&out.0, &out.1)
}

/// The image as a file of its own (none: an empty file; oversize: padded past the limit).
fn image_file(input: &Input) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("front-cli");
    std::fs::create_dir_all(&dir).unwrap();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let file = dir.join(format!("{}-{n}.img", std::process::id()));
    let mut bytes = input.image.clone().unwrap_or_default();
    if input.oversize {
        bytes.resize(bytes.len() + LIMIT + 1024, b'x');
    }
    std::fs::write(&file, bytes).unwrap();
    file
}

fn command_line(server: &TestServer, input: &Input, file: &Path) -> Vec<String> {
    let front = &server.running.as_ref().unwrap().front;
    let limits = front.limits();
    const MIB: u64 = 1024 * 1024;
    let mut args: Vec<String> = [
        "detect".to_owned(),
        file.display().to_string(),
        "--progress".to_owned(),
        "quiet".to_owned(),
        // Sessions change nothing in the answers; one loads sooner.
        "--sessions".to_owned(),
        "1".to_owned(),
    ]
    .into();
    let mut flag = |name: &str, value: String| args.extend([format!("--{name}"), value]);
    flag("max-body-bytes", limits.max_body_bytes.to_string());
    flag("max-image-side", limits.decode.max_side.to_string());
    flag(
        "max-megapixels",
        (limits.decode.max_pixels as f64 / 1e6).to_string(),
    );
    flag(
        "max-decode-mib",
        (limits.decode.max_alloc / MIB).to_string(),
    );
    flag(
        "body-budget-mib",
        (limits.body_budget_bytes / MIB).to_string(),
    );
    flag(
        "image-budget-mib",
        (limits.image_budget_bytes / MIB).to_string(),
    );
    let models = front.models();
    for slot in models.slots() {
        let config = slot.config();
        flag(
            "model",
            format!("{}={}", slot.name(), config.model_path.display()),
        );
        if let Some(layout) = config.layout {
            flag("layout", format!("{}={}", slot.name(), layout.as_str()));
        }
    }
    // The request's model is the command line's --default-model (the one it loads).
    let default = models.default_slot().unwrap();
    flag("threads", default.config().intra_threads.to_string());
    flag(
        "default-model",
        input.model.unwrap_or(default.name()).to_owned(),
    );
    for (name, value) in input.options() {
        if name != "model" {
            flag(&name.replace('_', "-"), value.to_owned());
        }
    }
    args
}

/// What the command printed, as the answer of an HTTP door.
fn read(out: &Output, file: &Path) -> Answer {
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        return Answer {
            status: 200,
            kind: None,
            detail: None,
            content_type: "application/json".to_owned(),
            body: out.stdout.clone(),
        };
    }
    let problem = match out.status.code() {
        // A file's problem, or an option's (before any file): `lookout: [FILE: ]Title: detail`.
        Some(1) => stderr.lines().find_map(|line| {
            let said = line.strip_prefix("lookout: ")?;
            let said = said
                .strip_prefix(&format!("{}: ", file.display()))
                .unwrap_or(said);
            let (title, detail) = said.split_once(": ")?;
            let kind = KINDS.into_iter().find(|k| k.title() == title)?;
            Some((kind, detail.to_owned()))
        }),
        // A flag's value clap refuses (`--format`'s by the contract's words), or a flag that
        // does not exist: the command line's invalid value.
        Some(2) => stderr.lines().next().and_then(|line| {
            let said = line.strip_prefix("error: ")?;
            let detail = match said.split_once("': ") {
                Some((_, detail)) if said.starts_with("invalid value") => detail,
                _ => said,
            };
            Some((ProblemKind::Invalid, detail.to_owned()))
        }),
        _ => None,
    };
    let Some((kind, detail)) = problem else {
        // Not a problem the server has (a start-up error): no HTTP door answers so.
        return Answer {
            status: 0,
            kind: None,
            detail: Some(stderr.trim().to_owned()),
            content_type: "text/plain".to_owned(),
            body: out.stderr.clone(),
        };
    };
    let problem = wire::Problem::of(kind, detail.clone());
    Answer {
        status: kind.status(),
        kind: Some(problem.kind.clone()),
        detail: Some(detail),
        content_type: "application/problem+json".to_owned(),
        body: serde_json::to_vec(&problem).unwrap(),
    }
}
