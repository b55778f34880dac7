//! Snapshot checkpoints of a partition: the state of its two engines and alert builders after
//! the messages up to a stream sequence, so a new owner restores it and reads the stream only
//! from the next sequence instead of replaying the partition from the start.
//!
//! Stored in the KV bucket `<prefix>_snapshots`, key `p<N>`, one value per partition (the
//! newest). Why a KV bucket on JetStream (and not PostgreSQL or an object store): the worker
//! already talks only to JetStream (no database connection), a KV value is replaced atomically
//! and read with one direct get, and the 2.9 server handles it; its limit is the server's
//! `max_payload` (1 MB by default): a larger snapshot is not written (logged) and that
//! partition's takeover replays, as before.
//!
//! # Format, version 1
//!
//! ```text
//! magic "OSCLSNAP" (8 bytes), version u32 = 1 (little-endian)
//! sequence u64        the last stream message the state covers
//! applied_count u64   messages of the partition up to and including it
//! 2 × (length u64, onesec-sigma engine snapshot)      primary lane, site lane
//! length u64, JSON [primary builder, site builder]     alerts built and their event ids
//! checksum: first 8 bytes of the SHA-256 of every byte before it
//! ```
//!
//! The engine snapshots carry their own rule-set fingerprint and settings: a snapshot made
//! under other rules is refused at restore, and the partition is replayed from the start.
//!
//! A snapshot is written only after the checkpoint at the same sequence was written (whose
//! alerts were acknowledged before it), so a snapshot's sequence is never beyond its
//! partition's checkpoint: restoring it and publishing only the alerts of messages after the
//! checkpoint loses nothing.

use crate::alerts::BuilderState;
use crate::error::ClusterError;
use crate::lease::partition_key;
use async_nats::jetstream::kv;
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"OSCLSNAP";
const VERSION: u32 = 1;
const CHECKSUM_LEN: usize = 8;

/// One partition's state after the messages up to `sequence`.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionSnapshot {
    /// Last stream sequence applied.
    pub sequence: u64,
    /// Messages of the partition applied up to there.
    pub applied_count: u64,
    /// Engine snapshots, primary lane then site lane.
    pub engines: [Vec<u8>; 2],
    /// Alert builders, primary lane then site lane.
    pub builders: [BuilderState; 2],
}

/// Why stored bytes are not a snapshot this build reads.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Not the magic, or another format version.
    #[error("not a partition snapshot of format version {VERSION}")]
    Format,
    /// Cut short or damaged.
    #[error("partition snapshot damaged: {0}")]
    Damaged(String),
}

impl PartitionSnapshot {
    /// The stored form.
    pub fn encode(&self) -> Result<Vec<u8>, ClusterError> {
        let builders = serde_json::to_vec(&self.builders)
            .map_err(|e| ClusterError::js("encoding a partition snapshot", e))?;
        let mut out = Vec::with_capacity(
            64 + self.engines.iter().map(Vec::len).sum::<usize>() + builders.len(),
        );
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.sequence.to_le_bytes());
        out.extend_from_slice(&self.applied_count.to_le_bytes());
        for part in self.engines.iter().chain(std::iter::once(&builders)) {
            out.extend_from_slice(&(part.len() as u64).to_le_bytes());
            out.extend_from_slice(part);
        }
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest[..CHECKSUM_LEN]);
        Ok(out)
    }

    /// Reads the stored form, checking magic, version and checksum.
    pub fn decode(bytes: &[u8]) -> Result<PartitionSnapshot, DecodeError> {
        if bytes.len() < MAGIC.len() + 4 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(DecodeError::Format);
        }
        if bytes[8..12] != VERSION.to_le_bytes() {
            return Err(DecodeError::Format);
        }
        let Some(body_len) = bytes.len().checked_sub(CHECKSUM_LEN) else {
            return Err(DecodeError::Damaged("shorter than its checksum".into()));
        };
        let (body, checksum) = bytes.split_at(body_len);
        if Sha256::digest(body)[..CHECKSUM_LEN] != *checksum {
            return Err(DecodeError::Damaged("checksum mismatch".into()));
        }
        let mut reader = Reader {
            bytes: body,
            at: 12,
        };
        let sequence = reader.u64()?;
        let applied_count = reader.u64()?;
        let primary = reader.part()?.to_vec();
        let site = reader.part()?.to_vec();
        let builders: [BuilderState; 2] = serde_json::from_slice(reader.part()?)
            .map_err(|e| DecodeError::Damaged(format!("alert builders: {e}")))?;
        if reader.at != body.len() {
            return Err(DecodeError::Damaged("trailing bytes".into()));
        }
        Ok(PartitionSnapshot {
            sequence,
            applied_count,
            engines: [primary, site],
            builders,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| DecodeError::Damaged(format!("truncated at byte {}", self.at)))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(raw))
    }

    fn part(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = usize::try_from(self.u64()?)
            .map_err(|_| DecodeError::Damaged("length out of range".into()))?;
        self.take(len)
    }
}

/// Reads a partition's snapshot: `Ok(None)` when there is none, `Err` with the reason when
/// the stored bytes are unreadable (the caller replays).
pub async fn read(
    snapshots: &kv::Store,
    partition: u16,
) -> Result<Option<Result<PartitionSnapshot, DecodeError>>, ClusterError> {
    let key = partition_key(partition);
    let value = snapshots
        .get(&key)
        .await
        .map_err(|e| ClusterError::js(format!("reading snapshot {key}"), e))?;
    Ok(value.map(|bytes| PartitionSnapshot::decode(&bytes)))
}

/// Stores a partition's snapshot if it fits in one message; the bytes written (0: too large,
/// not written).
pub async fn write(
    snapshots: &kv::Store,
    max_payload: usize,
    partition: u16,
    encoded: Vec<u8>,
) -> Result<usize, ClusterError> {
    let key = partition_key(partition);
    // Room for the headers of the KV message.
    if encoded.len() + 1024 > max_payload {
        tracing::warn!(
            partition,
            bytes = encoded.len(),
            max_payload,
            "snapshot larger than the server's max_payload: not written (a takeover replays)"
        );
        return Ok(0);
    }
    let len = encoded.len();
    snapshots
        .put(&key, encoded.into())
        .await
        .map_err(|e| ClusterError::js(format!("writing snapshot {key}"), e))?;
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PartitionSnapshot {
        PartitionSnapshot {
            sequence: 42,
            applied_count: 7,
            engines: [vec![1, 2, 3], vec![4, 5]],
            builders: [BuilderState::default(), BuilderState::default()],
        }
    }

    #[test]
    fn round_trips_and_refuses_damage() {
        let snapshot = sample();
        let bytes = snapshot.encode().unwrap();
        assert_eq!(PartitionSnapshot::decode(&bytes).unwrap(), snapshot);
        let mut flipped = bytes.clone();
        flipped[30] ^= 1;
        assert!(matches!(
            PartitionSnapshot::decode(&flipped),
            Err(DecodeError::Damaged(_))
        ));
        assert!(matches!(
            PartitionSnapshot::decode(&bytes[..bytes.len() - 3]),
            Err(DecodeError::Damaged(_))
        ));
        assert_eq!(
            PartitionSnapshot::decode(b"OSSIGSNP...."),
            Err(DecodeError::Format)
        );
    }
}
