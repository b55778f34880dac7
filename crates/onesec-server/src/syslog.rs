//! Syslog over UDP (one message per datagram), TCP (RFC 6587: octet counting or newline
//! framing, detected frame by frame: a frame that starts with a digit is octet-counted, one that
//! starts with `<` runs to the next newline) and TLS (RFC 5425: the same framings inside TLS).

use onesec_pipeline::Pipeline;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};

/// Most messages gathered into one journal append.
const BATCH: usize = 2048;

/// Input name of the UDP listener's events.
pub const UDP_INPUT: &str = "syslog-udp";

/// Receives datagrams; each is one message.
///
/// Receiving and journaling are two tasks joined by a queue of at most `queue` datagrams, so
/// the socket is read while a batch is journaled. When the queue is full (the pipeline is
/// slower than the senders), new datagrams are dropped and counted, and so are the datagrams
/// the kernel drops when its socket buffer overflows (read from `/proc/self/net/udp`): UDP
/// cannot slow its sender, so the policy is "drop the newest, count every drop". Memory stays
/// bounded by `queue` × `max_bytes`.
pub async fn serve_udp(socket: UdpSocket, pipeline: Arc<Pipeline>, max_bytes: usize, queue: usize) {
    let socket = Arc::new(socket);
    let (tx, rx) = tokio::sync::mpsc::channel::<Datagram>(queue.max(1));
    let journaling = tokio::spawn(journal_datagrams(rx, pipeline.clone(), max_bytes));
    let kernel = tokio::spawn(count_kernel_drops(socket.clone(), pipeline.clone()));
    // One byte more than the limit: a datagram that fills it is over the limit (the kernel cuts
    // a datagram to the buffer without a word), and is refused rather than stored cut.
    let mut buf = vec![0u8; max_bytes.saturating_add(1)];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, _)) => match tx.try_send(if n > max_bytes {
                Datagram::TooLarge(buf[..TOO_LARGE_HEAD.min(n)].to_vec())
            } else {
                Datagram::Message(buf[..n].to_vec())
            }) {
                Ok(()) => {}
                Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                    pipeline.ingestor().dropped(UDP_INPUT, 1);
                }
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => break,
            },
            Err(error) => tracing::warn!(%error, "syslog UDP receive failed"),
        }
    }
    journaling.abort();
    kernel.abort();
}

/// A received datagram: a message, or the first bytes of one over `max_message_bytes`.
enum Datagram {
    Message(Vec<u8>),
    TooLarge(Vec<u8>),
}

/// Drains the datagram queue in batches into the journal.
async fn journal_datagrams(
    mut rx: tokio::sync::mpsc::Receiver<Datagram>,
    pipeline: Arc<Pipeline>,
    max_bytes: usize,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(datagram) = next.take() {
            match datagram {
                Datagram::Message(message) => batch.push(message),
                Datagram::TooLarge(head) => {
                    pipeline
                        .ingestor()
                        .reject_at(
                            UDP_INPUT,
                            "syslog",
                            format!("syslog datagram of more than {max_bytes} bytes exceeds syslog.max_message_bytes = {max_bytes}; dropped (its first bytes kept)"),
                            head,
                            (1, Some(0)),
                        )
                        .await
                }
            }
            if batch.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if batch.is_empty() {
            continue;
        }
        // Each datagram is one record: a refused one is record 1 at byte 0 of its datagram.
        let at = vec![(1, 0); batch.len()];
        pipeline
            .ingestor()
            .ingest_frames(batch, &at, UDP_INPUT)
            .await;
    }
}

/// Adds the kernel's drops on this socket to the listener's dropped count, every 250 ms.
async fn count_kernel_drops(socket: Arc<UdpSocket>, pipeline: Arc<Pipeline>) {
    let mut counted = kernel_drops(&socket).unwrap_or(0);
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    loop {
        tick.tick().await;
        if let Some(now) = kernel_drops(&socket)
            && now > counted
        {
            pipeline.ingestor().dropped(UDP_INPUT, now - counted);
            tracing::warn!(
                dropped = now - counted,
                "syslog UDP: the kernel dropped datagrams (socket buffer full)"
            );
            counted = now;
        }
    }
}

