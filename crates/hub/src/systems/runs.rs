//! Sync runs started through the API: `POST /api/v1/sync-runs` runs a sync of a supplier
//! system in the background (202 with its id and `Location`), one active run per
//! system; the filters of `GET /api/v1/sync-runs`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Kind;
use crate::audit::{AuditEntry, with_entry};
use crate::http::body::JsonBody;
use crate::http::{ApiError, AppState, ErrorBody};
use crate::store::StoreError;
use crate::store::sync_runs::{self, RunFilter};
use crate::sync::{NoProgress, RunKind, SyncOptions, Syncer};

/// The filters of `GET /api/v1/sync-runs`, validated; errors name the parameter.
pub fn run_filter(query: &HashMap<String, String>) -> Result<RunFilter, ApiError> {
    let pick = |name: &str, allowed: &[&str]| -> Result<Option<String>, ApiError> {
        match query.get(name) {
            None => Ok(None),
            Some(v) if allowed.contains(&v.as_str()) => Ok(Some(v.clone())),
            Some(v) => Err(ApiError::InvalidParameter(format!(
                "{name} must be one of {}, got {:?}",
                allowed.join(", "),
                v.chars().take(20).collect::<String>()
            ))),
        }
    };
    let system_id = match query.get("system") {
        None => None,
        Some(s)
            if s.starts_with("sys_")
                && s.len() <= 64
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            Some(s.clone())
        }
        Some(s) => {
            return Err(ApiError::InvalidParameter(format!(
                "system must be a system id (sys_…), got {:?}",
                s.chars().take(40).collect::<String>()
            )));
        }
    };
    let filter = RunFilter {
        kind: pick("kind", &["full", "incremental"])?,
        status: pick(
            "status",
            &["pending", "processing", "success", "failed", "partial"],
        )?,
        system_id,
        since: crate::audit::http::time_param(query, "since")?,
        until: crate::audit::http::time_param(query, "until")?,
    };
    if let (Some(s), Some(u)) = (filter.since, filter.until)
        && s > u
    {
        return Err(ApiError::InvalidParameter(format!(
            "since ({s}) must not be after until ({u})"
        )));
    }
    Ok(filter)
}

/// The schema of [`StartRun::product_codes`]: at most 1000 product codes.
fn product_codes_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(haier::ProductCode::MAX_LEN))
                .pattern(Some(r"^[^\s\u0000-\u001f\u007f-\u009f]+$")),
        )
        .max_items(Some(1000))
        .build()
}

/// `POST /api/v1/sync-runs`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    /// The supplier system to sync from (`sys_…`).
    pub system_id: String,
    /// `full` (default) or `incremental`.
    #[serde(default)]
    #[schema(value_type = Option<crate::sync::RunKind>)]
    pub kind: Option<String>,
    /// Only these product codes (at most 1000; each 1 to 50 characters, no whitespace).
    #[serde(default)]
    #[schema(schema_with = product_codes_schema)]
    pub product_codes: Vec<String>,
    /// Sync prices (default true).
    #[serde(default)]
    pub prices: Option<bool>,
    /// Sync regional stock for the system's counties (default true).
    #[serde(default)]
    pub stock: Option<bool>,
}

/// A run just started.
#[derive(Debug, Serialize, ToSchema)]
pub struct StartedRun {
    /// The run's id (`run_…`): follow it at `Location`.
    pub id: String,
    /// `pending`.
    pub status: String,
    /// The system it syncs from.
    pub system_id: String,
}

fn invalid(detail: String) -> ApiError {
    ApiError::Unprocessable {
        code: "invalid_body",
        detail,
    }
}

/// Starts a sync of a supplier system in the background: 202 with the run's id and its
/// `Location`. While the system has a pending or processing run, 409 naming it.
#[utoipa::path(post, path = "/sync-runs", operation_id = "start_sync_run", tag = "sync",
    request_body = StartRun,
    responses(
        (status = 202, description = "Started; follow it at Location", body = StartedRun,
            headers(("Location" = String, description = "/api/v1/sync-runs/{id}"))),
        (status = 404, description = "No such system", body = ErrorBody),
        (status = 409, description = "The system has a run in progress (named), is archived or not a supplier, or its settings cannot make a client (`system_misconfigured`)", body = ErrorBody),
        (status = 422, description = "A bad field, named", body = ErrorBody)
    ))]
