//! EVTX files (the binary Windows event log): records are rendered to EVTX-JSON by the `evtx`
//! crate and then read by the Windows JSON decoder, so an `.evtx` file and its JSON export give
//! the same events.

use evtx::err::EvtxError;
use evtx::{EvtxParser, ParserSettings};

/// The first eight bytes of every EVTX file.
pub const EVTX_MAGIC: &[u8; 8] = b"ElfFile\0";

/// One record of an EVTX file, rendered as one line of EVTX-JSON
/// (`{"Event":{"System":{..},"EventData":{..}}}`), the shape format `windows-json` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvtxRecord {
    /// The record's `EventRecordID`.
    pub record_id: u64,
    /// The record as one line of JSON.
    pub json: String,
}

/// Why part of an EVTX file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvtxReadError {
    /// The file header is not an EVTX header: nothing can be read.
    #[error("not an EVTX file: {reason}")]
    File {
        /// What the parser found.
        reason: String,
    },
    /// A 64 KiB chunk is damaged or cut off: its records are lost, the other chunks are read.
    #[error(
        "EVTX chunk {chunk} (file bytes {start}..{end}) cannot be read: {reason}; its records are skipped, the other chunks are kept"
    )]
    Chunk {
        /// Chunk number in the file (0-based).
        chunk: u64,
        /// First byte of the chunk in the file.
        start: u64,
        /// Byte after the chunk's end.
        end: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// One record cannot be read or rendered; the records around it are kept.
    #[error("EVTX record {record} cannot be read: {reason}")]
    Record {
        /// The record's id, or where it is when the id is unreadable.
        record: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Size of the file header and of a chunk (fixed by the format).
const HEADER_BYTES: u64 = 4096;
const CHUNK_BYTES: u64 = 65536;

/// Reads every record of an EVTX file in record order: the records that could be read, and an
/// error for each chunk or record that could not. Fails as a whole only on a bad file header.
pub fn read_evtx(bytes: Vec<u8>) -> Result<Vec<Result<EvtxRecord, EvtxReadError>>, EvtxReadError> {
    if !bytes.starts_with(EVTX_MAGIC) {
        return Err(EvtxReadError::File {
            reason: format!(
                "expected the magic 'ElfFile\\0', found {:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(8)])
            ),
        });
    }
    let cut_chunk = cut_off_chunk(bytes.len() as u64);
    // One thread: decoding runs beside ingest, and record order must not depend on scheduling.
    let settings = ParserSettings::new().num_threads(1).indent(false);
    let mut parser = EvtxParser::from_buffer(bytes)
        .map_err(|e| EvtxReadError::File { reason: chain(&e) })?
        .with_configuration(settings);
    let mut records: Vec<_> = parser
        .records_json()
        .map(|record| match record {
            Ok(record) => Ok(EvtxRecord {
                record_id: record.event_record_id,
                json: record.data,
            }),
            Err(error) => Err(classify(&error)),
        })
        .collect();
    records.extend(cut_chunk.map(Err));
    Ok(records)
}

/// The parser stops silently at a chunk the file ends inside (it takes it for the end of the
/// log): such a cut-off chunk is an error of its own, so its lost records are not unnoticed.
fn cut_off_chunk(len: u64) -> Option<EvtxReadError> {
    let partial = len.checked_sub(HEADER_BYTES)? % CHUNK_BYTES;
    if partial == 0 {
        return None;
    }
    let chunk = (len - HEADER_BYTES) / CHUNK_BYTES;
    Some(EvtxReadError::Chunk {
        chunk,
        start: HEADER_BYTES + chunk * CHUNK_BYTES,
        end: HEADER_BYTES + (chunk + 1) * CHUNK_BYTES,
        reason: format!("the file ends {partial} bytes into it (cut off)"),
    })
}

/// Where a parser error is (chunk or record) and why, from the error and its sources.
fn classify(error: &EvtxError) -> EvtxReadError {
    match error {
        EvtxError::FailedToParseChunk { chunk_id, source } => EvtxReadError::Chunk {
            chunk: *chunk_id,
            start: HEADER_BYTES + chunk_id * CHUNK_BYTES,
            end: HEADER_BYTES + (chunk_id + 1) * CHUNK_BYTES,
            reason: chain(source.as_ref()),
        },
        EvtxError::FailedToParseRecord { record_id, source } => EvtxReadError::Record {
            record: record_id.to_string(),
            reason: chain(source.as_ref()),
        },
        EvtxError::FailedToReadRecordAt { .. } => EvtxReadError::Record {
            record: "(unknown id)".into(),
            reason: chain(error),
        },
        other => EvtxReadError::Record {
            record: "(unknown id)".into(),
            reason: chain(other),
        },
    }
}

/// An error and all its sources, `: `-separated.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let part = inner.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = inner.source();
    }
    text
}
