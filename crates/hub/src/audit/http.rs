//! `GET /api/v1/audit-log`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};

use crate::http::pagination::{Page, PageParams};
use crate::http::{ApiError, AppState, ErrorBody};
use crate::store::audit::{self as store, AuditFilter, AuditRecord};
use crate::types::UtcTime;

fn text_param(query: &HashMap<String, String>, name: &str) -> Result<Option<String>, ApiError> {
    match query.get(name) {
        None => Ok(None),
        Some(v) if v.is_empty() || v.len() > 200 || v.chars().any(char::is_control) => Err(
            ApiError::InvalidParameter(format!("{name} must be 1 to 200 printable characters")),
        ),
        Some(v) => Ok(Some(v.clone())),
    }
}

/// Reads an RFC 3339 instant (`2026-12-01T08:00:00Z`) from the query.
pub fn time_param(
    query: &HashMap<String, String>,
    name: &str,
) -> Result<Option<UtcTime>, ApiError> {
    match query.get(name) {
        None => Ok(None),
        Some(raw) => raw
            .parse::<jiff::Timestamp>()
            .map(|t| Some(UtcTime::from(t)))
            .map_err(|_| {
                ApiError::InvalidParameter(format!(
                    "{name} must be an RFC 3339 instant such as 2026-12-01T08:00:00Z, got {:?}",
                    raw.chars().take(40).collect::<String>()
                ))
            }),
    }
}

/// The audit log, newest first, filtered by actor, action prefix, target and time range.
#[utoipa::path(get, path = "/audit-log", operation_id = "list_audit_log", tag = "access",
    params(
        PageParams,
        ("actor" = Option<String>, Query, description = "Exactly this actor, e.g. `user:alice`, `api_key:key_…`, `admin_token`"),
        ("action" = Option<String>, Query, description = "Actions starting with this, e.g. `user.` or `api_key.revoke`"),
        ("target" = Option<String>, Query, description = "Exactly this target id"),
        ("since" = Option<String>, Query, format = DateTime, description = "At or after this RFC 3339 instant"),
        ("until" = Option<String>, Query, format = DateTime, description = "Before this RFC 3339 instant")
    ),
    responses(
        (status = 200, description = "A page of entries", body = Page<AuditRecord>),
        (status = 400, description = "A bad parameter", body = ErrorBody)
    ))]
pub async fn list_audit_log(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Page<AuditRecord>>, ApiError> {
    let page = PageParams::parse(&query)?;
    let filter = AuditFilter {
        actor: text_param(&query, "actor")?,
        action_prefix: text_param(&query, "action")?,
        target: text_param(&query, "target")?,
        since: time_param(&query, "since")?,
        until: time_param(&query, "until")?,
    };
    if let (Some(s), Some(u)) = (filter.since, filter.until)
        && s > u
    {
        return Err(ApiError::InvalidParameter(format!(
            "since ({s}) must not be after until ({u})"
        )));
    }
    let limit = page.limit();
    let items = store::list(&state.db, &filter, page.after.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_overfetch(items, limit, |r| r.id.clone())))
}
