//! Checks that run before any handler: which hosts may be addressed, request ids, and the
//! headers every response carries. (The declared body size is checked by the route table,
//! which knows each route's limit: [`crate::routes`].)

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, Kind};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Which `Host` names the server answers to. A server bound to loopback answers only to
/// loopback names unless told otherwise: otherwise any web page could reach it through DNS
/// rebinding (a name of the attacker's that resolves to 127.0.0.1).
#[derive(Debug, Clone, Default)]
pub struct HostGuard {
    /// Names allowed besides the loopback ones (lower case, without port). A leading dot
    /// allows every subdomain (`.example.com`).
    pub allowed: Vec<String>,
}

impl HostGuard {
    /// `Some` when a guard applies: the server is bound to loopback, or an allow-list was
    /// given.
    pub fn for_binding(loopback: bool, allowed: &[String]) -> Option<Arc<Self>> {
        (loopback || !allowed.is_empty()).then(|| {
            Arc::new(Self {
                allowed: allowed
                    .iter()
                    .map(|h| h.trim().to_ascii_lowercase())
                    .filter(|h| !h.is_empty())
                    .collect(),
            })
        })
    }

    pub fn allows(&self, host: &str) -> bool {
        let name = host_name(host);
        if is_loopback_name(&name) {
            return true;
        }
        self.allowed.iter().any(|a| {
            a == "*"
                || *a == name
                || (a.starts_with('.') && (name.ends_with(a.as_str()) || name == a[1..]))
        })
    }
}

/// `Example.COM:8080` -> `example.com`, `[::1]:3000` -> `::1`.
fn host_name(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_owned();
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name.to_owned(),
        _ => host,
    }
    .trim_end_matches('.')
    .to_owned()
}

fn is_loopback_name(name: &str) -> bool {
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Refuses a request addressed to a host name `guard` does not allow (`None`: any).
pub async fn check_host(
    State(guard): State<Option<Arc<HostGuard>>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(guard) = &guard {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| request.uri().authority().map(|a| a.to_string()));
        // Browsers always name the host, so a request without one cannot come from a
        // rebinding page (in-process calls and HTTP/1.0 tools omit it).
        let allowed = host.as_deref().is_none_or(|h| guard.allows(h));
        if !allowed {
            tracing::warn!(host = ?host, "request refused: Host not allowed");
            return ApiError::new(
                Kind::HostNotAllowed,
                "this server does not answer to that host name; an operator can allow it with --allowed-host",
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// A client's request id is kept only when it is short and made of safe characters (it ends
/// up in logs and response headers); otherwise a fresh one replaces it.
pub async fn sanitise_request_id(mut request: Request, next: Next) -> Response {
    let acceptable = request
        .headers()
        .get(&REQUEST_ID)
        .map(|v| is_safe_request_id(v.as_bytes()));
    if acceptable == Some(false) {
        request.headers_mut().remove(&REQUEST_ID);
    }
    next.run(request).await
}

pub fn is_safe_request_id(id: &[u8]) -> bool {
    (1..=64).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Headers every response carries: no MIME sniffing, no referrer leaks, no framing by other
/// sites.
pub fn security_headers() -> [(HeaderName, HeaderValue); 4] {
    [
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_pass_and_others_need_the_list() {
        let guard =
            HostGuard::for_binding(true, &["lookout.example.com".into(), ".corp.test".into()])
                .unwrap();
        for ok in [
            "localhost",
            "localhost:3000",
            "127.0.0.1:3000",
            "[::1]:3000",
            "app.localhost",
            "LOOKOUT.example.com",
            "lookout.example.com:443",
            "a.corp.test",
            "corp.test",
        ] {
            assert!(guard.allows(ok), "{ok}");
        }
        for refused in [
            "evil.com",
            "127.0.0.1.evil.com",
            "example.com",
            "xcorp.test",
            "",
        ] {
            assert!(!guard.allows(refused), "{refused}");
        }
        assert!(HostGuard::for_binding(false, &[]).is_none());
    }

    #[test]
    fn request_ids() {
        assert!(is_safe_request_id(b"abc-123_X.y:z"));
        assert!(!is_safe_request_id(b"has space"));
        assert!(!is_safe_request_id(&[b'a'; 65]));
        assert!(!is_safe_request_id(b""));
    }
}
