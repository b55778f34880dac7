//! The web console (`/console`, `docs/console.md`): the control room that IT, physical security,
//! compliance and management share, served by `onesec up` itself on the API's port.
//!
//! Pages are HTML rendered here with askama templates (`templates/console/`), with one small ES
//! module and one style sheet embedded in the binary (`assets/`): no CDN, nothing to build, it
//! works on a closed network. The console holds no authority of its own:
//!
//! * signing in goes through the API's login (same failed-login limit, same audit entry) and
//!   keeps the session token in an `HttpOnly`, `SameSite=Strict` cookie;
//! * every page is a route of the gate's table (`crate::gate::ROUTES`) needing the permission of
//!   the API route whose data it shows, and filters by the caller's site scope as that route does;
//! * every change (acknowledge, assign, escalate, decide a task, comment) is a call of the page's
//!   script to the API itself, which the gate accepts with the cookie only together with the
//!   `X-Onesec-Console` header (no cross-site form can send it).
//!
//! **Architecture invariant:** the console reads through the same store queries and checks as
//! the API and changes nothing itself; it never widens what a role or a site scope allows.

mod charts;
mod live;
mod pages;
mod site_plan;

use crate::api::{Route, at};
use crate::devices_api::Devices;
use crate::gate::Gate;
use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use onesec_auth::{Permission, Principal};
use onesec_pipeline::{Config, Pipeline};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;

/// The cookie that carries a console session's token.
pub(crate) const SESSION_COOKIE: &str = "onesec_session";

/// The header the console's script sends with every change it asks of the API.
pub(crate) const CONSOLE_HEADER: &str = "x-onesec-console";

/// What console pages may load: their own script, style and inline SVG; nothing from elsewhere.
const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; media-src 'self' data:; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// The console's shared state.
pub(crate) struct Console {
    pipeline: Arc<Pipeline>,
    gate: Arc<Gate>,
    devices: Arc<Devices>,
    feed: Arc<live::QueueFeed>,
    secure_cookie: bool,
    session_secs: u64,
}

impl Console {
    /// The console of a running server (its live queue feed polls only while someone watches).
    pub(crate) fn start(
        pipeline: Arc<Pipeline>,
        config: &Config,
        gate: Arc<Gate>,
        devices: Arc<Devices>,
    ) -> Arc<Console> {
        Arc::new(Console {
            feed: live::QueueFeed::new(pipeline.clone()),
            pipeline,
            gate,
            devices,
            secure_cookie: config.http.tls != "off",
            session_secs: config.auth.session_hours.saturating_mul(3600),
        })
    }
}

type ConsoleState = Arc<Console>;

/// Middleware on every route: a change that went through (a non-GET request answered 2xx) may
/// have changed the queue, so the live feed reads it again at once instead of within
/// `live::FULL_READ_EVERY`.
pub(crate) async fn notice_changes(
    State(console): State<ConsoleState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let changes = !matches!(*request.method(), Method::GET | Method::HEAD);
    let response = next.run(request).await;
    if changes && response.status().is_success() {
        console.feed.nudge();
    }
    response
}

/// The console's routes (each is in the gate's table with what it needs).
pub(crate) fn routes() -> Vec<Route<ConsoleState>> {
    vec![
        at(Method::GET, "/console/login", get_login),
        at(Method::POST, "/console/login", post_login),
        at(Method::GET, "/console/assets/{name}", get_asset),
        at(Method::GET, "/console", pages::queue),
        at(Method::GET, "/console/live", live::stream),
        at(Method::GET, "/console/incidents/{id}", pages::incident),
        at(Method::GET, "/console/dashboard", pages::dashboard),
        at(Method::GET, "/console/sites", site_plan::sites),
        at(Method::GET, "/console/sites/{site}", site_plan::site),
        at(Method::GET, "/console/devices", pages::devices),
        at(Method::GET, "/console/rules", pages::rules),
        at(Method::GET, "/console/reports", pages::reports),
        at(Method::GET, "/console/exercises", pages::exercises),
    ]
}

/// A UTC time for people (the page's script shows it in local time when it runs).
pub(crate) fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// The session token in a request's cookies, if any.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// The answer to a console page asked for without a valid session: 401, with a page that sends
/// the browser to the sign-in form.
pub(crate) fn sign_in_first() -> Response {
    let body = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
        <meta http-equiv=\"refresh\" content=\"0; url=/console/login\">\
        <title>Sign in — onesec</title></head><body>\
        <p><a href=\"/console/login\">Sign in to the onesec console</a></p></body></html>";
    let mut response = (StatusCode::UNAUTHORIZED, body).into_response();
    set_html_headers(response.headers_mut());
    response
}

/// The answer to a console page the caller's role may not open: 403 with the reason.
pub(crate) fn not_allowed(reason: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Not allowed — onesec</title>\
         <link rel=\"stylesheet\" href=\"/console/assets/console.css\"></head>\
         <body><main id=\"main\"><h1>Not allowed</h1><p class=\"error\">{}</p>\
         <p><a href=\"/console\">Back to the queue</a></p></main></body></html>",
        charts::escape(reason)
    );
    let mut response = (StatusCode::FORBIDDEN, body).into_response();
    set_html_headers(response.headers_mut());
    response
}

