//! `/api/v1/regions/resolve`: a Chinese address to its GB/T 2260 county code.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::body::QueryParams;
use super::{ApiError, AppState, ErrorBody};

/// Longest address accepted, in characters.
pub const MAX_ADDRESS_CHARS: usize = 512;

/// Either a free-text address or structured fields.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResolveParams {
    /// A free-text address, e.g. `上海市浦东新区三林路15号`; at most 512 characters.
    #[param(max_length = 512, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub address: Option<String>,
    /// Province field (structured input), e.g. `上海市`; at most 512 characters.
    #[param(max_length = 512, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub province: Option<String>,
    /// City field; a county name here is tolerated, and so are 市辖区 / 县.
    #[param(max_length = 512, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub city: Option<String>,
    /// District field.
    #[param(max_length = 512, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub district: Option<String>,
}

/// One matched piece of the input.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResolvedSpan {
    /// `text`, `province`, `city` or `district`: the input it lies in.
    pub field: String,
    /// Byte offset of the first matched character in that input.
    pub start: usize,
    /// Byte offset just past the match.
    pub end: usize,
    /// The name as matched, after normalisation.
    pub text: String,
    /// The six-digit code it was read as.
    pub code: String,
    /// The official name of that division.
    pub name: String,
    /// `full`, `short`, `alias`, `legacy`, `zone` or `township`.
    pub kind: String,
}

/// The answer for one address; never a silent default.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegionResolution {
    /// The code reached (six digits), or null when nothing usable matched.
    pub code: Option<String>,
    /// `county`, `city`, `province` or `none`.
    pub level: String,
    /// Official province name.
    pub province: Option<String>,
    /// Official city name.
    pub city: Option<String>,
    /// Official county name (county-level answers).
    pub county: Option<String>,
    /// City code by the configured fallbacks.
    pub city_code: Option<String>,
    /// Several divisions fitted and a prior or a shared ancestor decided.
    pub ambiguous: bool,
    /// The text also names a division that contradicts the answer: review it.
    pub conflict: bool,
    /// The mentions the answer rests on.
    pub spans: Vec<ResolvedSpan>,
}

impl From<region::Resolution> for RegionResolution {
    fn from(r: region::Resolution) -> Self {
        // The region crate's serde names are the API's names: reuse them.
        let as_text = |v: serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        RegionResolution {
            code: r.code.map(|c| c.to_string()),
            level: as_text(serde_json::to_value(r.level).unwrap_or_default()),
            province: r.province.map(str::to_owned),
            city: r.city.map(str::to_owned),
            county: r.county.map(str::to_owned),
            city_code: r.city_code.map(|c| c.to_string()),
            ambiguous: r.ambiguous,
            conflict: r.conflict,
            spans: r
                .spans
                .into_iter()
                .map(|s| ResolvedSpan {
                    field: as_text(serde_json::to_value(s.field).unwrap_or_default()),
                    start: s.start,
                    end: s.end,
                    text: s.text.to_owned(),
                    code: s.code.to_string(),
                    name: s.name.to_owned(),
                    kind: as_text(serde_json::to_value(s.kind).unwrap_or_default()),
                })
                .collect(),
        }
    }
}

fn field<'a>(value: &'a Option<String>, name: &'static str) -> Result<Option<&'a str>, ApiError> {
    match value {
        Some(v) if v.chars().count() > MAX_ADDRESS_CHARS => Err(ApiError::InvalidParameter(
            format!("{name} is longer than {MAX_ADDRESS_CHARS} characters"),
        )),
        Some(v) if v.chars().any(char::is_control) => Err(ApiError::InvalidParameter(format!(
            "{name} contains a control character"
        ))),
        other => Ok(other.as_deref()),
    }
}

/// Resolves an address (`?address=`) or structured fields (`?province=&city=&district=`)
/// to a GB/T 2260 code. An address that matches nothing is answered with `level: none`
/// and a null code, never a default.
#[utoipa::path(get, path = "/regions/resolve", operation_id = "resolve_region", tag = "regions",
    params(ResolveParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The resolution", body = RegionResolution),
        (status = 400, description = "Neither an address nor fields, or too long", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody)
    ))]
pub async fn resolve_region(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ResolveParams>,
) -> Result<Json<RegionResolution>, ApiError> {
    let address = field(&query.address, "address")?;
    let parts = [
        field(&query.province, "province")?,
        field(&query.city, "city")?,
        field(&query.district, "district")?,
    ];
    let resolution = match (address, parts) {
        (Some(a), [None, None, None]) => state.resolver.resolve(a),
        (None, [p, c, d]) if p.is_some() || c.is_some() || d.is_some() => state
            .resolver
            .resolve_parts(p.unwrap_or(""), c.unwrap_or(""), d.unwrap_or("")),
        (Some(_), _) => {
            return Err(ApiError::InvalidParameter(
                "give either address or province/city/district, not both".to_owned(),
            ));
        }
        (None, _) => {
            return Err(ApiError::InvalidParameter(
                "give address, or province, city and district".to_owned(),
            ));
        }
    };
    Ok(Json(resolution.into()))
}
