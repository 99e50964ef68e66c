//! `/api/v1/systems/{id}/endpoints` and `/api/v1/webhook-deliveries`: the outbound
//! webhooks' endpoints, their deliveries and attempts, and retries by hand.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::outbound::{self, EventType};
use super::signature::WebhookSecret;
use crate::audit::{AuditEntry, with_entry};
use crate::http::body::{JsonBody, PathParam};
use crate::http::pagination::{Page, PageParams, status_param};
use crate::http::{ApiError, AppState, ErrorBody};
use crate::input::{DateTime, Text};
use crate::status::DeliveryStatus;
use crate::store::webhooks::{self as store, AttemptRow, DeliveryFilter, DeliveryRow, EndpointRow};
use crate::types::UtcTime;

/// An endpoint as the API shows it: never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Endpoint {
    /// Id (`whep_…`).
    pub id: String,
    /// The external system it belongs to.
    pub system_id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// What it is for.
    pub description: Option<String>,
    /// The event types it receives.
    pub event_types: Vec<EventType>,
    /// Whether deliveries go to it.
    pub enabled: bool,
    /// Why it was disabled (410 Gone, failing for days, or by an operator).
    pub disabled_reason: Option<String>,
    /// When it was disabled.
    pub disabled_at: Option<UtcTime>,
    /// The first failure since its last success: it is disabled when this is older than
    /// `[webhooks] disable_after_secs` (default 5 days).
    pub failing_since: Option<UtcTime>,
    /// Its last successful delivery.
    pub last_success_at: Option<UtcTime>,
    /// Until when deliveries are also signed with the secret before the last rotation.
    pub previous_secret_expires_at: Option<UtcTime>,
    /// When it was created.
    pub created_at: UtcTime,
    /// When it last changed.
    pub updated_at: UtcTime,
}

impl TryFrom<EndpointRow> for Endpoint {
    type Error = ApiError;

