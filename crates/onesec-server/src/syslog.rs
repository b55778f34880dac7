//! Syslog over UDP (one message per datagram) and TCP (RFC 6587: octet counting or newline
//! framing, detected frame by frame: a frame that starts with a digit is octet-counted, one that
//! starts with `<` runs to the next newline).

use onesec_pipeline::Pipeline;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// Most messages gathered into one journal append.
const BATCH: usize = 2048;

/// Receives datagrams; each is one message. Datagrams already queued are batched together.
pub async fn serve_udp(socket: UdpSocket, pipeline: Arc<Pipeline>, max_bytes: usize) {
    let mut buf = vec![0u8; max_bytes.max(1024)];
    loop {
        let mut batch = Vec::new();
        match socket.recv_from(&mut buf).await {
            Ok((n, _)) => batch.push(buf[..n].to_vec()),
            Err(error) => {
                tracing::warn!(%error, "syslog UDP receive failed");
                continue;
            }
        }
        while batch.len() < BATCH {
            match socket.try_recv_from(&mut buf) {
                Ok((n, _)) => batch.push(buf[..n].to_vec()),
                Err(_) => break,
            }
        }
        pipeline
            .ingestor()
            .ingest_messages(batch, "syslog-udp")
            .await;
    }
}

/// Accepts TCP connections; one task per connection.
pub async fn serve_tcp(listener: TcpListener, pipeline: Arc<Pipeline>, max_bytes: usize) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let pipeline = pipeline.clone();
                tokio::spawn(async move {
                    if let Err(error) = read_connection(stream, &pipeline, max_bytes).await {
                        tracing::debug!(%peer, %error, "syslog TCP connection ended");
                    }
                });
            }
            Err(error) => tracing::warn!(%error, "syslog TCP accept failed"),
        }
    }
}

/// What one frame turned out to be.
enum Frame {
    Message(Vec<u8>),
    TooLarge(usize),
    End,
}

async fn read_connection(
    stream: TcpStream,
    pipeline: &Pipeline,
    max_bytes: usize,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let mut batch = Vec::new();
        let mut oversized = Vec::new();
        let mut ended = false;
        loop {
            match read_frame(&mut reader, max_bytes).await? {
                Frame::Message(m) if !m.is_empty() => batch.push(m),
                Frame::Message(_) => {}
                Frame::TooLarge(n) => oversized.push(n),
                Frame::End => {
                    ended = true;
                    break;
                }
            }
            if batch.len() >= BATCH || reader.buffer().is_empty() {
                break;
            }
        }
        for size in oversized {
            pipeline.ingestor().reject(
                "syslog-tcp",
                "syslog",
                format!("syslog frame of {size} bytes exceeds syslog.max_message_bytes = {max_bytes}; dropped"),
                Vec::new(),
            );
        }
        if !batch.is_empty() {
            pipeline
                .ingestor()
                .ingest_messages(batch, "syslog-tcp")
                .await;
        }
        if ended {
            return Ok(());
        }
    }
}

async fn read_frame(reader: &mut BufReader<TcpStream>, max_bytes: usize) -> std::io::Result<Frame> {
    let first = match reader.fill_buf().await?.first() {
        Some(b) => *b,
        None => return Ok(Frame::End),
    };
    if first.is_ascii_digit() {
        let mut length = Vec::new();
        reader.read_until(b' ', &mut length).await?;
        let digits = String::from_utf8_lossy(&length).trim().to_string();
        let Ok(size) = digits.parse::<usize>() else {
            return Ok(Frame::Message(length));
        };
        if size > max_bytes {
            let mut sink = reader.take(size as u64);
            tokio::io::copy(&mut sink, &mut tokio::io::sink()).await?;
            return Ok(Frame::TooLarge(size));
        }
        let mut message = vec![0u8; size];
        reader.read_exact(&mut message).await?;
        return Ok(Frame::Message(message));
    }
    let mut line = Vec::new();
    let n = (&mut *reader)
        .take(max_bytes as u64 + 1)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Ok(Frame::End);
    }
    if line.len() > max_bytes && line.last() != Some(&b'\n') {
        let mut rest = Vec::new();
        reader.read_until(b'\n', &mut rest).await?;
        return Ok(Frame::TooLarge(line.len() + rest.len()));
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(Frame::Message(line))
}
