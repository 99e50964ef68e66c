//! Routes of the inbound webhooks: the public receiver `/webhooks/{system_id}`, a
//! system's secrets and mapping preview, the events with their replay, and the refusal
//! counts.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::mapping::Mapping;
use super::{self as inbound, ReceiveError, Refusal};
use crate::audit::http::time_param;
use crate::audit::{AuditEntry, with_entry};
use crate::http::body::{JsonBody, PathParam, QueryParams};
use crate::http::pagination::{Page, PageParams, status_param};
use crate::http::{ApiError, AppState, ErrorBody};
use crate::status::WebhookEventStatus;
use crate::store::systems::SystemRow;
use crate::store::webhooks_in::{self as store, EventFilter, EventRow};
use crate::types::UtcTime;

/// The answer to an accepted delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// The stored event (`whe_…`); for a duplicate, the one stored first.
    pub id: String,
    /// True when this `webhook-id` had been received before: nothing was stored again.
    pub duplicate: bool,
}

fn refusal_error(r: &Refusal) -> ApiError {
    let unauthorized = |code, detail: &str| ApiError::UnauthorizedWith {
        code,
        detail: detail.to_owned(),
    };
    match r {
        Refusal::MissingHeader(h) => {
            ApiError::InvalidParameter(format!("the {h} header is missing or not visible ASCII"))
        }
        Refusal::BadHeader(detail) => ApiError::InvalidParameter(detail.clone()),
        Refusal::Stale | Refusal::Future => unauthorized(
            "timestamp_out_of_window",
            "webhook-timestamp is outside the tolerance of our clock",
        ),
        Refusal::TooLarge(max) => {
            ApiError::PayloadTooLarge(format!("a webhook body is at most {max} bytes"))
        }
        Refusal::UnknownSystem
        | Refusal::ArchivedSystem
        | Refusal::NoSecret
        | Refusal::BadSignature => unauthorized(
            "invalid_signature",
            "no signature matches an active secret of this system",
        ),
    }
}

/// Receives a signed delivery from an external system (Standard Webhooks).
///
/// The signature is the authentication: `webhook-signature` must hold a `v1,` entry
/// that is the base64 HMAC-SHA256, under one of the system's active secrets, of
/// `{webhook-id}.{webhook-timestamp}.{body}` over the raw body; `webhook-timestamp`
/// must be within `[webhooks_in] tolerance_secs` (default 300) of our clock. The body is
/// verified before anything reads it, stored raw and answered at once; processing
/// follows through the job table. The same `webhook-id` again is answered 200 without
/// being stored or processed again.
///
/// An id that names no system, an archived system, a system without an active secret
/// and a signature that does not match are all answered with the same 401
/// `invalid_signature`, so the answer does not tell which system ids exist. Refusals are
/// counted (`GET /api/v1/webhook-refusals`) and logged, never stored.
#[utoipa::path(post, path = "/webhooks/{system_id}", operation_id = "receive_webhook", tag = "webhooks",
    params(
        ("system_id" = String, Path, description = "The sending system's id (sys_…)"),
        ("webhook-id" = String, Header, pattern = r"^[!-~]{1,255}$", description = "The message id, the same on every retry: 1 to 255 visible ASCII characters"),
        ("webhook-timestamp" = String, Header, pattern = r"^[0-9]{1,12}$", description = "Unix seconds when it was signed"),
        ("webhook-signature" = String, Header, pattern = r"^[!-~]+( [!-~]+)*$", description = "Space-separated `v1,<base64>` entries")
    ),
    request_body(content = Object, content_type = "application/json", description = "The event: our canonical record, or the system's own shape when it has a mapping"),
    responses(
        (status = 202, description = "Verified and stored; processing is queued", body = Accepted),
        (status = 200, description = "A repeat of a stored `webhook-id`: nothing stored or processed again", body = Accepted),
        (status = 400, description = "A webhook header is missing or malformed", body = ErrorBody),
        (status = 401, description = "`invalid_signature` (also for an unknown or archived system) or `timestamp_out_of_window`", body = ErrorBody),
        (status = 413, description = "The body is over `[webhooks_in] max_body_bytes`", body = ErrorBody)
    ))]
