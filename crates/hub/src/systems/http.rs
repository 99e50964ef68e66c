//! `/api/v1/systems`: the registry of external systems.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::crypto::Sealed;
use super::{Kind, Status, SyncSettings};
use crate::audit::{AuditEntry, with_entry};
use crate::http::body::{JsonBody, PathParam};
use crate::http::pagination::{Page, PageParams};
use crate::http::{ApiError, AppState, ErrorBody};
use crate::store::StoreError;
use crate::store::systems::{self as store, SystemRow};
use crate::types::UtcTime;

/// A system as the API shows it: never a secret, only the names of those set.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct System {
    /// Id (`sys_…`).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// What it is.
    pub kind: Kind,
    /// Its state.
    pub status: Status,
    /// Connection settings, typed by kind (a supplier: `HaierSettings`; the others:
    /// `EndpointSettings`).
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// Sync settings.
    pub sync: SyncSettings,
    /// The names of the secrets that are set (their values are never returned).
    pub secrets_set: Vec<String>,
    /// When it was last tested.
    pub last_test_at: Option<UtcTime>,
    /// The last test's outcome.
    #[schema(value_type = Option<Object>)]
    pub last_test_result: Option<serde_json::Value>,
    /// When a test last succeeded.
    pub last_success_at: Option<UtcTime>,
    /// The last error.
    pub last_error: Option<String>,
    /// When it was archived.
    pub archived_at: Option<UtcTime>,
    /// When it was created.
    pub created_at: UtcTime,
    /// When it last changed.
    pub updated_at: UtcTime,
}

impl TryFrom<SystemRow> for System {
    type Error = ApiError;

    fn try_from(r: SystemRow) -> Result<System, ApiError> {
        let internal = |e: String| ApiError::Internal(anyhow::anyhow!("system {}: {e}", r.id));
        Ok(System {
            kind: r.kind.parse().map_err(internal)?,
            status: r.status.parse().map_err(internal)?,
            settings: serde_json::from_str(&r.settings).map_err(|e| internal(e.to_string()))?,
            sync: serde_json::from_str(&r.sync_settings).map_err(|e| internal(e.to_string()))?,
            secrets_set: serde_json::from_str(&r.secrets_set)
                .map_err(|e| internal(e.to_string()))?,
            last_test_result: r
                .last_test_result
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok()),
            id: r.id,
            name: r.name,
            last_test_at: r.last_test_at,
            last_success_at: r.last_success_at,
            last_error: r.last_error,
            archived_at: r.archived_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Most characters of a system's name.
pub const MAX_NAME: usize = 100;

/// Most characters of a secret's value.
pub const MAX_SECRET: usize = 4096;

/// `POST /api/v1/systems` and `PUT /api/v1/systems/{id}`. The document gives one shape
/// per kind ([`SupplierSystemInput`], [`EndpointSystemInput`]): the settings and the
/// secrets a system takes depend on its kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemInput {
    /// 1 to 100 characters, unique; no control characters, no whitespace at either end.
    pub name: crate::input::Name<MAX_NAME>,
    /// What it is (a PUT cannot change it).
    pub kind: Kind,
    /// Default `inactive`.
    #[serde(default)]
    pub status: Option<Status>,
    /// Connection settings for the kind.
    #[serde(default = "empty_object")]
    pub settings: serde_json::Value,
    /// Sync settings.
    #[serde(default, deserialize_with = "crate::input::object")]
    pub sync: SyncSettings,
    /// Secrets, name → value: write-only. On a PUT, absent keeps those set.
    #[serde(default)]
    pub secrets: Option<BTreeMap<String, String>>,
}

impl utoipa::PartialSchema for SystemInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::Ref;
        use utoipa::openapi::schema::OneOfBuilder;
        OneOfBuilder::new()
            .item(Ref::from_schema_name("SupplierSystemInput"))
            .item(Ref::from_schema_name("EndpointSystemInput"))
            .description(Some(
                "`POST /api/v1/systems` and `PUT /api/v1/systems/{id}`: a supplier system, \
                 or a system of another kind.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for SystemInput {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push((
            SupplierSystemInput::name().into_owned(),
            SupplierSystemInput::schema(),
        ));
        schemas.push((
            EndpointSystemInput::name().into_owned(),
            EndpointSystemInput::schema(),
        ));
        SupplierSystemInput::schemas(schemas);
        EndpointSystemInput::schemas(schemas);
    }
}