pub async fn start_sync_run(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<StartRun>,
) -> Result<Response, ApiError> {
    let started = start_run(&state, req).await?;
    let id = started.id.clone();
    let entry = AuditEntry::new("sync_run.start", &id, None::<&StartedRun>, Some(&started));
    let mut response = (StatusCode::ACCEPTED, Json(started)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/sync-runs/{id}")) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(with_entry(response, entry))
}

/// Starts a sync run of a supplier system in the background and answers it as started.
/// The run ends `failed` ("interrupted by shutdown") when the instance shuts down.
/// 404 for no such system; 409 while the system has a run in progress, when it is
/// archived or not a supplier, or its settings make no client; 422 for a bad field. The
/// one path of the API's `POST /sync-runs` and the admin page's "run now".
pub async fn start_run(state: &AppState, req: StartRun) -> Result<StartedRun, ApiError> {
    let kind = match req.kind.as_deref() {
        None | Some("full") => RunKind::Full,
        Some("incremental") => RunKind::Incremental,
        Some(other) => {
            return Err(invalid(format!(
                "kind must be full or incremental, got {:?}",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    if req.product_codes.len() > 1000 {
        return Err(invalid("product_codes: at most 1000".to_owned()));
    }
    let product_codes = req
        .product_codes
        .iter()
        .map(|c| {
            haier::ProductCode::parse(c).map_err(|e| {
                invalid(format!(
                    "product_codes: {:?}: {e}",
                    c.chars().take(40).collect::<String>()
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let row = crate::store::systems::get(&state.db, &req.system_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no system {:?}",
                req.system_id.chars().take(40).collect::<String>()
            ))
        })?;
    if row.kind != Kind::Supplier.as_str() || row.archived_at.is_some() {
        return Err(ApiError::ConflictWith {
            code: "not_syncable",
            detail: format!(
                "system {} is {}: only an unarchived supplier system syncs",
                row.id,
                if row.archived_at.is_some() {
                    "archived".to_owned()
                } else {
                    format!("a {} system", row.kind)
                }
            ),
        });
    }
    let sync: super::SyncSettings =
        serde_json::from_str(&row.sync_settings).map_err(|e| ApiError::Internal(e.into()))?;
    let counties = if sync.counties.is_empty() {
        crate::config::SyncConfig::default().counties
    } else {
        sync.counties
    };
    let log = crate::calllog::CallLog::start(state.db.clone(), crate::calllog::OPEN_PLATFORM);
    let client = super::http::open_platform_client(state, &row, Some(log.clone()))?;
    let opts = SyncOptions {
        kind,
        product_codes,
        category: None,
        brand: None,
        prices: req.prices.unwrap_or(true),
        stock: req.stock.unwrap_or(true),
        counties,
    };
    let id = crate::store::new_id("run");
    let scope = serde_json::to_value(&opts).unwrap_or_default();
    if let Err(e) =
        sync_runs::insert_system_run(&state.db, &id, kind.as_str(), &scope, &row.id).await
    {
        return Err(match e {
            StoreError::Conflict(_) => {
                let running = sync_runs::active_run_of_system(&state.db, &row.id)
                    .await?
                    .unwrap_or_default();
                ApiError::ConflictWith {
                    code: "run_in_progress",
                    detail: format!("system {} has a run in progress: {running}", row.id),
                }
            }
            other => other.into(),
        });
    }
    let syncer = Syncer::new(
        state.db.clone(),
        Arc::new(client),
        crate::config::SyncConfig::default().concurrency,
    );
    let run_id = id.clone();
    let shutdown = state.shutdown.clone();
    // The run's future is not provably Send (it borrows across awaits in closures the
    // compiler cannot see through), so it is driven on a blocking thread of this runtime.
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        handle.block_on(async move {
            if let Err(e) = syncer
                .run_recorded(run_id.clone(), &opts, &NoProgress, &shutdown)
                .await
            {
                tracing::error!(run = %run_id, error = %e, "a sync run started through the API failed");
            }
            log.flush().await;
        })
    });
    Ok(StartedRun {
        id,
        status: "pending".to_owned(),
        system_id: row.id.clone(),
    })
}
