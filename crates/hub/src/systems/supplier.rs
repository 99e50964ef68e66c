//! Operator tools over a supplier system: live reads of the supplier's products, prices,
//! stock, balance and logistics through the system's own settings, each call recorded
//! like any supplier call. The supplier's failures map to 502 (its error), 502
//! `supplier_auth_failed` (our credentials refused) and 504 (no answer in time).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};

use super::Kind;
use super::http::{hide_secrets, open_platform_client, open_secrets};
use crate::calllog::{self, CallLog};
use crate::http::body::PathParam;
use crate::http::{ApiError, AppState, ErrorBody};
use crate::store::systems as store;

/// Most product codes one request may ask for.
pub const MAX_CODES: usize = 100;

/// The longest supplier order code (`order_code`), in characters.
pub const MAX_ORDER_CODE: usize = 64;

/// The longest address (`address`), in characters.
pub const MAX_ADDRESS: usize = 200;

/// The pattern of a product code the tools look up: 1 to 50 of `A-Z a-z 0-9 - _ .`
/// (the supplier's codes are letters and digits). So a list of [`MAX_CODES`] codes
/// always fits the request-target limit, which percent-encoded text could overrun.
const TOOL_CODE_PATTERN: &str = "^[A-Za-z0-9._-]+$";

/// The schema of the `codes` parameter: 1 to [`MAX_CODES`] product codes, sent
/// comma-separated (`style: form`, `explode: false`).
pub struct ProductCodeList;

impl utoipa::PartialSchema for ProductCodeList {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        ArrayBuilder::new()
            .items(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(haier::ProductCode::MAX_LEN))
                    .pattern(Some(TOOL_CODE_PATTERN)),
            )
            .min_items(Some(1))
            .max_items(Some(MAX_CODES))
            .into()
    }
}

impl utoipa::ToSchema for ProductCodeList {}

/// The value of the query parameter `name` exactly as given; absent or empty is
/// refused, naming it.
fn param<'a>(query: &'a HashMap<String, String>, name: &str) -> Result<&'a str, ApiError> {
    match query.get(name) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ApiError::InvalidParameter(format!("{name} is required"))),
    }
}

fn shown(text: &str) -> String {
    text.chars().take(40).collect()
}

/// A product code as the tools take it: 1 to 50 of `A-Z a-z 0-9 - _ .`, as given.
fn tool_code(text: &str) -> Result<haier::ProductCode, String> {
    let ok = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok || text.is_empty() || text.len() > haier::ProductCode::MAX_LEN {
        return Err(format!(
            "a product code is 1 to {} of A-Z a-z 0-9 - _ .",
            haier::ProductCode::MAX_LEN
        ));
    }
    haier::ProductCode::parse(text).map_err(|e| e.to_string())
}

/// The `codes` parameter: 1 to [`MAX_CODES`] product codes separated by commas, each
/// taken as given (an empty item, or one with whitespace, is refused, not skipped or
/// trimmed).
fn codes(query: &HashMap<String, String>) -> Result<Vec<haier::ProductCode>, ApiError> {
    let items: Vec<&str> = param(query, "codes")?.split(',').collect();
    if items.len() > MAX_CODES {
        return Err(ApiError::InvalidParameter(format!(
            "codes must list 1 to {MAX_CODES} product codes, got {}",
            items.len()
        )));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            tool_code(c).map_err(|e| {
                ApiError::InvalidParameter(format!("codes: item {} {:?}: {e}", i + 1, shown(c)))
            })
        })
        .collect()
}

/// The supplier system `id`, its client (every call recorded) and its secrets (to scrub
/// from errors).
async fn client(
    state: &AppState,
    id: &str,
) -> Result<(haier::OpenPlatform, Arc<CallLog>, Vec<String>), ApiError> {
    let row = store::get(&state.db, id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no system {:?}",
            id.chars().take(40).collect::<String>()
        ))
    })?;
    if row.kind != Kind::Supplier.as_str() {
        return Err(ApiError::ConflictWith {
            code: "not_a_supplier",
            detail: format!("system {id} is a {} system, not a supplier", row.kind),
        });
    }
    if row.archived_at.is_some() {
        return Err(ApiError::ConflictWith {
            code: "system_archived",
            detail: format!("system {id} is archived"),
        });
    }
    let log = CallLog::start(state.db.clone(), calllog::OPEN_PLATFORM);
    let client = open_platform_client(state, &row, Some(log.clone()))?;
    let secrets = open_secrets(state, &row)?.into_values().collect();
    Ok((client, log, secrets))
}

