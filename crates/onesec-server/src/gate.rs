//! Who may call which route: the route table and the middleware that enforces it.
//!
//! Every route is listed in [`ROUTES`] with what it needs. The middleware looks the request's
//! matched route up there; a route missing from the table is refused (403), so a route added to
//! the router and forgotten here fails closed. The security tests walk [`ROUTES`] and try each
//! route without a token and with every role.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use onesec_auth::{AuthStore, Permission, Principal, Role};
use onesec_pipeline::Pipeline;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, login, first-admin setup).
    Public,
    /// Any valid token or session.
    Authenticated,
    /// A token or session whose role has this permission.
    Needs(Permission),
}

/// Every route of the HTTP API and what it needs.
pub const ROUTES: &[(Method, &str, Access)] = &[
    (Method::GET, "/healthz", Access::Public),
    // The web console (`crate::console`, docs/console.md): its pages need what the API routes
    // they show need, so a role sees in the console exactly what it may read through the API.
    (Method::GET, "/console/login", Access::Public),
    (Method::POST, "/console/login", Access::Public),
    (Method::GET, "/console/assets/{name}", Access::Public),
    (
        Method::GET,
        "/console",
        Access::Needs(Permission::ReadIncidents),
    ),
    (
        Method::GET,
        "/console/live",
        Access::Needs(Permission::ReadIncidents),
    ),
    (
        Method::GET,
        "/console/incidents/{id}",
        Access::Needs(Permission::ReadIncidents),
    ),
    (
        Method::GET,
        "/console/dashboard",
        Access::Needs(Permission::ReadIncidents),
    ),
    (
        Method::GET,
        "/console/sites",
        Access::Needs(Permission::ReadEvents),
    ),
    (
        Method::GET,
        "/console/sites/{site}",
        Access::Needs(Permission::ReadEvents),
    ),
    (
        Method::GET,
        "/console/devices",
        Access::Needs(Permission::ReadDevices),
    ),
    (
        Method::GET,
        "/console/rules",
        Access::Needs(Permission::ReadRules),
    ),
    (
        Method::GET,
        "/console/reports",
        Access::Needs(Permission::ReadExports),
    ),
    (
        Method::GET,
        "/console/exercises",
        Access::Needs(Permission::ReadIncidents),
    ),
    (Method::POST, "/api/v1/auth/setup", Access::Public),
    (Method::POST, "/api/v1/auth/login", Access::Public),
    (Method::POST, "/api/v1/auth/logout", Access::Authenticated),
    (Method::GET, "/api/v1/auth/whoami", Access::Authenticated),
    (
        Method::GET,
        "/api/v1/users",
        Access::Needs(Permission::ManageUsers),
    ),
    (
        Method::POST,
        "/api/v1/users",
        Access::Needs(Permission::ManageUsers),
    ),
    (
        Method::POST,
        "/api/v1/tokens",
        Access::Needs(Permission::ManageUsers),
    ),
    (
        Method::DELETE,
        "/api/v1/tokens/{name}",
        Access::Needs(Permission::ManageUsers),
    ),
    (
        Method::POST,
        "/api/v1/events",
        Access::Needs(Permission::IngestEvents),
    ),
    (
        Method::GET,
        "/api/v1/events",
        Access::Needs(Permission::ReadEvents),
    ),
    (
        Method::GET,
        "/api/v1/events/late",
        Access::Needs(Permission::ReadEvents),
    ),
    (
        Method::GET,
        "/api/v1/incidents",
        Access::Needs(Permission::ReadIncidents),
    ),
    (
        Method::GET,
        "/api/v1/incidents/{id}",
        Access::Needs(Permission::ReadIncidents),
    ),
    (
        Method::POST,
        "/api/v1/incidents/{id}/state",
        Access::Needs(Permission::WorkIncidents),
    ),
    (
        Method::POST,
        "/api/v1/incidents/{id}/ack",
        Access::Needs(Permission::WorkIncidents),
    ),
    (
        Method::POST,
        "/api/v1/incidents/{id}/assign",
        Access::Needs(Permission::WorkIncidents),
    ),
    (
        Method::POST,
        "/api/v1/incidents/{id}/classify",
        Access::Needs(Permission::WorkIncidents),
    ),
    (
        Method::POST,
        "/api/v1/incidents/{id}/comment",
        Access::Needs(Permission::WorkTasks),
    ),
    (
        Method::GET,
        "/api/v1/incidents/{id}/playbook",
        Access::Needs(Permission::ReadIncidents),
    ),
    (
        Method::POST,
        "/api/v1/incidents/{id}/playbook",
        Access::Needs(Permission::WorkTasks),
    ),
    (
        Method::POST,
        "/api/v1/incidents/{id}/merge",
        Access::Needs(Permission::WorkIncidents),
    ),
    (
        Method::POST,
        "/api/v1/incidents/{id}/split",
        Access::Needs(Permission::WorkIncidents),
    ),
    (
        Method::GET,
        "/api/v1/incidents/{id}/identities",
        Access::Needs(Permission::RevealIdentities),
    ),
    (
        Method::POST,
        "/api/v1/incidents/{id}/hold",
        Access::Needs(Permission::ManagePrivacy),
    ),
    (
        Method::DELETE,
        "/api/v1/incidents/{id}/hold",
        Access::Needs(Permission::ManagePrivacy),
    ),
    (
        Method::GET,
        "/api/v1/privacy/holds",
        Access::Needs(Permission::ManagePrivacy),
    ),
    (
        Method::POST,
        "/api/v1/privacy/retention",
        Access::Needs(Permission::ManagePrivacy),
    ),
    (
        Method::GET,
        "/api/v1/privacy/access",
        Access::Needs(Permission::ReadAudit),
    ),
    (
        Method::GET,
        "/api/v1/privacy/records",
        Access::Needs(Permission::ReadCompliance),
    ),
    (
        Method::GET,
        "/api/v1/privacy/subjects/{person}",
        Access::Needs(Permission::ManagePrivacy),
    ),
    (
        Method::POST,
        "/api/v1/privacy/subjects/{person}/erase",
        Access::Needs(Permission::ManagePrivacy),
    ),
    (
        Method::GET,
        "/api/v1/incidents/{id}/evidence",
        Access::Needs(Permission::ReadIncidents),
    ),
    (
        Method::POST,
        "/api/v1/incidents/{id}/evidence",
        Access::Needs(Permission::WorkIncidents),
    ),
    (
        Method::GET,
        "/api/v1/incidents/{id}/evidence/{seq}",
        Access::Needs(Permission::ReadIncidents),
    ),
    (
        Method::GET,
        "/api/v1/incidents/{id}/context",
        Access::Needs(Permission::ReadEvents),
    ),
    (
        Method::GET,
        "/api/v1/incidents/{id}/export",
        Access::Needs(Permission::ReadExports),
    ),
    (
        Method::GET,
        "/api/v1/incidents/{id}/report",
        Access::Needs(Permission::ReadExports),
    ),
    (
        Method::GET,
        "/api/v1/tasks",
        Access::Needs(Permission::ReadIncidents),
    ),
    (
        Method::POST,
        "/api/v1/tasks/{task_id}/approve",
        Access::Needs(Permission::WorkTasks),
    ),
    (
        Method::POST,
        "/api/v1/tasks/{task_id}/reject",
        Access::Needs(Permission::WorkTasks),
    ),
    (
        Method::GET,
        "/api/v1/alerts",
        Access::Needs(Permission::ReadAlerts),
    ),
    (
        Method::GET,
        "/api/v1/devices",
        Access::Needs(Permission::ReadDevices),
    ),
    (
        Method::GET,
        "/api/v1/devices/seen",
        Access::Needs(Permission::ReadDevices),
    ),
    (
        Method::GET,
        "/api/v1/devices/trend",
        Access::Needs(Permission::ReadDevices),
    ),
    (
        Method::GET,
        "/api/v1/devices/{id}",
        Access::Needs(Permission::ReadDevices),
    ),
    (
        Method::GET,
        "/api/v1/devices/{id}/history",
        Access::Needs(Permission::ReadDevices),
    ),
    (
        Method::GET,
        "/api/v1/dead-letters",
        Access::Needs(Permission::ReadDeadLetters),
    ),
    (
        Method::GET,
        "/api/v1/status",
        Access::Needs(Permission::ReadStatus),
    ),
    (
        Method::GET,
        "/api/v1/sources",
        Access::Needs(Permission::ReadStatus),
    ),
    (
        Method::GET,
        "/api/v1/rules",
        Access::Needs(Permission::ReadRules),
    ),
    (
        Method::POST,
        "/api/v1/directory/reload",
        Access::Needs(Permission::ReloadDirectory),
    ),
    (
        Method::GET,
        "/api/v1/audit/proof/{event_id}",
        Access::Needs(Permission::ReadAudit),
    ),
    (
        Method::GET,
        "/api/v1/audit/checkpoint",
        Access::Needs(Permission::ReadAudit),
    ),
    (
        Method::GET,
        "/metrics",
        Access::Needs(Permission::ReadMetrics),
    ),
    (
        Method::GET,
        "/api/v1/compliance/controls",
        Access::Needs(Permission::ReadCompliance),
    ),
    (
        Method::GET,
        "/api/v1/compliance/coverage",
        Access::Needs(Permission::ReadCompliance),
    ),
    (
        Method::GET,
        "/api/v1/compliance/deadlines",
        Access::Needs(Permission::ReadCompliance),
    ),
    (
        Method::GET,
        "/api/v1/incidents/{id}/regulatory",
        Access::Needs(Permission::ReadCompliance),
    ),
    (
        Method::POST,
        "/api/v1/incidents/{id}/regulatory",
        Access::Needs(Permission::WorkCompliance),
    ),
    (
        Method::GET,
        "/api/v1/incidents/{id}/regulatory/{stage}",
        Access::Needs(Permission::ReadCompliance),
    ),
    (
        Method::POST,
        "/api/v1/incidents/{id}/regulatory/{stage}",
        Access::Needs(Permission::WorkCompliance),
    ),
    (
        Method::POST,
        "/api/v1/incidents/{id}/regulatory/{stage}/submit",
        Access::Needs(Permission::WorkCompliance),
    ),
    (
        Method::GET,
        "/api/v1/reports",
        Access::Needs(Permission::ReadExports),
    ),
    (
        Method::GET,
        "/api/v1/exercises",
        Access::Needs(Permission::ReadCompliance),
    ),
    (
        Method::POST,
        "/api/v1/exercises",
        Access::Needs(Permission::WorkCompliance),
    ),
];

