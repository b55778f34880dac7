//! `onesec sources` against a running onesec: every configured source is listed (an ONVIF
//! camera that never answered at zero, "never" seen), and a syslog TCP sender's good and bad
//! lines are counted as received, decoded and dead-lettered, in the table and on /metrics.

mod common;

use common::{Onesec, Options, cli_as, send_syslog_tcp_newline};
use std::time::{Duration, Instant};

#[test]
fn sources_lists_every_source_with_its_counters() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("onesec.toml");
    // A camera on a port nothing listens on: listed, never seen.
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let camera = unused.local_addr().unwrap();
    drop(unused);
    std::fs::write(
        &config,
        format!(
            "[[onvif.camera]]\naddress = \"http://{camera}\"\ndevice = \"CAM-TEST\"\nretry_max_secs = 1\n"
        ),
    )
    .unwrap();
    let onesec = Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        config: Some(config),
        ..Options::default()
    });
    let tcp = onesec.syslog_tcp.expect("syslog TCP listening");
    send_syslog_tcp_newline(
        tcp,
        &[
            "<38>Mar 10 16:40:15 gw sshd[7100]: Failed password for root from 203.0.113.77 port 40000 ssh2".into(),
            "<38>Mar 10 16:40:16 gw sshd[7100]: Accepted password for alice from 203.0.113.77 port 40001 ssh2".into(),
            "<999>Mar 10 16:40:17 host app: bad pri".into(),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let table = loop {
        let output = cli_as(
            &["sources", "--server", onesec.base.as_str()],
            onesec.token(),
        );
        assert!(output.status.success(), "{output:?}");
        let table = String::from_utf8(output.stdout).unwrap();
        let tcp_line = table
            .lines()
            .find(|l| l.starts_with("syslog-tcp "))
            .unwrap_or("");
        if tcp_line.split_whitespace().nth(1) == Some("3") {
            break table;
        }
        assert!(
            Instant::now() < deadline,
            "syslog TCP never counted:\n{table}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let row = |name: &str| -> Vec<String> {
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in\n{table}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(&row("syslog-tcp")[1..4], ["3", "2", "1"], "{table}");
    assert_eq!(
        &row("onvif-pull:CAM-TEST")[1..7],
        ["0", "0", "0", "0", "0", "never"]
    );
    row("syslog-udp");
    row("http");
    let json = cli_as(
        &["sources", "--json", "--server", onesec.base.as_str()],
        onesec.token(),
    );
    let body: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(body["sources"].as_array().unwrap().len() >= 4, "{body}");
    let (status, metrics) = onesec.get_text("/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("onesec_source_dead_lettered_total{source=\"syslog-tcp\"} 1"),
        "{metrics}"
    );
}