    fn try_from(r: EndpointRow) -> Result<Endpoint, ApiError> {
        Ok(Endpoint {
            event_types: serde_json::from_str(&r.event_types).map_err(|e| {
                ApiError::Internal(anyhow::anyhow!("endpoint {}: event types: {e}", r.id))
            })?,
            id: r.id,
            system_id: r.system_id,
            url: r.url,
            description: r.description,
            enabled: r.enabled,
            disabled_reason: r.disabled_reason,
            disabled_at: r.disabled_at,
            failing_since: r.failing_since,
            last_success_at: r.last_success_at,
            previous_secret_expires_at: r.previous_secret_expires_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// An endpoint with its signing secret: answered once, at creation and at each rotation.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointWithSecret {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The signing secret, `whsec_` + base64 of 32 random bytes. It is never shown
    /// again; rotate it to get a new one.
    pub secret: String,
}

/// `POST /api/v1/systems/{id}/endpoints`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointInput {
    /// An absolute `https://` URL (`http://` when `[webhooks] allow_http` is set), no
    /// credentials; not a loopback, private or reserved address unless `[webhooks]
    /// allow_private_targets` is set.
    #[schema(value_type = String, min_length = 1, max_length = 2048)]
    pub url: Text<1, 2048>,
    /// One to five event types, each at most once.
    #[schema(value_type = std::collections::BTreeSet<EventType>, min_items = 1, max_items = 5)]
    pub event_types: Vec<EventType>,
    /// Up to 200 characters.
    #[schema(value_type = Option<String>, max_length = 200)]
    #[serde(default)]
    pub description: Option<Text<0, 200>>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `PATCH /api/v1/systems/{id}/endpoints/{endpoint_id}`: what is given changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    /// A new URL, as [`EndpointInput::url`].
    #[schema(value_type = Option<String>, min_length = 1, max_length = 2048)]
    pub url: Option<Text<1, 2048>>,
    /// New event types, as [`EndpointInput::event_types`].
    #[schema(value_type = Option<std::collections::BTreeSet<EventType>>, min_items = 1, max_items = 5)]
    pub event_types: Option<Vec<EventType>>,
    /// A new description (an empty one removes it).
    #[schema(value_type = Option<String>, max_length = 200)]
    pub description: Option<Text<0, 200>>,
    /// true re-enables it (its failure streak starts afresh); false disables it.
    pub enabled: Option<bool>,
}

fn invalid(detail: String) -> ApiError {
    ApiError::Unprocessable {
        code: "invalid_body",
        detail,
    }
}

fn check_event_types(types: &[EventType]) -> Result<String, ApiError> {
    if types.is_empty() || types.len() > EventType::ALL.len() {
        return Err(invalid(format!(
            "event_types must name 1 to 5 of {}",
            EventType::names()
        )));
    }
    for (i, t) in types.iter().enumerate() {
        if types[..i].contains(t) {
            return Err(invalid(format!("event_types names {t} twice")));
        }
    }
    serde_json::to_string(types).map_err(|e| ApiError::Internal(e.into()))
}

fn check_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    outbound::check_url(url, &state.webhooks)
        .map(|u| u.to_string())
        .map_err(invalid)
}

async fn load_system(state: &AppState, id: &str) -> Result<(), ApiError> {
    match crate::store::systems::get(&state.db, id).await? {
        Some(s) if s.archived_at.is_none() => Ok(()),
        Some(_) => Err(ApiError::ConflictWith {
            code: "system_archived",
            detail: format!("system {id} is archived"),
        }),
        None => Err(ApiError::NotFound(format!(
            "no system {:?}",
            id.chars().take(40).collect::<String>()
        ))),
    }
}

async fn load_endpoint(
    state: &AppState,
    system_id: &str,
    id: &str,
) -> Result<EndpointRow, ApiError> {
    match store::get_endpoint(&state.db, id).await? {
        Some(e) if e.system_id == system_id => Ok(e),
        _ => Err(ApiError::NotFound(format!(
            "system {:?} has no endpoint {:?}",
            system_id.chars().take(40).collect::<String>(),
            id.chars().take(40).collect::<String>()
        ))),
    }
}

/// Registers an endpoint of a system, with a new signing secret answered this once.
#[utoipa::path(post, path = "/systems/{id}/endpoints", operation_id = "create_webhook_endpoint",
    tag = "webhooks",
    params(("id" = String, Path, description = "System id (sys_…)")),
    request_body = EndpointInput,
    responses(
        (status = 201, description = "Registered: the endpoint and its secret (shown once)", body = EndpointWithSecret),
        (status = 404, description = "No such system", body = ErrorBody),
        (status = 409, description = "The system is archived", body = ErrorBody),
        (status = 422, description = "A bad field, named", body = ErrorBody)
    ))]
pub async fn create_endpoint(
    State(state): State<AppState>,
    PathParam(system_id): PathParam<String>,
    JsonBody(input): JsonBody<EndpointInput>,
) -> Result<Response, ApiError> {
    load_system(&state, &system_id).await?;
    let url = check_url(&state, input.url.as_str())?;
    let event_types = check_event_types(&input.event_types)?;
    let now = UtcTime::now();
    let id = store::new_endpoint_id();
    let secret = WebhookSecret::generate();
    let sealed = outbound::seal_secret(&state.secrets, &id, &secret, false);
    let enabled = input.enabled.unwrap_or(true);
    let row = EndpointRow {
        id,
        system_id,
        url,
        description: input
            .description
            .map(|d| d.trimmed().to_owned())
            .filter(|d| !d.is_empty()),
        event_types,
        enabled,
        disabled_reason: (!enabled).then(|| "disabled by an operator".to_owned()),
        disabled_at: (!enabled).then_some(now),
        secret_key_id: sealed.key_id,
        secret_nonce: sealed.nonce,
        secret_ciphertext: sealed.ciphertext,
        previous_secret_key_id: None,
        previous_secret_nonce: None,
        previous_secret_ciphertext: None,
        previous_secret_expires_at: None,
        failing_since: None,
        last_success_at: None,
        created_at: now,
        updated_at: now,
    };
    store::insert_endpoint(&state.db, &row).await?;
    let endpoint = Endpoint::try_from(row)?;
    let entry = AuditEntry::new(
        "webhook_endpoint.create",
        &endpoint.id,
        None::<&Endpoint>,
        Some(&endpoint),
    );
    let body = EndpointWithSecret {
        endpoint,
        secret: secret.to_text().expose_secret().to_owned(),
    };
    Ok(with_entry((StatusCode::CREATED, Json(body)), entry))
}