/// The kernel's count of datagrams dropped on `socket` (Linux: the `drops` column of
/// `/proc/self/net/udp` or `udp6` for the socket's inode); `None` elsewhere.
fn kernel_drops(socket: &UdpSocket) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).ok()?;
        let link = link.to_string_lossy();
        let inode = link.strip_prefix("socket:[")?.strip_suffix(']')?;
        for table in ["/proc/self/net/udp", "/proc/self/net/udp6"] {
            let Ok(text) = std::fs::read_to_string(table) else {
                continue;
            };
            // sl local rem st tx:rx tr:tm retrnsmt uid timeout inode ref pointer drops
            for line in text.lines().skip(1) {
                let columns: Vec<&str> = line.split_whitespace().collect();
                if columns.get(9) == Some(&inode) {
                    return columns.get(12)?.parse().ok();
                }
            }
        }
        None
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = socket;
        None
    }
}

/// Accepts TCP connections; one task per connection.
pub async fn serve_tcp(listener: TcpListener, pipeline: Arc<Pipeline>, limits: TcpLimits) {
    let open = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                // Over the limit the connection is closed at once: a flood of idle connections
                // must not exhaust memory or file descriptors.
                let Ok(permit) = open.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, limit = limits.max_connections, "syslog TCP connection refused: too many open");
                    continue;
                };
                let pipeline = pipeline.clone();
                tokio::spawn(async move {
                    if let Err(error) =
                        read_connection(stream, &pipeline, limits, "syslog-tcp").await
                    {
                        tracing::debug!(%peer, %error, "syslog TCP connection ended");
                    }
                    drop(permit);
                });
            }
            Err(error) => tracing::warn!(%error, "syslog TCP accept failed"),
        }
    }
}

/// Accepts TLS connections (RFC 5425); after the handshake, the same framings as TCP.
pub async fn serve_tls(
    listener: TcpListener,
    tls: std::sync::Arc<rustls::ServerConfig>,
    pipeline: Arc<Pipeline>,
    limits: TcpLimits,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let open = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let Ok(permit) = open.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, limit = limits.max_connections, "syslog TLS connection refused: too many open");
                    continue;
                };
                let (pipeline, acceptor) = (pipeline.clone(), acceptor.clone());
                tokio::spawn(async move {
                    // A client that never finishes the handshake is dropped like an idle one.
                    match tokio::time::timeout(limits.idle, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let stream = EndAtMissingCloseNotify(stream);
                            if let Err(error) =
                                read_connection(stream, &pipeline, limits, "syslog-tls").await
                            {
                                tracing::debug!(%peer, %error, "syslog TLS connection ended");
                            }
                        }
                        Ok(Err(error)) => {
                            tracing::warn!(%peer, %error, "syslog TLS handshake failed")
                        }
                        Err(_) => tracing::warn!(%peer, "syslog TLS handshake timed out"),
                    }
                    drop(permit);
                });
            }
            Err(error) => tracing::warn!(%error, "syslog TLS accept failed"),
        }
    }
}

/// A TLS sender that closes its connection without close_notify (it crashed, or its library
/// does not send one) ends its stream as a TCP sender's FIN does: what arrived is kept. rustls
/// reports the missing alert as `UnexpectedEof`, which would otherwise fail the connection.
/// A truncation attack gains nothing here: whoever can cut the stream can drop it anyway.
struct EndAtMissingCloseNotify<S>(S);

impl<S: AsyncRead + Unpin> AsyncRead for EndAtMissingCloseNotify<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match std::pin::Pin::new(&mut self.0).poll_read(cx, buf) {
            std::task::Poll::Ready(Err(error))
                if error.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                std::task::Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

/// Bounds on syslog TCP senders.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    /// Largest message.
    pub max_bytes: usize,
    /// Open connections at most.
    pub max_connections: usize,
    /// A connection that sends nothing for this long is closed.
    pub idle: std::time::Duration,
}

