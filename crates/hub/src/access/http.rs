//! The HTTP side of access: the authorization layer every route passes through, the
//! [`Caller`] extractor, and the `/auth`, `/users` and `/api-keys` routes.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{FromRequestParts, MatchedPath, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::permissions::{Allow, rule_for};
use super::{Principal, Role};
use crate::audit::{AuditEntry, with_entry};
use crate::http::body::{JsonBody, PathParam};
use crate::http::pagination::{Page, PageParams};
use crate::http::{ApiError, AppState, ErrorBody};
use crate::store::access::{self as store, ApiKey, Session, User};
use crate::types::UtcTime;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "supplyhub_session";
/// The header a state-changing request on a cookie session carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A recorded use (of a key, of a session) is written again only after this long.
const TOUCH_EVERY_MICROS: i64 = 60 * 1_000_000;

/// The session a request came with, when it came with one.
#[derive(Debug, Clone)]
pub struct SessionId(pub String);

/// The CSRF token of the request's session, for a page to hand its scripts.
#[derive(Debug, Clone)]
pub struct SessionCsrf(pub String);

/// Finds the caller of every request from its credentials, before the body is read:
/// 401 when they are wrong, or missing where the hub requires them. Paths outside
/// `/api/` and the public routes of [`super::permissions::RULES`] (which have no path
/// parameters) pass without. The [`Principal`] goes to the authorization layer and the
/// handler.
pub async fn authenticate_layer(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let public = !path.starts_with("/api/")
        || rule_for(request.method().as_str(), path).is_some_and(|r| r.allow == Allow::Public);
    if public {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let (principal, session) = match authenticate(&state, request.headers(), &method).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    request.extensions_mut().insert(principal);
    if let Some((id, csrf)) = session {
        request.extensions_mut().insert(SessionId(id));
        request.extensions_mut().insert(SessionCsrf(csrf));
    }
    next.run(request).await
}

/// Checks every routed request against [`super::permissions::RULES`]: a route missing
/// from the table is refused (403), a public one passes, any other needs a caller
/// (found by [`authenticate_layer`]; 401 without) whose role the table allows (403).
pub async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| request.uri().path().to_owned());
    let method = request.method().clone();
    let Some(rule) = rule_for(method.as_str(), &path) else {
        return ApiError::Forbidden {
            code: "forbidden",
            detail: format!("{method} {path} has no entry in the permission table"),
        }
        .into_response();
    };
    if rule.allow == Allow::Public {
        return next.run(request).await;
    }
    // The admin page answers a browser: a redirect to its sign-in page, or an HTML page.
    let admin_page = crate::admin::is_admin_path(&path);
    let refuse = |request: &Request, e: ApiError| {
        if admin_page {
            crate::admin::refusal(request.headers(), e)
        } else {
            e.into_response()
        }
    };
    let mut session = None;
    let principal = match request.extensions().get::<Principal>() {
        Some(p) => p.clone(),
        // A route outside /api/ that is not public: authenticate here.
        None => match authenticate(&state, request.headers(), &method).await {
            Ok((p, s)) => {
                session = s;
                p
            }
            Err(e) => return refuse(&request, e),
        },
    };
    // The admin page is for someone who signed in (or holds a key): a hub open to all
    // still shows its sign-in page.
    if admin_page && principal == Principal::Open {
        return refuse(&request, ApiError::Unauthorized);
    }
    let role = principal.role();
    if !rule.allow.permits(role) {
        let e = ApiError::Forbidden {
            code: "forbidden",
            detail: format!("the role {role} may not {method} {path}"),
        };
        return refuse(&request, e);
    }
    let mut request = request;
    request.extensions_mut().insert(principal);
    if let Some((id, csrf)) = session {
        request.extensions_mut().insert(SessionId(id));
        request.extensions_mut().insert(SessionCsrf(csrf));
    }
    next.run(request).await
}

