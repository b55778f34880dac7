//! The SIA DC-09 alarm receiver: intrusion panels connect over TCP and send frames
//! (`LF … CR`); each is answered as the standard asks — ACK only once its events are in the
//! journal, NAK for a time stamp outside the window, DUH for a frame it cannot read, nothing
//! for a damaged one (the panel repeats it). Every refused frame is kept as a dead letter.

use onesec_decode::{SiaFrameError, SiaHeader, SiaMessage, SiaReply};
use onesec_pipeline::{Pipeline, SiaConfig};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Input name of events received here (`source.input`).
/// Input name of the receiver's events (dead letters, per-source counters).
pub const INPUT: &str = "sia-tcp";
/// Format name of dead letters.
const FORMAT: &str = "sia-dc09";

/// What the receiver knows of each panel.
#[derive(Debug, Default)]
pub struct Panels {
    keys: HashMap<String, Vec<u8>>,
    devices: HashMap<String, String>,
    max_skew_ms: i64,
}

impl Panels {
    /// From the `[sia]` configuration; an unusable key is an error naming the account.
    pub fn from_config(config: &SiaConfig) -> Result<Panels, String> {
        let mut panels = Panels {
            max_skew_ms: i64::try_from(config.max_skew_secs)
                .unwrap_or(i64::MAX / 1000)
                .saturating_mul(1000),
            ..Panels::default()
        };
        for account in &config.accounts {
            let id = account.account.trim().to_ascii_uppercase();
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "sia.accounts: expected an account number of hex digits, found {:?}",
                    account.account
                ));
            }
            if let Some(key) = account.key_bytes()? {
                panels.keys.insert(id.clone(), key);
            }
            if !account.device.trim().is_empty() {
                panels.devices.insert(id, account.device.trim().to_string());
            }
        }
        Ok(panels)
    }

    fn key(&self, account: &str) -> Option<Vec<u8>> {
        self.keys.get(&account.to_ascii_uppercase()).cloned()
    }
}

/// Accepts panel connections; one task per connection.
pub async fn serve(
    listener: TcpListener,
    pipeline: Arc<Pipeline>,
    config: SiaConfig,
    panels: Panels,
) {
    let panels = Arc::new(panels);
    let open = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    let idle = Duration::from_secs(config.idle_secs.max(1));
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let Ok(permit) = open.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, limit = config.max_connections, "SIA connection refused: too many open");
                    continue;
                };
                let (pipeline, panels) = (pipeline.clone(), panels.clone());
                tokio::spawn(async move {
                    if let Err(error) = connection(stream, &pipeline, &panels, idle).await {
                        tracing::debug!(%peer, %error, "SIA connection ended");
                    }
                    drop(permit);
                });
            }
            Err(error) => tracing::warn!(%error, "SIA accept failed"),
        }
    }
}

async fn connection(
    stream: TcpStream,
    pipeline: &Pipeline,
    panels: &Panels,
    idle: Duration,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    // Where the next read starts in the connection and the number of the last frame: where a
    // refused frame was, for its dead letter.
    let mut offset = 0u64;
    let mut number = 0usize;
    loop {
        let mut frame = Vec::new();
        let read = tokio::time::timeout(idle, read_frame(&mut reader, &mut frame))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "idle"))??;
        if read == 0 {
            return Ok(());
        }
        let start = offset;
        offset += read as u64;
        if frame.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        number += 1;
        // The frame starts at its LF (or its first byte, without one): skip what ended the
        // previous frame.
        let skipped = frame
            .iter()
            .position(|b| !matches!(b, b'\r' | b' ' | b'\0'))
            .unwrap_or(0);
        let at = (number, Some(start + skipped as u64));
        if let Some(answer) = handle(&frame, pipeline, panels, at).await {
            write.write_all(&answer).await?;
        }
    }
}

/// Reads up to and including the next CR (at most [`onesec_decode`]'s frame limit; a longer
/// run is returned as is and refused by the parser).
async fn read_frame(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    frame: &mut Vec<u8>,
) -> std::io::Result<usize> {
    use tokio::io::AsyncReadExt;
    let limit = (onesec_decode::SIA_MAX_FRAME_BYTES + 16) as u64;
    (&mut *reader)
        .take(limit)
        .read_until(onesec_decode::SIA_FRAME_END, frame)
        .await
}