/// Skips to the end of the current line without keeping it; returns the bytes skipped.
async fn discard_line<S: AsyncRead + Unpin>(reader: &mut BufReader<S>) -> std::io::Result<usize> {
    let mut skipped = 0;
    loop {
        let buffer = reader.fill_buf().await?;
        if buffer.is_empty() {
            return Ok(skipped);
        }
        match buffer.iter().position(|b| *b == b'\n') {
            Some(end) => {
                reader.consume(end + 1);
                return Ok(skipped + end + 1);
            }
            None => {
                let n = buffer.len();
                reader.consume(n);
                skipped += n;
            }
        }
    }
}

/// What one frame turned out to be.
enum Frame {
    Message(Vec<u8>),
    /// Over `max_message_bytes`: its size and its first bytes (for the dead letter).
    TooLarge(usize, Vec<u8>),
    /// The stream ended inside an octet-counted frame: the length it declared and what came.
    Truncated(usize, Vec<u8>),
    End,
}

/// First bytes of an oversized line kept in its dead letter, so the sender can be found.
const TOO_LARGE_HEAD: usize = 256;

async fn read_connection<S: AsyncRead + Unpin>(
    stream: S,
    pipeline: &Pipeline,
    limits: TcpLimits,
    input: &str,
) -> std::io::Result<()> {
    let max_bytes = limits.max_bytes;
    let mut reader = BufReader::new(stream);
    // Where the next frame starts in the connection and the number of the last one (empty
    // lines not counted): where a refused frame was, for its dead letter.
    let mut offset = 0u64;
    let mut number = 0usize;
    loop {
        let mut batch = Vec::new();
        let mut at = Vec::new();
        let mut refused = Vec::new();
        // Ok(true): the sender closed; Err: the connection failed or idled. Either way what
        // was read before is journaled first: a message that arrived whole is never lost.
        let mut outcome = Ok(false);
        loop {
            let read = tokio::time::timeout(limits.idle, read_frame(&mut reader, max_bytes)).await;
            let (frame, consumed) = match read {
                Ok(Ok(frame)) => frame,
                Ok(Err(error)) => {
                    outcome = Err(error);
                    break;
                }
                Err(_) => {
                    outcome = Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "idle"));
                    break;
                }
            };
            let start = offset;
            offset += consumed;
            match frame {
                Frame::Message(m) if m.is_empty() => {}
                Frame::Message(m) => {
                    number += 1;
                    batch.push(m);
                    at.push((number, start));
                }
                Frame::TooLarge(size, head) => {
                    number += 1;
                    let reason = format!(
                        "syslog frame of {size} bytes exceeds syslog.max_message_bytes = {max_bytes}; dropped (its first bytes kept)"
                    );
                    refused.push((reason, head, number, start));
                }
                Frame::Truncated(declared, received) => {
                    number += 1;
                    let reason = format!(
                        "octet-counted syslog frame says {declared} bytes, but the connection ended after {}",
                        received.len()
                    );
                    refused.push((reason, received, number, start));
                }
                Frame::End => {
                    outcome = Ok(true);
                    break;
                }
            }
            if batch.len() >= BATCH || reader.buffer().is_empty() {
                break;
            }
        }
        for (reason, raw, number, start) in refused {
            pipeline
                .ingestor()
                .reject_at(input, "syslog", reason, raw, (number, Some(start)))
                .await;
        }
        if !batch.is_empty() {
            pipeline.ingestor().ingest_frames(batch, &at, input).await;
        }
        match outcome {
            Ok(false) => {}
            Ok(true) => return Ok(()),
            Err(error) => return Err(error),
        }
    }
}

