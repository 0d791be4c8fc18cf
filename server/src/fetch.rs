//! Fetching an image URL for a user without becoming a proxy into the server's network.
//!
//! Server-side request forgery is the classic hole here. The rules: http and https only;
//! every address a host resolves to must be publicly routable (unless the operator allows
//! more); the connection goes to the address that was checked, because the checking resolver
//! is the one the HTTP client uses (so DNS cannot answer differently in between); each
//! redirect hop is checked the same way; the body is capped while it streams and the whole
//! fetch has one deadline.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use thiserror::Error;
use url::{Host, Url};

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The URL breaks a rule: refused before any connection.
    #[error("{0}")]
    Refused(String),
    #[error("the image at that URL is larger than the {} limit", app::format::bytes(*.limit as u64))]
    TooLarge { limit: usize },
    #[error("fetching the URL took longer than {} seconds", .limit.as_secs_f64())]
    Timeout { limit: Duration },
    /// The remote end failed: unreachable, bad TLS, an error status.
    #[error("{0}")]
    Upstream(String),
}

/// Which addresses a fetch may reach.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// Anything goes (trusted networks, tests).
    pub allow_private: bool,
    /// Non-public networks that are nonetheless allowed.
    pub allowed_networks: Vec<IpNet>,
}

impl AddressPolicy {
    /// `Err(reason)` when `ip` must not be contacted.
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        if self.allow_private || self.allowed_networks.iter().any(|net| net.contains(&ip)) {
            return Ok(());
        }
        match non_public_reason(ip) {
            None => Ok(()),
            Some(kind) => Err(format!("{ip} is {kind}")),
        }
    }
}

/// Why an address is not publicly routable, or `None` when it is.
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "an unspecified (\"this network\") address",
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => "a private address",
        (100, 64..=127, _) => "a carrier-grade NAT (shared) address",
        (127, _, _) => "a loopback address",
        (169, 254, _) => "a link-local address (this includes cloud metadata services)",
        (192, 0, 0) => "an IETF protocol assignment address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved or broadcast address",
        _ => return None,
    })
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    let s = ip.segments();
    // Forms that carry an IPv4 address: judge the address they carry.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4).map(|_| "an IPv4-mapped form of a non-public address");
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return v4_reason(v4).map(|_| "a NAT64 form of a non-public address");
    }
    if s[0] == 0x2002 {
        let v4 = Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
        return v4_reason(v4).map(|_| "a 6to4 form of a non-public address");
    }
    Some(match s[0] {
        0x0000 => "an IPv4-compatible or reserved address",
        0x0064 if s[1] == 0xff9b && s[2] == 1 => "a local-use NAT64 address",
        0x0100 if s[1..4] == [0, 0, 0] => "a discard-only address",
        0x2001 if s[1] < 0x0200 => {
            "an IETF protocol assignment address (Teredo, ORCHID, benchmarking)"
        }
        0x2001 if s[1] == 0x0db8 => "a documentation address",
        0x3fff if s[1] < 0x1000 => "a documentation address",
        0xfc00..=0xfdff => "a unique-local (private) address",
        0xfe80..=0xfebf => "a link-local address",
        0xfec0..=0xfeff => "a site-local address",
        0xff00..=0xffff => "a multicast address",
        _ => return None,
    })
}

/// The resolver the HTTP client uses: it refuses a host when ANY of its addresses is not
/// allowed, and hands the client only the addresses it checked.
#[derive(Debug, Clone)]
struct CheckingResolver {
    policy: Arc<AddressPolicy>,
}

#[derive(Debug, Error)]
#[error("{0}")]
struct RefusedAddress(String);

impl Resolve for CheckingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no addresses").into());
            }
            for addr in &addrs {
                // The caller learns only that the host is not public: naming the address
                // would let anyone map the server's internal DNS.
                policy.check(addr.ip()).map_err(|why| {
                    tracing::info!(host = %host, why = %why, "URL refused: host resolves to a non-public address");
                    RefusedAddress(
                        "the URL's host is not a public address; Lookout only fetches images from public addresses".to_owned(),
                    )
                })?;
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Fetch limits and the address policy.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub policy: AddressPolicy,
    pub timeout: Duration,
    pub max_bytes: usize,
    pub max_redirects: usize,
}

#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    config: Arc<FetchConfig>,
}

impl Fetcher {
    pub fn new(config: FetchConfig) -> Result<Self, reqwest::Error> {
        let resolver = CheckingResolver {
            policy: Arc::new(config.policy.clone()),
        };
        let client = reqwest::Client::builder()
            // Redirects are followed by hand so each hop is checked.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would connect on our behalf to addresses we never checked.
            .no_proxy()
            .dns_resolver(Arc::new(resolver))
            .user_agent(concat!(
                "Lookout/",
                env!("CARGO_PKG_VERSION"),
                " (image fetch)"
            ))
            .connect_timeout(config.timeout)
            .build()?;
        Ok(Self {
            client,
            config: Arc::new(config),
        })
    }

    /// Fetches the bytes at `url`, following at most the configured redirects.
    pub async fn fetch(&self, url: &str) -> Result<Bytes, FetchError> {
        self.fetch_until(url, std::time::Instant::now() + self.config.timeout)
            .await
    }

