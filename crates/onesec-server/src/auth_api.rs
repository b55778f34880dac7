//! `/api/v1/auth/...`, `/api/v1/users`, `/api/v1/tokens`: first-admin setup, login, users and
//! API tokens. Every success and failure here is audited.

use crate::api::{ApiError, internal};
use crate::gate::Gate;
use axum::Json;
use axum::extract::{ConnectInfo, Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onesec_auth::{AuthError, AuthStore, Principal, Role, User};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

fn auth_error(error: AuthError) -> ApiError {
    match error {
        AuthError::InvalidCredentials => ApiError(StatusCode::UNAUTHORIZED, error.to_string()),
        AuthError::RateLimited { .. } => ApiError(StatusCode::TOO_MANY_REQUESTS, error.to_string()),
        AuthError::Invalid(m) => ApiError(StatusCode::BAD_REQUEST, m),
        other => internal(other),
    }
}

/// Runs an auth-store operation on a blocking thread (Argon2id takes tens of milliseconds).
async fn blocking<T: Send + 'static>(
    gate: &Arc<Gate>,
    f: impl FnOnce(&mut AuthStore) -> Result<T, AuthError> + Send + 'static,
) -> Result<T, ApiError> {
    let gate = gate.clone();
    let result = tokio::task::spawn_blocking(move || gate.with_store(f))
        .await
        .map_err(internal)?;
    match result {
        Some(r) => r.map_err(auth_error),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            "authentication is off ([auth] enabled = false)".into(),
        )),
    }
}

#[derive(Deserialize)]
pub(crate) struct Setup {
    setup_token: String,
    user: String,
    password: String,
}

/// `POST /api/v1/auth/setup`: creates the first admin with the one-time setup token.
pub(crate) async fn post_setup(
    State(gate): State<Arc<Gate>>,
    Json(body): Json<Setup>,
) -> Result<Response, ApiError> {
    let now = onesec_pipeline::now_ms();
    let user = body.user.clone();
    let result = blocking(&gate, move |s| {
        s.setup(&body.setup_token, &body.user, &body.password, now)
    })
    .await;
    let outcome = if result.is_ok() { "created" } else { "refused" };
    gate.audit(&user, "auth.setup", &user, json!({ "outcome": outcome }));
    Ok(Json(result?).into_response())
}

#[derive(Deserialize)]
pub(crate) struct Login {
    user: String,
    password: String,
}

/// `POST /api/v1/auth/login`: a session token for a user name and password.
pub(crate) async fn post_login(
    State(gate): State<Arc<Gate>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(body): Json<Login>,
) -> Result<Response, ApiError> {
    let (token, principal) = sign_in(&gate, body.user, body.password, peer).await?;
    Ok(Json(json!({ "token": token, "user": principal })).into_response())
}

/// Checks a user name and password (with the failed-login limit) and audits the attempt: the
/// API's login and the console's sign-in form both come here.
pub(crate) async fn sign_in(
    gate: &Arc<Gate>,
    user: String,
    password: String,
    peer: SocketAddr,
) -> Result<(String, Principal), ApiError> {
    let now = onesec_pipeline::now_ms();
    let client = peer.ip().to_string();
    let client_for_store = client.clone();
    let name = user.clone();
    let result = blocking(gate, move |s| {
        s.login(&name, &password, &client_for_store, now)
    })
    .await;
    let outcome = match &result {
        Ok(_) => "success".to_string(),
        Err(ApiError(status, _)) => format!("refused ({status})"),
    };
    gate.audit(
        &user,
        "auth.login",
        &user,
        json!({ "client": client, "outcome": outcome }),
    );
    result
}

/// `POST /api/v1/auth/logout`: ends the caller's session.
pub(crate) async fn post_logout(
    State(gate): State<Arc<Gate>>,
    Extension(principal): Extension<Principal>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let secret = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' ').map(|(_, s)| s.trim().to_string()));
    if let Some(secret) = secret {
        gate.with_store(|s| s.logout(&secret));
    }
    gate.audit(&principal.name, "auth.logout", "", json!({}));
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/auth/whoami`.
pub(crate) async fn get_whoami(Extension(principal): Extension<Principal>) -> Response {
    Json(principal).into_response()
}

/// `GET /api/v1/users`.
pub(crate) async fn get_users(State(gate): State<Arc<Gate>>) -> Result<Response, ApiError> {
    let users = blocking(&gate, |s| s.users()).await?;
    Ok(Json(users).into_response())
}

#[derive(Deserialize)]
pub(crate) struct NewUser {
    name: String,
    role: String,
    #[serde(default)]
    sites: Vec<String>,
    password: String,
}

fn role_of(name: &str) -> Result<Role, ApiError> {
    Role::parse(name).ok_or_else(|| {
        let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("unknown role {name:?}; known: {}", known.join(", ")),
        )
    })
}

/// `POST /api/v1/users` `{name, role, sites, password}`.
pub(crate) async fn post_user(
    State(gate): State<Arc<Gate>>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<NewUser>,
) -> Result<Response, ApiError> {
    let user = User {
        name: body.name,
        role: role_of(&body.role)?,
        sites: body.sites,
    };
    let created = user.clone();
    let now = onesec_pipeline::now_ms();
    blocking(&gate, move |s| s.create_user(&created, &body.password, now)).await?;
    let detail = json!({ "role": user.role.as_str(), "sites": user.sites });
    gate.audit(&principal.name, "user.create", &user.name, detail);
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

#[derive(Deserialize)]
pub(crate) struct NewToken {
    name: String,
    role: String,
    #[serde(default)]
    sites: Vec<String>,
    /// Lifetime; none: until revoked.
    expires_in_secs: Option<u64>,
}

/// `POST /api/v1/tokens` `{name, role, sites, expires_in_secs}`: the token, shown once.
pub(crate) async fn post_token(
    State(gate): State<Arc<Gate>>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<NewToken>,
) -> Result<Response, ApiError> {
    let role = role_of(&body.role)?;
    let now = onesec_pipeline::now_ms();
    let expires = body
        .expires_in_secs
        .map(|s| now.saturating_add(i64::try_from(s).unwrap_or(i64::MAX / 1000) * 1000));
    let (name, sites, by) = (
        body.name.clone(),
        body.sites.clone(),
        principal.name.clone(),
    );
    let token = blocking(&gate, move |s| {
        s.create_token(&name, role, &sites, &by, expires, now)
    })
    .await?;
    let detail = json!({ "role": role.as_str(), "sites": body.sites, "expires_ms": expires });
    gate.audit(&principal.name, "token.create", &body.name, detail);
    let answer = json!({ "name": body.name, "role": role.as_str(), "token": token });
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `DELETE /api/v1/tokens/{name}`.
pub(crate) async fn delete_token(
    State(gate): State<Arc<Gate>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let target = name.clone();
    let removed = blocking(&gate, move |s| s.revoke_token(&target)).await?;
    gate.audit(
        &principal.name,
        "token.revoke",
        &name,
        json!({ "removed": removed }),
    );
    if removed == 0 {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no token named {name}"),
        ));
    }
    Ok(Json(json!({ "removed": removed })).into_response())
}