/// The kind of a supplier system, in the document of [`SystemInput`].
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum SupplierKind {
    /// A supplier (Haier).
    Supplier,
}

/// The kinds of the other systems, in the document of [`SystemInput`].
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum EndpointKind {
    /// A point-of-sale system.
    Pos,
    /// A member (loyalty) system.
    Member,
    /// A payment provider.
    Payment,
    /// A delivery provider.
    Delivery,
    /// An ERP.
    Erp,
}

/// A supplier system, as `POST /api/v1/systems` and `PUT /api/v1/systems/{id}` take it
/// (one shape of `SystemInput`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct SupplierSystemInput {
    /// 1 to 100 characters, unique; no control characters, no whitespace at either end.
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"^[^\s\u0000-\u001f\u007f-\u009f]([^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$")]
    name: String,
    /// `supplier` (a PUT cannot change it).
    kind: SupplierKind,
    /// Default `inactive`.
    status: Option<Status>,
    /// Connection settings.
    settings: super::HaierSettings,
    /// Sync settings.
    #[serde(default)]
    sync: SyncSettings,
    /// Secrets, name → value (1 to 4096 characters): write-only. On a PUT, absent keeps
    /// those set.
    #[schema(schema_with = supplier_secrets_schema)]
    secrets: Option<BTreeMap<String, String>>,
}

/// A system of another kind, as `POST /api/v1/systems` and `PUT /api/v1/systems/{id}`
/// take it (one shape of `SystemInput`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct EndpointSystemInput {
    /// 1 to 100 characters, unique; no control characters, no whitespace at either end.
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"^[^\s\u0000-\u001f\u007f-\u009f]([^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$")]
    name: String,
    /// What it is (a PUT cannot change it).
    kind: EndpointKind,
    /// Default `inactive`.
    status: Option<Status>,
    /// Connection settings (default `{}`).
    #[serde(default)]
    settings: super::EndpointSettings,
    /// Sync settings.
    #[serde(default)]
    sync: SyncSettings,
    /// Secrets, name (1 to 64 of `a-z 0-9 _`) → value (1 to 4096 characters):
    /// write-only. On a PUT, absent keeps those set.
    #[schema(schema_with = endpoint_secrets_schema)]
    secrets: Option<BTreeMap<String, String>>,
}

/// A secret's value: 1 to [`MAX_SECRET`] characters.
fn secret_value() -> utoipa::openapi::schema::ObjectBuilder {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_SECRET))
}

/// The pattern of a secret's name.
const SECRET_NAME_PATTERN: &str = "^[a-z0-9_]{1,64}$";

fn nullable_object() -> utoipa::openapi::schema::ObjectBuilder {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
}

/// A supplier system's secrets: those of [`super::SUPPLIER_SECRETS`], each 1 to
/// [`MAX_SECRET`] characters; or null.
fn supplier_secrets_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::AdditionalProperties;
    super::SUPPLIER_SECRETS
        .iter()
        .fold(nullable_object(), |o, (name, _, _)| {
            o.property(*name, secret_value())
        })
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .description(Some(
            "Secrets, name → value (1 to 4096 characters): write-only. On a PUT, absent keeps \
             those set.",
        ))
        .build()
}

/// Another system's secrets: names of 1 to 64 of `a-z 0-9 _`, values of 1 to
/// [`MAX_SECRET`] characters; or null.
fn endpoint_secrets_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    nullable_object()
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(SECRET_NAME_PATTERN)),
        ))
        .additional_properties(Some(secret_value()))
        .description(Some(
            "Secrets, name (1 to 64 of `a-z 0-9 _`) → value (1 to 4096 characters): \
             write-only. On a PUT, absent keeps those set.",
        ))
        .build()
}

/// The secrets of a patch: names of 1 to 64 of `a-z 0-9 _` (a supplier system's are
/// those of [`super::SUPPLIER_SECRETS`]), values of 1 to [`MAX_SECRET`] characters, or
/// null to remove one; or null.
fn patch_secrets_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    nullable_object()
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(SECRET_NAME_PATTERN)),
        ))
        .additional_properties(Some(
            secret_value().schema_type(SchemaType::from_iter([Type::String, Type::Null])),
        ))
        .description(Some(
            "Secrets to set (a value of 1 to 4096 characters) or remove (null); names of 1 to \
             64 of `a-z 0-9 _`, a supplier system's among its secrets (another name: 409).",
        ))
        .build()
}

