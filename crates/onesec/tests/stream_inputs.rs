//! Syslog streams (TCP and TLS) as an operator sends them by hand: good messages mixed with
//! bad ones, in both framings, and a connection that ends badly — cut inside an octet-counted
//! frame, or a TLS client that closes without close_notify. Every message that arrived whole
//! is journaled, every bad frame is a dead letter with its reason, its frame number and its
//! byte offset in the connection, and the source's counters add up. A bad UDP datagram is
//! record 1 at byte 0 of its datagram.

mod common;

use common::{Onesec, Options};
use rustls::pki_types::ServerName;
use serde_json::Value;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn good(n: usize) -> Vec<u8> {
    format!("<38>1 2026-03-10T16:40:{n:02}Z web-01 sshd 7100 - - Failed password for root from 203.0.113.{n} port 40000 ssh2").into_bytes()
}

/// One connection's bytes and what each frame in it is: `(offset, Some(reason part))` for a
/// frame that must be a dead letter, `(offset, None)` for a good one.
struct Stream {
    bytes: Vec<u8>,
    frames: Vec<(u64, Option<&'static str>)>,
}

impl Stream {
    fn line(&mut self, line: &[u8], bad: Option<&'static str>) {
        self.frames.push((self.bytes.len() as u64, bad));
        self.bytes.extend_from_slice(line);
        self.bytes.push(b'\n');
    }
    fn octets(&mut self, message: &[u8], bad: Option<&'static str>) {
        self.frames.push((self.bytes.len() as u64, bad));
        self.bytes
            .extend_from_slice(format!("{} ", message.len()).as_bytes());
        self.bytes.extend_from_slice(message);
    }
}

/// Good and bad frames in both framings (`max_message_bytes` = 1024), ending in an
/// octet-counted frame that says 500 bytes and is cut after a few: the connection closes.
fn mixed_stream() -> Stream {
    let mut s = Stream {
        bytes: Vec::new(),
        frames: Vec::new(),
    };
    s.line(&good(1), None);
    s.line(
        b"<13>Mar 10 16:43:00 fw CEF:0|Acme|Firewall|1.0",
        Some("CEF"),
    );
    s.octets(&good(2), None);
    s.line(
        b"<38>Mar 10 16:45:00 host sshd[1]: \xff\xfe bad \xc3\x28",
        Some("UTF-8"),
    );
    s.line(&[b'<'; 5000], Some("max_message_bytes"));
    s.line(&good(3), None);
    s.line(
        b"{\"time\": \"2026-03-10T16:44:00Z\", \"mess",
        Some("syslog"),
    );
    s.octets(&good(4), None);
    s.frames.push((s.bytes.len() as u64, Some("500")));
    s.bytes
        .extend_from_slice(b"500 <13>Mar 10 16:48:00 host app: cut short");
    s
}

fn start(tmp: &tempfile::TempDir) -> Onesec {
    let config = tmp.path().join("onesec.toml");
    std::fs::write(
        &config,
        "[syslog]\ntls = \"127.0.0.1:0\"\nmax_message_bytes = 1024\n",
    )
    .unwrap();
    Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        config: Some(config),
        ..Options::default()
    })
}

/// Waits until `input` counts `received` records, then checks the stream's outcome.
fn check(onesec: &Onesec, input: &str, stream: &Stream) {
    let goods = stream.frames.iter().filter(|f| f.1.is_none()).count() as u64;
    let bads = stream.frames.len() as u64 - goods;
    let deadline = Instant::now() + Duration::from_secs(30);
    let counters = loop {
        let sources = onesec.get_json("/api/v1/sources");
        let counters = sources["sources"]
            .as_array()
            .and_then(|all| all.iter().find(|s| s["source"] == input).cloned())
            .unwrap_or(Value::Null);
        if counters["received"].as_u64() >= Some(goods + bads) || Instant::now() > deadline {
            break counters;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        (
            counters["received"].as_u64(),
            counters["decoded"].as_u64(),
            counters["dead_lettered"].as_u64()
        ),
        (Some(goods + bads), Some(goods), Some(bads)),
        "{input}: every frame counted, the good ones decoded: {counters}\n{}",
        onesec.log_tail()
    );
    onesec.wait_for_detection(goods);
    let stored: Vec<String> = onesec
        .events()
        .iter()
        .filter(|e| e["source"]["input"] == input)
        .map(|e| e["raw"].as_str().unwrap_or("").to_string())
        .collect();
    let expected: Vec<String> = [1, 2, 3, 4]
        .map(|n| String::from_utf8(good(n)).unwrap())
        .to_vec();
    let mut sorted = stored.clone();
    sorted.sort();
    assert_eq!(
        sorted, expected,
        "{input}: the good messages are all stored"
    );

    let dead = onesec.get_json("/api/v1/dead-letters?limit=1000");
    let dead: Vec<&Value> = dead
        .as_array()
        .expect("dead letters are a list")
        .iter()
        .filter(|d| d["input"] == input)
        .collect();
    assert_eq!(dead.len() as u64, bads, "{input}: {dead:#?}");
    for (number, (offset, bad)) in stream.frames.iter().enumerate() {
        let Some(reason) = bad else { continue };
        let letter = dead
            .iter()
            .find(|d| d["byte_offset"].as_u64() == Some(*offset))
            .unwrap_or_else(|| {
                panic!("{input}: no dead letter at byte offset {offset} ({reason}): {dead:#?}")
            });
        assert!(
            letter["reason"].as_str().unwrap_or("").contains(reason),
            "{input}: the dead letter at {offset} says why ({reason}): {letter}"
        );
        assert_eq!(
            letter["line"].as_u64(),
            Some(number as u64 + 1),
            "{input}: the frame's number in the connection: {letter}"
        );
    }
}

#[test]
fn a_tcp_stream_keeps_its_good_messages_and_locates_every_bad_frame() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = start(&tmp);
    let stream = mixed_stream();
    common::send_tcp_bytes(onesec.syslog_tcp.expect("syslog TCP"), &stream.bytes);
    check(&onesec, "syslog-tcp", &stream);
    assert!(onesec.log_tail().lines().all(|l| !l.contains("panicked")));
}