/// A system's endpoints, by id.
#[utoipa::path(get, path = "/systems/{id}/endpoints", operation_id = "list_webhook_endpoints",
    tag = "webhooks",
    params(("id" = String, Path, description = "System id (sys_…)"), PageParams),
    responses(
        (status = 200, description = "A page of endpoints", body = Page<Endpoint>),
        (status = 400, description = "A bad parameter, named", body = ErrorBody),
        (status = 404, description = "No such system", body = ErrorBody)
    ))]
pub async fn list_endpoints(
    State(state): State<AppState>,
    PathParam(system_id): PathParam<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Page<Endpoint>>, ApiError> {
    let page = PageParams::parse(&query)?;
    if crate::store::systems::get(&state.db, &system_id)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound(format!(
            "no system {:?}",
            system_id.chars().take(40).collect::<String>()
        )));
    }
    let limit = page.limit();
    let rows =
        store::list_endpoints_of_system(&state.db, &system_id, page.after.as_deref(), limit + 1)
            .await?;
    let items = rows
        .into_iter()
        .map(Endpoint::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Page::from_overfetch(items, limit, |e| e.id.clone())))
}

/// One endpoint of a system.
#[utoipa::path(get, path = "/systems/{id}/endpoints/{endpoint_id}",
    operation_id = "get_webhook_endpoint", tag = "webhooks",
    params(
        ("id" = String, Path, description = "System id (sys_…)"),
        ("endpoint_id" = String, Path, description = "Endpoint id (whep_…)")
    ),
    responses(
        (status = 200, description = "The endpoint", body = Endpoint),
        (status = 404, description = "No such system or endpoint", body = ErrorBody)
    ))]
pub async fn get_endpoint(
    State(state): State<AppState>,
    PathParam((system_id, id)): PathParam<(String, String)>,
) -> Result<Json<Endpoint>, ApiError> {
    Ok(Json(Endpoint::try_from(
        load_endpoint(&state, &system_id, &id).await?,
    )?))
}

/// Changes what is given: URL, event types, description, enabled. Re-enabling clears
/// the reason and starts the failure streak afresh; deliveries that died meanwhile are
/// retried by hand (`POST /api/v1/webhook-deliveries/{id}/retry`).
#[utoipa::path(patch, path = "/systems/{id}/endpoints/{endpoint_id}",
    operation_id = "update_webhook_endpoint", tag = "webhooks",
    params(
        ("id" = String, Path, description = "System id (sys_…)"),
        ("endpoint_id" = String, Path, description = "Endpoint id (whep_…)")
    ),
    request_body = EndpointPatch,
    responses(
        (status = 200, description = "The endpoint after the change", body = Endpoint),
        (status = 404, description = "No such system or endpoint", body = ErrorBody),
        (status = 422, description = "A bad field, named", body = ErrorBody)
    ))]
pub async fn update_endpoint(
    State(state): State<AppState>,
    PathParam((system_id, id)): PathParam<(String, String)>,
    JsonBody(patch): JsonBody<EndpointPatch>,
) -> Result<Response, ApiError> {
    let mut row = load_endpoint(&state, &system_id, &id).await?;
    let before = Endpoint::try_from(row.clone())?;
    if let Some(url) = &patch.url {
        row.url = check_url(&state, url.as_str())?;
    }
    if let Some(types) = &patch.event_types {
        row.event_types = check_event_types(types)?;
    }
    if let Some(d) = &patch.description {
        row.description = Some(d.trimmed().to_owned()).filter(|d| !d.is_empty());
    }
    match patch.enabled {
        Some(true) if !row.enabled => {
            row.enabled = true;
            row.disabled_reason = None;
            row.disabled_at = None;
            row.failing_since = None;
        }
        Some(false) if row.enabled => {
            row.enabled = false;
            row.disabled_reason = Some("disabled by an operator".to_owned());
            row.disabled_at = Some(UtcTime::now());
        }
        _ => {}
    }
    if !store::update_endpoint(&state.db, &row).await? {
        return Err(ApiError::NotFound(format!("no endpoint {id:?}")));
    }
    let after = Endpoint::try_from(load_endpoint(&state, &system_id, &id).await?)?;
    let entry = AuditEntry::new("webhook_endpoint.update", &id, Some(&before), Some(&after));
    Ok(with_entry(Json(after), entry))
}