/// The settings of a patch: a JSON merge patch (RFC 7396) of a supplier system's
/// settings or of another system's; or null. A patch for the other kind is a 409.
fn patch_settings_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{
        AdditionalProperties, AnyOfBuilder, ObjectBuilder, Schema, SchemaType, Type,
    };
    let supplier = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("vendor", super::vendor_schema())
        .property(
            "open_platform",
            super::section_schema(
                "open_platform",
                "Merged into the Open Platform section; null removes it.",
            ),
        )
        .property(
            "ylh",
            super::section_schema("ylh", "Merged into the YLH section; null removes it."),
        )
        .property(
            "callback",
            super::section_schema(
                "callback",
                "Merged into the callback section; null removes it.",
            ),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .description(Some("A merge patch of a supplier system's settings."));
    let endpoint = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "base_url",
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .pattern(Some(super::URL_PATTERN))
                .description(Some(
                    "The system's API, `http://` or `https://`; null removes it.",
                )),
        )
        .property(
            "webhook_only",
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::Boolean, Type::Null]))
                .description(Some("A webhook-only system; null: false.")),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .description(Some("A merge patch of another system's settings."));
    Schema::AnyOf(
        AnyOfBuilder::new()
            .item(supplier)
            .item(endpoint)
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .description(Some(
                "A JSON merge patch (RFC 7396) of the settings, for the system's kind (a patch \
                 for another kind: 409).",
            ))
            .build(),
    )
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// `PATCH /api/v1/systems/{id}`: what is given changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemPatch {
    /// A new name: 1 to 100 characters, unique; no control characters, no whitespace at
    /// either end.
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100, pattern = r"^[^\s\u0000-\u001f\u007f-\u009f]([^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$")]
    pub name: Option<crate::input::Name<MAX_NAME>>,
    /// A new status.
    pub status: Option<Status>,
    /// A JSON merge patch (RFC 7396) of the settings.
    #[schema(schema_with = patch_settings_schema)]
    pub settings: Option<serde_json::Value>,
    /// New sync settings.
    #[serde(default, deserialize_with = "crate::input::opt_object")]
    pub sync: Option<SyncSettings>,
    /// Secrets to set (a value) or remove (null).
    #[serde(default)]
    #[schema(schema_with = patch_secrets_schema)]
    pub secrets: Option<BTreeMap<String, Option<String>>>,
}

fn invalid(detail: String) -> ApiError {
    ApiError::Unprocessable {
        code: "invalid_body",
        detail,
    }
}

/// 409 `kind_mismatch`: a well-formed change that does not fit the kind of the system it
/// is sent to.
fn kind_mismatch(detail: String) -> ApiError {
    ApiError::ConflictWith {
        code: "kind_mismatch",
        detail,
    }
}

fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    if let serde_json::Value::Object(p) = patch {
        if !target.is_object() {
            *target = empty_object();
        }
        if let serde_json::Value::Object(t) = target {
            for (k, v) in p {
                if v.is_null() {
                    // A null removes the setting; one that is not set stays, so the
                    // check that follows refuses a name the kind does not have.
                    if t.remove(k).is_none() {
                        t.insert(k.clone(), serde_json::Value::Null);
                    }
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                }
            }
        }
    } else {
        *target = patch.clone();
    }
}

/// Opens the secrets of `row`.
pub fn open_secrets(
    state: &AppState,
    row: &SystemRow,
) -> Result<BTreeMap<String, String>, ApiError> {
    open_with(&state.secrets, row).map_err(ApiError::Internal)
}

/// Opens the secrets of `row` with `ring`.
pub fn open_with(
    ring: &super::crypto::KeyRing,
    row: &SystemRow,
) -> anyhow::Result<BTreeMap<String, String>> {
    let (Some(key_id), Some(nonce), Some(ciphertext)) = (
        row.secrets_key_id.clone(),
        row.secrets_nonce.clone(),
        row.secrets_ciphertext.clone(),
    ) else {
        return Ok(BTreeMap::new());
    };
    let sealed = Sealed {
        key_id,
        nonce,
        ciphertext,
    };
    let plain = ring.open(&sealed, &row.id)?;
    Ok(serde_json::from_slice(&plain)?)
}

fn seal_into(state: &AppState, row: &mut SystemRow, secrets: &BTreeMap<String, String>) {
    seal_with(&state.secrets, row, secrets);
}

