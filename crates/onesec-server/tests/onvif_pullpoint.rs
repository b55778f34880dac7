//! The ONVIF PullPoint client against a small fake ONVIF device (an HTTP server in this test,
//! standing in for a camera, which no CI machine has). The device serves the 36 real Axis
//! event messages of ../shared/data/onvif/axis in `PullMessagesResponse`s, checks the
//! WS-UsernameToken digest of every request, "reboots" after three pulls (forgets the
//! subscription, so the next pull is a fault) and wants its subscription renewed. Every
//! message must be journaled exactly once, reported by the configured device, and a second
//! device with a wrong password must give nothing.

mod common;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use onesec_decode::{UsernameToken, parse_request};
use onesec_pipeline::OnvifCamera;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const USER: &str = "onesec";
const PASSWORD: &str = "s3cret-Pull";
/// Messages per PullMessagesResponse (less than the client's limit, to need several pulls).
const PER_PULL: usize = 5;

#[derive(Default)]
struct Camera {
    addr: Option<SocketAddr>,
    queue: VecDeque<String>,
    /// The live subscription's number (0: none, e.g. after the reboot).
    live: u32,
    subscriptions: u32,
    pulls: u32,
    renews: u32,
    auth_failures: u32,
    rebooted: bool,
    last_pull_empty: bool,
}

type Shared = Arc<Mutex<Camera>>;

fn envelope(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\" \
         xmlns:tt=\"http://www.onvif.org/ver10/schema\" xmlns:tds=\"http://www.onvif.org/ver10/device/wsdl\" \
         xmlns:tev=\"http://www.onvif.org/ver10/events/wsdl\" xmlns:wsnt=\"http://docs.oasis-open.org/wsn/b-2\" \
         xmlns:wsa=\"http://www.w3.org/2005/08/addressing\" xmlns:ter=\"http://www.onvif.org/ver10/error\">\
         <env:Body>{body}</env:Body></env:Envelope>"
    )
}

fn soap(status: StatusCode, body: &str) -> Response {
    (
        status,
        [("content-type", "application/soap+xml; charset=utf-8")],
        envelope(body),
    )
        .into_response()
}

fn fault(subcode: &str, reason: &str) -> Response {
    soap(
        StatusCode::BAD_REQUEST,
        &format!(
            "<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>{subcode}</env:Value></env:Subcode></env:Code>\
             <env:Reason><env:Text xml:lang=\"en\">{reason}</env:Text></env:Reason></env:Fault>"
        ),
    )
}

fn utc_now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