#[test]
fn a_tls_client_that_closes_without_close_notify_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = start(&tmp);
    let addr = onesec.syslog_tls.expect("syslog TLS");
    let stream = mixed_stream();
    send_over_tls_and_drop(addr, &tmp.path().join("data/tls/cert.pem"), &stream.bytes);
    check(&onesec, "syslog-tls", &stream);
}

/// Writes `bytes` over TLS and closes the socket without close_notify, as a sender that
/// crashes or a careless client does.
fn send_over_tls_and_drop(addr: SocketAddr, cert: &std::path::Path, bytes: &[u8]) {
    let name = ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(common::tls_client(cert), name).unwrap();
    let socket = TcpStream::connect(addr).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, socket);
    stream.write_all(bytes).expect("TLS handshake and write");
    stream.flush().unwrap();
    // FIN without close_notify; then wait for the server to close, reading (and ignoring) what
    // it sent, so that no unread byte turns our close into a reset.
    let _ = stream.sock.shutdown(std::net::Shutdown::Write);
    let _ = stream.sock.set_read_timeout(Some(Duration::from_secs(30)));
    let mut sink = [0u8; 4096];
    while matches!(std::io::Read::read(&mut stream.sock, &mut sink), Ok(n) if n > 0) {}
}

#[test]
fn a_bad_datagram_is_record_one_at_byte_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = start(&tmp);
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = onesec.syslog_udp.expect("syslog UDP");
    let deadline = Instant::now() + Duration::from_secs(30);
    let dead = loop {
        // UDP may lose a datagram: send again until both are in.
        udp.send_to(&good(1), to).unwrap();
        udp.send_to(b"\x01\x02\xfe junk \x80", to).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let dead = onesec.get_json("/api/v1/dead-letters?limit=10");
        if dead.as_array().is_some_and(|d| !d.is_empty()) || Instant::now() > deadline {
            break dead;
        }
    };
    let letter = &dead[0];
    assert_eq!(letter["input"], "syslog-udp", "{letter}");
    assert!(
        letter["reason"].as_str().unwrap_or("").contains("UTF-8"),
        "{letter}"
    );
    assert_eq!(
        (letter["line"].as_u64(), letter["byte_offset"].as_u64()),
        (Some(1), Some(0)),
        "{letter}"
    );
}

/// A datagram over `syslog.max_message_bytes` (1024 here) is a dead letter naming the limit,
/// never a message silently cut at the limit and stored as if whole.
#[test]
fn an_oversized_datagram_is_a_dead_letter_not_a_cut_message() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = start(&tmp);
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = onesec.syslog_udp.expect("syslog UDP");
    let mut big = good(5);
    big.push(b' ');
    big.resize(3000, b'y');
    let deadline = Instant::now() + Duration::from_secs(30);
    let counters = loop {
        // UDP may lose a datagram: send again until it is counted.
        udp.send_to(&big, to).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let sources = onesec.get_json("/api/v1/sources");
        let counters = sources["sources"]
            .as_array()
            .and_then(|all| all.iter().find(|s| s["source"] == "syslog-udp").cloned())
            .unwrap_or(Value::Null);
        if counters["received"].as_u64() > Some(0) || Instant::now() > deadline {
            break counters;
        }
    };
    assert_eq!(counters["decoded"].as_u64(), Some(0), "{counters}");
    let dead = onesec.get_json("/api/v1/dead-letters?limit=10");
    let letter = &dead[0];
    assert!(
        letter["reason"]
            .as_str()
            .unwrap_or("")
            .contains("max_message_bytes"),
        "{letter}"
    );
    assert_eq!(letter["input"], "syslog-udp");
}