fn seal_with(
    ring: &super::crypto::KeyRing,
    row: &mut SystemRow,
    secrets: &BTreeMap<String, String>,
) {
    row.secrets_set =
        serde_json::to_string(&secrets.keys().collect::<Vec<_>>()).unwrap_or_default();
    if secrets.is_empty() {
        row.secrets_key_id = None;
        row.secrets_nonce = None;
        row.secrets_ciphertext = None;
    } else {
        let plain = serde_json::to_vec(secrets).unwrap_or_default();
        let sealed = ring.seal(&plain, &row.id);
        row.secrets_key_id = Some(sealed.key_id);
        row.secrets_nonce = Some(sealed.nonce);
        row.secrets_ciphertext = Some(sealed.ciphertext);
    }
}

fn check_secret_values(secrets: &BTreeMap<String, String>) -> Result<(), ApiError> {
    for (name, value) in secrets {
        if value.is_empty() || value.chars().count() > MAX_SECRET {
            return Err(invalid(format!(
                "secrets.{name} must be 1 to {MAX_SECRET} characters"
            )));
        }
    }
    Ok(())
}

fn name_taken(name: &str) -> impl FnOnce(StoreError) -> ApiError + '_ {
    move |e| match e {
        StoreError::Conflict(_) => ApiError::ConflictWith {
            code: "duplicate_system",
            detail: format!("a system named {name:?} exists"),
        },
        other => other.into(),
    }
}

/// After a write to a supplier system: the hub's live supplier clients follow at once
/// when the active supplier system changed (other instances notice within seconds).
async fn follow_change(state: &AppState, kind: Kind) {
    if kind == Kind::Supplier {
        state.supplier.refresh().await;
    }
}

/// Registers a system.
#[utoipa::path(post, path = "/systems", operation_id = "create_system", tag = "systems",
    request_body = SystemInput,
    responses(
        (status = 201, description = "Registered", body = System),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "A bad field, named", body = ErrorBody)
    ))]
pub async fn create_system(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<SystemInput>,
) -> Result<Response, ApiError> {
    let settings = super::check_settings(input.kind, &input.settings).map_err(invalid)?;
    super::check_sync(&input.sync).map_err(invalid)?;
    let secrets = input.secrets.unwrap_or_default();
    super::check_secret_names(input.kind, secrets.keys()).map_err(invalid)?;
    check_secret_values(&secrets)?;
    let now = UtcTime::now();
    let name = input.name.as_str().to_owned();
    let mut row = SystemRow {
        id: store::new_system_id(),
        name: name.clone(),
        kind: input.kind.as_str().to_owned(),
        status: input.status.unwrap_or(Status::Inactive).as_str().to_owned(),
        settings: settings.to_string(),
        sync_settings: serde_json::to_string(&input.sync).unwrap_or_default(),
        secrets_set: "[]".to_owned(),
        secrets_key_id: None,
        secrets_nonce: None,
        secrets_ciphertext: None,
        last_test_at: None,
        last_test_result: None,
        last_success_at: None,
        last_error: None,
        archived_at: None,
        created_at: now,
        updated_at: now,
    };
    seal_into(&state, &mut row, &secrets);
    store::insert(&state.db, &row)
        .await
        .map_err(name_taken(&name))?;
    crate::schedules::follow_system(
        &state.db,
        &row.id,
        &row.name,
        None,
        input.sync.interval_minutes,
    )
    .await?;
    let system = System::try_from(row)?;
    follow_change(&state, system.kind).await;
    let entry = AuditEntry::new("system.create", &system.id, None::<&System>, Some(&system));
    Ok(with_entry((StatusCode::CREATED, Json(system)), entry))
}

/// Lists systems by id, filtered by kind and status; archived ones with `archived=true`.
#[utoipa::path(get, path = "/systems", operation_id = "list_systems", tag = "systems",
    params(
        PageParams,
        ("kind" = Option<crate::systems::Kind>, Query, description = "pos, supplier, member, payment, delivery or erp"),
        ("status" = Option<crate::systems::Status>, Query, description = "active, inactive, error or testing"),
        ("archived" = Option<bool>, Query, description = "true: only archived systems (default false)")
    ),
    responses(
        (status = 200, description = "A page of systems", body = Page<System>),
        (status = 400, description = "A bad parameter, named", body = ErrorBody)
    ))]