pub async fn receive_webhook(
    State(state): State<AppState>,
    PathParam(system_id): PathParam<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    match inbound::receive(
        &state.db,
        &state.secrets,
        &state.webhooks_in,
        &system_id,
        &headers,
        &body,
        UtcTime::now(),
    )
    .await
    {
        Ok(receipt) => {
            crate::metrics::webhook_in(if receipt.duplicate {
                "duplicate"
            } else {
                "accepted"
            });
            let status = if receipt.duplicate {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            Ok((
                status,
                Json(Accepted {
                    id: receipt.event_id,
                    duplicate: receipt.duplicate,
                }),
            )
                .into_response())
        }
        Err(ReceiveError::Refused(r)) => {
            crate::metrics::webhook_in(r.reason());
            Err(refusal_error(&r))
        }
        Err(ReceiveError::Store(e)) => Err(e.into()),
        Err(ReceiveError::Secrets(e)) => Err(ApiError::Internal(e.into())),
    }
}

async fn load_system(state: &AppState, id: &str) -> Result<SystemRow, ApiError> {
    crate::store::systems::get(&state.db, id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no system {:?}",
                id.chars().take(40).collect::<String>()
            ))
        })
}

/// A signing secret as listed: never its value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookSecretInfo {
    /// Id (`whs_…`).
    pub id: String,
    /// When it was added.
    pub created_at: UtcTime,
    /// When it stops verifying; none while it is the newest.
    pub expires_at: Option<UtcTime>,
    /// Whether it verifies now.
    pub active: bool,
}

impl WebhookSecretInfo {
    fn of(row: &store::SecretRow, now: UtcTime) -> Self {
        WebhookSecretInfo {
            id: row.id.clone(),
            created_at: row.created_at,
            expires_at: row.expires_at,
            active: row.expires_at.is_none_or(|e| e > now),
        }
    }
}

/// A new signing secret: the only time its value is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewWebhookSecret {
    /// `whsec_` and the base64 of 32 random bytes: give it to the system, which signs
    /// with it. It is never shown again.
    pub secret: String,
    /// Id (`whs_…`).
    pub id: String,
    /// When it was added.
    pub created_at: UtcTime,
    /// None: it verifies until a newer one is added, then for the overlap.
    pub expires_at: Option<UtcTime>,
    /// When the system's older secrets stop verifying (`[webhooks_in]
    /// secret_overlap_secs` from now), if it had any.
    pub previous_expire_at: Option<UtcTime>,
}

/// Adds a signing secret to a system and answers it once. The system's older secrets
/// keep verifying for `[webhooks_in] secret_overlap_secs` (default 24 hours), then expire.
#[utoipa::path(post, path = "/systems/{id}/webhook-secrets", operation_id = "create_webhook_secret", tag = "webhooks",
    params(("id" = String, Path, description = "System id (sys_…)")),
    responses(
        (status = 201, description = "The new secret, shown this once", body = NewWebhookSecret),
        (status = 404, description = "No such system", body = ErrorBody),
        (status = 409, description = "The system is archived", body = ErrorBody)
    ))]
