//! Outbound webhooks: events delivered to the endpoints external systems subscribe,
//! signed with Standard Webhooks, through the outbox.
//!
//! **Emitting.** [`emit`] runs in the caller's transaction (the transactional outbox): it
//! writes one message — its body `{"type", "timestamp", "data"}` kept exactly as it will
//! be signed and sent — and, for each enabled endpoint subscribed to the event type, one
//! delivery and one `webhook.deliver` job. The event exists exactly when the business
//! change does. When no endpoint subscribes, nothing is written.
//!
//! **Delivering.** The outbox worker hands each `webhook.deliver` job to
//! [`Deliverer::deliver`]: one POST with `webhook-id` (the message id, the same on every
//! retry), `webhook-timestamp` and `webhook-signature` (signed with the endpoint's secret,
//! and with its previous secret for a day after a rotation). A 2xx is success; anything
//! else, a timeout or a refused connection is a failure, recorded with its status,
//! latency, the first 1 KiB of the answer and an error class.
//!
//! **Retries** follow the Standard Webhooks / Svix schedule ([`SCHEDULE`]): immediately,
//! then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after each failure, each delay
//! lengthened by a random 0–10 % (jitter, never shorter than the schedule). A 429 or 503
//! with `Retry-After` waits that long instead when it is longer (at most 24 h). After the
//! eighth failure the delivery is dead; a retry by hand makes one more attempt.
//!
//! **Disabling.** An endpoint that answers 410 Gone is disabled at once; one that has
//! failed without a success for `[webhooks] disable_after_secs` (default 5 days) is
//! disabled at its next failure. Its pending deliveries then die at their next attempt
//! (retry them by hand after re-enabling it). Every such disabling emits
//! `system.status_changed` for the endpoint's system, naming the endpoint and the reason;
//! when it leaves the system without an enabled endpoint, the system's status becomes
//! `error` with the reason as its last error, which the same event carries.
//!
//! **Address safety.** Deliveries go only to the URLs operators registered (no redirects
//! are followed, no proxy is used). Unless `[webhooks] allow_private_targets` is set,
//! loopback, private, link-local, unspecified, multicast, shared, benchmarking,
//! reserved and documentation addresses are refused: in the URL, and — through a DNS
//! resolver that drops them — among the addresses a name resolves to at connect time, so
//! a name that is re-pointed at an internal address (DNS rebinding) is refused too.
//!
//! **Time.** Due times are computed from the worker's [`Clock`], which tests step
//! forward to watch the schedule without waiting.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::signature::{self, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, WebhookSecret};
use crate::clock::{Clock, add};
use crate::config::WebhooksConfig;
use crate::jobs::Verdict;
use crate::status::DeliveryStatus;
use crate::store::jobs::{Job, enqueue};
use crate::store::webhooks::{self as store, AttemptRow, EndpointRow};
use crate::store::{Db, StoreError, StoreResult, Tx, new_id};
use crate::systems::crypto::{KeyRing, Sealed};
use crate::types::UtcTime;

/// The job kind of one delivery.
pub const JOB_KIND: &str = "webhook.deliver";

/// The delay before each attempt, from the failure before it (the first is immediate):
/// the Standard Webhooks / Svix schedule. Its length is the number of attempts.
pub const SCHEDULE: [Duration; 8] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// The longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// How much of an answer's body is kept, in bytes.
pub const EXCERPT_BYTES: usize = 1024;