pub async fn list_systems(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Page<System>>, ApiError> {
    let page = PageParams::parse(&query)?;
    let kind = query
        .get("kind")
        .map(|k| {
            k.parse::<Kind>()
                .map_err(|e| ApiError::InvalidParameter(format!("kind {e}")))
        })
        .transpose()?;
    let status = query
        .get("status")
        .map(|s| {
            s.parse::<Status>()
                .map_err(|e| ApiError::InvalidParameter(format!("status {e}")))
        })
        .transpose()?;
    let archived = match query.get("archived").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::InvalidParameter(format!(
                "archived must be true or false, got {:?}",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    let limit = page.limit();
    let rows = store::list(
        &state.db,
        kind.map(Kind::as_str),
        status.map(Status::as_str),
        archived,
        page.after.as_deref(),
        limit + 1,
    )
    .await?;
    let items = rows
        .into_iter()
        .map(System::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Page::from_overfetch(items, limit, |s| s.id.clone())))
}

async fn load(state: &AppState, id: &str) -> Result<SystemRow, ApiError> {
    store::get(&state.db, id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no system {:?}",
            id.chars().take(40).collect::<String>()
        ))
    })
}

/// One system.
#[utoipa::path(get, path = "/systems/{id}", operation_id = "get_system", tag = "systems",
    params(("id" = String, Path, description = "System id (sys_…)")),
    responses(
        (status = 200, description = "The system", body = System),
        (status = 404, description = "No such system", body = ErrorBody)
    ))]
pub async fn get_system(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Json<System>, ApiError> {
    Ok(Json(System::try_from(load(&state, &id).await?)?))
}

async fn save(
    state: &AppState,
    before: System,
    row: SystemRow,
    action: &str,
) -> Result<Response, ApiError> {
    let name = row.name.clone();
    if !store::update(&state.db, &row)
        .await
        .map_err(name_taken(&name))?
    {
        return Err(ApiError::NotFound(format!("no system {:?}", row.id)));
    }
    let after = System::try_from(load(state, &row.id).await?)?;
    crate::schedules::follow_system(
        &state.db,
        &after.id,
        &after.name,
        before.sync.interval_minutes,
        after.sync.interval_minutes,
    )
    .await?;
    follow_change(state, after.kind).await;
    let entry = AuditEntry::new(action, &after.id, Some(&before), Some(&after));
    Ok(with_entry(Json(after), entry))
}

/// Replaces a system's name, status, settings and sync settings; its secrets when
/// `secrets` is given (absent keeps them). A change to the active Haier supplier system
/// (or of which one is active) takes effect on the hub's next supplier call — checkout's
/// stock checks, the outbox's pushes, live logistics, callback verification — without a
/// restart; other instances sharing the database follow within seconds.
#[utoipa::path(put, path = "/systems/{id}", operation_id = "replace_system", tag = "systems",
    params(("id" = String, Path, description = "System id (sys_…)")),
    request_body = SystemInput,
    responses(
        (status = 200, description = "The system after the change", body = System),
        (status = 404, description = "No such system", body = ErrorBody),
        (status = 409, description = "The name is taken, or the kind is not the system's (`kind_mismatch`)", body = ErrorBody),
        (status = 422, description = "A bad field, named", body = ErrorBody)
    ))]
pub async fn replace_system(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
    JsonBody(input): JsonBody<SystemInput>,
) -> Result<Response, ApiError> {
    let mut row = load(&state, &id).await?;
    let before = System::try_from(row.clone())?;
    if input.kind != before.kind {
        return Err(kind_mismatch(format!(
            "kind: a {} system cannot become {}; register a new one",
            before.kind, input.kind
        )));
    }
    let settings = super::check_settings(input.kind, &input.settings).map_err(invalid)?;
    super::check_sync(&input.sync).map_err(invalid)?;
    if let Some(secrets) = &input.secrets {
        super::check_secret_names(input.kind, secrets.keys()).map_err(invalid)?;
        check_secret_values(secrets)?;
        seal_into(&state, &mut row, secrets);
    }
    row.name = input.name.as_str().to_owned();
    row.status = input.status.unwrap_or(before.status).as_str().to_owned();
    row.settings = settings.to_string();
    row.sync_settings = serde_json::to_string(&input.sync).unwrap_or_default();
    save(&state, before, row, "system.update").await
}

