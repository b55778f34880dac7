//! A hostile network, tried on a running onesec: malicious bodies (deeply nested JSON and XML,
//! invalid UTF-8, XML entity bombs and external entities), slow senders ("slowloris") on HTTP,
//! HTTPS, syslog TCP and SIA, more connections than allowed, cross-site requests (no cookie is
//! ever a credential), traversal in path parameters, and secrets in the logs. Each must be
//! refused or cut without harming the service: afterwards a good event is still taken.

mod common;

use common::{Onesec, Options};
use onesec_server::served_routes;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const GOOD_SYSLOG: &str = "<38>1 2026-03-10T16:40:15Z gw-01 sshd 7100 - - Failed password for root from 203.0.113.77 port 40000 ssh2";

fn with_config(tmp: &tempfile::TempDir, toml: &str) -> Options {
    let config = tmp.path().join("onesec.toml");
    std::fs::write(&config, toml).unwrap();
    Options {
        data_dir: tmp.path().join("data"),
        config: Some(config),
        ..Options::default()
    }
}

/// The service still takes a good event and answers health.
fn still_serving(onesec: &mut Onesec) {
    assert!(onesec.is_running(), "{}", onesec.log_tail());
    assert_eq!(onesec.get_text("/healthz"), (200, "ok".to_string()));
    let answer = onesec.post_events("syslog", GOOD_SYSLOG, None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["accepted"].as_u64(), Some(1), "{}", answer.body);
}

/// Errors of an ingest answer, as text.
fn reasons(answer: &common::Answer) -> String {
    answer.body["errors"].to_string()
}

#[test]
fn malicious_bodies_are_refused_with_a_reason_and_the_service_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let mut onesec = Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        ..Options::default()
    });

    // JSON nested 100 000 deep, as one document and as a line among good ones.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for format in ["json", "auto", "windows-json", "event-json"] {
        let answer = onesec.post_events(format, deep.clone(), None);
        assert_eq!(answer.status, 400, "{format}: {}", answer.body);
        assert!(
            reasons(&answer).contains("recursion limit"),
            "{format}: {}",
            answer.body
        );
    }
    let deep_object = format!("{}1{}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
    let answer = onesec.post_events("json", deep_object, None);
    assert_eq!(answer.status, 400, "{}", answer.body);

    // Invalid UTF-8 between two good lines: the good ones are taken, the bad one refused.
    let mut mixed = GOOD_SYSLOG.as_bytes().to_vec();
    mixed.extend_from_slice(b"\n<13>Mar 10 16:40:15 host app: \xff\xfe\xc3\x28 broken\n");
    mixed.extend_from_slice(GOOD_SYSLOG.as_bytes());
    let answer = onesec.post_events("syslog", mixed, None);
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.body["accepted"].as_u64(), Some(2), "{}", answer.body);
    assert!(reasons(&answer).contains("UTF-8"), "{}", answer.body);
    let answer = onesec.post_events("onvif-xml", b"<a>\xff\xfe</a>".to_vec(), None);
    assert_eq!(answer.status, 400, "{}", answer.body);

    // An entity bomb with an external entity, and an external DTD: refused for the DTD.
    let bomb = include_str!("../../onesec-decode/tests/data/onvif-entity-bomb.xml");
    let external = r#"<?xml version="1.0"?><!DOCTYPE n SYSTEM "http://127.0.0.1:9/n.dtd"><n/>"#;
    for body in [bomb, external] {
        let answer = onesec.post_events("onvif-xml", body, None);
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert_eq!(answer.body["accepted"].as_u64(), Some(0), "{}", answer.body);
        assert!(reasons(&answer).contains("<!DOCTYPE>"), "{}", answer.body);
        assert!(!answer.body.to_string().contains("root:"));
    }
    // XML nested 100 000 deep.
    let deep_xml = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    let answer = onesec.post_events("onvif-xml", deep_xml, None);
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        reasons(&answer).contains("nested deeper"),
        "{}",
        answer.body
    );

    // Every refused record is a dead letter, none a crash.
    let dead = onesec.get_json("/api/v1/dead-letters?limit=1000");
    assert!(dead.as_array().unwrap().len() >= 9, "{dead}");
    still_serving(&mut onesec);
}