/// The next frame and how many bytes of the stream it took.
async fn read_frame<S: AsyncRead + Unpin>(
    reader: &mut BufReader<S>,
    max_bytes: usize,
) -> std::io::Result<(Frame, u64)> {
    let first = match reader.fill_buf().await?.first() {
        Some(b) => *b,
        None => return Ok((Frame::End, 0)),
    };
    if first.is_ascii_digit() {
        let mut length = Vec::new();
        // A length has at most 20 digits; a digit run without a space is not read unbounded.
        let counted = (&mut *reader)
            .take(21)
            .read_until(b' ', &mut length)
            .await? as u64;
        let digits = String::from_utf8_lossy(&length).trim().to_string();
        let Ok(size) = digits.parse::<usize>() else {
            return Ok((Frame::Message(length), counted));
        };
        if size > max_bytes {
            let mut sink = reader.take(size as u64);
            let skipped = tokio::io::copy(&mut sink, &mut tokio::io::sink()).await?;
            return Ok((Frame::TooLarge(size, Vec::new()), counted + skipped));
        }
        let mut message = Vec::with_capacity(size);
        let got = (&mut *reader)
            .take(size as u64)
            .read_to_end(&mut message)
            .await?;
        let taken = counted + got as u64;
        if got < size {
            return Ok((Frame::Truncated(size, message), taken));
        }
        return Ok((Frame::Message(message), taken));
    }
    let mut line = Vec::new();
    let n = (&mut *reader)
        .take(max_bytes as u64 + 1)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Ok((Frame::End, 0));
    }
    if line.len() > max_bytes && line.last() != Some(&b'\n') {
        let rest = discard_line(reader).await?;
        let size = line.len() + rest;
        line.truncate(TOO_LARGE_HEAD);
        return Ok((Frame::TooLarge(size, line), size as u64));
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok((Frame::Message(line), n as u64))
}

/// What a syslog TCP stream of `bytes` is cut into, by the listener's own framing code:
/// `Ok(message)` or `Err(size)` for a frame over `max_bytes` (skipped) or one the stream ends
/// inside (`size` = the length it declared). For the fuzz target
/// (`crates/onesec-server/fuzz`) and the seeded test below; not an API.
#[doc(hidden)]
pub fn frames_of(bytes: &[u8], max_bytes: usize) -> Vec<Result<Vec<u8>, usize>> {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return Vec::new();
    };
    runtime.block_on(async {
        let mut reader = BufReader::new(bytes);
        let mut frames = Vec::new();
        loop {
            match read_frame(&mut reader, max_bytes).await {
                Ok((Frame::Message(message), _)) => frames.push(Ok(message)),
                Ok((Frame::TooLarge(size, _) | Frame::Truncated(size, _), _)) => {
                    frames.push(Err(size))
                }
                Ok((Frame::End, _)) | Err(_) => return frames,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::frames_of;

    #[test]
    fn both_framings_and_their_limits() {
        let frames = frames_of(b"<13>a\n11 <13>octets\n<13>b\r\n5000 xyz", 100);
        assert_eq!(
            frames,
            [
                Ok(b"<13>a".to_vec()),
                Ok(b"<13>octets\n".to_vec()),
                Ok(b"<13>b".to_vec()),
                Err(5000),
            ]
        );
        let long = [b"<13>".as_slice(), &[b'x'; 300], b"\n<13>after\n"].concat();
        assert_eq!(frames_of(&long, 100), [Err(305), Ok(b"<13>after".to_vec())]);
    }

    /// Seeded random streams (digits, spaces and newlines over-represented so that both
    /// framings and bad counts come up): the framing ends, never yields a message over the
    /// limit, and never yields more message bytes than it was given.
    #[test]
    fn random_streams_are_cut_within_the_limits() {
        let mut rng = onesec_testdata::SplitMix64(0x5_1570_9F4A);
        let alphabet = b"0123456789 \n<>13abc\r";
        for _ in 0..2000 {
            let len = rng.below(600);
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    if rng.chance(0.7) {
                        alphabet[rng.below(alphabet.len())]
                    } else {
                        (rng.next_u64() >> 56) as u8
                    }
                })
                .collect();
            let max = 1 + rng.below(64);
            let frames = frames_of(&bytes, max);
            let total: usize = frames.iter().flatten().map(Vec::len).sum();
            assert!(total <= bytes.len(), "{bytes:?}");
            for frame in frames.iter().flatten() {
                assert!(frame.len() <= max.max(21), "{bytes:?} max {max}: {frame:?}");
            }
        }
    }
}