pub async fn create_webhook_secret(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let system = load_system(&state, &id).await?;
    if system.archived_at.is_some() {
        return Err(ApiError::ConflictWith {
            code: "system_archived",
            detail: format!("system {id} is archived"),
        });
    }
    let now = UtcTime::now();
    let had_active = !store::active_secrets(&state.db, &id, now).await?.is_empty();
    let (row, secret) = super::secrets::add(
        &state.db,
        &state.secrets,
        &id,
        state.webhooks_in.secret_overlap_secs,
        now,
    )
    .await?;
    let previous_expire_at = if had_active {
        store::secrets_of_system(&state.db, &id)
            .await?
            .iter()
            .filter(|s| s.id != row.id)
            .filter_map(|s| s.expires_at)
            .max()
    } else {
        None
    };
    let info = WebhookSecretInfo::of(&row, now);
    let entry = AuditEntry::new(
        "system.webhook_secret.create",
        &id,
        None::<&WebhookSecretInfo>,
        Some(&info),
    );
    let body = NewWebhookSecret {
        secret: secrecy::ExposeSecret::expose_secret(&secret.to_text()).to_owned(),
        id: row.id,
        created_at: row.created_at,
        expires_at: row.expires_at,
        previous_expire_at,
    };
    Ok(with_entry((StatusCode::CREATED, Json(body)), entry))
}

/// A system's signing secrets, newest first: ids and times, never values.
#[utoipa::path(get, path = "/systems/{id}/webhook-secrets", operation_id = "list_webhook_secrets", tag = "webhooks",
    params(("id" = String, Path, description = "System id (sys_…)")),
    responses(
        (status = 200, description = "The secrets", body = Vec<WebhookSecretInfo>),
        (status = 404, description = "No such system", body = ErrorBody)
    ))]
pub async fn list_webhook_secrets(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Json<Vec<WebhookSecretInfo>>, ApiError> {
    load_system(&state, &id).await?;
    let now = UtcTime::now();
    let rows = store::secrets_of_system(&state.db, &id).await?;
    Ok(Json(
        rows.iter().map(|r| WebhookSecretInfo::of(r, now)).collect(),
    ))
}

/// `POST /api/v1/systems/{id}/mapping/preview`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    /// A sample of the system's payload: a JSON object.
    #[schema(value_type = Object)]
    pub payload: serde_json::Map<String, serde_json::Value>,
    /// A mapping to try instead of the system's own (checked like a saved one).
    #[serde(default)]
    pub mapping: Option<Mapping>,
}

/// What a payload maps to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    /// The canonical record, when every field mapped.
    #[schema(value_type = Option<Object>)]
    pub record: Option<serde_json::Value>,
    /// Each field that failed, named; empty when the record mapped.
    pub errors: Vec<String>,
    /// Whether a mapping was used (none: the payload is taken as the record).
    pub mapped: bool,
}

/// Maps a sample payload with the system's mapping (or the one given) and answers the
/// canonical record, or every field that failed.
#[utoipa::path(post, path = "/systems/{id}/mapping/preview", operation_id = "preview_mapping", tag = "webhooks",
    params(("id" = String, Path, description = "System id (sys_…)")),
    request_body = PreviewInput,
    responses(
        (status = 200, description = "The record, or the fields that failed", body = Preview),
        (status = 404, description = "No such system", body = ErrorBody),
        (status = 422, description = "The mapping given is not valid (the field named)", body = ErrorBody)
    ))]
pub async fn preview_mapping(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
    JsonBody(input): JsonBody<PreviewInput>,
) -> Result<Json<Preview>, ApiError> {
    let system = load_system(&state, &id).await?;
    let settings = match input.mapping {
        Some(m) => {
            m.check("mapping")
                .map_err(|detail| ApiError::Unprocessable {
                    code: "invalid_mapping",
                    detail,
                })?;
            serde_json::json!({"mapping": m})
        }
        None => serde_json::from_str(&system.settings).unwrap_or(serde_json::Value::Null),
    };
    let mapped = settings.get("mapping").is_some_and(|m| !m.is_null());
    Ok(Json(
        match super::process::canonical(&settings, serde_json::Value::Object(input.payload)) {
            Ok(record) => Preview {
                record: Some(record),
                errors: Vec::new(),
                mapped,
            },
            Err(errors) => Preview {
                record: None,
                errors,
                mapped,
            },
        },
    ))
}

