//! Defaults shared by every vendor client's configuration.
//!
//! These are this project's defaults, not the vendor's: its interface document
//! (v1.0.10) states no rate limit, timeout or retry policy (protocol §0.2). The
//! 100 req/s, 30 s and 3 retries come from the original project's own notes.

/// Requests per second (this project's default).
pub(crate) fn default_rate_limit() -> u32 {
    100
}

/// Business request timeout in milliseconds (this project's default).
pub(crate) fn default_timeout_ms() -> u64 {
    30_000
}

/// Token request timeout in milliseconds.
pub(crate) fn default_token_timeout_ms() -> u64 {
    10_000
}

/// Retries of a transient failure (this project's default).
pub(crate) fn default_max_retries() -> u32 {
    3
}

/// Consecutive transient failures that open the circuit breaker.
pub(crate) fn default_breaker_threshold() -> u32 {
    10
}

/// How long an open breaker refuses calls, in milliseconds.
pub(crate) fn default_breaker_cooldown_ms() -> u64 {
    30_000
}