/// What a route needs, if it is in the table.
pub fn access(method: &Method, path: &str) -> Option<Access> {
    ROUTES
        .iter()
        .find(|(m, p, _)| m == method && *p == path)
        .map(|(_, _, a)| *a)
}

/// The authentication state the middleware and the auth routes share.
pub struct Gate {
    /// `None`: authentication is off (`[auth] enabled = false`); every caller is an
    /// unrestricted admin.
    pub store: Option<Mutex<AuthStore>>,
    pub pipeline: Arc<Pipeline>,
    denials: DenialLimiter,
}

impl Gate {
    pub fn new(store: Option<AuthStore>, pipeline: Arc<Pipeline>) -> Gate {
        Gate {
            store: store.map(Mutex::new),
            pipeline,
            denials: DenialLimiter::default(),
        }
    }

    /// Runs `f` on the store (poisoning is survivable: the store holds no invariant in memory
    /// that a panic elsewhere could break).
    pub fn with_store<T>(&self, f: impl FnOnce(&mut AuthStore) -> T) -> Option<T> {
        let store = self.store.as_ref()?;
        Some(match store.lock() {
            Ok(mut s) => f(&mut s),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        })
    }

    /// Records a security-relevant action in the audit log, if there is one.
    pub fn audit(&self, actor: &str, action: &str, target: &str, detail: serde_json::Value) {
        if let Some(audit) = self.pipeline.audit() {
            audit.record(actor, action, target, detail);
        }
    }