/// Deletes an endpoint with its deliveries and their attempts.
#[utoipa::path(delete, path = "/systems/{id}/endpoints/{endpoint_id}",
    operation_id = "delete_webhook_endpoint", tag = "webhooks",
    params(
        ("id" = String, Path, description = "System id (sys_…)"),
        ("endpoint_id" = String, Path, description = "Endpoint id (whep_…)")
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such system or endpoint", body = ErrorBody)
    ))]
pub async fn delete_endpoint(
    State(state): State<AppState>,
    PathParam((system_id, id)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    let row = load_endpoint(&state, &system_id, &id).await?;
    let before = Endpoint::try_from(row)?;
    store::delete_endpoint(&state.db, &id).await?;
    let entry = AuditEntry::new(
        "webhook_endpoint.delete",
        &id,
        Some(&before),
        None::<&Endpoint>,
    );
    Ok(with_entry(StatusCode::NO_CONTENT.into_response(), entry))
}

/// Gives the endpoint a new signing secret, answered this once. Deliveries are signed
/// with both the new and the previous secret for `[webhooks] rotation_overlap_secs`
/// (default 24 hours), so the receiver can switch without losing any.
#[utoipa::path(post, path = "/systems/{id}/endpoints/{endpoint_id}/rotate-secret",
    operation_id = "rotate_webhook_endpoint_secret", tag = "webhooks",
    params(
        ("id" = String, Path, description = "System id (sys_…)"),
        ("endpoint_id" = String, Path, description = "Endpoint id (whep_…)")
    ),
    responses(
        (status = 200, description = "The endpoint and its new secret (shown once)", body = EndpointWithSecret),
        (status = 404, description = "No such system or endpoint", body = ErrorBody)
    ))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    PathParam((system_id, id)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    let mut row = load_endpoint(&state, &system_id, &id).await?;
    let before = Endpoint::try_from(row.clone())?;
    let now = UtcTime::now();
    let current = outbound::signing_secrets(&state.secrets, &row, now)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("endpoint {id}: {e}")))?;
    let secret = WebhookSecret::generate();
    let sealed = outbound::seal_secret(&state.secrets, &id, &secret, false);
    if let Some(old) = current.first() {
        let previous = outbound::seal_secret(&state.secrets, &id, old, true);
        row.previous_secret_key_id = Some(previous.key_id);
        row.previous_secret_nonce = Some(previous.nonce);
        row.previous_secret_ciphertext = Some(previous.ciphertext);
        row.previous_secret_expires_at = Some(crate::clock::add(
            now,
            std::time::Duration::from_secs(state.webhooks.rotation_overlap_secs),
        ));
    }
    row.secret_key_id = sealed.key_id;
    row.secret_nonce = sealed.nonce;
    row.secret_ciphertext = sealed.ciphertext;
    if !store::rotate_endpoint_secret(&state.db, &row).await? {
        return Err(ApiError::NotFound(format!("no endpoint {id:?}")));
    }
    let endpoint = Endpoint::try_from(load_endpoint(&state, &system_id, &id).await?)?;
    let entry = AuditEntry::new(
        "webhook_endpoint.rotate_secret",
        &id,
        Some(&before),
        Some(&endpoint),
    );
    let body = EndpointWithSecret {
        endpoint,
        secret: secret.to_text().expose_secret().to_owned(),
    };
    Ok(with_entry(Json(body), entry))
}

/// A delivery of one message to one endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    /// Id (`whd_…`).
    pub id: String,
    /// The message: the `webhook-id` header, the same on every attempt.
    pub message_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// The endpoint's system.
    pub system_id: String,
    /// The event type.
    pub event_type: String,
    /// `pending` (an attempt is due at `next_attempt_at`), `succeeded` or `dead`.
    pub status: DeliveryStatus,
    /// Attempts so far.
    pub attempts: i64,
    /// When the next attempt is due.
    pub next_attempt_at: Option<UtcTime>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<UtcTime>,
    /// The last failure.
    pub last_error: Option<String>,
    /// When the event was emitted.
    pub created_at: UtcTime,
    /// When it last changed.
    pub updated_at: UtcTime,
}