fn set_html_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONSOLE_CSP),
    );
}

/// A rendered page, or 500 naming the template that failed.
pub(crate) fn page(template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => {
            let mut response = body.into_response();
            set_html_headers(response.headers_mut());
            response
        }
        Err(error) => {
            tracing::error!(%error, "console page could not be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "page could not be rendered",
            )
                .into_response()
        }
    }
}

/// A page that says what went wrong (404, 403...) inside the console's frame.
pub(crate) fn problem(principal: &Principal, status: StatusCode, message: String) -> Response {
    let template = pages::Problem {
        chrome: Chrome::new(principal, ""),
        status: status.as_u16(),
        message,
    };
    let mut response = page(&template);
    *response.status_mut() = status;
    response
}

/// One link of the navigation bar.
pub(crate) struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// What every page shows around its content: who is signed in and the pages the role may open.
pub(crate) struct Chrome {
    pub user: String,
    pub role: &'static str,
    pub scope: String,
    pub nav: Vec<NavLink>,
}

/// The pages and what each needs: the navigation shows a role only what it may open.
const PAGES: [(&str, &str, Option<Permission>); 7] = [
    ("/console", "Queue", Some(Permission::ReadIncidents)),
    (
        "/console/dashboard",
        "Dashboard",
        Some(Permission::ReadIncidents),
    ),
    ("/console/sites", "Sites", Some(Permission::ReadEvents)),
    ("/console/devices", "Devices", Some(Permission::ReadDevices)),
    ("/console/rules", "Rules", Some(Permission::ReadRules)),
    ("/console/reports", "Reports", Some(Permission::ReadExports)),
    (
        "/console/exercises",
        "Exercises",
        Some(Permission::ReadIncidents),
    ),
];

impl Chrome {
    /// The frame for `principal`, with `current` (a path of [`PAGES`]) marked.
    pub(crate) fn new(principal: &Principal, current: &str) -> Chrome {
        let nav = PAGES
            .iter()
            .filter(|(_, _, need)| need.is_none_or(|p| principal.may(p)))
            .map(|(href, label, _)| NavLink {
                href,
                label,
                current: *href == current,
            })
            .collect();
        let scope = if principal.sites.is_empty() {
            "all sites".to_string()
        } else {
            principal.sites.join(", ")
        };
        Chrome {
            user: principal.name.clone(),
            role: principal.role.as_str(),
            scope,
            nav,
        }
    }
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    error: Option<String>,
}

/// `GET /console/login`: the sign-in form.
async fn get_login() -> Response {
    page(&LoginPage { error: None })
}

#[derive(Deserialize)]
struct SignIn {
    user: String,
    password: String,
}

/// `POST /console/login`: signs in through the API's login and keeps the session in a cookie.
async fn post_login(
    State(console): State<ConsoleState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(form): Form<SignIn>,
) -> Response {
    match crate::auth_api::sign_in(&console.gate, form.user, form.password, peer).await {
        Ok((token, _)) => {
            let mut cookie = format!(
                "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
                console.session_secs
            );
            if console.secure_cookie {
                cookie.push_str("; Secure");
            }
            let mut response =
                (StatusCode::SEE_OTHER, [(header::LOCATION, "/console")]).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(crate::api::ApiError(status, message)) => {
            let mut response = page(&LoginPage {
                error: Some(message),
            });
            *response.status_mut() = status;
            response
        }
    }
}

/// The embedded script and style sheet.
const ASSETS: [(&str, &str, &str); 2] = [
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("assets/console.css"),
    ),
];

/// `GET /console/assets/{name}`: the script and style sheet (no data in them, so public).
async fn get_asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, media_type, body)) => (
            [
                (header::CONTENT_TYPE, *media_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onesec_auth::Role;

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        h
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        assert_eq!(
            session_cookie(&headers("a=1; onesec_session=abc ; b=2")),
            Some("abc")
        );
        assert_eq!(session_cookie(&headers("onesec_sessionx=abc")), None);
        assert_eq!(session_cookie(&headers("onesec_session=")), None);
        assert_eq!(session_cookie(&HeaderMap::new()), None);
    }

    #[test]
    fn the_navigation_shows_a_role_only_the_pages_it_may_open() {
        let manager = Principal {
            name: "m".into(),
            role: Role::Manager,
            sites: vec![],
        };
        let labels: Vec<&str> = Chrome::new(&manager, "/console")
            .nav
            .iter()
            .map(|l| l.label)
            .collect();
        // Reports name who entered restricted zones: they need read_exports, which a manager
        // does not have (the report API refuses them too).
        assert_eq!(labels, ["Queue", "Dashboard", "Exercises"]);
        let admin = Principal {
            role: Role::Admin,
            sites: vec!["EDI".into()],
            ..manager
        };
        let chrome = Chrome::new(&admin, "/console/sites");
        assert_eq!(chrome.nav.len(), PAGES.len());
        assert!(chrome.nav.iter().any(|l| l.current && l.label == "Sites"));
        assert_eq!(chrome.scope, "EDI");
    }

    #[test]
    fn every_route_of_the_console_is_in_the_gates_table() {
        for route in routes() {
            assert!(
                crate::gate::access(&route.method, route.path).is_some(),
                "{} {}",
                route.method,
                route.path
            );
        }
    }
}
