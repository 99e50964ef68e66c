//! `/api/v1/pos`: POS transactions recorded from POS systems (sales, refunds, voids).

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{JsonBody, PathParam, QueryParams};
use super::pagination::{Page, PageParams, status_param};
use super::{ApiError, AppState, ErrorBody};
use crate::records::pos::{self, PosKind, PosStatus, PosTransaction, PosTransactionInput};
use crate::records::{self, Batch, BatchResult, ItemResult, Outcome, RecordError};
use crate::store::pos::{self as store, PosFilter};
use crate::systems::Kind;
use crate::types::UtcTime;

/// A batch of transactions: each is answered on its own.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "it documents the body; the handler reads each item on its own"
)]
pub struct PosBatch {
    /// 1 to 500 transactions.
    #[schema(min_items = 1, max_items = 500)]
    pub items: Vec<PosTransactionInput>,
}

/// The body of `POST /pos/{system_id}/transactions`: one transaction, or a batch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "it documents the body; the handler reads each item on its own"
)]
pub enum PosTransactionsBody {
    /// A batch.
    Batch(PosBatch),
    /// One transaction.
    One(Box<PosTransactionInput>),
}

/// The answer of `POST /pos/{system_id}/transactions` with status 200: the transaction
/// recorded before (one), or one result per item (a batch).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum PosTransactionsAnswer {
    /// One transaction, already recorded.
    One(Box<PosTransaction>),
    /// A batch's results.
    Batch(BatchResult),
}

/// The `system` query parameter: a system id (`sys_…`), or a 400 naming it.
pub(super) fn system_param(query: &HashMap<String, String>) -> Result<Option<String>, ApiError> {
    match query.get("system") {
        None => Ok(None),
        Some(s)
            if s.starts_with("sys_")
                && s.len() <= 64
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            Ok(Some(s.clone()))
        }
        Some(s) => Err(ApiError::InvalidParameter(format!(
            "system must be a system id (sys_…), got {:?}",
            s.chars().take(40).collect::<String>()
        ))),
    }
}

/// The `since` and `until` query parameters (RFC 3339), `since` not after `until`.
pub(super) fn time_range(
    query: &HashMap<String, String>,
) -> Result<(Option<UtcTime>, Option<UtcTime>), ApiError> {
    let since = crate::audit::http::time_param(query, "since")?;
    let until = crate::audit::http::time_param(query, "until")?;
    if let (Some(s), Some(u)) = (since, until)
        && s > u
    {
        return Err(ApiError::InvalidParameter(format!(
            "since ({s}) must not be after until ({u})"
        )));
    }
    Ok((since, until))
}

/// Records POS transactions from a POS system: one (201 created, 200 already recorded,
/// or its error), or a batch `{"items": [...]}` of 1 to 500, each answered on its own
/// (200 with one result per item: created, already recorded, or its error's code and
/// detail), so that one bad item does not lose the others. A repeated `external_id` with
/// the same content is already recorded; with other content, 409 `external_id_reused`.
/// A refund never takes more than its sale has left (409 `refund_exceeds_sale`); a void
/// of a refunded sale (409 `sale_refunded`) and a refund or void of a voided one (409
/// `sale_voided`) are refused.
#[utoipa::path(post, path = "/pos/{system_id}/transactions",
    operation_id = "record_pos_transactions", tag = "records",
    params(("system_id" = String, Path, description = "The POS system (sys_…)")),
    request_body(content = PosTransactionsBody,
        description = "One transaction, or `{\"items\": [...]}` of 1 to 500"),
    responses(
        (status = 201, description = "Recorded", body = PosTransaction),
        (status = 200, description = "Already recorded (one), or each item's result (a batch)", body = PosTransactionsAnswer),
        (status = 404, description = "No such system", body = ErrorBody),
        (status = 409, description = "The external id was used for another transaction, or the sale has not that much left, or is voided or refunded", body = ErrorBody),
        (status = 422, description = "A bad field, named; a system of another kind, or archived; an unknown sale", body = ErrorBody)
    ))]
pub async fn record_pos_transactions(
    State(state): State<AppState>,
    PathParam(system_id): PathParam<String>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Response, ApiError> {
    let system = records::usable_system(&state.db, &system_id, Kind::Pos).await?;
    match Batch::of(body)? {
        Batch::One(item) => {
            let input: PosTransactionInput = records::parse(item)?;
            let (outcome, row) = pos::record(&state.db, &system, input).await?;
            let status = if outcome == Outcome::Created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let transaction = PosTransaction::from_row(row, false)?;
            Ok((
                status,
                Json(PosTransactionsAnswer::One(Box::new(transaction))),
            )
                .into_response())
        }
        Batch::Many(items) => {
            let mut results = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                let result = async {
                    let input: PosTransactionInput = records::parse(item)?;
                    let (outcome, row) = pos::record(&state.db, &system, input).await?;
                    Ok::<_, RecordError>((outcome, row.id))
                }
                .await;
                results.push(ItemResult::of(index, result));
            }
            let answer = PosTransactionsAnswer::Batch(BatchResult { items: results });
            Ok(Json(answer).into_response())
        }
    }
}

/// Lists POS transactions, newest recorded first, filtered by system, kind, status and
/// the time they happened; customers' mobiles are masked.
#[utoipa::path(get, path = "/pos/transactions", operation_id = "list_pos_transactions",
    tag = "records",
    params(
        PageParams,
        ("system" = Option<String>, Query, pattern = r"^sys_[A-Za-z0-9_]{0,60}$", description = "Of this POS system (sys_…)"),
        ("kind" = Option<PosKind>, Query, description = "sale, refund or void"),
        ("status" = Option<PosStatus>, Query, description = "completed, partially_refunded, refunded, voided or recorded"),
        ("since" = Option<String>, Query, format = DateTime, description = "Happened at or after this RFC 3339 instant"),
        ("until" = Option<String>, Query, format = DateTime, description = "Happened before this RFC 3339 instant")
    ),
    responses(
        (status = 200, description = "A page of transactions", body = Page<PosTransaction>),
        (status = 400, description = "A bad parameter", body = ErrorBody)
    ))]
pub async fn list_pos_transactions(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<HashMap<String, String>>,
) -> Result<Json<Page<PosTransaction>>, ApiError> {
    let page = PageParams::parse(&query)?;
    let (since, until) = time_range(&query)?;
    let filter = PosFilter {
        system_id: system_param(&query)?,
        kind: status_param(&query, "kind", PosKind::names)?,
        status: status_param(&query, "status", PosStatus::names)?,
        since,
        until,
    };
    let limit = page.limit();
    let rows = store::list(&state.db, &filter, page.after.as_deref(), limit + 1).await?;
    let items = rows
        .into_iter()
        .map(|r| PosTransaction::from_row(r, true))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Page::from_overfetch(items, limit, |t| t.id.clone())))
}

/// One POS transaction by id, its customer's mobile whole.
#[utoipa::path(get, path = "/pos/transactions/{id}", operation_id = "get_pos_transaction",
    tag = "records",
    params(("id" = String, Path, description = "Transaction id (ptx_…)")),
    responses(
        (status = 200, description = "The transaction", body = PosTransaction),
        (status = 404, description = "No such transaction", body = ErrorBody)
    ))]
pub async fn get_pos_transaction(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Json<PosTransaction>, ApiError> {
    let row = store::get(&state.db, &id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no POS transaction with id {:?}",
            id.chars().take(64).collect::<String>()
        ))
    })?;
    Ok(Json(PosTransaction::from_row(row, false)?))
}
