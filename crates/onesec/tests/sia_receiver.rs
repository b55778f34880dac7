//! The SIA DC-09 receiver end to end: a panel connects over TCP, frames are answered as the
//! standard asks (ACK after the events are journaled, NAK for a stale encrypted frame, DUH for
//! an unreadable one, silence for a damaged one), and the events are stored, placed at the
//! panel's device and searchable; every refused frame is a dead letter.

mod common;

use common::{Onesec, Options};
use onesec_decode::{parse_sia_frame, sia_encrypt_for_panel, sia_frame};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const KEY: &str = "AAAAAAAAAAAAAAAA";

fn start(tmp: &tempfile::TempDir) -> Onesec {
    let config = tmp.path().join("onesec.toml");
    std::fs::write(
        &config,
        format!(
            "[sia]\nlisten = \"127.0.0.1:0\"\nmax_skew_secs = 120\n\
             [[sia.accounts]]\naccount = \"1234\"\ndevice = \"PANEL-PAR-1\"\n\
             [[sia.accounts]]\naccount = \"AAA\"\nkey = \"{KEY}\"\n"
        ),
    )
    .unwrap();
    Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        config: Some(config),
        ..Options::default()
    })
}

/// Sends one frame and reads the answer frame (`None` when nothing comes back in time).
fn exchange(stream: &mut TcpStream, frame: &[u8]) -> Option<Vec<u8>> {
    stream.write_all(frame).unwrap();
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(1) => {
                answer.push(byte[0]);
                if byte[0] == b'\r' {
                    return Some(answer);
                }
            }
            Ok(_) => return None,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                assert!(answer.is_empty(), "a partial answer: {answer:?}");
                return None;
            }
            Err(e) => panic!("reading the answer: {e}"),
        }
    }
}

fn token_and_sequence(answer: &[u8]) -> (String, String) {
    let key = |_: &str| Some(KEY.as_bytes().to_vec());
    let parsed = parse_sia_frame(answer, &key).expect("the answer is a valid DC-09 frame");
    (parsed.header.token, parsed.header.sequence)
}

fn timestamp(offset_secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(offset_secs))
        .format("_%H:%M:%S,%m-%d-%Y")
        .to_string()
}