impl From<DeliveryRow> for Delivery {
    fn from(r: DeliveryRow) -> Delivery {
        Delivery {
            id: r.id,
            message_id: r.message_id,
            endpoint_id: r.endpoint_id,
            system_id: r.system_id,
            event_type: r.event_type,
            status: r.status,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            last_attempt_at: r.last_attempt_at,
            last_error: r.last_error,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// One attempt of a delivery.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attempt {
    /// The attempt's number (1-based).
    pub attempt: i64,
    /// When it was made.
    pub started_at: UtcTime,
    /// The HTTP status of the answer; none when no answer came.
    pub status_code: Option<i64>,
    /// How long it took, in milliseconds.
    pub latency_ms: i64,
    /// The first 1 KiB of the answer's body, as text.
    pub response_excerpt: Option<String>,
    /// None on success; else `http_status`, `throttled` (429, 503), `gone` (410),
    /// `timeout`, `connect`, `blocked_address`, `url_refused`, `request` or `secret`.
    pub error_class: Option<String>,
    /// The failure.
    pub error: Option<String>,
}

impl From<AttemptRow> for Attempt {
    fn from(r: AttemptRow) -> Attempt {
        Attempt {
            attempt: r.attempt,
            started_at: r.started_at,
            status_code: r.status_code,
            latency_ms: r.latency_ms,
            response_excerpt: r.response_excerpt,
            error_class: r.error_class,
            error: r.error,
        }
    }
}

/// A delivery with the body sent and every attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDetail {
    /// The delivery.
    pub delivery: Delivery,
    /// The body as sent: `{"type", "timestamp", "data"}`.
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
    /// Every attempt, oldest first.
    pub attempts: Vec<Attempt>,
}

fn id_param(query: &HashMap<String, String>, name: &str) -> Result<Option<String>, ApiError> {
    match query.get(name) {
        None => Ok(None),
        Some(v) if !v.is_empty() && v.len() <= 128 && !v.chars().any(char::is_control) => {
            Ok(Some(v.clone()))
        }
        Some(v) => Err(ApiError::InvalidParameter(format!(
            "{name} must be an id of 1 to 128 characters, got {:?}",
            v.chars().take(40).collect::<String>()
        ))),
    }
}

fn time_param(query: &HashMap<String, String>, name: &str) -> Result<Option<UtcTime>, ApiError> {
    query
        .get(name)
        .map(|v| {
            DateTime::parse(v)
                .map(|t| UtcTime::from(t.timestamp()))
                .map_err(|e| ApiError::InvalidParameter(format!("{name}: {e}")))
        })
        .transpose()
}

/// Deliveries, newest first, filtered by system, endpoint, status, event type and the
/// time the event was emitted (`since` inclusive, `until` exclusive).
#[utoipa::path(get, path = "/webhook-deliveries", operation_id = "list_webhook_deliveries",
    tag = "webhooks",
    params(
        PageParams,
        ("system_id" = Option<String>, Query, description = "Only this system's (sys_…)"),
        ("endpoint_id" = Option<String>, Query, description = "Only this endpoint's (whep_…)"),
        ("status" = Option<DeliveryStatus>, Query, description = "pending, succeeded or dead"),
        ("event_type" = Option<EventType>, Query, description = "Only this event type"),
        ("since" = Option<String>, Query, format = DateTime, description = "Emitted at or after (RFC 3339)"),
        ("until" = Option<String>, Query, format = DateTime, description = "Emitted before (RFC 3339)")
    ),
    responses(
        (status = 200, description = "A page of deliveries", body = Page<Delivery>),
        (status = 400, description = "A bad parameter, named", body = ErrorBody)
    ))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Page<Delivery>>, ApiError> {
    let page = PageParams::parse(&query)?;
    let system_id = id_param(&query, "system_id")?;
    let endpoint_id = id_param(&query, "endpoint_id")?;
    let status = status_param::<DeliveryStatus>(&query, "status", DeliveryStatus::names)?;
    let event_type = query
        .get("event_type")
        .map(|t| {
            t.parse::<EventType>()
                .map_err(|e| ApiError::InvalidParameter(format!("event_type {e}")))
        })
        .transpose()?;
    let since = time_param(&query, "since")?;
    let until = time_param(&query, "until")?;
    let filter = DeliveryFilter {
        system_id: system_id.as_deref(),
        endpoint_id: endpoint_id.as_deref(),
        status,
        event_type: event_type.map(EventType::as_str),
        since,
        until,
    };
    let limit = page.limit();
    let rows = store::list_deliveries(&state.db, &filter, page.after.as_deref(), limit + 1).await?;
    let items = rows.into_iter().map(Delivery::from).collect();
    Ok(Json(Page::from_overfetch(items, limit, |d: &Delivery| {
        d.id.clone()
    })))
}