/// The event types endpoints subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    /// A member record changed here.
    #[serde(rename = "member.updated")]
    MemberUpdated,
    /// A supplier purchase order changed state.
    #[serde(rename = "supplier_order.state_changed")]
    SupplierOrderStateChanged,
    /// An order's status at the supplier changed.
    #[serde(rename = "order.supplier_status_changed")]
    OrderSupplierStatusChanged,
    /// A POS transaction was recorded.
    #[serde(rename = "pos.transaction.recorded")]
    PosTransactionRecorded,
    /// An external system's status changed, or one of its endpoints was disabled.
    #[serde(rename = "system.status_changed")]
    SystemStatusChanged,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 5] = [
        EventType::MemberUpdated,
        EventType::SupplierOrderStateChanged,
        EventType::OrderSupplierStatusChanged,
        EventType::PosTransactionRecorded,
        EventType::SystemStatusChanged,
    ];

    /// The name, as in the API and the payload's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::MemberUpdated => "member.updated",
            EventType::SupplierOrderStateChanged => "supplier_order.state_changed",
            EventType::OrderSupplierStatusChanged => "order.supplier_status_changed",
            EventType::PosTransactionRecorded => "pos.transaction.recorded",
            EventType::SystemStatusChanged => "system.status_changed",
        }
    }

    /// Every name, comma-separated (for error messages).
    pub fn names() -> String {
        EventType::ALL
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "must be one of {}, got {:?}",
                    EventType::names(),
                    s.chars().take(40).collect::<String>()
                )
            })
    }
}

/// Emits an event in the caller's transaction: one message, and one delivery and one
/// job per enabled endpoint subscribed to `event_type`. The message id (the
/// `webhook-id`), or none when no endpoint subscribes (then nothing is written).
///
/// # Errors
/// A store error; the caller's transaction should then be rolled back with its change.
pub async fn emit(
    tx: &mut Tx,
    event_type: EventType,
    payload: serde_json::Value,
) -> StoreResult<Option<String>> {
    emit_from(tx, event_type, payload, None).await
}

/// Like [`emit`], for a change that came from external system `origin`: its own
/// endpoints are left out, so a system is never sent back what it just sent (a member
/// system's update reaches the other subscribers, not itself: no echo, no loop).
///
/// # Errors
/// A store error; the caller's transaction should then be rolled back with its change.
pub async fn emit_from(
    tx: &mut Tx,
    event_type: EventType,
    payload: serde_json::Value,
    origin: Option<&str>,
) -> StoreResult<Option<String>> {
    let subscribed: Vec<(String, String)> = store::enabled_endpoints_in(tx)
        .await?
        .into_iter()
        .filter(|(_, system, _)| origin != Some(system.as_str()))
        .filter(|(_, _, types)| {
            serde_json::from_str::<Vec<EventType>>(types)
                .is_ok_and(|types| types.contains(&event_type))
        })
        .map(|(id, system, _)| (id, system))
        .collect();
    if subscribed.is_empty() {
        return Ok(None);
    }
    let now = UtcTime::now();
    let message_id = new_id("msg");
    let body = serde_json::json!({
        "type": event_type.as_str(),
        "timestamp": now,
        "data": payload,
    })
    .to_string();
    store::insert_message(tx, &message_id, event_type.as_str(), &body, now).await?;
    for (endpoint_id, system_id) in subscribed {
        let delivery_id = store::insert_delivery(
            tx,
            &message_id,
            &endpoint_id,
            &system_id,
            event_type.as_str(),
            now,
        )
        .await?;
        enqueue_delivery(tx, &delivery_id, SCHEDULE.len(), now).await?;
    }
    Ok(Some(message_id))
}

/// Enqueues the job of a delivery, allowed `attempts` attempts, due at `at`.
pub async fn enqueue_delivery(
    tx: &mut Tx,
    delivery_id: &str,
    attempts: usize,
    at: UtcTime,
) -> StoreResult<()> {
    // A retry by hand is a new job of the same delivery: its key is new too.
    let key = format!("{JOB_KIND}:{delivery_id}:{}", new_id("try"));
    enqueue(
        tx,
        JOB_KIND,
        &serde_json::json!({ "delivery_id": delivery_id }),
        &key,
        i64::try_from(attempts).unwrap_or(1),
        at,
    )
    .await?;
    Ok(())
}