/// Reads until the peer closes (or `limit` passes); returns how long that took, `None` if
/// the connection was still open at the limit.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buffer = [0u8; 4096];
    while start.elapsed() < limit {
        match stream.read(&mut buffer) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(start.elapsed()),
        }
    }
    None
}

/// What a trickling sender saw: whether and when the peer closed, and what it answered.
struct Trickled {
    closed: bool,
    after: Duration,
    answer: Vec<u8>,
}

/// Sends `bytes` (over and over) one byte every 100 ms until the peer closes the connection or
/// 15 s pass, reading whatever the peer answers meanwhile.
fn trickle_on(mut stream: TcpStream, bytes: &[u8]) -> Trickled {
    stream
        .set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    let start = Instant::now();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    for byte in bytes.iter().cycle() {
        let closed = |answer| Trickled {
            closed: true,
            after: start.elapsed(),
            answer,
        };
        if start.elapsed() > Duration::from_secs(15) {
            break;
        }
        if stream.write_all(std::slice::from_ref(byte)).is_err() {
            return closed(answer);
        }
        match stream.read(&mut buffer) {
            Ok(0) => return closed(answer),
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return closed(answer),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Trickled {
        closed: false,
        after: start.elapsed(),
        answer,
    }
}

/// Trickles `bytes` to a new connection: true when the peer cut it, and not before 0.8 s (the
/// cut comes from the time limit, not from the bytes themselves).
fn trickle(addr: SocketAddr, bytes: &[u8]) -> bool {
    let seen = trickle_on(TcpStream::connect(addr).unwrap(), bytes);
    seen.closed && seen.after >= Duration::from_millis(800)
}

/// Slowloris on HTTP: a request header trickled a byte at a time, a connection that says
/// nothing, and more connections than `http.max_connections`. The slow ones are cut after
/// `http.header_timeout_secs`, the extra one at once, and the service answers afterwards.
#[test]
fn slow_http_senders_are_cut_and_cannot_hold_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let mut onesec = Onesec::start(&with_config(
        &tmp,
        "[http]\nheader_timeout_secs = 1\nmax_connections = 4\n",
    ));
    let addr: SocketAddr = onesec.base.trim_start_matches("http://").parse().unwrap();
    let header = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    assert!(
        trickle(addr, header),
        "a header trickled a byte every 100 ms is cut"
    );

    // Four connections fill http.max_connections: two silent, two trickling.
    let mut silent: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let trickling: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || trickle(addr, header)))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = TcpStream::connect(addr).unwrap();
    let _ = extra.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let cut = closed_within(&mut extra, Duration::from_secs(5));
    let mut answer = String::new();
    let _ = extra.read_to_string(&mut answer);
    assert!(
        cut.is_some() && !answer.contains("200 OK"),
        "a fifth connection is closed unanswered: {answer:?}"
    );
    for stream in &mut silent {
        let cut = closed_within(stream, Duration::from_secs(15));
        assert!(cut.is_some(), "a silent connection is closed");
    }
    for thread in trickling {
        assert!(thread.join().unwrap(), "a trickling connection is cut");
    }
    still_serving(&mut onesec);
}

/// A request whose header came at once but whose body trickles in is answered 408 after
/// `http.request_timeout_secs`, and the service goes on.
#[test]
fn a_trickled_request_body_times_out() {
    let tmp = tempfile::tempdir().unwrap();
    let mut onesec = Onesec::start(&with_config(&tmp, "[http]\nrequest_timeout_secs = 1\n"));
    let addr: SocketAddr = onesec.base.trim_start_matches("http://").parse().unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    let token = onesec.token().unwrap().to_string();
    write!(
        stream,
        "POST /api/v1/events?format=syslog HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 100000\r\n\r\n"
    )
    .unwrap();
    let seen = trickle_on(stream, b"x");
    let answer = String::from_utf8_lossy(&seen.answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(seen.after >= Duration::from_millis(800));
    assert_eq!(onesec.status()["journal_seq"].as_u64(), Some(0));
    still_serving(&mut onesec);
}

/// Over TLS, a client that connects and never finishes the handshake is cut as well.
#[test]
fn a_stalled_tls_handshake_is_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let mut onesec = Onesec::start(&with_config(
        &tmp,
        "[http]\ntls = \"self-signed\"\nheader_timeout_secs = 1\n",
    ));
    let addr: SocketAddr = onesec.base.trim_start_matches("https://").parse().unwrap();
    let mut stalled = TcpStream::connect(addr).unwrap();
    // The start of a ClientHello, then nothing.
    stalled.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00]).unwrap();
    assert!(closed_within(&mut stalled, Duration::from_secs(15)).is_some());
    still_serving(&mut onesec);
}