/// Changes what is given: name, status, settings (merge patch), sync, secrets (null
/// removes one). As with a PUT, a change to the active supplier system takes effect on
/// the hub's next supplier call, without a restart.
#[utoipa::path(patch, path = "/systems/{id}", operation_id = "update_system", tag = "systems",
    params(("id" = String, Path, description = "System id (sys_…)")),
    request_body = SystemPatch,
    responses(
        (status = 200, description = "The system after the change", body = System),
        (status = 404, description = "No such system", body = ErrorBody),
        (status = 409, description = "The name is taken, or settings or a secret's name of another kind of system (`kind_mismatch`)", body = ErrorBody),
        (status = 422, description = "A bad field, named", body = ErrorBody)
    ))]
pub async fn update_system(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
    JsonBody(patch): JsonBody<SystemPatch>,
) -> Result<Response, ApiError> {
    let mut row = load(&state, &id).await?;
    let before = System::try_from(row.clone())?;
    if let Some(p) = &patch.settings {
        if let Some(detail) = super::settings_of_another_kind(before.kind, p) {
            return Err(kind_mismatch(detail));
        }
        let mut settings = before.settings.clone();
        merge_patch(&mut settings, p);
        row.settings = super::check_settings(before.kind, &settings)
            .map_err(invalid)?
            .to_string();
    }
    if let Some(sync) = &patch.sync {
        super::check_sync(sync).map_err(invalid)?;
        row.sync_settings = serde_json::to_string(sync).unwrap_or_default();
    }
    if let Some(changes) = &patch.secrets {
        for name in changes.keys() {
            super::check_secret_name(name).map_err(invalid)?;
        }
        super::check_secret_names(before.kind, changes.keys()).map_err(kind_mismatch)?;
        let mut secrets = open_secrets(&state, &row)?;
        for (name, value) in changes {
            match value {
                Some(v) => {
                    secrets.insert(name.clone(), v.clone());
                }
                None => {
                    secrets.remove(name);
                }
            }
        }
        check_secret_values(&secrets)?;
        seal_into(&state, &mut row, &secrets);
    }
    if let Some(name) = &patch.name {
        row.name = name.as_str().to_owned();
    }
    if let Some(status) = patch.status {
        row.status = status.as_str().to_owned();
    }
    save(&state, before, row, "system.update").await
}

/// Deletes a system; one with records (a test result, POS transactions, supplier orders or
/// members) is archived instead (200), and a
/// hard delete of it (`?hard=true`) is refused with 409.
#[utoipa::path(delete, path = "/systems/{id}", operation_id = "delete_system", tag = "systems",
    params(
        ("id" = String, Path, description = "System id (sys_…)"),
        ("hard" = Option<bool>, Query, description = "true: delete or fail, never archive")
    ),
    responses(
        (status = 200, description = "Archived: it has records", body = System),
        (status = 204, description = "Deleted"),
        (status = 400, description = "`hard` is neither true nor false", body = ErrorBody),
        (status = 404, description = "No such system", body = ErrorBody),
        (status = 409, description = "A hard delete of a system with records", body = ErrorBody)
    ))]
pub async fn delete_system(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let hard = match query.get("hard").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::InvalidParameter(format!(
                "hard must be true or false, got {:?}",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    let row = load(&state, &id).await?;
    let before = System::try_from(row.clone())?;
    let has_records =
        row.last_test_at.is_some() || crate::store::pos::system_has_records(&state.db, &id).await?;
    if has_records && hard {
        return Err(ApiError::ConflictWith {
            code: "system_has_records",
            detail: match row.last_test_at {
                Some(at) => format!(
                    "system {id} has records (tested at {at}); delete without hard=true to \
                     archive it"
                ),
                None => format!(
                    "system {id} has records (POS transactions, supplier orders or members); \
                     delete without hard=true to archive it"
                ),
            },
        });
    }
    if has_records {
        store::archive(&state.db, &id).await?;
        crate::schedules::forget_system(&state.db, &id).await?;
        let after = System::try_from(load(&state, &id).await?)?;
        follow_change(&state, after.kind).await;
        let entry = AuditEntry::new("system.archive", &id, Some(&before), Some(&after));
        return Ok(with_entry(Json(after), entry));
    }
    store::delete(&state.db, &id).await?;
    follow_change(&state, before.kind).await;
    let entry = AuditEntry::new("system.delete", &id, Some(&before), None::<&System>);
    Ok(with_entry(StatusCode::NO_CONTENT.into_response(), entry))
}

/// What a test found.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TestResult {
    /// Whether the system answered as it should.
    pub ok: bool,
    /// What was checked: `token+balance` (a supplier), `webhook` (a webhook-only
    /// system: its last verified delivery), `none` (nothing to check yet).
    pub checked: String,
    /// When the test ran.
    pub tested_at: UtcTime,
    /// Milliseconds the check took.
    pub latency_ms: i64,
    /// Payer accounts the supplier reported (H5), on success.
    pub accounts: Option<usize>,
    /// Class of the failure (`auth`, `timeout`, `transport`, `business`…).
    pub error_class: Option<String>,
    /// The failure, with the supplier's reason; never a secret.
    pub error: Option<String>,
    /// A webhook-only system: its last verified delivery.
    pub last_verified_delivery_at: Option<UtcTime>,
}

/// A system after its test, and what the test found.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tested {
    /// The system, its status set by the test.
    pub system: System,
    /// What the test found.
    pub result: TestResult,
}