fn unauthorized(code: &'static str, detail: &str) -> ApiError {
    ApiError::UnauthorizedWith {
        code,
        detail: detail.to_owned(),
    }
}

/// The caller of a request, from its `Authorization` header or its session cookie; with
/// neither, [`Principal::Open`] on a hub that requires no credentials.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
) -> Result<(Principal, Option<(String, String)>), ApiError> {
    let now = UtcTime::now();
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let token = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                unauthorized(
                    "unauthorized",
                    "Authorization must be `Bearer <token or API key>`",
                )
            })?;
        if let Some(expected) = &state.admin_token
            && super::constant_time_eq(token.as_bytes(), expected.expose_secret().as_bytes())
        {
            return Ok((Principal::AdminToken, None));
        }
        return api_key_principal(state, token, now)
            .await
            .map(|p| (p, None));
    }
    if let Some(token) = session_cookie(headers) {
        let id = super::sha256_hex(token);
        let Some((session, user)) = store::session_with_user(&state.db, &id).await? else {
            return Err(unauthorized(
                "session_expired",
                "the session has ended; sign in again",
            ));
        };
        let idle = i64::from(state.access.config.session_idle_minutes) * 60_000_000;
        if session.expires_at <= now
            || now.as_micros() - session.last_seen_at.as_micros() > idle
            || user.disabled
        {
            store::delete_session(&state.db, &id).await?;
            return Err(unauthorized(
                "session_expired",
                "the session has ended; sign in again",
            ));
        }
        let role = user
            .role
            .parse::<Role>()
            .map_err(|e| ApiError::Internal(e.into()))?;
        if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let given = headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !super::constant_time_eq(given.as_bytes(), session.csrf_token.as_bytes()) {
                return Err(ApiError::Forbidden {
                    code: "csrf_failed",
                    detail: format!(
                        "a {method} on a session must carry the session's csrf_token in X-CSRF-Token"
                    ),
                });
            }
        }
        if now.as_micros() - session.last_seen_at.as_micros() > TOUCH_EVERY_MICROS {
            store::touch_session(&state.db, &id, now).await?;
        }
        let principal = Principal::User {
            id: user.id,
            username: user.username,
            role,
        };
        return Ok((principal, Some((id, session.csrf_token))));
    }
    if state.admin_token.is_some() || state.access.enforced() {
        return Err(ApiError::Unauthorized);
    }
    Ok((Principal::Open, None))
}

async fn api_key_principal(
    state: &AppState,
    token: &str,
    now: UtcTime,
) -> Result<Principal, ApiError> {
    let refused = || unauthorized("unauthorized", "the bearer token or API key is not valid");
    let prefix = super::key_prefix(token).ok_or_else(refused)?;
    let (key, hash) = store::api_key_by_prefix(&state.db, prefix)
        .await?
        .ok_or_else(refused)?;
    if !super::constant_time_eq(super::sha256_hex(token).as_bytes(), hash.as_bytes()) {
        return Err(refused());
    }
    if key.revoked_at.is_some() {
        return Err(unauthorized("unauthorized", "the API key was revoked"));
    }
    let role = key
        .role
        .parse::<Role>()
        .map_err(|e| ApiError::Internal(e.into()))?;
    if key
        .last_used_at
        .is_none_or(|t| now.as_micros() - t.as_micros() > TOUCH_EVERY_MICROS)
    {
        store::touch_api_key(&state.db, &key.id, now).await?;
    }
    Ok(Principal::ApiKey {
        id: key.id,
        name: key.name,
        role,
    })
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
        .filter(|t| !t.is_empty())
}

/// The caller of the request, as the authorization layer found it.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or(ApiError::Unauthorized)
    }
}

/// `POST /api/v1/auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name, 1 to 256 characters.
    #[schema(min_length = 1, max_length = 256)]
    pub username: String,
    /// Password, 1 to 256 characters.
    #[schema(format = Password, min_length = 1, max_length = 256)]
    pub password: String,
}

