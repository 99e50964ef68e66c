//! `/api/v1/members`: members synchronised from member systems, with their mappings.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{JsonBody, PathParam, QueryParams};
use super::pagination::{Page, PageParams};
use super::pos::{system_param, time_range};
use super::{ApiError, AppState, ErrorBody};
use crate::records::members::{self, Member, MemberMapping, MemberUpdate};
use crate::records::{self, Batch, BatchResult, ItemResult, Outcome};
use crate::store::members::{self as store, MemberFilter};
use crate::systems::Kind;

/// A batch of member updates: each is answered on its own.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "it documents the body; the handler reads each item on its own"
)]
pub struct MemberBatch {
    /// 1 to 500 updates.
    #[schema(min_items = 1, max_items = 500)]
    pub items: Vec<MemberUpdate>,
}

/// The body of `POST /members/{system_id}/sync`: one update, or a batch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "it documents the body; the handler reads each item on its own"
)]
pub enum MemberSyncBody {
    /// A batch.
    Batch(MemberBatch),
    /// One update.
    One(MemberUpdate),
}

/// What one update did, and the member after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberSynced {
    /// `created`, `updated`, `already_recorded` or `stale_ignored`.
    pub outcome: Outcome,
    /// The member as it is now (the mobile whole).
    pub member: Member,
}

/// The answer of `POST /members/{system_id}/sync` with status 200.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum MemberSyncAnswer {
    /// One update's outcome.
    One(MemberSynced),
    /// A batch's results.
    Batch(BatchResult),
}

/// A member with its mappings.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberDetail {
    /// The member (the mobile whole).
    #[serde(flatten)]
    pub member: Member,
    /// Its id in each system that sends it.
    pub mappings: Vec<MemberMapping>,
}

/// Creates or updates members from a member system: one update (201 created; 200
/// updated, already recorded or stale-ignored; or its error), or a batch `{"items":
/// [...]}` of 1 to 500, each answered on its own. An update older than the last one
/// applied from the system (by `version`, or `updated_at`) never overwrites it.
#[utoipa::path(post, path = "/members/{system_id}/sync", operation_id = "sync_members",
    tag = "records",
    params(("system_id" = String, Path, description = "The member system (sys_…)")),
    request_body(content = MemberSyncBody,
        description = "One update, or `{\"items\": [...]}` of 1 to 500"),
    responses(
        (status = 201, description = "A new member", body = MemberSynced),
        (status = 200, description = "Updated, already recorded or stale (one), or each item's result (a batch)", body = MemberSyncAnswer),
        (status = 404, description = "No such system", body = ErrorBody),
        (status = 409, description = "member_id names another member than the one mapped", body = ErrorBody),
        (status = 422, description = "A bad field, named; no version nor time; a system of another kind, or archived; an unknown member_id", body = ErrorBody)
    ))]
pub async fn sync_members(
    State(state): State<AppState>,
    PathParam(system_id): PathParam<String>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Response, ApiError> {
    let system = records::usable_system(&state.db, &system_id, Kind::Member).await?;
    match Batch::of(body)? {
        Batch::One(item) => {
            let input: MemberUpdate = records::parse(item)?;
            let (outcome, id) = members::sync(&state.db, &system, input).await?;
            let row = store::get(&state.db, &id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("member {id} is gone")))?;
            let status = if outcome == Outcome::Created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let member = Member::from_row(row, false);
            let answer = MemberSyncAnswer::One(MemberSynced { outcome, member });
            Ok((status, Json(answer)).into_response())
        }
        Batch::Many(items) => {
            let mut results = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                let result = async {
                    let input: MemberUpdate = records::parse(item)?;
                    members::sync(&state.db, &system, input).await
                }
                .await;
                results.push(ItemResult::of(index, result));
            }
            let answer = MemberSyncAnswer::Batch(BatchResult { items: results });
            Ok(Json(answer).into_response())
        }
    }
}

/// Lists members, newest first, filtered by system (a mapping in it), level and the
/// time they were last updated; mobiles are masked (`138****5678`).
#[utoipa::path(get, path = "/members", operation_id = "list_members", tag = "records",
    params(
        PageParams,
        ("system" = Option<String>, Query, pattern = r"^sys_[A-Za-z0-9_]{0,60}$", description = "Mapped from this member system (sys_…)"),
        ("level" = Option<String>, Query, min_length = 1, max_length = 40, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$", description = "At this level"),
        ("since" = Option<String>, Query, format = DateTime, description = "Updated at or after this RFC 3339 instant"),
        ("until" = Option<String>, Query, format = DateTime, description = "Updated before this RFC 3339 instant")
    ),
    responses(
        (status = 200, description = "A page of members", body = Page<Member>),
        (status = 400, description = "A bad parameter", body = ErrorBody)
    ))]
pub async fn list_members(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Result<Json<Page<Member>>, ApiError> {
    let page = PageParams::parse(&query)?;
    let (since, until) = time_range(&query)?;
    let level = match query.get("level") {
        None => None,
        Some(l) if !l.is_empty() && l.chars().count() <= 40 && !l.chars().any(char::is_control) => {
            Some(l.clone())
        }
        Some(l) => {
            return Err(ApiError::InvalidParameter(format!(
                "level must be 1 to 40 characters without control characters, got {:?}",
                l.chars().take(40).collect::<String>()
            )));
        }
    };
    let filter = MemberFilter {
        system_id: system_param(&query)?,
        level,
        since,
        until,
    };
    let limit = page.limit();
    let rows = store::list(&state.db, &filter, page.after.as_deref(), limit + 1).await?;
    let items = rows
        .into_iter()
        .map(|r| Member::from_row(r, true))
        .collect();
    Ok(Json(Page::from_overfetch(items, limit, |m: &Member| {
        m.id.clone()
    })))
}

/// One member by id, its mobile whole, with its id in each system that sends it.
#[utoipa::path(get, path = "/members/{id}", operation_id = "get_member", tag = "records",
    params(("id" = String, Path, description = "Member id (mem_…)")),
    responses(
        (status = 200, description = "The member", body = MemberDetail),
        (status = 404, description = "No such member", body = ErrorBody)
    ))]
pub async fn get_member(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Json<MemberDetail>, ApiError> {
    let row = store::get(&state.db, &id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no member with id {:?}",
            id.chars().take(64).collect::<String>()
        ))
    })?;
    let mappings = store::mappings_of(&state.db, &row.id)
        .await?
        .into_iter()
        .map(MemberMapping::from)
        .collect();
    Ok(Json(MemberDetail {
        member: Member::from_row(row, false),
        mappings,
    }))
}