/// The hub's Open Platform client for a supplier system's settings and secrets, every
/// call recorded in `log`. Settings that cannot make a client (a section or a field
/// missing, a bad value) are a 409 `system_misconfigured` naming the setting: the
/// request is well-formed, the system is not ready for it.
pub fn open_platform_client(
    state: &AppState,
    row: &SystemRow,
    log: Option<std::sync::Arc<crate::calllog::CallLog>>,
) -> Result<haier::OpenPlatform, ApiError> {
    open_platform_client_with(
        &state.secrets,
        row,
        log,
        state.supplier.budgets(),
        state.supplier.health(),
    )
}

/// [`open_platform_client`] with the secrets opened by `ring` (for work outside a
/// request: the scheduler). A setting that makes no client is a 422
/// `system_misconfigured` naming it, never showing a secret.
pub fn open_platform_client_with(
    ring: &super::crypto::KeyRing,
    row: &SystemRow,
    log: Option<std::sync::Arc<crate::calllog::CallLog>>,
    budgets: &crate::budget::Budgets,
    health: &super::health::HealthWatch,
) -> Result<haier::OpenPlatform, ApiError> {
    let secrets = open_with(ring, row).map_err(ApiError::Internal)?;
    let settings: serde_json::Value =
        serde_json::from_str(&row.settings).map_err(|e| ApiError::Internal(e.into()))?;
    let (op, _, _) =
        super::haier_configs(&settings, &secrets).map_err(|detail| ApiError::ConflictWith {
            code: "system_misconfigured",
            detail,
        })?;
    let op = op.ok_or_else(|| ApiError::ConflictWith {
        code: "system_misconfigured",
        detail: "settings.open_platform is not set".to_owned(),
    })?;
    let budget = budgets.account(crate::calllog::OPEN_PLATFORM, &op.base_url, op.rate_limit);
    let mut builder = haier::OpenPlatform::builder(op);
    if let Some(budget) = budget {
        builder = builder.budget(budget);
    }
    let log = log.map(|log| -> std::sync::Arc<dyn haier::CallObserver> { log });
    builder = builder.observer(health.tee(&row.id, log));
    builder.build().map_err(|e| ApiError::ConflictWith {
        code: "system_misconfigured",
        detail: hide_secrets(e.to_string(), &secrets),
    })
}

/// `text` with every secret value replaced by `***`.
pub fn hide_secrets(text: String, secrets: &BTreeMap<String, String>) -> String {
    secrets
        .values()
        .filter(|v| !v.is_empty())
        .fold(text, |t, v| t.replace(v.as_str(), "***"))
}

/// Tests a system for real: a supplier fetches a token and makes one cheap call (H5
/// balance), every attempt recorded like any supplier call; a webhook-only system
/// reports its last verified delivery. Sets the status (`active` or `error`) and
/// records the result; the answer is 200 whatever the outcome.
#[utoipa::path(post, path = "/systems/{id}/test", operation_id = "test_system", tag = "systems",
    params(("id" = String, Path, description = "System id (sys_…)")),
    responses(
        (status = 200, description = "Tested: the system with its new status, and the result", body = Tested),
        (status = 404, description = "No such system", body = ErrorBody),
        (status = 409, description = "The system is archived, or its settings cannot make a client (`system_misconfigured`, naming the setting)", body = ErrorBody)
    ))]