/// The delay before the attempt after failed attempt `attempt` (1-based): the
/// schedule's, lengthened by 0–10 % jitter, or `retry_after` when that is longer
/// (capped at [`MAX_RETRY_AFTER`]). None when the schedule is used up.
pub fn retry_delay(attempt: i64, retry_after: Option<Duration>) -> Option<Duration> {
    let base = *SCHEDULE.get(usize::try_from(attempt).ok()?)?;
    let jittered = base.mul_f64(1.0 + rand::random_range(0.0..0.1));
    Some(jittered.max(retry_after.unwrap_or_default().min(MAX_RETRY_AFTER)))
}

/// Whether deliveries to `ip` are refused unless private targets are allowed:
/// loopback, private (RFC 1918, unique local), link-local, unspecified, multicast,
/// broadcast, shared (100.64/10), benchmarking (198.18/15), IETF (192.0.0/24), reserved
/// (240/4), "this network" (0/8) and documentation ranges; IPv4-mapped and NAT64
/// addresses by the IPv4 address inside.
pub fn is_blocked(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_blocked_v4(v4),
        IpAddr::V6(v6) => is_blocked_v6(v6),
    }
}

fn is_blocked_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 192 && b == 0 && c == 0)
}

fn is_blocked_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_blocked_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return is_blocked_v4(Ipv4Addr::new(a, b, c, d));
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x3fff && s[1] < 0x1000) // documentation (RFC 9637)
        || s[..5] == [0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
}