/// An event as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEvent {
    /// Id (`whe_…`).
    pub id: String,
    /// The system that sent it.
    pub system_id: String,
    /// Its `webhook-id`.
    pub webhook_id: String,
    /// Its `webhook-timestamp`, Unix seconds.
    pub webhook_timestamp: i64,
    /// When it arrived.
    pub received_at: UtcTime,
    /// `received`, `processed`, `failed` or `dead`.
    pub status: WebhookEventStatus,
    /// Processing attempts, replays included.
    pub attempts: i64,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was last processed.
    pub processed_at: Option<UtcTime>,
    /// What its last processing did.
    pub result: Option<String>,
    /// Times it was replayed.
    pub replays: i64,
    /// When it last changed.
    pub updated_at: UtcTime,
}

impl From<&EventRow> for WebhookEvent {
    fn from(r: &EventRow) -> Self {
        WebhookEvent {
            id: r.id.clone(),
            system_id: r.system_id.clone(),
            webhook_id: r.webhook_id.clone(),
            webhook_timestamp: r.webhook_timestamp,
            received_at: r.received_at,
            status: r.status,
            attempts: r.attempts,
            last_error: r.last_error.clone(),
            processed_at: r.processed_at,
            result: r.result.clone(),
            replays: r.replays,
            updated_at: r.updated_at,
        }
    }
}

/// An event with its raw delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEventDetail {
    /// The event.
    #[serde(flatten)]
    pub event: WebhookEvent,
    /// Its `webhook-signature` header, as received.
    pub webhook_signature: String,
    /// The raw body as text, when it is UTF-8.
    pub body: Option<String>,
    /// The raw body, base64.
    pub body_base64: String,
}

/// Lists events, newest first, filtered by system, status and the time they arrived.
#[utoipa::path(get, path = "/webhook-events", operation_id = "list_webhook_events", tag = "webhooks",
    params(
        PageParams,
        ("system_id" = Option<String>, Query, max_length = 64, pattern = r"^[^\u0000-\u001f\u007f-\u009f]+$", description = "Of this system"),
        ("status" = Option<crate::status::WebhookEventStatus>, Query, description = "received, processed, failed or dead"),
        ("since" = Option<String>, Query, format = DateTime, description = "Received at or after this RFC 3339 instant"),
        ("until" = Option<String>, Query, format = DateTime, description = "Received before this RFC 3339 instant")
    ),
    responses(
        (status = 200, description = "A page of events (without their bodies)", body = Page<WebhookEvent>),
        (status = 400, description = "A bad parameter, named", body = ErrorBody)
    ))]
pub async fn list_webhook_events(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Result<Json<Page<WebhookEvent>>, ApiError> {
    let page = PageParams::parse(&query)?;
    let status = status_param::<WebhookEventStatus>(&query, "status", WebhookEventStatus::names)?;
    let system_id = match query.get("system_id") {
        Some(s) if s.is_empty() || s.len() > 64 || s.chars().any(char::is_control) => {
            return Err(ApiError::InvalidParameter(
                "system_id must be 1 to 64 printable characters".to_owned(),
            ));
        }
        other => other.map(String::as_str),
    };
    let (since, until) = (time_param(&query, "since")?, time_param(&query, "until")?);
    check_range(since, until)?;
    let limit = page.limit();
    let filter = EventFilter {
        system_id,
        status,
        from: since,
        to: until,
    };
    let rows = store::list_events(&state.db, &filter, page.after.as_deref(), limit + 1).await?;
    let items = rows.iter().map(WebhookEvent::from).collect();
    Ok(Json(Page::from_overfetch(items, limit, |e| e.id.clone())))
}

fn check_range(since: Option<UtcTime>, until: Option<UtcTime>) -> Result<(), ApiError> {
    if let (Some(s), Some(u)) = (since, until)
        && s > u
    {
        return Err(ApiError::InvalidParameter(format!(
            "since ({s}) must not be after until ({u})"
        )));
    }
    Ok(())
}

async fn load_event(state: &AppState, id: &str) -> Result<EventRow, ApiError> {
    store::get_event(&state.db, id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no webhook event {:?}",
            id.chars().take(40).collect::<String>()
        ))
    })
}