/// A session opened by a login.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// The signed-in user.
    pub user: User,
    /// Send it back in `X-CSRF-Token` with every POST, PUT, PATCH and DELETE of the session.
    pub csrf_token: String,
    /// The session's absolute end (it also ends after `access.session_idle_minutes`
    /// without a request).
    pub expires_at: UtcTime,
}

/// Signs a user in: sets the `supplyhub_session` cookie (HttpOnly, SameSite=Strict,
/// Secure behind TLS). Repeated failures slow the account's logins down, then lock it
/// for a while (429 with `Retry-After`).
#[utoipa::path(post, path = "/auth/login", operation_id = "login", tag = "access",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; the cookie is set", body = LoginResponse),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
        (status = 422, description = "A missing or empty field", body = ErrorBody),
        (status = 429, description = "Too many failed logins: login_throttled or account_locked", body = ErrorBody)
    ))]
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    let (body, cookie) = open_session(&state, &headers, &req.username, &req.password).await?;
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Checks a username and password and opens a session: the answer of a login and its
/// `Set-Cookie` value. The one path of both the API's login and the admin page's sign-in.
/// 422 for an empty or over-long field, 401 for wrong credentials, 429 while the account
/// is throttled or locked.
pub async fn open_session(
    state: &AppState,
    headers: &HeaderMap,
    username: &str,
    password: &str,
) -> Result<(LoginResponse, HeaderValue), ApiError> {
    for (field, value) in [("username", username), ("password", password)] {
        if value.is_empty() || value.chars().count() > 256 {
            return Err(ApiError::Unprocessable {
                code: "invalid_body",
                detail: format!("{field} must be 1 to 256 characters"),
            });
        }
    }
    let wrong = || unauthorized("invalid_credentials", "wrong username or password");
    let Some(record) = store::login_record(&state.db, username).await? else {
        let password = password.to_owned();
        let _ = tokio::task::spawn_blocking(move || {
            super::verify_password(&password, super::dummy_password_hash())
        })
        .await;
        return Err(wrong());
    };
    let now = UtcTime::now();
    let config = &state.access.config;
    if let Some(until) = record.locked_until
        && until > now
    {
        return Err(ApiError::TooManyRequests {
            code: "account_locked",
            detail: format!("too many failed logins: the account is locked until {until}"),
            retry_after_secs: secs_until(now, until),
        });
    }
    let failures = u32::try_from(record.failed_logins).unwrap_or(u32::MAX);
    if failures >= config.login_slowdown_after
        && let Some(last) = record.last_failed_login_at
    {
        let wait = 1i64 << (failures - config.login_slowdown_after).min(6);
        let wait_micros = wait.min(60) * 1_000_000;
        let next_allowed = UtcTime::from_micros(last.as_micros() + wait_micros).unwrap_or(now);
        if next_allowed > now {
            return Err(ApiError::TooManyRequests {
                code: "login_throttled",
                detail: format!(
                    "{failures} failed logins in a row: the next attempt is allowed at {next_allowed}"
                ),
                retry_after_secs: secs_until(now, next_allowed),
            });
        }
    }
    let password = password.to_owned();
    let hash = record.password_hash.clone();
    let ok = tokio::task::spawn_blocking(move || super::verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    if !ok || record.disabled {
        if !ok {
            let lock_until = UtcTime::from_micros(
                now.as_micros() + i64::from(config.login_lock_minutes) * 60_000_000,
            )
            .unwrap_or(now);
            let (count, locked) = store::record_login_failure(
                &state.db,
                &record.id,
                now,
                i64::from(config.login_lock_after),
                lock_until,
            )
            .await?;
            tracing::warn!(user = %record.id, failures = count, locked = locked.is_some_and(|l| l > now), "failed login");
        }
        return Err(wrong());
    }
    store::record_login_success(&state.db, &record.id, now).await?;
    let token = super::random_token();
    let expires_at = UtcTime::from_micros(
        now.as_micros() + i64::from(config.session_absolute_hours) * 3_600_000_000,
    )
    .unwrap_or(now);
    let session = Session {
        id: super::sha256_hex(&token),
        user_id: record.id.clone(),
        csrf_token: super::random_token(),
        created_at: now,
        last_seen_at: now,
        expires_at,
    };
    store::create_session(&state.db, &session).await?;
    let user = store::get_user(&state.db, &record.id)
        .await?
        .ok_or_else(|| ApiError::NotFound("the user was just deleted".to_owned()))?;
    let secure = config.cookie_secure
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        i64::from(config.session_absolute_hours) * 3600,
        if secure { "; Secure" } else { "" }
    );
    let value = HeaderValue::from_str(&cookie).map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        LoginResponse {
            user,
            csrf_token: session.csrf_token,
            expires_at,
        },
        value,
    ))
}