/// Checks an endpoint URL against the settings: absolute, `https` (or `http` when
/// `allow_http`), a host, no credentials, at most 2,048 bytes, and — unless private
/// targets are allowed — not an IP address [`is_blocked`] refuses. Names are checked
/// when they are resolved, at each delivery.
///
/// # Errors
/// What is wrong, for the `url` field.
pub fn check_url(text: &str, config: &WebhooksConfig) -> Result<reqwest::Url, String> {
    if text.len() > 2048 {
        return Err("url must be at most 2048 bytes".to_owned());
    }
    let url = reqwest::Url::parse(text).map_err(|e| format!("url is not an absolute URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if config.allow_http => {}
        "http" => {
            return Err("url must be https:// (http:// needs [webhooks] allow_http)".to_owned());
        }
        _ => return Err("url must be an https:// URL".to_owned()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url must not carry credentials".to_owned());
    }
    let Some(host) = url.host_str() else {
        return Err("url has no host".to_owned());
    };
    // An IPv6 literal is written in brackets.
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    if let Some(ip) = ip
        && !config.allow_private_targets
        && is_blocked(ip)
    {
        return Err(format!(
            "url points at {ip}, a loopback, private or reserved address \
             (allowed only with [webhooks] allow_private_targets)"
        ));
    }
    Ok(url)
}

/// A name that resolved only to refused addresses.
#[derive(Debug, thiserror::Error)]
#[error("{0} resolves only to loopback, private or reserved addresses")]
pub struct BlockedAddress(String);

/// Resolves names with the system's resolver and drops the addresses [`is_blocked`]
/// refuses, at connect time.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = allowed_addrs(found, allow_private);
            if allowed.is_empty() {
                return Err(
                    Box::new(BlockedAddress(host)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The addresses a connection may use of those a name resolved to: all when private
/// targets are allowed, else those [`is_blocked`] does not refuse. A name that resolves
/// to a public and an internal address is connected to the public one only.
fn allowed_addrs(found: Vec<SocketAddr>, allow_private: bool) -> Vec<SocketAddr> {
    found
        .into_iter()
        .filter(|a| allow_private || !is_blocked(a.ip()))
        .collect()
}

/// Seals an endpoint's secret (its `whsec_` text) to the endpoint; `previous` seals the
/// one a rotation replaced.
pub fn seal_secret(
    ring: &KeyRing,
    endpoint_id: &str,
    secret: &WebhookSecret,
    previous: bool,
) -> Sealed {
    ring.seal(
        secret.to_text().expose_secret().as_bytes(),
        &secret_context(endpoint_id, previous),
    )
}

/// Reseals an endpoint's secrets under the ring's current key (a key rotation): each
/// sealed under another key is opened and sealed again, bound to the same endpoint.
/// Whether anything changed.
///
/// # Errors
/// When a sealed secret does not open with the ring (its key is not configured).
pub fn reseal_secrets(
    ring: &KeyRing,
    s: &mut store::SealedSecrets,
) -> Result<bool, crate::systems::crypto::CryptoError> {
    let mut changed = false;
    if s.secret_key_id != ring.current_id() {
        let context = secret_context(&s.id, false);
        let plain = ring.open(
            &Sealed {
                key_id: s.secret_key_id.clone(),
                nonce: s.secret_nonce.clone(),
                ciphertext: s.secret_ciphertext.clone(),
            },
            &context,
        )?;
        let new = ring.seal(&plain, &context);
        (s.secret_key_id, s.secret_nonce, s.secret_ciphertext) =
            (new.key_id, new.nonce, new.ciphertext);
        changed = true;
    }
    if let (Some(key_id), Some(nonce), Some(ciphertext)) = (
        s.previous_secret_key_id.clone(),
        s.previous_secret_nonce.clone(),
        s.previous_secret_ciphertext.clone(),
    ) && key_id != ring.current_id()
    {
        let context = secret_context(&s.id, true);
        let plain = ring.open(
            &Sealed {
                key_id,
                nonce,
                ciphertext,
            },
            &context,
        )?;
        let new = ring.seal(&plain, &context);
        s.previous_secret_key_id = Some(new.key_id);
        s.previous_secret_nonce = Some(new.nonce);
        s.previous_secret_ciphertext = Some(new.ciphertext);
        changed = true;
    }
    Ok(changed)
}

fn secret_context(endpoint_id: &str, previous: bool) -> String {
    if previous {
        format!("{endpoint_id}:previous")
    } else {
        endpoint_id.to_owned()
    }
}

fn open_one(ring: &KeyRing, sealed: Sealed, context: &str) -> Result<WebhookSecret, String> {
    let plain = ring.open(&sealed, context).map_err(|e| e.to_string())?;
    let text = String::from_utf8(plain).map_err(|_| "the sealed secret is not text".to_owned())?;
    WebhookSecret::parse(&text).map_err(|e| e.to_string())
}

/// The secrets an endpoint signs with at `now`: its current one, and the previous one
/// until it expires.
///
/// # Errors
/// When a sealed secret does not open (the message never holds the secret).
pub fn signing_secrets(
    ring: &KeyRing,
    row: &EndpointRow,
    now: UtcTime,
) -> Result<Vec<WebhookSecret>, String> {
    let mut secrets = vec![open_one(
        ring,
        Sealed {
            key_id: row.secret_key_id.clone(),
            nonce: row.secret_nonce.clone(),
            ciphertext: row.secret_ciphertext.clone(),
        },
        &secret_context(&row.id, false),
    )?];
    if let (Some(key_id), Some(nonce), Some(ciphertext), Some(expires)) = (
        row.previous_secret_key_id.clone(),
        row.previous_secret_nonce.clone(),
        row.previous_secret_ciphertext.clone(),
        row.previous_secret_expires_at,
    ) && expires > now
    {
        secrets.push(open_one(
            ring,
            Sealed {
                key_id,
                nonce,
                ciphertext,
            },
            &secret_context(&row.id, true),
        )?);
    }
    Ok(secrets)
}

/// Disables an endpoint with `reason` and tells of it: `system.status_changed` for its
/// system, naming the endpoint; when no enabled endpoint is left, the system becomes
/// `error` with the reason. False when the endpoint was already disabled.
///
/// # Errors
/// A store error.
pub async fn disable_endpoint(
    tx: &mut Tx,
    endpoint_id: &str,
    system_id: &str,
    reason: &str,
    now: UtcTime,
) -> StoreResult<bool> {
    if !store::disable_endpoint(tx, endpoint_id, reason, now).await? {
        return Ok(false);
    }
    let (enabled, _) = store::count_endpoints_of_system(tx, system_id).await?;
    let detail = format!("webhook endpoint {endpoint_id} disabled: {reason}");
    let (before, after) = if enabled == 0 {
        let before = crate::store::systems::set_status_in(tx, system_id, "error", Some(&detail))
            .await?
            .unwrap_or_default();
        (before, "error".to_owned())
    } else {
        let status = crate::store::systems::status_in(tx, system_id)
            .await?
            .unwrap_or_default();
        (status.clone(), status)
    };
    emit(
        tx,
        EventType::SystemStatusChanged,
        serde_json::json!({
            "system_id": system_id,
            "previous_status": before,
            "status": after,
            "reason": detail,
            "endpoint_id": endpoint_id,
            "endpoint_disabled_at": now,
        }),
    )
    .await?;
    tracing::warn!(endpoint = %endpoint_id, system = %system_id, reason, "webhook endpoint disabled");
    Ok(true)
}

/// What one attempt came to.
#[derive(Debug, Default)]
struct Outcome {
    status_code: Option<u16>,
    latency_ms: i64,
    excerpt: Option<String>,
    error_class: Option<&'static str>,
    error: Option<String>,
    retry_after: Option<Duration>,
}

/// Makes delivery attempts: the outbox worker's handler of `webhook.deliver` jobs.
pub struct Deliverer {
    db: Db,
    client: reqwest::Client,
    ring: Arc<KeyRing>,
    config: WebhooksConfig,
    clock: Clock,
}

impl Deliverer {
    /// A deliverer over `db`, opening secrets with `ring`, by `clock`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (no TLS roots).
    pub fn new(
        db: Db,
        ring: Arc<KeyRing>,
        config: WebhooksConfig,
        clock: Clock,
    ) -> Result<Deliverer, reqwest::Error> {
        let timeout = Duration::from_secs(config.timeout_secs.max(1));
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(GuardedResolver {
                allow_private: config.allow_private_targets,
            })
            .user_agent(concat!("supplyhub-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Deliverer {
            db,
            client,
            ring,
            config,
            clock,
        })
    }

    /// Makes the next attempt of the delivery `job` names, records it, and says what the
    /// job does next: done, retry at the schedule's next time, or dead.
    ///
    /// # Errors
    /// A store error (the attempt's outcome is then not recorded; the job's lease runs
    /// out and it is tried again).
    pub async fn deliver(&self, job: &Job) -> Result<Verdict, StoreError> {
        let Some(delivery_id) = job.payload["delivery_id"].as_str() else {
            return Ok(Verdict::Dead("the job names no delivery".to_owned()));
        };
        let Some(delivery) = store::get_delivery(&self.db, delivery_id).await? else {
            return Ok(Verdict::Dead(format!(
                "no delivery {delivery_id} (its endpoint was deleted)"
            )));
        };
        if delivery.status != DeliveryStatus::Pending {
            return Ok(Verdict::Done(format!(
                "the delivery is already {}",
                delivery.status
            )));
        }
        let Some(endpoint) = store::get_endpoint(&self.db, &delivery.endpoint_id).await? else {
            return Ok(Verdict::Dead("the endpoint was deleted".to_owned()));
        };
        if !endpoint.enabled {
            return Ok(Verdict::Dead(format!(
                "the endpoint is disabled: {}",
                endpoint
                    .disabled_reason
                    .as_deref()
                    .unwrap_or("by an operator")
            )));
        }
        let Some(body) = store::message_body(&self.db, &delivery.message_id).await? else {
            return Ok(Verdict::Dead("the message is gone".to_owned()));
        };
        let now = self.clock.now();
        let outcome = self
            .attempt(&endpoint, &delivery.message_id, &body, now)
            .await;
        let attempt = delivery.attempts + 1;
        let mut tx = self.db.begin().await?;
        store::insert_attempt(
            &mut tx,
            &delivery.id,
            &AttemptRow {
                attempt,
                started_at: now,
                status_code: outcome.status_code.map(i64::from),
                latency_ms: outcome.latency_ms,
                response_excerpt: outcome.excerpt.clone(),
                error_class: outcome.error_class.map(str::to_owned),
                error: outcome.error.clone(),
            },
        )
        .await?;
        let end = |status, next, error: Option<String>| (status, next, error);
        let (status, next, error, verdict) = if outcome.error_class.is_none() {
            store::endpoint_succeeded(&mut tx, &endpoint.id, now).await?;
            let (s, n, e) = end(DeliveryStatus::Succeeded, None, None);
            let code = outcome.status_code.unwrap_or_default();
            (s, n, e, Verdict::Done(format!("delivered: HTTP {code}")))
        } else {
            let error = outcome.error.clone().unwrap_or_default();
            let since = store::endpoint_failed(&mut tx, &endpoint.id, now).await?;
            let failing_for =
                Duration::from_millis(u64::try_from(now.millis_since(since)).unwrap_or_default());
            let disable_after = Duration::from_secs(self.config.disable_after_secs);
            let disabled = if outcome.status_code == Some(410) {
                Some("the endpoint answered 410 Gone".to_owned())
            } else if failing_for >= disable_after {
                Some(format!(
                    "failing without a success since {since} (more than {} s)",
                    disable_after.as_secs()
                ))
            } else {
                None
            };
            if let Some(reason) = disabled {
                disable_endpoint(&mut tx, &endpoint.id, &endpoint.system_id, &reason, now).await?;
                crate::metrics::webhook_out("endpoint_disabled");
                let e = format!("{error}; endpoint disabled: {reason}");
                (
                    DeliveryStatus::Dead,
                    None,
                    Some(e.clone()),
                    Verdict::Dead(e),
                )
            } else {
                match retry_delay(job.attempts, outcome.retry_after)
                    .filter(|_| job.attempts < job.max_attempts)
                {
                    Some(delay) => {
                        let at = add(now, delay);
                        (
                            DeliveryStatus::Pending,
                            Some(at),
                            Some(error.clone()),
                            Verdict::RetryAt(error, at),
                        )
                    }
                    None => {
                        let e = format!("attempts exhausted: {error}");
                        (
                            DeliveryStatus::Dead,
                            None,
                            Some(e.clone()),
                            Verdict::Dead(e),
                        )
                    }
                }
            }
        };
        store::end_delivery_attempt(
            &mut tx,
            &delivery.id,
            attempt,
            now,
            status,
            next,
            error.as_deref(),
        )
        .await?;
        tx.commit().await?;
        crate::metrics::webhook_out(outcome.error_class.unwrap_or("delivered"));
        Ok(verdict)
    }

    /// One POST of `body` to the endpoint, signed at `now`.
    async fn attempt(
        &self,
        endpoint: &EndpointRow,
        message_id: &str,
        body: &str,
        now: UtcTime,
    ) -> Outcome {
        let fail = |class: &'static str, error: String| Outcome {
            error_class: Some(class),
            error: Some(error),
            ..Outcome::default()
        };
        let url = match check_url(&endpoint.url, &self.config) {
            Ok(url) => url,
            Err(e) => {
                let class = if e.contains("address") {
                    "blocked_address"
                } else {
                    "url_refused"
                };
                return fail(class, e);
            }
        };
        let secrets = match signing_secrets(&self.ring, endpoint, now) {
            Ok(s) => s,
            Err(e) => return fail("secret", e),
        };
        let timestamp = now.timestamp().as_second();
        let signed = signature::sign(
            &secrets.iter().collect::<Vec<_>>(),
            message_id,
            timestamp,
            body.as_bytes(),
        );
        let started = Instant::now();
        let sent = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(HEADER_ID, &signed.id)
            .header(HEADER_TIMESTAMP, signed.timestamp.to_string())
            .header(HEADER_SIGNATURE, &signed.signature)
            .body(body.to_owned())
            .send()
            .await;
        let mut outcome = match sent {
            Ok(resp) => {
                let code = resp.status();
                let retry_after = if matches!(code.as_u16(), 429 | 503) {
                    resp.headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, now))
                } else {
                    None
                };
                let excerpt = excerpt(resp).await;
                let ok = code.is_success();
                Outcome {
                    status_code: Some(code.as_u16()),
                    excerpt: Some(excerpt),
                    error_class: (!ok).then_some(if code.as_u16() == 410 {
                        "gone"
                    } else if matches!(code.as_u16(), 429 | 503) {
                        "throttled"
                    } else {
                        "http_status"
                    }),
                    error: (!ok).then(|| format!("HTTP {}", code.as_u16())),
                    retry_after,
                    latency_ms: 0,
                }
            }
            Err(e) => {
                let blocked =
                    std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                        e.source()
                    })
                    .any(|e| e.downcast_ref::<BlockedAddress>().is_some());
                let class = if blocked {
                    "blocked_address"
                } else if e.is_timeout() {
                    "timeout"
                } else if e.is_connect() {
                    "connect"
                } else {
                    "request"
                };
                let text = if blocked {
                    format!(
                        "{} resolves only to loopback, private or reserved addresses \
                         (allowed only with [webhooks] allow_private_targets)",
                        endpoint_host(&endpoint.url)
                    )
                } else {
                    // reqwest's message names the URL, which an operator registered and
                    // may carry a token in its query: name the host only.
                    format!("{class} error reaching {}", endpoint_host(&endpoint.url))
                };
                fail(class, text)
            }
        };
        outcome.latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        outcome
    }
}