/// Syslog TCP: a frame trickled a byte at a time never completes within
/// `syslog.tcp_idle_secs`, so the connection is cut although it is never silent.
#[test]
fn a_trickled_syslog_frame_is_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let mut onesec = Onesec::start(&with_config(&tmp, "[syslog]\ntcp_idle_secs = 1\n"));
    let tcp = onesec.syslog_tcp.expect("syslog TCP");
    let line = format!("{GOOD_SYSLOG} and it goes on and on");
    assert!(
        trickle(tcp, line.as_bytes()),
        "a line trickled a byte every 100 ms is cut"
    );
    let octets = format!("400 {GOOD_SYSLOG}");
    assert!(
        trickle(tcp, octets.as_bytes()),
        "an octet-counted frame trickled a byte every 100 ms is cut"
    );
    still_serving(&mut onesec);
}

/// SIA DC-09: a frame trickled a byte at a time is cut after `sia.idle_secs`.
#[test]
fn a_trickled_sia_frame_is_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let mut onesec = Onesec::start(&with_config(
        &tmp,
        "[sia]\nlisten = \"127.0.0.1:0\"\nidle_secs = 1\n[[sia.accounts]]\naccount = \"1234\"\ndevice = \"PANEL-1\"\n",
    ));
    let sia = onesec.sia.expect("SIA listener");
    let frame = b"\n C4E30025\"SIA-DCS\"0001L0#1234[#1234|Nri1/BA01]_13:14:15,03-10-2026";
    assert!(
        trickle(sia, frame),
        "an SIA frame trickled a byte every 100 ms is cut"
    );
    still_serving(&mut onesec);
}

/// No cookie is a credential for a change (so a cross-site request carries none; the console's
/// session cookie needs the `X-Onesec-Console` header too, which another origin cannot send),
/// no API answer sets one, and no answer allows another origin to read it.
#[test]
fn cross_site_requests_carry_no_credential() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        ..Options::default()
    });
    let token = onesec.token().unwrap().to_string();
    let client = reqwest::blocking::Client::new();
    let login = client
        .post(format!("{}/api/v1/auth/login", onesec.base))
        .json(&serde_json::json!({"user": common::ADMIN, "password": common::ADMIN_PASSWORD}))
        .send()
        .unwrap();
    assert_eq!(login.status(), 200);
    assert!(
        login.headers().get("set-cookie").is_none(),
        "no cookie is set"
    );
    for cookie in [
        format!("session={token}"),
        format!("token={token}"),
        format!("Authorization=Bearer {token}"),
        format!("onesec_session={token}"),
    ] {
        let answer = client
            .post(format!("{}/api/v1/directory/reload", onesec.base))
            .header("cookie", &cookie)
            .header("origin", "https://evil.example")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("a=b")
            .send()
            .unwrap();
        assert_eq!(
            answer.status(),
            401,
            "a cookie is not a credential: {cookie}"
        );
    }
    let preflight = client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/directory/reload", onesec.base),
        )
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .send()
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "no origin is allowed to read answers"
    );
    assert!(preflight.status().is_client_error());
}

