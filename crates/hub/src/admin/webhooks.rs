//! The admin page's webhook views: events received from the systems (with their
//! replay), and deliveries sent to them (with their attempts and a resend). The actions
//! call the code of the API routes they mirror; nothing here reads or shows a signing
//! secret or a signature.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::pages::{LIST_LIMIT, Viewer, after, opt, opt_when, page, when};
use super::{html, refusal};
use crate::audit::with_entry;
use crate::http::{ApiError, AppState};
use crate::status::{DeliveryStatus, WebhookEventStatus};
use crate::store::webhooks::{self as out_store, DeliveryFilter};
use crate::store::webhooks_in::{self as in_store, EventFilter, EventRow};
use crate::webhooks::http::Delivery;

/// A filter of a list: its value when given and not empty.
fn filter<'a>(query: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    query.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// A system id to filter by, as the API takes it: 1 to `max` characters, no control
/// characters.
fn system_filter(query: &HashMap<String, String>, max: usize) -> Result<Option<String>, ApiError> {
    match filter(query, "system_id") {
        None => Ok(None),
        Some(s) if s.len() > max || s.chars().any(char::is_control) => {
            Err(ApiError::InvalidParameter(format!(
                "system_id must be 1 to {max} printable characters"
            )))
        }
        Some(s) => Ok(Some(s.to_owned())),
    }
}

/// A status to filter by, one of `names`.
fn status_filter<T: std::str::FromStr>(
    query: &HashMap<String, String>,
    names: fn() -> String,
) -> Result<Option<T>, ApiError> {
    filter(query, "status")
        .map(|s| {
            s.parse::<T>().map_err(|_| {
                ApiError::InvalidParameter(format!(
                    "status must be one of {}, got {:?}",
                    names(),
                    s.chars().take(40).collect::<String>()
                ))
            })
        })
        .transpose()
}

// ---- Events in -------------------------------------------------------------------

/// An event as the page lists it: never its body's signature.
pub struct EventView {
    id: String,
    system: String,
    webhook_id: String,
    received: String,
    status: String,
    attempts: i64,
    replays: i64,
    /// What its last processing did (JSON).
    result: String,
    last_error: String,
    /// Settled (processed or dead), and the viewer may replay it.
    replayable: bool,
}

