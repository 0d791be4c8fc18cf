//! Images the front fetched for the page, kept a short while under a random id: the page
//! paints the very bytes that were detected on, from this server, and the image's own host
//! is contacted once. Each is served once (`GET /api/fetched/{id}`), then forgotten; the
//! store is bounded in images, bytes and time, the oldest going first.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Where a kept image is served.
pub const ROUTE: &str = "/api/fetched/{id}";

/// The path that serves the image kept under `id`.
pub fn path(id: &str) -> String {
    ROUTE.replace("{id}", id)
}

/// How much the store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeptLimits {
    pub max_images: usize,
    pub max_bytes: usize,
    /// How long an image waits for the page to ask for it.
    pub ttl: Duration,
}

impl Default for KeptLimits {
    fn default() -> Self {
        Self {
            max_images: 16,
            max_bytes: 64 * 1024 * 1024,
            ttl: Duration::from_secs(120),
        }
    }
}

struct Entry {
    id: String,
    bytes: Bytes,
    expires: Instant,
}

pub struct Kept {
    limits: KeptLimits,
    /// Oldest first.
    entries: Mutex<VecDeque<Entry>>,
}

impl Kept {
    pub fn new(limits: KeptLimits) -> Self {
        Self {
            limits,
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// Keeps `bytes`, making room by forgetting the oldest; the id to fetch them by, or
    /// `None` when they are larger than the whole store.
    pub fn put(&self, bytes: Bytes) -> Option<String> {
        self.put_at(bytes, Instant::now())
    }

    /// Hands out the image kept under `id` and forgets it; `None` when there is none (never
    /// kept, already taken, expired or pushed out).
    pub fn take(&self, id: &str) -> Option<Bytes> {
        self.take_at(id, Instant::now())
    }

    fn put_at(&self, bytes: Bytes, now: Instant) -> Option<String> {
        if bytes.len() > self.limits.max_bytes || self.limits.max_images == 0 {
            return None;
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|e| e.expires > now);
        let mut total: usize = entries.iter().map(|e| e.bytes.len()).sum();
        while entries.len() >= self.limits.max_images || total + bytes.len() > self.limits.max_bytes
        {
            match entries.pop_front() {
                Some(old) => total -= old.bytes.len(),
                None => break,
            }
        }
        entries.push_back(Entry {
            id: id.clone(),
            bytes,
            expires: now + self.limits.ttl,
        });
        Some(id)
    }

    fn take_at(&self, id: &str, now: Instant) -> Option<Bytes> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let at = entries.iter().position(|e| e.id == id)?;
        let entry = entries.remove(at)?;
        (entry.expires > now).then_some(entry.bytes)
    }

    /// Images held now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(max_images: usize, max_bytes: usize) -> Kept {
        Kept::new(KeptLimits {
            max_images,
            max_bytes,
            ttl: Duration::from_secs(60),
        })
    }

    #[test]
    fn an_image_is_served_once() {
        let kept = store(4, 100);
        let id = kept.put(Bytes::from_static(b"abc")).unwrap();
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(path(&id), format!("/api/fetched/{id}"));
        assert_eq!(kept.take(&id).as_deref(), Some(&b"abc"[..]));
        assert_eq!(kept.take(&id), None);
        assert_eq!(kept.take("nonsense"), None);
        assert!(kept.is_empty());
    }

    #[test]
    fn the_oldest_go_first_when_full_by_count_or_bytes() {
        let kept = store(2, 10);
        let a = kept.put(Bytes::from_static(b"aaaa")).unwrap();
        let b = kept.put(Bytes::from_static(b"bbbb")).unwrap();
        let c = kept.put(Bytes::from_static(b"cc")).unwrap();
        assert_eq!(kept.take(&a), None, "pushed out by the count");
        let d = kept.put(Bytes::from_static(b"ddddddddd")).unwrap();
        assert_eq!(kept.take(&b), None, "pushed out by the count");
        assert_eq!(kept.take(&c), None, "pushed out by the bytes");
        assert_eq!(kept.take(&d).as_deref(), Some(&b"ddddddddd"[..]));
        assert_eq!(
            kept.put(Bytes::from(vec![0u8; 11])),
            None,
            "larger than the store"
        );
    }

    #[test]
    fn images_expire() {
        let kept = store(4, 100);
        let now = Instant::now();
        let old = kept.put_at(Bytes::from_static(b"old"), now).unwrap();
        let fresh = kept
            .put_at(Bytes::from_static(b"new"), now + Duration::from_secs(30))
            .unwrap();
        let later = now + Duration::from_secs(61);
        assert_eq!(kept.take_at(&old, later), None);
        assert_eq!(kept.take_at(&fresh, later).as_deref(), Some(&b"new"[..]));
        // Expired ones are dropped when the next one comes in.
        let _ = kept.put_at(Bytes::from_static(b"x"), now);
        let _ = kept.put_at(Bytes::from_static(b"y"), now + Duration::from_secs(200));
        assert_eq!(kept.len(), 1);
    }
}