/// Path parameters are identifiers, never paths: traversal and encoded separators in every
/// parameter of every route find nothing, fail no request with 500 and read no file.
#[test]
fn path_parameters_cannot_traverse() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        ..Options::default()
    });
    let attempts = [
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "..%2f..%2fonesec.db",
        "%2e%2e%2f%2e%2e%2fauth%2fauth.db",
        "..%5C..%5Caudit%5Csigning.key",
        "%00",
        "..",
    ];
    let client = reqwest::blocking::Client::new();
    for (method, pattern) in served_routes() {
        if !pattern.contains('{') {
            continue;
        }
        for attempt in attempts {
            let path = pattern
                .split('/')
                .map(|part| if part.starts_with('{') { attempt } else { part })
                .collect::<Vec<_>>()
                .join("/");
            let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap();
            let response = client
                .request(method.clone(), format!("{}{path}", onesec.base))
                .bearer_auth(onesec.token().unwrap())
                .json(&serde_json::json!({"comment": "x"}))
                .send()
                .unwrap();
            let status = response.status().as_u16();
            let body = response.text().unwrap_or_default();
            assert!(
                (400..500).contains(&status),
                "{method} {path}: {status} {body}"
            );
            assert!(
                !body.contains("root:") && !body.contains("SQLite format"),
                "{method} {path}: {body}"
            );
        }
    }
    for raw in [
        "/../../../../etc/passwd",
        "/api/v1/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
    ] {
        let mut stream = TcpStream::connect(onesec.base.trim_start_matches("http://")).unwrap();
        write!(
            stream,
            "GET {raw} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(!answer.contains("root:"), "{raw}: {answer}");
        assert!(!answer.starts_with("HTTP/1.1 2"), "{raw}: {answer}");
    }
}

/// Passwords, session and API tokens, the setup token and the audit signing key appear in no
/// log line (at debug level), in no audit entry, and not in clear in the auth database.
#[test]
fn secrets_are_never_logged() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let setup_token_file = data.join("auth/setup-token");
    let mut onesec = Onesec::start(&Options {
        data_dir: data.clone(),
        log: Some("debug".into()),
        ..Options::default()
    });
    let session = onesec.token().unwrap().to_string();
    let api_token = onesec.issue_token("shipper", "ingest", &[]);
    let client = reqwest::blocking::Client::new();
    let wrong = client
        .post(format!("{}/api/v1/auth/login", onesec.base))
        .json(&serde_json::json!({"user": common::ADMIN, "password": "Wrong-But-Secret-Pw1"}))
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let answer = client
        .post(format!("{}/api/v1/events?format=syslog", onesec.base))
        .bearer_auth(&api_token)
        .body(GOOD_SYSLOG)
        .send()
        .unwrap();
    assert_eq!(answer.status(), 200);
    let denied = client
        .get(format!("{}/api/v1/status", onesec.base))
        .bearer_auth(&api_token)
        .send()
        .unwrap();
    assert_eq!(denied.status(), 403);
    assert!(
        !setup_token_file.exists(),
        "the setup token is gone once used"
    );
    let signing_key = std::fs::read_to_string(data.join("audit/signing.key")).unwrap();
    onesec.kill();

    let log = std::fs::read_to_string(&onesec.log_path).unwrap();
    assert!(log.contains("DEBUG"), "the log ran at debug level");
    let audit = String::from_utf8_lossy(&std::fs::read(data.join("audit/leaves.bin")).unwrap())
        .into_owned();
    let auth_db =
        String::from_utf8_lossy(&std::fs::read(data.join("auth/auth.db")).unwrap()).into_owned();
    let stdout = onesec.stdout.lock().unwrap().join("\n");
    // The setup token is shown once, on standard output of the first start, by design.
    let setup_token = stdout
        .split("\"setup_token\": \"")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_hexdigit)
                .collect::<String>()
        })
        .expect("the first start prints its setup token");
    assert!(setup_token.len() >= 32, "{setup_token}");
    for place in [&log, &audit, &auth_db] {
        assert!(
            !place.contains(&setup_token),
            "the setup token is stored or logged"
        );
    }
    for (what, secret) in [
        ("the admin password", common::ADMIN_PASSWORD),
        ("a wrong password", "Wrong-But-Secret-Pw1"),
        ("the session token", session.as_str()),
        ("the API token", api_token.as_str()),
        ("the signing key", signing_key.trim()),
    ] {
        for (place, text) in [
            ("the log", &log),
            ("the audit log", &audit),
            ("the auth database", &auth_db),
            ("standard output", &stdout),
        ] {
            assert!(!text.contains(secret), "{what} is in {place}");
        }
    }
}