#[test]
fn panels_are_answered_per_dc09_and_their_events_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = start(&tmp);
    let addr = onesec
        .sia
        .expect("the listening line names the SIA receiver");
    let mut panel = TcpStream::connect(addr).unwrap();
    panel
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();

    // A burglary in SIA-DCS and a duress in Contact ID: ACK echoing each sequence.
    let burglary =
        sia_frame("\"SIA-DCS\"0101R1L0#1234[#1234|Nri1/BA15^SERVER ROOM^]_10:00:00,03-10-2026");
    let answer = exchange(&mut panel, &burglary).expect("an ACK");
    assert_eq!(token_and_sequence(&answer), ("ACK".into(), "0101".into()));
    let duress = sia_frame("\"ADM-CID\"0102L0#1234[#1234|1121 01 003]_10:00:05,03-10-2026");
    let answer = exchange(&mut panel, &duress).expect("an ACK");
    assert_eq!(token_and_sequence(&answer), ("ACK".into(), "0102".into()));
    // A link test: ACK, no event.
    let answer = exchange(&mut panel, &sia_frame("\"NULL\"0103L0#1234[]")).expect("an ACK");
    assert_eq!(token_and_sequence(&answer).0, "ACK");

    // A damaged frame: no answer, the panel will repeat it.
    let mut damaged = sia_frame("\"SIA-DCS\"0104L0#1234[NBA2]");
    let last = damaged.len() - 3;
    damaged[last] = b'7';
    assert_eq!(exchange(&mut panel, &damaged), None);
    // An ID nobody knows, and content that is not Contact ID: DUH.
    let answer = exchange(&mut panel, &sia_frame("\"XYZ-ABC\"0105L0#1234[x]")).expect("a DUH");
    assert_eq!(token_and_sequence(&answer), ("DUH".into(), "0105".into()));
    let answer =
        exchange(&mut panel, &sia_frame("\"ADM-CID\"0106L0#1234[#1234|12]")).expect("a DUH");
    assert_eq!(token_and_sequence(&answer).0, "DUH");

    // Encrypted: a fresh frame is acknowledged with an encrypted ACK; a stale one gets NAK;
    // one for an account without a key gets DUH.
    let content =
        sia_encrypt_for_panel(KEY.as_bytes(), &format!("[#AAA|Nri2/TA7]{}", timestamp(0))).unwrap();
    let answer = exchange(
        &mut panel,
        &sia_frame(&format!("\"*SIA-DCS\"0107L0#AAA{content}")),
    )
    .expect("an ACK");
    assert_eq!(token_and_sequence(&answer), ("ACK".into(), "0107".into()));
    assert!(
        answer.windows(5).any(|w| w == b"*ACK\""),
        "an encrypted ACK: {}",
        String::from_utf8_lossy(&answer)
    );
    let stale = sia_encrypt_for_panel(
        KEY.as_bytes(),
        &format!("[#AAA|Nri2/TA8]{}", timestamp(-3600)),
    )
    .unwrap();
    let answer = exchange(
        &mut panel,
        &sia_frame(&format!("\"*SIA-DCS\"0108L0#AAA{stale}")),
    )
    .expect("a NAK");
    // DC-09's NAK names no sequence, receiver, line or account (`"NAK"0000R0L0A0[]`) and
    // carries the receiver's time, from which the panel sets its clock.
    let nak = String::from_utf8_lossy(&answer).to_string();
    let body = nak.get(9..nak.len() - 1).unwrap_or("");
    assert!(
        body.starts_with("\"NAK\"0000R0L0A0[]_"),
        "a DC-09 NAK: {nak:?}"
    );
    assert_eq!(
        answer,
        sia_frame(body),
        "CRC and length of the NAK: {nak:?}"
    );
    let answer = exchange(
        &mut panel,
        &sia_frame(&format!("\"*SIA-DCS\"0109L0#1234{content}")),
    )
    .expect("a DUH");
    assert_eq!(token_and_sequence(&answer).0, "DUH");

    // The three events acknowledged are stored, with the panel's device and the codes' meaning.
    onesec.wait_for_detection(3);
    let events: Vec<_> = onesec
        .events()
        .into_iter()
        .filter(|e| e["source"]["format"] == "sia-dc09")
        .collect();
    assert_eq!(events.len(), 3, "{events:#?}");
    let kind = |e: &serde_json::Value| e["fields"]["alarm.kind"].as_str().unwrap_or("").to_string();
    let burglary = events
        .iter()
        .find(|e| kind(e) == "burglary")
        .expect("the burglary");
    assert_eq!(burglary["host"], "PANEL-PAR-1");
    assert_eq!(burglary["class"], "alarm_signal");
    assert_eq!(burglary["fields"]["sia.zone"], "15");
    assert_eq!(burglary["fields"]["sia.text"], "SERVER ROOM");
    assert_eq!(burglary["time_ms"], 1_773_136_800_000i64);
    let duress = events
        .iter()
        .find(|e| kind(e) == "duress")
        .expect("the duress");
    assert_eq!(duress["activity"], "duress");
    let tamper = events
        .iter()
        .find(|e| kind(e) == "tamper")
        .expect("the decrypted tamper");
    assert_eq!(tamper["fields"]["sia.encrypted"], "true");
    assert_eq!(
        tamper["host"], "AAA",
        "an account without a device keeps its number as host"
    );

    // Damaged, unreadable and stale frames are dead letters with their reason.
    let dead = onesec.get_json("/api/v1/dead-letters?limit=50");
    let reasons: Vec<String> = dead
        .as_array()
        .expect("dead letters are a list")
        .iter()
        .filter(|d| d["format"] == "sia-dc09")
        .map(|d| d["reason"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:#?}");
    for expected in [
        "CRC mismatch",
        "expected the ID",
        "Contact ID",
        "answered NAK",
        "no AES key",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(expected)),
            "no dead letter saying {expected:?}: {reasons:#?}"
        );
    }
}

/// Every refused frame's dead letter says where it was: its number in the connection (`line`)
/// and the byte offset of its LF there (`byte_offset`), so an operator can find it in a
/// capture of the panel's traffic; the good frames beside it are stored.
#[test]
fn refused_frames_are_located_in_their_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = start(&tmp);
    let mut panel = TcpStream::connect(onesec.sia.expect("SIA receiver")).unwrap();
    panel
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut damaged = sia_frame("\"SIA-DCS\"0202L0#1234[#1234|NBA2]");
    let last = damaged.len() - 3;
    damaged[last] = b'7';
    let frames: Vec<(Vec<u8>, bool)> = vec![
        (
            sia_frame("\"SIA-DCS\"0201L0#1234[#1234|Nri1/BA15]_10:00:00,03-10-2026"),
            true,
        ),
        (damaged, false),
        (b"\nnot a frame at all\r".to_vec(), false),
        (sia_frame("\"XYZ-ABC\"0203L0#1234[x]"), false),
        (
            sia_frame("\"SIA-DCS\"0204L0#1234[#1234|Nri1/FA3]_10:00:10,03-10-2026"),
            true,
        ),
    ];
    let mut offset = 0u64;
    let mut expected = Vec::new();
    for (number, (frame, good)) in frames.iter().enumerate() {
        let answer = exchange(&mut panel, frame);
        if *good {
            assert_eq!(answer.map(|a| token_and_sequence(&a).0), Some("ACK".into()));
        } else {
            expected.push((number as u64 + 1, offset));
        }
        offset += frame.len() as u64;
    }
    onesec.wait_for_detection(2);
    let dead = onesec.get_json("/api/v1/dead-letters?limit=50");
    let mut located: Vec<(u64, u64)> = dead
        .as_array()
        .expect("dead letters are a list")
        .iter()
        .filter(|d| d["input"] == "sia-tcp")
        .map(|d| {
            (
                d["line"].as_u64().unwrap_or(0),
                d["byte_offset"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    located.sort_unstable();
    assert_eq!(located, expected, "{dead:#}");
}