impl EventView {
    fn of(e: EventRow, may_replay: bool) -> EventView {
        EventView {
            replayable: may_replay
                && matches!(
                    e.status,
                    WebhookEventStatus::Processed | WebhookEventStatus::Dead
                ),
            status: e.status.as_str().to_owned(),
            id: e.id,
            system: e.system_id,
            webhook_id: e.webhook_id,
            received: when(e.received_at),
            attempts: e.attempts,
            replays: e.replays,
            result: e.result.unwrap_or_default(),
            last_error: e.last_error.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/webhook_events.html")]
struct EventsPage {
    viewer: Viewer,
    system_id: String,
    status: String,
    statuses: Vec<&'static str>,
    events: Vec<EventView>,
    next: String,
}

#[derive(Template)]
#[template(path = "admin/webhook_event_row.html")]
struct EventRowFragment {
    event: EventView,
}

/// `GET /admin/webhook-events?system_id=&status=`: the events received, newest first,
/// with what their processing came to; a replay button on the settled ones for whom may
/// replay (the roles of `POST /api/v1/webhook-events/{id}/replay`).
pub async fn webhook_events(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let result: Result<EventsPage, ApiError> = async {
        let cursor = after(&query)?;
        let system_id = system_filter(&query, 64)?;
        let status = status_filter::<WebhookEventStatus>(&query, WebhookEventStatus::names)?;
        let may_replay = viewer.may("POST", "/api/v1/webhook-events/{id}/replay");
        let f = EventFilter {
            system_id: system_id.as_deref(),
            status,
            from: None,
            to: None,
        };
        let mut events =
            in_store::list_events(&state.db, &f, cursor.as_deref(), LIST_LIMIT + 1).await?;
        let next = if events.len() > LIST_LIMIT as usize {
            events.truncate(LIST_LIMIT as usize);
            events.last().map(|e| e.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(EventsPage {
            viewer,
            system_id: system_id.clone().unwrap_or_default(),
            status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            statuses: WebhookEventStatus::ALL.iter().map(|s| s.as_str()).collect(),
            events: events
                .into_iter()
                .map(|e| EventView::of(e, may_replay))
                .collect(),
            next,
        })
    }
    .await;
    page(&headers, result)
}

/// `POST /admin/webhook-events/{id}/replay`: replays the event as
/// `POST /api/v1/webhook-events/{id}/replay` does (its processing queued again); answers
/// its row as it is now.
pub async fn replay_webhook_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let (_, entry) = crate::webhooks::inbound::http::replay_event(&state, &id).await?;
        let row = in_store::get_event(&state.db, &id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("the webhook event {id} is gone")))?;
        Ok::<_, ApiError>((row, entry))
    }
    .await;
    match result {
        Ok((row, entry)) => with_entry(
            html(
                StatusCode::OK,
                &EventRowFragment {
                    event: EventView::of(row, true),
                },
            ),
            entry,
        ),
        Err(e) => refusal(&headers, e),
    }
}

// ---- Deliveries out --------------------------------------------------------------

/// A delivery as the page lists it.
pub struct DeliveryView {
    id: String,
    system: String,
    endpoint: String,
    event_type: String,
    status: String,
    attempts: i64,
    next_attempt: String,
    last_attempt: String,
    last_error: String,
    /// Not pending, and the viewer may resend it.
    retryable: bool,
}

impl DeliveryView {
    fn of(d: Delivery, may_retry: bool) -> DeliveryView {
        DeliveryView {
            retryable: may_retry && d.status != DeliveryStatus::Pending,
            status: d.status.as_str().to_owned(),
            id: d.id,
            system: d.system_id,
            endpoint: d.endpoint_id,
            event_type: d.event_type,
            attempts: d.attempts,
            next_attempt: opt_when(d.next_attempt_at),
            last_attempt: opt_when(d.last_attempt_at),
            last_error: d.last_error.unwrap_or_default(),
        }
    }
}

/// An attempt of a delivery.
pub struct AttemptView {
    attempt: i64,
    started: String,
    status_code: String,
    latency_ms: i64,
    error_class: String,
    error: String,
    excerpt: String,
}

#[derive(Template)]
#[template(path = "admin/webhook_deliveries.html")]
struct DeliveriesPage {
    viewer: Viewer,
    system_id: String,
    status: String,
    statuses: Vec<&'static str>,
    deliveries: Vec<DeliveryView>,
    next: String,
}

#[derive(Template)]
#[template(path = "admin/webhook_delivery.html")]
struct DeliveryPage {
    viewer: Viewer,
    delivery: DeliveryView,
    message_id: String,
    created: String,
    updated: String,
    /// The body sent, as indented JSON.
    body: String,
    attempts: Vec<AttemptView>,
}

#[derive(Template)]
#[template(path = "admin/webhook_delivery_row.html")]
struct DeliveryRowFragment {
    delivery: DeliveryView,
}

/// `GET /admin/webhook-deliveries?system_id=&status=`: deliveries to the systems'
/// endpoints, newest first (the roles of `GET /api/v1/webhook-deliveries`); a resend
/// button on those not pending for whom may retry.
pub async fn webhook_deliveries(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let result: Result<DeliveriesPage, ApiError> = async {
        let cursor = after(&query)?;
        let system_id = system_filter(&query, 128)?;
        let status = status_filter::<DeliveryStatus>(&query, DeliveryStatus::names)?;
        let may_retry = viewer.may("POST", "/api/v1/webhook-deliveries/{id}/retry");
        let f = DeliveryFilter {
            system_id: system_id.as_deref(),
            status,
            ..DeliveryFilter::default()
        };
        let mut rows =
            out_store::list_deliveries(&state.db, &f, cursor.as_deref(), LIST_LIMIT + 1).await?;
        let next = if rows.len() > LIST_LIMIT as usize {
            rows.truncate(LIST_LIMIT as usize);
            rows.last().map(|d| d.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(DeliveriesPage {
            viewer,
            system_id: system_id.clone().unwrap_or_default(),
            status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            statuses: DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect(),
            deliveries: rows
                .into_iter()
                .map(|d| DeliveryView::of(Delivery::from(d), may_retry))
                .collect(),
            next,
        })
    }
    .await;
    page(&headers, result)
}

/// `GET /admin/webhook-deliveries/{id}`: a delivery with the body sent and every attempt.
pub async fn webhook_delivery(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result: Result<DeliveryPage, ApiError> = async {
        let row = out_store::get_delivery(&state.db, &id)
            .await?
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "no webhook delivery {:?}",
                    id.chars().take(40).collect::<String>()
                ))
            })?;
        let body = out_store::message_body(&state.db, &row.message_id)
            .await?
            .map(|b| {
                serde_json::from_str::<serde_json::Value>(&b)
                    .ok()
                    .and_then(|v| serde_json::to_string_pretty(&v).ok())
                    .unwrap_or(b)
            })
            .unwrap_or_default();
        let attempts = out_store::attempts_of_delivery(&state.db, &id)
            .await?
            .into_iter()
            .map(|a| AttemptView {
                attempt: a.attempt,
                started: when(a.started_at),
                status_code: opt(a.status_code),
                latency_ms: a.latency_ms,
                error_class: a.error_class.unwrap_or_default(),
                error: a.error.unwrap_or_default(),
                excerpt: a.response_excerpt.unwrap_or_default(),
            })
            .collect();
        let may_retry = viewer.may("POST", "/api/v1/webhook-deliveries/{id}/retry");
        Ok(DeliveryPage {
            message_id: row.message_id.clone(),
            created: when(row.created_at),
            updated: when(row.updated_at),
            delivery: DeliveryView::of(Delivery::from(row), may_retry),
            viewer,
            body,
            attempts,
        })
    }
    .await;
    page(&headers, result)
}

/// `POST /admin/webhook-deliveries/{id}/retry`: one more attempt of the delivery, now,
/// as `POST /api/v1/webhook-deliveries/{id}/retry` does; answers its row, pending.
pub async fn retry_webhook_delivery(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match crate::webhooks::http::retry(&state, &id).await {
        Ok((delivery, entry)) => with_entry(
            html(
                StatusCode::OK,
                &DeliveryRowFragment {
                    delivery: DeliveryView::of(delivery, true),
                },
            ),
            entry,
        ),
        Err(e) => refusal(&headers, e),
    }
}
