//! Giving memory back to the system after large requests.
//!
//! A 12-megapixel request briefly needs tens of megabytes (the compressed bytes, the decoded
//! picture, the input tensor, onnxruntime's working memory). Freed, that memory would
//! normally stay with the process: glibc raises its mmap threshold after the first large
//! free, so later large buffers come from heaps it rarely returns, and onnxruntime's arena
//! keeps what it grew to. The engine therefore (see [`crate::EngineConfig::give_back_memory`]):
//!
//! - pins glibc's mmap threshold at [`MMAP_THRESHOLD`], so buffers of that size or more are
//!   mapped on their own and unmapped as soon as they are freed;
//! - asks onnxruntime to shrink its arena after a run on a large input (a run option);
//! - trims glibc's heaps after such a request.
//!
//! On other platforms (musl, macOS, Windows) these are no-ops.

/// Allocations at least this large are mapped on their own and returned when freed.
pub const MMAP_THRESHOLD: usize = 1 << 20;

/// Pins the allocator's mmap threshold at [`MMAP_THRESHOLD`] (process-wide, once).
pub fn return_large_buffers_when_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator parameters; it is thread-safe and has no
            // preconditions. A refusal (return 0) leaves glibc's defaults, which is harmless.
            let threshold = i32::try_from(MMAP_THRESHOLD).unwrap_or(i32::MAX);
            let _ = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, threshold) };
        });
    }
}

/// Returns the allocator's free memory to the system.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only releases free pages of the allocator's heaps; it locks
        // each arena and is safe to call from any thread at any time.
        let _ = unsafe { libc::malloc_trim(0) };
    }
}