fn endpoint_host(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Reads at most [`EXCERPT_BYTES`] of a body, as text (invalid UTF-8 replaced).
async fn excerpt(mut resp: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < EXCERPT_BYTES {
        match resp.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    buf.truncate(EXCERPT_BYTES);
    String::from_utf8_lossy(&buf).into_owned()
}

/// `Retry-After` as a delay: seconds, or an HTTP date measured from `now`.
pub fn parse_retry_after(value: &str, now: UtcTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let ms = at.as_millisecond() - now.timestamp().as_millisecond();
    Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_internal_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "100.64.0.1",
            "198.18.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(
                is_blocked(ip.parse().unwrap_or_else(|_| panic!("{ip}"))),
                "{ip}"
            );
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(
                !is_blocked(ip.parse().unwrap_or_else(|_| panic!("{ip}"))),
                "{ip}"
            );
        }
    }

    #[test]
    fn a_key_rotation_reseals_both_secrets_of_an_endpoint() {
        use crate::systems::crypto::generate_key_hex;
        let (old, new) = (generate_key_hex(), generate_key_hex());
        let old_ring = KeyRing::new(&old, &[]).unwrap_or_else(|e| panic!("{e}"));
        let (current, previous) = (WebhookSecret::generate(), WebhookSecret::generate());
        let a = seal_secret(&old_ring, "whep_1", &current, false);
        let b = seal_secret(&old_ring, "whep_1", &previous, true);
        let mut sealed = store::SealedSecrets {
            id: "whep_1".to_owned(),
            secret_key_id: a.key_id,
            secret_nonce: a.nonce,
            secret_ciphertext: a.ciphertext,
            previous_secret_key_id: Some(b.key_id),
            previous_secret_nonce: Some(b.nonce),
            previous_secret_ciphertext: Some(b.ciphertext),
        };
        let rotating = KeyRing::new(&new, &[&old]).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(reseal_secrets(&rotating, &mut sealed), Ok(true)));
        assert!(matches!(reseal_secrets(&rotating, &mut sealed), Ok(false)));
        let only_new = KeyRing::new(&new, &[]).unwrap_or_else(|e| panic!("{e}"));
        let row = EndpointRow {
            id: sealed.id.clone(),
            system_id: "sys_1".to_owned(),
            url: "https://example.com/".to_owned(),
            description: None,
            event_types: "[]".to_owned(),
            enabled: true,
            disabled_reason: None,
            disabled_at: None,
            secret_key_id: sealed.secret_key_id.clone(),
            secret_nonce: sealed.secret_nonce.clone(),
            secret_ciphertext: sealed.secret_ciphertext.clone(),
            previous_secret_key_id: sealed.previous_secret_key_id.clone(),
            previous_secret_nonce: sealed.previous_secret_nonce.clone(),
            previous_secret_ciphertext: sealed.previous_secret_ciphertext.clone(),
            previous_secret_expires_at: Some(UtcTime::from(jiff::Timestamp::MAX)),
            failing_since: None,
            last_success_at: None,
            created_at: UtcTime::now(),
            updated_at: UtcTime::now(),
        };
        let opened = signing_secrets(&only_new, &row, UtcTime::now()).unwrap_or_default();
        let sign = |s: &WebhookSecret| s.sign("msg_1", 1, b"{}");
        assert_eq!(
            opened.iter().map(sign).collect::<Vec<_>>(),
            vec![sign(&current), sign(&previous)]
        );
    }

    #[test]
    fn resolved_internal_addresses_are_dropped() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap_or_else(|_| panic!("{s}"));
        let found = vec![
            addr("127.0.0.1:0"),
            addr("93.184.215.14:0"),
            addr("[::1]:0"),
            addr("10.0.0.5:0"),
        ];
        assert_eq!(
            allowed_addrs(found.clone(), false),
            vec![addr("93.184.215.14:0")]
        );
        assert_eq!(allowed_addrs(found.clone(), true), found);
        assert!(allowed_addrs(vec![addr("169.254.169.254:0")], false).is_empty());
    }

    #[test]
    fn checks_urls_by_the_settings() {
        let strict = WebhooksConfig::default();
        assert!(check_url("https://hooks.example.com/in", &strict).is_ok());
        for bad in [
            "http://hooks.example.com/in",
            "ftp://hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "https://127.0.0.1/",
            "https://[::1]:8443/",
            "https://10.0.0.1/",
            "https://2130706433/",
            "https://0x7f.1/",
            "https://[::ffff:10.0.0.1]/",
            "hooks.example.com",
        ] {
            assert!(check_url(bad, &strict).is_err(), "{bad}");
        }
        let open = WebhooksConfig {
            allow_http: true,
            allow_private_targets: true,
            ..WebhooksConfig::default()
        };
        assert!(check_url("http://127.0.0.1:9/", &open).is_ok());
    }

    #[test]
    fn retries_follow_the_schedule_with_jitter_and_retry_after() {
        for (attempt, base) in SCHEDULE.iter().enumerate().skip(1) {
            let d = retry_delay(attempt as i64, None).unwrap_or_default();
            assert!(d >= *base && d <= base.mul_f64(1.1), "{attempt}: {d:?}");
        }
        assert_eq!(retry_delay(8, None), None);
        assert_eq!(
            retry_delay(1, Some(Duration::from_secs(120))),
            Some(Duration::from_secs(120))
        );
        // Never sooner than the schedule.
        assert!(retry_delay(2, Some(Duration::from_secs(1))).unwrap_or_default() >= SCHEDULE[2]);
        assert_eq!(
            retry_delay(1, Some(Duration::from_secs(7 * 86400))),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn reads_retry_after_as_seconds_or_a_date() {
        let now = UtcTime::from(jiff::Timestamp::from_second(1_700_000_000).unwrap_or_default());
        assert_eq!(parse_retry_after("30", now), Some(Duration::from_secs(30)));
        let date = jiff::fmt::rfc2822::to_string(
            &jiff::Timestamp::from_second(1_700_000_090)
                .unwrap_or_default()
                .to_zoned(jiff::tz::TimeZone::UTC),
        )
        .unwrap_or_default();
        assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(90)));
        assert_eq!(parse_retry_after("soon", now), None);
        // An HTTP date, as servers write it.
        let now = UtcTime::from(
            "2015-10-21T07:27:00Z"
                .parse::<jiff::Timestamp>()
                .unwrap_or_default(),
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn event_types_read_and_write_their_names() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
            assert_eq!(
                serde_json::to_value(t).unwrap_or_default(),
                serde_json::json!(t.as_str())
            );
        }
        assert!("member.deleted".parse::<EventType>().is_err());
    }
}
