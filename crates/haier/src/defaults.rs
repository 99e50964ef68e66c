//! Defaults shared by every vendor client's configuration (the vendor documents the
//! same limits for all its systems).

/// Requests per second: the vendor's documented limit.
pub(crate) fn default_rate_limit() -> u32 {
    100
}

/// Business request timeout in milliseconds: the vendor suggests 30 s.
pub(crate) fn default_timeout_ms() -> u64 {
    30_000
}

/// Token request timeout in milliseconds.
pub(crate) fn default_token_timeout_ms() -> u64 {
    10_000
}

/// Retries of a transient failure: the vendor suggests at most 3.
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