/// One event with its raw delivery (headers and body).
#[utoipa::path(get, path = "/webhook-events/{id}", operation_id = "get_webhook_event", tag = "webhooks",
    params(("id" = String, Path, description = "Event id (whe_…)")),
    responses(
        (status = 200, description = "The event", body = WebhookEventDetail),
        (status = 404, description = "No such event", body = ErrorBody)
    ))]
pub async fn get_webhook_event(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Json<WebhookEventDetail>, ApiError> {
    let row = load_event(&state, &id).await?;
    let body = row.body.clone().unwrap_or_default();
    Ok(Json(WebhookEventDetail {
        event: WebhookEvent::from(&row),
        webhook_signature: row.webhook_signature.clone(),
        body_base64: base64::engine::general_purpose::STANDARD.encode(&body),
        body: String::from_utf8(body).ok(),
    }))
}

/// The answer to a replay.
#[derive(Debug, Serialize, ToSchema)]
pub struct Replayed {
    /// The event.
    pub id: String,
    /// True when its processing was queued; false when it was still queued or running
    /// (nothing more was queued).
    pub queued: bool,
}

/// Replays one event: processes it again (applying a record is idempotent, so a
/// processed event changes nothing it already did). An event whose processing is still
/// queued is left as it is.
#[utoipa::path(post, path = "/webhook-events/{id}/replay", operation_id = "replay_webhook_event", tag = "webhooks",
    params(("id" = String, Path, description = "Event id (whe_…)")),
    responses(
        (status = 202, description = "Queued again", body = Replayed),
        (status = 200, description = "Its processing is still queued: nothing more queued", body = Replayed),
        (status = 404, description = "No such event", body = ErrorBody)
    ))]
pub async fn replay_webhook_event(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let (body, entry) = replay_event(&state, &id).await?;
    let status = if body.queued {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok(with_entry((status, Json(body)), entry))
}

/// Replays event `id` (the one path of the API and the admin page): a settled event is
/// put back to `received` and its processing queued; one still queued is left as it is.
/// What was done and the audit entry `webhook_event.replay`. 404 for no such event.
pub async fn replay_event(state: &AppState, id: &str) -> Result<(Replayed, AuditEntry), ApiError> {
    load_event(state, id).await?;
    let queued = replay(state, id).await?;
    let body = Replayed {
        id: id.to_owned(),
        queued,
    };
    let entry = AuditEntry::new("webhook_event.replay", id, None::<&Replayed>, Some(&body));
    Ok((body, entry))
}

async fn replay(state: &AppState, id: &str) -> Result<bool, ApiError> {
    let mut tx = state.db.begin().await?;
    let queued = match store::start_replay(&mut tx, id).await? {
        Some(n) => inbound::enqueue(&mut tx, id, n, state.webhooks_in.max_attempts).await?,
        None => false,
    };
    tx.commit().await?;
    Ok(queued)
}

/// `POST /api/v1/webhook-events/replay`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkReplayInput {
    /// The system whose events are replayed.
    #[schema(value_type = String, min_length = 1, max_length = 64, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$")]
    pub system_id: crate::input::Text<1, 64>,
    /// Received at or after (RFC 3339).
    #[serde(default)]
    pub since: Option<UtcTime>,
    /// Received before (RFC 3339).
    #[serde(default)]
    pub until: Option<UtcTime>,
    /// Only events in this state: `processed` or `dead` (default both; events still
    /// queued are never replayed).
    #[serde(default)]
    pub status: Option<ReplayStatus>,
}

/// The states of the events a bulk replay takes: the settled ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplayStatus {
    /// Processed events (applied again, idempotently).
    Processed,
    /// Dead letters.
    Dead,
}