    /// Like [`Fetcher::fetch`], but also stops at `deadline` (the request's own).
    pub async fn fetch_until(
        &self,
        url: &str,
        deadline: std::time::Instant,
    ) -> Result<Bytes, FetchError> {
        let limit = self
            .config
            .timeout
            .min(deadline.saturating_duration_since(std::time::Instant::now()));
        tokio::time::timeout(limit, self.fetch_inner(url))
            .await
            .unwrap_or(Err(FetchError::Timeout { limit }))
    }

    async fn fetch_inner(&self, url: &str) -> Result<Bytes, FetchError> {
        let mut current = parse(url)?;
        let mut hops = 0;
        loop {
            self.check_url(&current)?;
            let response = self
                .client
                .get(current.clone())
                .header(reqwest::header::ACCEPT, "image/*")
                .send()
                .await
                .map_err(|e| describe_send_error(&current, e))?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        FetchError::Upstream(format!(
                            "{} answered {status} without a Location",
                            host_of(&current)
                        ))
                    })?;
                hops += 1;
                if hops > self.config.max_redirects {
                    return Err(FetchError::Refused(format!(
                        "the URL redirected more than {} times",
                        self.config.max_redirects
                    )));
                }
                current = current.join(location).map_err(|e| {
                    FetchError::Refused(format!("the URL redirected to an invalid address ({e})"))
                })?;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Upstream(format!(
                    "{} answered {status}",
                    host_of(&current)
                )));
            }
            return self.read_capped(response).await;
        }
    }

    fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Refused(format!(
                "only http and https URLs can be fetched, not {}:",
                url.scheme()
            )));
        }
        // IP literals never reach the resolver, so check them here. The URL parser has
        // already turned decimal, octal and hex IPv4 spellings into plain addresses.
        let ip = match url.host() {
            Some(Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            Some(Host::Domain(_)) => None,
            None => return Err(FetchError::Refused("the URL has no host".into())),
        };
        if let Some(ip) = ip {
            self.config.policy.check(ip).map_err(|why| {
                FetchError::Refused(format!(
                    "the URL points at {why}; Lookout only fetches public addresses"
                ))
            })?;
        }
        Ok(())
    }

    async fn read_capped(&self, response: reqwest::Response) -> Result<Bytes, FetchError> {
        let limit = self.config.max_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(FetchError::TooLarge { limit });
        }
        let mut body = BytesMut::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                tracing::info!(cause = %root_cause(&e), "URL download broke off");
                FetchError::Upstream("the download of the image broke off".to_owned())
            })?;
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }
}

fn parse(url: &str) -> Result<Url, FetchError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(FetchError::Refused("no URL was given".into()));
    }
    Url::parse(url).map_err(|e| FetchError::Refused(format!("that is not a valid URL ({e})")))
}

fn host_of(url: &Url) -> String {
    url.host_str().unwrap_or("the server").to_owned()
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn describe_send_error(url: &Url, err: reqwest::Error) -> FetchError {
    // A refusal from our resolver travels inside reqwest's error chain.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<RefusedAddress>() {
            return FetchError::Refused(refused.0.clone());
        }
        source = e.source();
    }
    // One answer for every way a connection can fail (no such name, refused, reset, TLS):
    // distinguishing them would turn the fetcher into a DNS and port scanner. The operator's
    // log has the cause.
    tracing::info!(host = %host_of(url), cause = %root_cause(&err), "URL fetch failed");
    FetchError::Upstream(format!(
        "could not fetch the image from {}: the server could not be reached",
        host_of(url)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str) -> bool {
        AddressPolicy::default().check(ip.parse().unwrap()).is_err()
    }

    #[test]
    fn non_public_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2001:db8::1",
            "::127.0.0.1",
        ] {
            assert!(refused(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(!refused(ip), "{ip} is public");
        }
    }

    #[test]
    fn allow_list_and_allow_all() {
        let policy = AddressPolicy {
            allow_private: false,
            allowed_networks: vec!["10.0.0.0/8".parse().unwrap()],
        };
        assert!(policy.check("10.9.9.9".parse().unwrap()).is_ok());
        assert!(policy.check("192.168.0.1".parse().unwrap()).is_err());
        let open = AddressPolicy {
            allow_private: true,
            allowed_networks: vec![],
        };
        assert!(open.check("127.0.0.1".parse().unwrap()).is_ok());
    }

    #[test]
    fn odd_ipv4_spellings_normalise_to_the_address() {
        for (spelling, want) in [
            ("http://2130706433/", "127.0.0.1"),
            ("http://0x7f.0.0.1/", "127.0.0.1"),
            ("http://0177.0.0.1/", "127.0.0.1"),
            ("http://127.1/", "127.0.0.1"),
            ("http://0xA9FEA9FE/", "169.254.169.254"),
        ] {
            let url = Url::parse(spelling).unwrap();
            assert_eq!(
                url.host(),
                Some(Host::Ipv4(want.parse().unwrap())),
                "{spelling}"
            );
        }
    }
}
