//! What to download ([`Pin`]) and where from ([`Source`]s, in order: a [`Plan`]).

use url::Url;

use crate::catalogue::{CatalogueEntry, Origin};
use crate::error::PullError;

/// The Hugging Face Hub, unless `HF_ENDPOINT` names a mirror of it.
pub const DEFAULT_HUB: &str = "https://huggingface.co";

/// What the file must turn out to be, and its name on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// A bare file name: the file lands at `<dir>/<file_name>`.
    pub file_name: String,
    pub sha256: [u8; 32],
    pub size: u64,
}

impl Pin {
    /// A file pinned by its sha256 (hex) and size in bytes.
    pub fn new(file_name: &str, sha256: &str, size: u64) -> Result<Self, PullError> {
        let file_name = file_name.trim();
        let bare = !file_name.is_empty()
            && file_name != "."
            && file_name != ".."
            && !file_name.contains(['/', '\\', '\0']);
        if !bare {
            return Err(PullError::InvalidSource(format!(
                "{file_name:?} is not a plain file name"
            )));
        }
        let mut digest = [0u8; 32];
        hex::decode_to_slice(sha256.trim(), &mut digest).map_err(|_| {
            PullError::InvalidSource(format!(
                "{sha256:?} is not a sha256: it must be 64 hexadecimal digits"
            ))
        })?;
        if size == 0 {
            return Err(PullError::InvalidSource(
                "the size must be more than 0 bytes".to_owned(),
            ));
        }
        Ok(Self {
            file_name: file_name.to_owned(),
            sha256: digest,
            size,
        })
    }

    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

/// Who runs a source, which decides who may see the Hub token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// `--url`: the user's mirror.
    Mirror,
    /// The Hugging Face Hub (or the `HF_ENDPOINT` mirror of it): the only kind sent the token.
    Hub,
    /// Any other address a catalogue entry names (GitHub LFS).
    Web,
}

/// One place to ask for the file: the first URL of a chain of redirects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub kind: SourceKind,
    /// Asked first, and asked again to resume: a redirect's signed URL may have expired.
    pub url: Url,
}

impl Source {
    /// An http(s) URL.
    pub fn new(kind: SourceKind, url: &str) -> Result<Self, PullError> {
        Ok(Self {
            kind,
            url: http_url(url, "the URL")?,
        })
    }

    /// `<base>/<repo>/resolve/<revision>/<path>`, the Hub's address for a file (the base may
    /// carry a path of its own, as a mirror's often does).
    pub fn hub(base: &str, repo: &str, revision: &str, path: &str) -> Result<Self, PullError> {
        let base = http_url(base, "the Hub address (HF_ENDPOINT)")?;
        let joined = format!(
            "{}/{repo}/resolve/{revision}/{path}",
            base.as_str().trim_end_matches('/')
        );
        Self::new(SourceKind::Hub, &joined)
    }

    /// Its host (and port when not the default), as progress lines and errors name it.
    pub fn label(&self) -> String {
        host_of(&self.url)
    }
}

fn http_url(value: &str, what: &str) -> Result<Url, PullError> {
    let url = Url::parse(value.trim())
        .map_err(|e| PullError::InvalidSource(format!("{what} {value:?} is not valid: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(PullError::InvalidSource(format!(
            "{what} {url} is not an http or https address"
        )));
    }
    Ok(url)
}

pub(crate) fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => url.to_string(),
    }
}

/// What the Hub's conventions say, read once from the environment (or set by a test).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubEnv {
    /// `HF_ENDPOINT`: a mirror's base URL, replacing `https://huggingface.co`.
    pub endpoint: Option<String>,
    /// `HF_TOKEN`: sent as `Authorization: Bearer` to the Hub's own host, never elsewhere.
    pub token: Option<String>,
}

impl HubEnv {
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Self {
            endpoint: var("HF_ENDPOINT"),
            token: var("HF_TOKEN"),
        }
    }

    pub fn base(&self) -> &str {
        self.endpoint.as_deref().unwrap_or(DEFAULT_HUB)
    }
}

/// A pinned file and the sources to try for it, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub pin: Pin,
    pub sources: Vec<Source>,
}

impl Plan {
    /// One source.
    pub fn single(source: Source, pin: Pin) -> Self {
        Self {
            pin,
            sources: vec![source],
        }
    }

    /// A catalogue model: `mirror` (`--url`) first when given, then the entry's own sources
    /// in its order, the Hub at `hub`'s base.
    pub fn for_entry(
        entry: &CatalogueEntry,
        mirror: Option<&str>,
        hub: &HubEnv,
    ) -> Result<Self, PullError> {
        let pin = Pin::new(entry.file_name, entry.sha256, entry.size)?;
        let mut sources = Vec::with_capacity(entry.origins.len() + 1);
        if let Some(url) = mirror {
            sources.push(Source::new(SourceKind::Mirror, url)?);
        }
        for origin in entry.origins {
            sources.push(match *origin {
                Origin::Hub {
                    repo,
                    revision,
                    path,
                } => Source::hub(hub.base(), repo, revision, path)?,
                Origin::Web { url, .. } => Source::new(SourceKind::Web, url)?,
            });
        }
        Ok(Self { pin, sources })
    }
}

/// The last segment of a URL's path, as a default file name.
pub fn file_name_from_url(url: &str) -> Option<String> {
    let url = Url::parse(url.trim()).ok()?;
    let last = url.path_segments()?.next_back()?;
    let decoded = percent_decode(last);
    (!decoded.is_empty()).then_some(decoded)
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| segment.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_and_sources_are_checked() {
        let hash = "ab".repeat(32);
        assert!(Pin::new("x.onnx", &hash, 1).is_ok());
        assert!(Pin::new("../x.onnx", &hash, 1).is_err());
        assert!(Pin::new("x.onnx", "abc", 1).is_err());
        assert!(Pin::new("x.onnx", &hash, 0).is_err());
        assert!(Source::new(SourceKind::Mirror, "https://h/x.onnx").is_ok());
        assert!(Source::new(SourceKind::Mirror, "ftp://h/x.onnx").is_err());
        assert!(Source::hub("file:///srv", "o/r", "main", "x.onnx").is_err());
        assert_eq!(
            file_name_from_url("https://h/a/My%20Model.onnx?x=1").as_deref(),
            Some("My Model.onnx")
        );
        assert_eq!(file_name_from_url("https://h/"), None);
    }

    #[test]
    fn a_hub_base_with_a_path_keeps_it() {
        let source = Source::hub("https://mirror.example/hf/", "o/r", "main", "a/b.onnx")
            .expect("a valid base");
        assert_eq!(
            source.url.as_str(),
            "https://mirror.example/hf/o/r/resolve/main/a/b.onnx"
        );
        assert_eq!(source.kind, SourceKind::Hub);
        assert_eq!(source.label(), "mirror.example");
    }
}