fn secs_until(now: UtcTime, until: UtcTime) -> u64 {
    let micros = until.as_micros() - now.as_micros();
    u64::try_from((micros + 999_999) / 1_000_000)
        .unwrap_or(1)
        .max(1)
}

/// Ends the caller's session and clears its cookie; for a bearer caller, nothing to end.
#[utoipa::path(post, path = "/auth/logout", operation_id = "logout", tag = "access",
    security(("bearer" = []), ("session" = [])),
    responses((status = 204, description = "Signed out")))]
pub async fn logout(
    State(state): State<AppState>,
    session: Option<axum::Extension<SessionId>>,
) -> Result<Response, ApiError> {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(axum::Extension(SessionId(id))) = session {
        let clear = close_session(&state, &id).await?;
        response.headers_mut().insert(header::SET_COOKIE, clear);
    }
    Ok(response)
}

/// Ends the session `id` (the SHA-256 of its token): the `Set-Cookie` value that clears
/// the cookie. The one path of both the API's logout and the admin page's sign-out.
pub async fn close_session(state: &AppState, id: &str) -> Result<HeaderValue, ApiError> {
    store::delete_session(&state.db, id).await?;
    Ok(HeaderValue::from_static(
        "supplyhub_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
    ))
}

/// Who the caller is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// How the caller authenticated.
    pub principal: Principal,
    /// The role it acts with.
    pub role: Role,
}

/// The caller and its role.
#[utoipa::path(get, path = "/auth/me", operation_id = "me", tag = "access",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "The caller", body = Me)))]
pub async fn me(Caller(principal): Caller) -> Json<Me> {
    let role = principal.role();
    Json(Me { principal, role })
}

/// `POST /api/v1/users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Login name: 1 to 64 ASCII letters, digits or `. _ - @`.
    #[schema(min_length = 1, max_length = 64, pattern = r"^[A-Za-z0-9._@-]{1,64}$")]
    pub username: String,
    /// 12 to 256 characters.
    #[schema(format = Password, min_length = 12, max_length = 256)]
    pub password: String,
    /// The user's role.
    pub role: Role,
}

fn invalid(detail: String) -> ApiError {
    ApiError::Unprocessable {
        code: "invalid_body",
        detail,
    }
}

/// Creates a user.
#[utoipa::path(post, path = "/users", operation_id = "create_user", tag = "access",
    request_body = NewUser,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Created", body = User),
        (status = 409, description = "The username is taken", body = ErrorBody),
        (status = 422, description = "A bad field", body = ErrorBody)
    ))]
pub async fn create_user(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<NewUser>,
) -> Result<Response, ApiError> {
    let (user, entry) = add_user(&state, &req.username, &req.password, req.role).await?;
    Ok(with_entry((StatusCode::CREATED, Json(user)), entry))
}