pub async fn test_system(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let row = load(&state, &id).await?;
    let before = System::try_from(row.clone())?;
    if before.archived_at.is_some() {
        return Err(ApiError::ConflictWith {
            code: "system_archived",
            detail: format!("system {id} is archived"),
        });
    }
    let started = UtcTime::now();
    let (status, result) = if before.kind == Kind::Supplier {
        let log = crate::calllog::CallLog::start(state.db.clone(), crate::calllog::OPEN_PLATFORM);
        let client = open_platform_client(&state, &row, Some(log.clone()))?;
        let outcome = client.balance().await;
        log.flush().await;
        let secrets = open_secrets(&state, &row)?;
        let ended = UtcTime::now();
        let mut result = TestResult {
            ok: outcome.is_ok(),
            checked: "token+balance".to_owned(),
            tested_at: started,
            latency_ms: ended.millis_since(started),
            accounts: None,
            error_class: None,
            error: None,
            last_verified_delivery_at: None,
        };
        match outcome {
            Ok(accounts) => {
                result.accounts = Some(accounts.len());
                (Status::Active, result)
            }
            Err(e) => {
                result.error_class = Some(crate::calllog::error_class(&e).to_owned());
                result.error = Some(hide_secrets(e.to_string(), &secrets));
                (Status::Error, result)
            }
        }
    } else {
        let webhook_only = before.settings["webhook_only"].as_bool().unwrap_or(false);
        let last_delivery = if webhook_only {
            crate::store::webhooks_in::last_received_at(&state.db, &id).await?
        } else {
            None
        };
        let result = TestResult {
            ok: last_delivery.is_some(),
            checked: if webhook_only { "webhook" } else { "none" }.to_owned(),
            tested_at: started,
            latency_ms: 0,
            accounts: None,
            error_class: None,
            error: match (webhook_only, last_delivery) {
                (true, Some(_)) => None,
                (true, None) => Some("no verified delivery yet".to_owned()),
                (false, _) => Some(format!("no test is known for a {} system yet", before.kind)),
            },
            last_verified_delivery_at: last_delivery,
        };
        (before.status, result)
    };
    let result_json = serde_json::to_string(&result).map_err(|e| ApiError::Internal(e.into()))?;
    store::record_test(
        &state.db,
        &id,
        status.as_str(),
        &result_json,
        if result.ok {
            None
        } else {
            result.error.as_deref()
        },
    )
    .await?;
    let system = System::try_from(load(&state, &id).await?)?;
    follow_change(&state, system.kind).await;
    let entry = AuditEntry::new("system.test", &id, Some(&before), Some(&system));
    Ok(with_entry(Json(Tested { system, result }), entry))
}

/// Registers (or, when one of that name exists, updates) an active Haier supplier system
/// named `name` from settings written as environment variables, as `serve --sandbox`
/// does for its sandbox. The system's id.
pub async fn register_supplier(
    db: &crate::store::Db,
    ring: &super::crypto::KeyRing,
    name: &str,
    vars: &[(String, String)],
) -> anyhow::Result<String> {
    let (settings, secrets) = super::supplier_from_env(vars);
    let settings = super::check_settings(Kind::Supplier, &settings).map_err(anyhow::Error::msg)?;
    let existing = store::list(db, Some("supplier"), None, false, None, 500)
        .await?
        .into_iter()
        .find(|r| r.name == name);
    let now = UtcTime::now();
    let mut row = existing.clone().unwrap_or_else(|| SystemRow {
        id: store::new_system_id(),
        name: name.to_owned(),
        kind: Kind::Supplier.as_str().to_owned(),
        status: String::new(),
        settings: String::new(),
        sync_settings: serde_json::to_string(&SyncSettings::default()).unwrap_or_default(),
        secrets_set: "[]".to_owned(),
        secrets_key_id: None,
        secrets_nonce: None,
        secrets_ciphertext: None,
        last_test_at: None,
        last_test_result: None,
        last_success_at: None,
        last_error: None,
        archived_at: None,
        created_at: now,
        updated_at: now,
    });
    row.status = Status::Active.as_str().to_owned();
    row.settings = settings.to_string();
    seal_with(ring, &mut row, &secrets);
    let entry = AuditEntry::new(
        if existing.is_some() {
            "system.update"
        } else {
            "system.create"
        },
        &row.id,
        None::<&System>,
        Some(&System::try_from(row.clone()).map_err(|e| anyhow::anyhow!("{e}"))?),
    );
    if existing.is_some() {
        store::update(db, &row).await?;
    } else {
        store::insert(db, &row).await?;
    }
    crate::audit::record(db, "serve", None, &entry).await?;
    Ok(row.id)
}