async fn load_delivery(state: &AppState, id: &str) -> Result<DeliveryRow, ApiError> {
    store::get_delivery(&state.db, id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no webhook delivery {:?}",
            id.chars().take(40).collect::<String>()
        ))
    })
}

/// One delivery, with the body sent and every attempt.
#[utoipa::path(get, path = "/webhook-deliveries/{id}", operation_id = "get_webhook_delivery",
    tag = "webhooks",
    params(("id" = String, Path, description = "Delivery id (whd_…)")),
    responses(
        (status = 200, description = "The delivery", body = DeliveryDetail),
        (status = 404, description = "No such delivery", body = ErrorBody)
    ))]
pub async fn get_delivery(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Json<DeliveryDetail>, ApiError> {
    let row = load_delivery(&state, &id).await?;
    let body = store::message_body(&state.db, &row.message_id)
        .await?
        .and_then(|b| serde_json::from_str(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    let attempts = store::attempts_of_delivery(&state.db, &id)
        .await?
        .into_iter()
        .map(Attempt::from)
        .collect();
    Ok(Json(DeliveryDetail {
        delivery: row.into(),
        body,
        attempts,
    }))
}

/// Retries a delivery by hand: one more attempt, now, of the same message (same
/// `webhook-id`, signed afresh). Dead and succeeded deliveries can be retried; a
/// pending one already has an attempt due, and one whose endpoint is disabled must wait
/// until the endpoint is enabled again.
#[utoipa::path(post, path = "/webhook-deliveries/{id}/retry", operation_id = "retry_webhook_delivery",
    tag = "webhooks",
    params(("id" = String, Path, description = "Delivery id (whd_…)")),
    responses(
        (status = 202, description = "Queued: the delivery, pending", body = Delivery),
        (status = 404, description = "No such delivery", body = ErrorBody),
        (status = 409, description = "Already pending, or the endpoint is disabled", body = ErrorBody)
    ))]
pub async fn retry_delivery(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let (after, entry) = retry(&state, &id).await?;
    Ok(with_entry((StatusCode::ACCEPTED, Json(after)), entry))
}

/// Queues one more attempt of delivery `id`, now (the one path of the API and the admin
/// page): the delivery after, pending, and the audit entry `webhook_delivery.retry`.
/// 404 for no such delivery (or its endpoint gone); 409 `endpoint_disabled` or
/// `delivery_pending`.
pub async fn retry(state: &AppState, id: &str) -> Result<(Delivery, AuditEntry), ApiError> {
    let row = load_delivery(state, id).await?;
    let endpoint = store::get_endpoint(&state.db, &row.endpoint_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("the endpoint of delivery {id} is gone")))?;
    if !endpoint.enabled {
        return Err(ApiError::ConflictWith {
            code: "endpoint_disabled",
            detail: format!(
                "endpoint {} is disabled ({}); enable it first",
                endpoint.id,
                endpoint
                    .disabled_reason
                    .as_deref()
                    .unwrap_or("by an operator")
            ),
        });
    }
    let now = UtcTime::now();
    let mut tx = state.db.begin().await?;
    if !store::requeue_delivery(&mut tx, id, now).await? {
        return Err(ApiError::ConflictWith {
            code: "delivery_pending",
            detail: format!("delivery {id} is pending: an attempt is already due"),
        });
    }
    outbound::enqueue_delivery(&mut tx, id, 1, now).await?;
    tx.commit().await?;
    let after = Delivery::from(load_delivery(state, id).await?);
    let before = Delivery::from(row);
    let entry = AuditEntry::new("webhook_delivery.retry", id, Some(&before), Some(&after));
    Ok((after, entry))
}