    fn audit_denial(&self, who: &str, status: StatusCode, method: &Method, route: &str) {
        if let Some(suppressed) = self.denials.admit() {
            let detail = json!({
                "status": status.as_u16(),
                "method": method.as_str(),
                "suppressed_since_last": suppressed,
            });
            self.audit(who, "auth.denied", route, detail);
        }
    }
}

/// At most [`DenialLimiter::PER_SECOND`] denial entries per second, so a flood of bad requests
/// cannot fill the audit log; the entries it drops are counted in the next one.
#[derive(Default)]
struct DenialLimiter {
    second: AtomicU64,
    in_second: AtomicU64,
    suppressed: AtomicU64,
}

impl DenialLimiter {
    const PER_SECOND: u64 = 20;

    /// `Some(dropped so far)` when this denial may be recorded.
    fn admit(&self) -> Option<u64> {
        let now = u64::try_from(onesec_pipeline::now_ms() / 1000).unwrap_or(0);
        if self.second.swap(now, Ordering::Relaxed) != now {
            self.in_second.store(0, Ordering::Relaxed);
        }
        if self.in_second.fetch_add(1, Ordering::Relaxed) < Self::PER_SECOND {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

fn refuse(status: StatusCode, reason: &str) -> Response {
    let mut response = (status, axum::Json(json!({ "error": reason }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        let challenge = header::HeaderValue::from_static("Bearer");
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

/// The bearer secret of a request: its `Authorization` header, else the console's session
/// cookie ([`crate::console::SESSION_COOKIE`]). The cookie counts for reads, and for changes
/// only with the `X-Onesec-Console` header, which another site's page cannot send without a
/// CORS preflight this server never grants (so a forged form post carries no authority).
fn bearer(request: &Request) -> Option<&str> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        let safe = matches!(*request.method(), Method::GET | Method::HEAD);
        let from_console = request
            .headers()
            .contains_key(crate::console::CONSOLE_HEADER);
        return if safe || from_console {
            crate::console::session_cookie(request.headers())
        } else {
            None
        };
    };
    let (scheme, secret) = value.to_str().ok()?.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| secret.trim())
}

/// The middleware: checks the caller against the route's entry in [`ROUTES`] and passes the
/// [`Principal`] on to the handler.
pub async fn authorize(
    State(gate): State<Arc<Gate>>,
    matched: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let route = matched.as_ref().map_or("", |m| m.as_str()).to_string();
    let Some(access) = access(&method, &route) else {
        gate.audit_denial("?", StatusCode::FORBIDDEN, &method, &route);
        return refuse(
            StatusCode::FORBIDDEN,
            "route is not in the permission table",
        );
    };
    if gate.store.is_none() {
        request.extensions_mut().insert(unrestricted());
        return next.run(request).await;
    }
    if access == Access::Public {
        return next.run(request).await;
    }
    let secret = bearer(&request).map(str::to_string);
    let now = onesec_pipeline::now_ms();
    let principal = secret
        .and_then(|s| gate.with_store(|store| store.authenticate(&s, now)))
        .and_then(|r| r.ok())
        .flatten();
    let Some(principal) = principal else {
        gate.audit_denial("?", StatusCode::UNAUTHORIZED, &method, &route);
        if route.starts_with("/console") {
            return crate::console::sign_in_first();
        }
        return refuse(
            StatusCode::UNAUTHORIZED,
            "a valid token is required (Authorization: Bearer ...)",
        );
    };
    if let Access::Needs(permission) = access
        && !principal.may(permission)
    {
        gate.audit_denial(&principal.name, StatusCode::FORBIDDEN, &method, &route);
        let reason = format!(
            "role {} lacks permission {}",
            principal.role.as_str(),
            permission.as_str()
        );
        if route.starts_with("/console") {
            return crate::console::not_allowed(&reason);
        }
        return refuse(StatusCode::FORBIDDEN, &reason);
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// The caller when authentication is off.
fn unrestricted() -> Principal {
    Principal {
        name: "anonymous".into(),
        role: Role::Admin,
        sites: Vec::new(),
    }
}