/// Creates a user with `role` (the one path of the API and the admin page): checks the
/// username and the password rules, stores the password's argon2id hash, and from then on
/// requires credentials. The user and the audit entry `user.create` (no password in it).
/// 422 `invalid_body` for a bad username or password, 409 `username_taken`.
pub async fn add_user(
    state: &AppState,
    username: &str,
    password: &str,
    role: Role,
) -> Result<(User, AuditEntry), ApiError> {
    super::check_username(username).map_err(invalid)?;
    super::check_password_rules(password).map_err(invalid)?;
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || super::hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(ApiError::Internal)?;
    let user = store::create_user(&state.db, username, &hash, role.as_str())
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => ApiError::ConflictWith {
                code: "username_taken",
                detail: format!("a user named {username:?} exists"),
            },
            other => other.into(),
        })?;
    state.access.enforce();
    let entry = AuditEntry::new("user.create", &user.id, None::<&User>, Some(&user));
    Ok((user, entry))
}

/// Lists users by creation.
#[utoipa::path(get, path = "/users", operation_id = "list_users", tag = "access",
    params(PageParams),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "A page of users", body = Page<User>),
        (status = 400, description = "A bad parameter", body = ErrorBody)
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Page<User>>, ApiError> {
    let page = PageParams::parse(&query)?;
    let limit = page.limit();
    let items = store::list_users(&state.db, page.after.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_overfetch(items, limit, |u| u.id.clone())))
}

/// One user.
#[utoipa::path(get, path = "/users/{id}", operation_id = "get_user", tag = "access",
    params(("id" = String, Path, description = "User id (usr_…)")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 404, description = "No such user", body = ErrorBody)
    ))]
pub async fn get_user(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Json<User>, ApiError> {
    store::get_user(&state.db, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no user {:?}", truncate(&id))))
}

/// `PATCH /api/v1/users/{id}`: what is given changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    /// A new role.
    pub role: Option<Role>,
    /// Disables (ends its sessions) or enables the user.
    pub disabled: Option<bool>,
    /// A new password (12 to 256 characters); clears a lock.
    #[schema(format = Password, min_length = 12, max_length = 256)]
    pub password: Option<String>,
}

/// Changes a user's role, disabled flag or password; any change ends its sessions.
#[utoipa::path(patch, path = "/users/{id}", operation_id = "update_user", tag = "access",
    params(("id" = String, Path, description = "User id (usr_…)")),
    request_body = UserChange,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The user after the change", body = User),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "A bad field", body = ErrorBody)
    ))]
pub async fn update_user(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
    JsonBody(req): JsonBody<UserChange>,
) -> Result<Response, ApiError> {
    let (after, entry) = change_user(&state, &id, req).await?;
    Ok(with_entry(Json(after), entry))
}

/// Changes what `req` gives of user `id` (the one path of the API and the admin page);
/// any change ends the user's sessions. The user after the change and the audit entry
/// `user.update` (a new password shown as `***`). 404 for no such user, 422
/// `invalid_body` for a password that breaks the rules.
pub async fn change_user(
    state: &AppState,
    id: &str,
    req: UserChange,
) -> Result<(User, AuditEntry), ApiError> {
    let not_found = || ApiError::NotFound(format!("no user {:?}", truncate(id)));
    let before = store::get_user(&state.db, id)
        .await?
        .ok_or_else(not_found)?;
    let hash = match req.password {
        Some(password) => {
            super::check_password_rules(&password).map_err(invalid)?;
            let hash = tokio::task::spawn_blocking(move || super::hash_password(&password))
                .await
                .map_err(|e| ApiError::Internal(e.into()))?
                .map_err(ApiError::Internal)?;
            Some(hash)
        }
        None => None,
    };
    let password_changed = hash.is_some();
    let after = store::update_user(
        &state.db,
        id,
        req.role.map(Role::as_str),
        req.disabled,
        hash.as_deref(),
    )
    .await?
    .ok_or_else(not_found)?;
    let mut entry = AuditEntry::new("user.update", id, Some(&before), Some(&after));
    if password_changed && let Some(serde_json::Value::Object(a)) = entry.after.as_mut() {
        a.insert("password".to_owned(), serde_json::Value::from("***"));
    }
    Ok((after, entry))
}