async fn device(State(camera): State<Shared>, uri: Uri, body: axum::body::Bytes) -> Response {
    let (response, empty_pull) = answer(&camera, &uri, &body);
    if empty_pull {
        // A long poll with nothing to give: wait a little, as a device would.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    response
}

/// The device's answer, and whether it is an empty pull.
fn answer(camera: &Shared, uri: &Uri, body: &[u8]) -> (Response, bool) {
    let response = respond(camera, uri, body);
    let empty = std::mem::take(&mut camera.lock().unwrap().last_pull_empty);
    (response, empty)
}

fn respond(camera: &Shared, uri: &Uri, body: &[u8]) -> Response {
    let Ok((operation, token)) = parse_request(body) else {
        return fault("ter:InvalidArgVal", "unreadable request");
    };
    if operation != "GetSystemDateAndTime"
        && !token
            .as_ref()
            .is_some_and(|t: &UsernameToken| t.user == USER && t.verify(PASSWORD))
    {
        camera.lock().unwrap().auth_failures += 1;
        return fault("ter:NotAuthorized", "Sender not authorized");
    }
    let mut cam = camera.lock().unwrap();
    let addr = cam.addr.unwrap();
    match operation.as_str() {
        "GetSystemDateAndTime" => {
            let now = chrono::Utc::now();
            use chrono::{Datelike, Timelike};
            soap(
                StatusCode::OK,
                &format!(
                    "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:UTCDateTime>\
                     <tt:Time><tt:Hour>{}</tt:Hour><tt:Minute>{}</tt:Minute><tt:Second>{}</tt:Second></tt:Time>\
                     <tt:Date><tt:Year>{}</tt:Year><tt:Month>{}</tt:Month><tt:Day>{}</tt:Day></tt:Date>\
                     </tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>",
                    now.hour(),
                    now.minute(),
                    now.second(),
                    now.year(),
                    now.month(),
                    now.day()
                ),
            )
        }
        "GetCapabilities" => soap(
            StatusCode::OK,
            &format!(
                "<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Events><tt:XAddr>http://{addr}/onvif/event_service</tt:XAddr>\
                 <tt:WSPullPointSupport>true</tt:WSPullPointSupport></tt:Events></tds:Capabilities></tds:GetCapabilitiesResponse>"
            ),
        ),
        "CreatePullPointSubscription" => {
            cam.subscriptions += 1;
            cam.live = cam.subscriptions;
            let id = cam.live;
            soap(
                StatusCode::OK,
                &format!(
                    "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>\
                     <wsa:Address>http://{addr}/onvif/subscription?id={id}</wsa:Address>\
                     <wsa:ReferenceParameters><dom:SubscriptionId xmlns:dom=\"urn:fake\">{id}</dom:SubscriptionId></wsa:ReferenceParameters>\
                     </tev:SubscriptionReference><wsnt:CurrentTime>{now}</wsnt:CurrentTime><wsnt:TerminationTime>{now}</wsnt:TerminationTime>\
                     </tev:CreatePullPointSubscriptionResponse>",
                    now = utc_now()
                ),
            )
        }
        "PullMessages" | "Renew" => {
            let asked = uri
                .query()
                .and_then(|q| q.strip_prefix("id="))
                .and_then(|id| id.parse::<u32>().ok());
            // The reference parameter must come back as a header, as WS-Addressing asks.
            let echoed = String::from_utf8_lossy(body)
                .contains(&format!(">{}</dom:SubscriptionId>", asked.unwrap_or(0)));
            if asked != Some(cam.live) || cam.live == 0 || !echoed {
                return soap(
                    StatusCode::BAD_REQUEST,
                    "<env:Fault><env:Code><env:Value>env:Receiver</env:Value></env:Code>\
                     <env:Reason><env:Text>unknown subscription</env:Text></env:Reason></env:Fault>",
                );
            }
            if operation == "Renew" {
                cam.renews += 1;
                return soap(
                    StatusCode::OK,
                    &format!(
                        "<wsnt:RenewResponse><wsnt:TerminationTime>{now}</wsnt:TerminationTime><wsnt:CurrentTime>{now}</wsnt:CurrentTime></wsnt:RenewResponse>",
                        now = utc_now()
                    ),
                );
            }
            cam.pulls += 1;
            if cam.pulls == 3 && !cam.rebooted {
                // The device reboots: the subscription is gone; its queue survives here so
                // that every message has to arrive exactly once.
                cam.rebooted = true;
                cam.live = 0;
            }
            let take = cam.queue.len().min(PER_PULL);
            let messages: String = cam.queue.drain(..take).collect();
            cam.last_pull_empty = messages.is_empty();
            soap(
                StatusCode::OK,
                &format!(
                    "<tev:PullMessagesResponse><tev:CurrentTime>{now}</tev:CurrentTime><tev:TerminationTime>{now}</tev:TerminationTime>{messages}</tev:PullMessagesResponse>",
                    now = utc_now()
                ),
            )
        }
        other => fault("ter:ActionNotSupported", &format!("no {other} here")),
    }
}

/// The notification messages of the Axis fixtures, in file order, with their topics.
fn axis_notifications() -> Option<Vec<(String, String)>> {
    let index = onesec_testdata::shared("data/onvif/axis/index.csv")?;
    let dir = index.parent().unwrap().to_path_buf();
    let mut out = Vec::new();
    for row in std::fs::read_to_string(&index).unwrap().lines().skip(1) {
        let mut cols = row.split(',');
        let file = cols.next().unwrap();
        if !file.starts_with("messages/") {
            continue; // GetEventInstancesResponse documents: the topic set, not events
        }
        let topic = cols.next().unwrap_or_default();
        let xml = std::fs::read_to_string(dir.join(file)).unwrap();
        let Some(start) = xml.find("<wsnt:NotificationMessage") else {
            assert!(topic.is_empty(), "{file} has a topic but no notification");
            continue;
        };
        let end =
            xml.find("</wsnt:NotificationMessage>").unwrap() + "</wsnt:NotificationMessage>".len();
        // The decoder names the topic without the ONVIF namespace prefix (`tns1:`).
        let topic: Vec<&str> = topic
            .split('/')
            .map(|level| level.trim_start_matches("tns1:"))
            .collect();
        out.push((topic.join("/"), xml[start..end].to_string()));
    }
    Some(out)
}

async fn fake_device(queue: Vec<String>) -> (SocketAddr, Shared) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let camera = Arc::new(Mutex::new(Camera {
        addr: Some(addr),
        queue: queue.into(),
        ..Camera::default()
    }));
    let router = axum::Router::new()
        .fallback(axum::routing::post(device))
        .with_state(camera.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (addr, camera)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulled_axis_messages_are_journaled_once_across_a_reboot_and_renewals() {
    let Some(notifications) = axis_notifications() else {
        return;
    };
    assert_eq!(notifications.len(), 36);
    let (addr, camera) = fake_device(notifications.iter().map(|(_, x)| x.clone()).collect()).await;
    let (wrong_addr, wrong_camera) = fake_device(vec![notifications[0].1.clone()]).await;

    let data = tempfile::tempdir().unwrap();
    let mut config = common::config(data.path());
    config.onvif.camera = vec![
        OnvifCamera {
            address: format!("http://{addr}"),
            user: USER.into(),
            password: PASSWORD.into(),
            device: "CAM-LOBBY".into(),
            pull_timeout_secs: 1,
            message_limit: 10,
            subscription_secs: 2,
            retry_max_secs: 1,
            ..OnvifCamera::default()
        },
        OnvifCamera {
            address: format!("{wrong_addr}"),
            user: USER.into(),
            password: "not-the-password".into(),
            device: "CAM-WRONG".into(),
            retry_max_secs: 1,
            ..OnvifCamera::default()
        },
    ];
    let (pipeline, server) = common::start(&config).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut stored = Vec::new();
    loop {
        let (done, renewed) = {
            let cam = camera.lock().unwrap();
            (cam.queue.is_empty(), cam.renews >= 1)
        };
        if done && renewed {
            stored = common::stored_events(&pipeline, 1000).await;
            if stored.len() >= notifications.len() {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out: {} stored, device state: queue {} subscriptions {} renews {}",
            stored.len(),
            camera.lock().unwrap().queue.len(),
            camera.lock().unwrap().subscriptions,
            camera.lock().unwrap().renews
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.abort();

    let cam = camera.lock().unwrap();
    assert!(cam.rebooted);
    assert!(cam.subscriptions >= 2, "subscribed again after the reboot");
    assert_eq!(cam.auth_failures, 0, "every token verified");
    drop(cam);
    let wrong = wrong_camera.lock().unwrap();
    assert!(wrong.auth_failures >= 1);
    assert_eq!(wrong.subscriptions, 0);
    assert_eq!(wrong.queue.len(), 1, "nothing pulled without the password");
    drop(wrong);

    // Exactly once each, in the order pulled (journal order), with the device's topic,
    // reported by the configured device.
    stored.sort_by_key(|e| e.id);
    assert_eq!(stored.len(), notifications.len());
    for (event, (topic, _)) in stored.iter().zip(&notifications) {
        assert_eq!(
            event.fields.get("onvif.topic"),
            Some(topic.as_str()),
            "{event:?}"
        );
        assert_eq!(event.host.as_deref(), Some("CAM-LOBBY"));
        assert_eq!(event.source.input, "onvif-pull:CAM-LOBBY");
        assert_eq!(event.source.format, "onvif-xml");
    }
}