/// The answer to one frame, after its events are journaled.
/// `at`: the frame's number in its connection and the byte offset where it starts there.
async fn handle(
    frame: &[u8],
    pipeline: &Pipeline,
    panels: &Panels,
    at: (usize, Option<u64>),
) -> Option<Vec<u8>> {
    let frame = trim_frame(frame);
    let raw = String::from_utf8_lossy(frame).into_owned();
    let ingestor = pipeline.ingestor();
    let now = onesec_pipeline::now_ms();
    let message = match onesec_decode::parse_sia_frame(frame, &|account| panels.key(account)) {
        Ok(message) => message,
        Err(error) => {
            let answer = refused_answer(&error, now);
            ingestor
                .reject_at(INPUT, FORMAT, error.to_string(), frame.to_vec(), at)
                .await;
            return answer;
        }
    };
    if let Some(reason) = outside_window(&message, now, panels.max_skew_ms) {
        ingestor
            .reject_at(INPUT, FORMAT, reason, frame.to_vec(), at)
            .await;
        return Some(onesec_decode::sia_answer(
            SiaReply::Nak,
            &message.header,
            None,
            now,
        ));
    }
    let ctx = ingestor.decode_context(INPUT);
    let mut events = match onesec_decode::sia_events(&message, &raw, &ctx) {
        Ok(events) => events,
        Err(reason) => {
            ingestor
                .reject_at(INPUT, FORMAT, reason, frame.to_vec(), at)
                .await;
            return Some(duh(&message.header, now));
        }
    };
    if let Some(device) = panels
        .devices
        .get(&message.header.account.to_ascii_uppercase())
    {
        for event in &mut events {
            event.host = Some(device.clone());
        }
    }
    let expected = events.len();
    if expected > 0 {
        let report = ingestor
            .ingest_decoded(events, Vec::new(), FORMAT, INPUT)
            .await;
        if report.journal_error.is_some() || report.accepted != expected {
            // Not durable: no ACK, so the panel sends the frame again.
            tracing::error!(error = ?report.journal_error, "SIA frame not journaled; not acknowledged");
            return None;
        }
    }
    let key = panels.key(&message.header.account);
    Some(onesec_decode::sia_answer(
        SiaReply::Ack,
        &message.header,
        key.as_deref(),
        now,
    ))
}

/// DUH for a well-formed frame it cannot read; nothing for a damaged one.
fn refused_answer(error: &SiaFrameError, now: i64) -> Option<Vec<u8>> {
    error.duh_header().map(|header| duh(header, now))
}

fn duh(header: &SiaHeader, now: i64) -> Vec<u8> {
    onesec_decode::sia_answer(SiaReply::Duh, header, None, now)
}

/// Why an encrypted frame's time stamp is refused (replay protection), if it is.
fn outside_window(message: &SiaMessage, now: i64, max_skew_ms: i64) -> Option<String> {
    if !message.header.encrypted || max_skew_ms <= 0 {
        return None;
    }
    match message.time_ms {
        None => {
            Some("encrypted SIA frame without a time stamp (required for replay protection)".into())
        }
        Some(time) if (time - now).abs() > max_skew_ms => Some(format!(
            "encrypted SIA frame time stamp is {} s from the receiver's clock (sia.max_skew_secs = {}); answered NAK",
            (time - now) / 1000,
            max_skew_ms / 1000
        )),
        Some(_) => None,
    }
}

fn trim_frame(frame: &[u8]) -> &[u8] {
    let start = frame
        .iter()
        .position(|b| !matches!(b, b'\n' | b'\r' | b' ' | b'\0'))
        .unwrap_or(frame.len());
    let end = frame
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r' | b' ' | b'\0'))
        .map_or(start, |i| i + 1);
    &frame[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use onesec_pipeline::SiaAccount;

    #[test]
    fn keys_are_text_or_hex_and_checked() {
        let config = SiaConfig {
            accounts: vec![
                SiaAccount {
                    account: "12ab".into(),
                    key: "AAAAAAAAAAAAAAAA".into(),
                    device: "PANEL-1".into(),
                    ..SiaAccount::default()
                },
                SiaAccount {
                    account: "77".into(),
                    key_hex: "00112233445566778899aabbccddeeff".into(),
                    ..SiaAccount::default()
                },
            ],
            ..SiaConfig::default()
        };
        let panels = Panels::from_config(&config).unwrap();
        assert_eq!(panels.key("12AB").map(|k| k.len()), Some(16));
        assert_eq!(panels.key("77").map(|k| k[1]), Some(0x11));
        assert_eq!(panels.devices["12AB"], "PANEL-1");
        for (account, key, key_hex) in [
            ("1", "short", ""),
            ("2", "", "zz"),
            ("zz", "", ""),
            ("3", "AAAAAAAAAAAAAAAA", "00"),
        ] {
            let bad = SiaConfig {
                accounts: vec![SiaAccount {
                    account: account.into(),
                    key: key.into(),
                    key_hex: key_hex.into(),
                    ..SiaAccount::default()
                }],
                ..SiaConfig::default()
            };
            assert!(
                Panels::from_config(&bad).is_err(),
                "{account} {key} {key_hex}"
            );
        }
    }

    #[test]
    fn frames_are_trimmed_of_their_framing_bytes() {
        assert_eq!(trim_frame(b"\n1234\r"), b"1234");
        assert_eq!(trim_frame(b"\r\n\n"), b"");
    }
}