/// `POST /api/v1/api-keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// What the key is for: 1 to 100 characters, not blank, no control characters.
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$")]
    pub name: crate::input::Text<1, 100>,
    /// The role the key acts with.
    pub role: Role,
}

/// A key just created: the only time its secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// The key as stored.
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The whole key, `shk_<prefix>_<secret>`: send it as `Authorization: Bearer <key>`.
    /// Shown once; only its SHA-256 is kept.
    pub key: String,
}

/// Creates an API key; the answer is the only time the key is shown.
#[utoipa::path(post, path = "/api-keys", operation_id = "create_api_key", tag = "access",
    request_body = NewApiKey,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Created; `key` is shown this once", body = CreatedApiKey),
        (status = 422, description = "A bad field", body = ErrorBody)
    ))]
pub async fn create_api_key(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(req): JsonBody<NewApiKey>,
) -> Result<Response, ApiError> {
    let (created, entry) = issue_api_key(&state, &caller, &req.name, req.role).await?;
    Ok(with_entry((StatusCode::CREATED, Json(created)), entry))
}

/// Creates an API key named `name` acting with `role`, recorded as created by `caller`
/// (the one path of the API and the admin page), and from then on requires credentials.
/// The key with its whole secret, to be shown this once, and the audit entry
/// `api_key.create` (without the secret).
pub async fn issue_api_key(
    state: &AppState,
    caller: &Principal,
    name: &crate::input::Text<1, 100>,
    role: Role,
) -> Result<(CreatedApiKey, AuditEntry), ApiError> {
    let created = super::generate_key();
    let api_key = store::create_api_key(
        &state.db,
        name.as_str(),
        role.as_str(),
        &created.prefix,
        &created.hash,
        &caller.label(),
    )
    .await?;
    state.access.enforce();
    let entry = AuditEntry::new(
        "api_key.create",
        &api_key.id,
        None::<&ApiKey>,
        Some(&api_key),
    );
    Ok((
        CreatedApiKey {
            api_key,
            key: created.key,
        },
        entry,
    ))
}

/// Lists API keys by creation (never their secrets).
#[utoipa::path(get, path = "/api-keys", operation_id = "list_api_keys", tag = "access",
    params(PageParams),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "A page of keys", body = Page<ApiKey>),
        (status = 400, description = "A bad parameter", body = ErrorBody)
    ))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Page<ApiKey>>, ApiError> {
    let page = PageParams::parse(&query)?;
    let limit = page.limit();
    let items = store::list_api_keys(&state.db, page.after.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_overfetch(items, limit, |k| k.id.clone())))
}

/// Revokes an API key (by id or prefix): it authenticates nothing from now on.
#[utoipa::path(delete, path = "/api-keys/{id}", operation_id = "revoke_api_key", tag = "access",
    params(("id" = String, Path, description = "Key id (key_…) or its prefix")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The revoked key", body = ApiKey),
        (status = 404, description = "No such key", body = ErrorBody)
    ))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let (after, entry) = revoke_key(&state, &id).await?;
    Ok(with_entry(Json(after), entry))
}

/// Revokes the API key `id` (its id or prefix; the one path of the API and the admin
/// page): it authenticates nothing from now on. The key after and the audit entry
/// `api_key.revoke`. 404 for no such key.
pub async fn revoke_key(state: &AppState, id: &str) -> Result<(ApiKey, AuditEntry), ApiError> {
    let not_found = || ApiError::NotFound(format!("no API key {:?}", truncate(id)));
    let before = store::get_api_key(&state.db, id)
        .await?
        .ok_or_else(not_found)?;
    let after = store::revoke_api_key(&state.db, id)
        .await?
        .ok_or_else(not_found)?;
    let entry = AuditEntry::new("api_key.revoke", &after.id, Some(&before), Some(&after));
    Ok((after, entry))
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}
