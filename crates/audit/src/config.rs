//! Log configuration.

/// How the log writes.
#[derive(Clone, Debug)]
pub struct LogOptions {
    /// Start a new segment once the current one has reached this many bytes (checked before
    /// each append or batch, so a segment overshoots by at most one append or batch).
    /// Default 64 MiB.
    pub segment_bytes: u64,
    /// Fsync the segment before an append or batch returns. Default true. Without it an
    /// acknowledged entry survives a process crash but not a power loss.
    pub sync: bool,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            segment_bytes: 64 << 20,
            sync: true,
        }
    }
}
