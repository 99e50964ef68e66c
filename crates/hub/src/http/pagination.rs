//! Cursor pagination: `?limit=N&after=CURSOR`, answered as `{"items": [...], "next": CURSOR}`.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::ApiError;

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size.
pub const MAX_LIMIT: u32 = 500;

/// Query parameters of a paged list.
#[derive(Debug, Clone, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next` cursor of the previous page.
    #[param(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub after: Option<String>,
}

/// Query parameters of a paged list of recorded calls, whose cursor is a call's
/// sequence number. Parsed by [`PageParams::parse`] then [`PageParams::after_seq`].
#[derive(Debug, Clone, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(
    dead_code,
    reason = "it documents the query; PageParams::parse reads it"
)]
pub struct CallPageParams {
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next` cursor of the previous page: a whole number.
    #[param(min_length = 1, max_length = 18, pattern = r"^[0-9]{1,18}$")]
    pub after: Option<String>,
}

impl PageParams {
    /// Parses `limit` and `after` from a query string's pairs; unknown keys are ignored.
    /// Errors name the bad value.
    pub fn parse(query: &HashMap<String, String>) -> Result<PageParams, ApiError> {
        let limit = match query.get("limit") {
            None => None,
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => Some(n),
                _ => {
                    return Err(ApiError::InvalidParameter(format!(
                        "limit must be an integer from 1 to {MAX_LIMIT}, got {:?}",
                        truncate(raw)
                    )));
                }
            },
        };
        let after = match query.get("after") {
            Some(c)
                if c.is_empty() || c.chars().count() > 128 || c.chars().any(char::is_control) =>
            {
                return Err(ApiError::InvalidParameter(format!(
                    "after must be a cursor returned as next, got {:?}",
                    truncate(c)
                )));
            }
            other => other.cloned(),
        };
        Ok(PageParams { limit, after })
    }

    /// The cursor as a call's sequence number ([`CallPageParams`]): 1 to 18 digits, or
    /// an error naming it.
    pub fn after_seq(&self) -> Result<Option<i64>, ApiError> {
        let Some(raw) = self.after.as_deref() else {
            return Ok(None);
        };
        match raw.parse::<i64>() {
            Ok(n) if raw.len() <= 18 && raw.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(n)),
            _ => Err(ApiError::InvalidParameter(format!(
                "after must be a cursor returned as next (digits), got {:?}",
                truncate(raw)
            ))),
        }
    }

    /// The page size to use.
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_LIMIT)
    }
}

/// The optional query parameter `name` parsed as a status enum: `None` when absent, 400
/// naming the parameter, the choices (`names`) and the value when it is none of them.
pub fn status_param<T: std::str::FromStr>(
    query: &HashMap<String, String>,
    name: &str,
    names: fn() -> String,
) -> Result<Option<T>, ApiError> {
    match query.get(name) {
        None => Ok(None),
        Some(raw) => raw.parse::<T>().map(Some).map_err(|_| {
            ApiError::InvalidParameter(format!(
                "{name} must be one of {}, got {:?}",
                names(),
                truncate(raw)
            ))
        }),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// A page of items.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    /// The items.
    pub items: Vec<T>,
    /// The cursor of the next page (`?after=`), absent on the last page.
    pub next: Option<String>,
}

impl<T: ToSchema> Page<T> {
    /// Builds a page from up to `limit + 1` fetched items: the extra one only tells that
    /// a next page exists.
    pub fn from_overfetch(mut items: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Self {
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next = if more { items.last().map(cursor) } else { None };
        Page { items, next }
    }
}
