//! Syslog over TLS (RFC 5425): a client that trusts onesec's certificate sends newline-framed
//! and octet-counted messages; they are stored with input `syslog-tls`. A client that does not
//! speak TLS on that port is dropped without harming the listener.

mod common;

use common::{Onesec, Options, tls_client};
use rustls::pki_types::ServerName;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

const FIRST: &str = "<38>1 2026-03-10T16:40:15Z web-01 sshd 7100 - - Failed password for root from 203.0.113.77 port 40000 ssh2";
const SECOND: &str = "<38>1 2026-03-10T16:40:16Z web-01 sshd 7100 - - Failed password for root from 203.0.113.77 port 40001 ssh2";

fn send_over_tls(addr: SocketAddr, client: Arc<rustls::ClientConfig>, bytes: &[u8]) {
    let name = ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(client, name).unwrap();
    let socket = TcpStream::connect(addr).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, socket);
    stream.write_all(bytes).expect("TLS handshake and write");
    stream.flush().unwrap();
    stream.conn.send_close_notify();
    let _ = stream.flush();
}

#[test]
fn syslog_over_tls_is_stored_and_a_plain_client_is_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("onesec.toml");
    std::fs::write(&config, "[syslog]\ntls = \"127.0.0.1:0\"\n").unwrap();
    let onesec = Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        config: Some(config),
        ..Options::default()
    });
    let addr = onesec
        .syslog_tls
        .expect("the listening line names the TLS port");
    let client = tls_client(&tmp.path().join("data/tls/cert.pem"));

    // Not TLS: the handshake fails, the connection is dropped, the listener stays.
    let mut plain = TcpStream::connect(addr).unwrap();
    plain.write_all(format!("{FIRST}\n").as_bytes()).unwrap();
    drop(plain);

    let octet_counted = format!("{} {SECOND}", SECOND.len());
    send_over_tls(addr, client, format!("{FIRST}\n{octet_counted}").as_bytes());
    onesec.wait_for_detection(2);
    let events = onesec.events();
    let over_tls: Vec<_> = events
        .iter()
        .filter(|e| e["source"]["input"] == "syslog-tls")
        .collect();
    assert_eq!(over_tls.len(), 2, "{events:#?}");
    assert!(
        over_tls
            .iter()
            .all(|e| e["fields"]["action"] == "ssh_failed_password")
    );
    assert_eq!(
        events.len(),
        2,
        "the plain-text attempt stored nothing: {events:#?}"
    );
}