/// Maps a supplier failure to its answer, secret values scrubbed.
pub fn supplier_failure(e: haier::Error, secrets: &[String]) -> ApiError {
    let map = secrets
        .iter()
        .enumerate()
        .map(|(i, s)| (i.to_string(), s.clone()))
        .collect();
    let detail = hide_secrets(e.to_string(), &map);
    match e {
        haier::Error::Auth { .. } => ApiError::BadGateway {
            code: "supplier_auth_failed",
            detail,
        },
        haier::Error::Timeout { .. } => ApiError::GatewayTimeout(detail),
        haier::Error::InvalidRequest(_) => ApiError::InvalidParameter(detail),
        _ => ApiError::BadGateway {
            code: "supplier_error",
            detail,
        },
    }
}

async fn finish<T>(
    log: Arc<CallLog>,
    secrets: &[String],
    result: Result<T, haier::Error>,
) -> Result<T, ApiError> {
    log.flush().await;
    result.map_err(|e| supplier_failure(e, secrets))
}

/// `{items, bad}`: the records read, and those that could not be (code and reason).
fn records<T: serde::Serialize>(r: haier::Records<T>) -> Json<serde_json::Value> {
    let bad: Vec<serde_json::Value> = r
        .bad
        .iter()
        .map(|b| serde_json::json!({"product_code": b.product_code, "reason": b.reason}))
        .collect();
    Json(serde_json::json!({ "items": r.items, "bad": bad }))
}

fn items<T: serde::Serialize>(value: T) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "items": value }))
}

/// H1: procurable products of the supplier, by code (vendor field names).
#[utoipa::path(get, path = "/systems/{id}/supplier/products", operation_id = "supplier_products", tag = "systems",
    params(
        ("id" = String, Path, description = "Supplier system id (sys_…)"),
        ("codes" = inline(ProductCodeList), Query, style = Form, explode = false, description = "1 to 100 product codes, comma-separated, each 1 to 50 of `A-Z a-z 0-9 - _ .` as given (no empty item)")
    ),
    responses(
        (status = 200, description = "`{items, bad}`: the records read (vendor field names), and those that could not be", body = Object),
        (status = 400, description = "A missing or bad parameter, named", body = ErrorBody),
        (status = 404, description = "No such system", body = ErrorBody),
        (status = 409, description = "Not a supplier, archived, or its settings cannot make a client (`system_misconfigured`)", body = ErrorBody),
        (status = 502, description = "The supplier failed (`supplier_error`, with its error) or refused our credentials (`supplier_auth_failed`)", body = ErrorBody),
        (status = 504, description = "The supplier did not answer in time", body = ErrorBody)
    ))]
pub async fn supplier_products(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let codes = codes(&query)?;
    let (client, log, secrets) = client(&state, &id).await?;
    let result = client.procurable_products(&codes).await;
    Ok(records(finish(log, &secrets, result).await?))
}

/// H2: the supplier's prices, by code.
#[utoipa::path(get, path = "/systems/{id}/supplier/prices", operation_id = "supplier_prices", tag = "systems",
    params(
        ("id" = String, Path, description = "Supplier system id (sys_…)"),
        ("codes" = inline(ProductCodeList), Query, style = Form, explode = false, description = "1 to 100 product codes, comma-separated, each 1 to 50 of `A-Z a-z 0-9 - _ .` as given (no empty item)")
    ),
    responses(
        (status = 200, description = "`{items}`: the supplier's answer", body = Object),
        (status = 400, description = "A missing or bad parameter, named", body = ErrorBody),
        (status = 404, description = "No such system", body = ErrorBody),
        (status = 409, description = "Not a supplier, archived, or its settings cannot make a client (`system_misconfigured`)", body = ErrorBody),
        (status = 502, description = "The supplier failed or refused our credentials", body = ErrorBody),
        (status = 504, description = "The supplier did not answer in time", body = ErrorBody)
    ))]
pub async fn supplier_prices(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let codes = codes(&query)?;
    let (client, log, secrets) = client(&state, &id).await?;
    let result = client.prices(&codes).await;
    Ok(records(finish(log, &secrets, result).await?))
}