impl From<ReplayStatus> for WebhookEventStatus {
    fn from(s: ReplayStatus) -> Self {
        match s {
            ReplayStatus::Processed => WebhookEventStatus::Processed,
            ReplayStatus::Dead => WebhookEventStatus::Dead,
        }
    }
}

/// The answer to a bulk replay.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkReplayed {
    /// Events queued again.
    pub queued: u64,
    /// True when more events matched than one call replays (10,000): call again.
    pub more: bool,
}

/// Most events one bulk replay queues.
const BULK_REPLAY_MAX: u32 = 10_000;

/// Replays a system's settled events (`processed` and `dead`, or only `status`) received
/// in `[since, until)`, oldest first, up to 10,000 a call; answers how many were queued.
#[utoipa::path(post, path = "/webhook-events/replay", operation_id = "replay_webhook_events", tag = "webhooks",
    request_body = BulkReplayInput,
    responses(
        (status = 202, description = "How many were queued", body = BulkReplayed),
        (status = 404, description = "No such system", body = ErrorBody),
        (status = 422, description = "A bad field, named, or `since` after `until`", body = ErrorBody)
    ))]
pub async fn replay_webhook_events(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<BulkReplayInput>,
) -> Result<Response, ApiError> {
    let system_id = input.system_id.trimmed().to_owned();
    load_system(&state, &system_id).await?;
    if let (Some(s), Some(u)) = (input.since, input.until)
        && s > u
    {
        return Err(ApiError::Unprocessable {
            code: "invalid_body",
            detail: format!("since ({s}) must not be after until ({u})"),
        });
    }
    let ids = store::settled_events(
        &state.db,
        &system_id,
        input.status.map(WebhookEventStatus::from),
        input.since,
        input.until,
        BULK_REPLAY_MAX + 1,
    )
    .await?;
    let more = ids.len() > BULK_REPLAY_MAX as usize;
    let mut queued = 0;
    for id in ids.iter().take(BULK_REPLAY_MAX as usize) {
        if replay(&state, id).await? {
            queued += 1;
        }
    }
    let body = BulkReplayed { queued, more };
    let entry = AuditEntry::new(
        "webhook_event.bulk_replay",
        &system_id,
        None::<&BulkReplayed>,
        Some(&body),
    );
    Ok(with_entry((StatusCode::ACCEPTED, Json(body)), entry))
}

/// Refused deliveries of one reason for one system.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookRefusals {
    /// The system; null for deliveries to ids that name no system.
    pub system_id: Option<String>,
    /// `missing_header`, `bad_header`, `stale_timestamp`, `future_timestamp`,
    /// `body_too_large`, `unknown_system`, `archived_system`, `no_active_secret` or
    /// `bad_signature`.
    pub reason: String,
    /// How many were refused.
    pub count: i64,
    /// When the last one came.
    pub last_at: UtcTime,
}

/// Refused deliveries counted by system and reason.
#[utoipa::path(get, path = "/webhook-refusals", operation_id = "list_webhook_refusals", tag = "webhooks",
    params(("system_id" = Option<String>, Query, max_length = 64, pattern = r"^[^\u0000-\u001f\u007f-\u009f]+$", description = "Of this system")),
    responses(
        (status = 200, description = "The counts", body = Vec<WebhookRefusals>),
        (status = 400, description = "A bad parameter, named", body = ErrorBody)
    ))]
pub async fn list_webhook_refusals(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Result<Json<Vec<WebhookRefusals>>, ApiError> {
    let system_id = match query.get("system_id") {
        Some(s) if s.is_empty() || s.len() > 64 || s.chars().any(char::is_control) => {
            return Err(ApiError::InvalidParameter(
                "system_id must be 1 to 64 printable characters".to_owned(),
            ));
        }
        other => other.map(String::as_str),
    };
    let rows = store::refusals(&state.db, system_id).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| WebhookRefusals {
                system_id: (!r.system_id.is_empty()).then_some(r.system_id),
                reason: r.reason,
                count: r.count,
                last_at: r.last_at,
            })
            .collect(),
    ))
}