/// H3: a product's stock in a county, given as `county` or as an `address` resolved to
/// its county.
#[utoipa::path(get, path = "/systems/{id}/supplier/stock", operation_id = "supplier_stock", tag = "systems",
    params(
        ("id" = String, Path, description = "Supplier system id (sys_…)"),
        ("code" = String, Query, min_length = 1, max_length = 50, pattern = "^[A-Za-z0-9._-]+$", description = "Product code: 1 to 50 of `A-Z a-z 0-9 - _ .`, as given"),
        ("county" = Option<crate::input::CountyCode>, Query, description = "The county (a GB/T 2260 stock region); give `county` or `address`, not both"),
        ("address" = Option<String>, Query, min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$", description = "An address (1 to 200 characters, not blank), resolved to its county")
    ),
    responses(
        (status = 200, description = "`{items, county}`: the supplier's warehouses", body = Object),
        (status = 400, description = "A missing or bad parameter, named; `county` and `address` both or neither", body = ErrorBody),
        (status = 404, description = "No such system, or the address resolves to no county (`address_unresolved`)", body = ErrorBody),
        (status = 409, description = "Not a supplier, archived, or its settings cannot make a client (`system_misconfigured`)", body = ErrorBody),
        (status = 502, description = "The supplier failed or refused our credentials", body = ErrorBody),
        (status = 504, description = "The supplier did not answer in time", body = ErrorBody)
    ))]
pub async fn supplier_stock(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let code = param(&query, "code")?;
    let code = tool_code(code)
        .map_err(|e| ApiError::InvalidParameter(format!("code: {:?}: {e}", shown(code))))?;
    let county = match (query.get("county"), query.get("address")) {
        (Some(c), None) => crate::input::CountyCode::parse(c)
            .map_err(|e| ApiError::InvalidParameter(format!("county: {e}")))?
            .to_string(),
        (None, Some(a)) => {
            let address = crate::input::Text::<1, MAX_ADDRESS>::parse(a.clone())
                .map_err(|e| ApiError::InvalidParameter(format!("address: {e}")))?;
            let r = state.resolver.resolve(address.as_str());
            match (r.level, r.code) {
                (region::Level::County, Some(code)) => code.to_string(),
                _ => {
                    return Err(ApiError::NotFoundWith {
                        code: "address_unresolved",
                        detail: "address: resolves to no county".to_owned(),
                    });
                }
            }
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::InvalidParameter(
                "give county or address, not both".to_owned(),
            ));
        }
        (None, None) => {
            return Err(ApiError::InvalidParameter(
                "county or address is required".to_owned(),
            ));
        }
    };
    let (client, log, secrets) = client(&state, &id).await?;
    let result = client.stock(&code, &county).await;
    let Json(mut body) = items(finish(log, &secrets, result).await?);
    body["county"] = serde_json::Value::from(county);
    Ok(Json(body))
}

/// H5: our payer accounts and balances at the supplier.
#[utoipa::path(get, path = "/systems/{id}/supplier/balance", operation_id = "supplier_balance", tag = "systems",
    params(("id" = String, Path, description = "Supplier system id (sys_…)")),
    responses(
        (status = 200, description = "`{items}`: the supplier's answer", body = Object),
        (status = 404, description = "No such system", body = ErrorBody),
        (status = 409, description = "Not a supplier, archived, or its settings cannot make a client (`system_misconfigured`)", body = ErrorBody),
        (status = 502, description = "The supplier failed or refused our credentials", body = ErrorBody),
        (status = 504, description = "The supplier did not answer in time", body = ErrorBody)
    ))]
pub async fn supplier_balance(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (client, log, secrets) = client(&state, &id).await?;
    let result = client.balance().await;
    Ok(items(finish(log, &secrets, result).await?))
}

/// H4: the logistics of a supplier order.
#[utoipa::path(get, path = "/systems/{id}/supplier/logistics", operation_id = "supplier_logistics", tag = "systems",
    params(
        ("id" = String, Path, description = "Supplier system id (sys_…)"),
        ("order_code" = String, Query, min_length = 1, max_length = 64, pattern = r"^[^\s\u0000-\u001f\u007f-\u009f]+$", description = "The supplier's order code (orderCode): 1 to 64 characters, as given (no whitespace)")
    ),
    responses(
        (status = 200, description = "`{items}`: the supplier's answer", body = Object),
        (status = 400, description = "A missing or bad parameter, named", body = ErrorBody),
        (status = 404, description = "No such system", body = ErrorBody),
        (status = 409, description = "Not a supplier, archived, or its settings cannot make a client (`system_misconfigured`)", body = ErrorBody),
        (status = 502, description = "The supplier failed or refused our credentials", body = ErrorBody),
        (status = 504, description = "The supplier did not answer in time", body = ErrorBody)
    ))]
pub async fn supplier_logistics(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let order_code = param(&query, "order_code")?;
    if order_code.chars().count() > MAX_ORDER_CODE
        || order_code
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ApiError::InvalidParameter(format!(
            "order_code must be 1 to {MAX_ORDER_CODE} characters without whitespace, got {:?}",
            shown(order_code)
        )));
    }
    let (client, log, secrets) = client(&state, &id).await?;
    let result = client.logistics(order_code, None, None).await;
    Ok(items(finish(log, &secrets, result).await?))
}
