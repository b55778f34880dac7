//! The dedicated writer thread: group commit.
//!
//! Appenders send [`Command`]s over a channel. The thread takes everything
//! that is pending, assigns sequences in arrival order, encodes all records
//! into one buffer, writes it with as few `write` calls as possible, fsyncs
//! once for the whole group (per [`FsyncPolicy`]), publishes the new durable
//! sequence and only then completes each request.

use std::fs::File;
use std::io::Write;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use tracing::{debug, error, info};

use onesec_keys::{KeyId, KeyRing, NonceSource, SEAL_OVERHEAD, Sealer};

use crate::error::JournalError;
use crate::format::{HEADER_LEN, RECORD_HEADER_LEN, encode_record, encode_sealed_record};
use crate::oneshot;
use crate::segment::create_segment;
use crate::{FsyncPolicy, Shared, lock};

/// Stop collecting more requests into a group beyond this many payload bytes.
const MAX_GROUP_BYTES: usize = 16 << 20;
/// Hand the encode buffer to the OS whenever it grows beyond this.
const FLUSH_BYTES: usize = 4 << 20;

/// Reply channel of an append.
pub(crate) type AppendReply = oneshot::Sender<Result<RangeInclusive<u64>, JournalError>>;
/// Reply channel of an explicit sync.
pub(crate) type SyncReply = oneshot::Sender<Result<(), JournalError>>;

/// A request to the writer thread.
pub(crate) enum Command {
    /// Append these payloads as consecutive records.
    Append {
        payloads: Vec<Vec<u8>>,
        reply: AppendReply,
    },
    /// Fsync now, whatever the policy, once everything before it is written.
    Sync { reply: SyncReply },
}

impl Command {
    fn bytes(&self) -> usize {
        match self {
            Command::Append { payloads, .. } => {
                payloads.iter().map(|p| p.len() + RECORD_HEADER_LEN).sum()
            }
            Command::Sync { .. } => 0,
        }
    }
}

enum Ack {
    Append(RangeInclusive<u64>, AppendReply),
    Sync(SyncReply),
}

/// What the writer seals new records with: the ring's current key and this writer's nonces
/// (a random prefix drawn when the writer starts, then the record's sequence), the per-prefix
/// subkey derived once for the writer's life.
pub(crate) struct Sealing {
    ring: Arc<KeyRing>,
    sealer: Sealer,
}

impl Sealing {
    /// Sealing with `keys`' current key, or none without a ring.
    pub(crate) fn new(keys: Option<Arc<KeyRing>>) -> Result<Option<Sealing>, JournalError> {
        let Some(ring) = keys else { return Ok(None) };
        let sealer = ring.journal_current().sealer(NonceSource::new()?);
        Ok(Some(Sealing { ring, sealer }))
    }
}

/// The segment appended to, as recovery left it.
pub(crate) struct Active {
    pub(crate) file: File,
    pub(crate) path: PathBuf,
    pub(crate) len: u64,
    /// The key its header names.
    pub(crate) key: Option<KeyId>,
}

pub(crate) struct Writer {
    shared: Arc<Shared>,
    segment_bytes: u64,
    policy: FsyncPolicy,
    file: File,
    path: PathBuf,
    /// Bytes in the active segment file (header included), excluding `buf`.
    seg_len: u64,
    /// Next sequence to assign.
    next_seq: u64,
    buf: Vec<u8>,
    /// Bytes written to the active segment since its last fsync.
    dirty: bool,
    last_sync: Instant,
    /// Set after an I/O failure: every later request fails with this reason.
    failed: Option<String>,
    sealing: Option<Sealing>,
    /// The key the active segment's header names; a record is never sealed with another.
    active_key: Option<KeyId>,
}

impl Writer {
    pub(crate) fn new(
        shared: Arc<Shared>,
        segment_bytes: u64,
        policy: FsyncPolicy,
        active: Active,
        next_seq: u64,
        sealing: Option<Sealing>,
    ) -> Self {
        Writer {
            shared,
            segment_bytes,
            policy,
            file: active.file,
            path: active.path,
            seg_len: active.len,
            next_seq,
            buf: Vec::new(),
            dirty: false,
            last_sync: Instant::now(),
            failed: None,
            sealing,
            active_key: active.key,
        }
    }

    /// The key new records are sealed with (`None`: plain).
    fn wanted_key(&self) -> Option<KeyId> {
        self.sealing.as_ref().map(|s| s.ring.current_id())
    }

    /// The writer thread's main loop; returns when every `Journal` handle is gone.
    pub(crate) fn run(mut self, rx: Receiver<Command>) {
        loop {
            let first = match self.interval_deadline() {
                Some(deadline) => {
                    let wait = deadline.saturating_duration_since(Instant::now());
                    match rx.recv_timeout(wait) {
                        Ok(cmd) => cmd,
                        Err(RecvTimeoutError::Timeout) => {
                            if let Err(e) = self.sync() {
                                self.fail(&e);
                            }
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                None => match rx.recv() {
                    Ok(cmd) => cmd,
                    Err(_) => break,
                },
            };
            let mut bytes = first.bytes();
            let mut group = vec![first];
            while bytes < MAX_GROUP_BYTES {
                match rx.try_recv() {
                    Ok(cmd) => {
                        bytes += cmd.bytes();
                        group.push(cmd);
                    }
                    Err(_) => break,
                }
            }
            self.commit(group);
        }
        self.shutdown();
    }

    /// When a deferred fsync is due under `IntervalMs`, if one is pending.
    fn interval_deadline(&self) -> Option<Instant> {
        match self.policy {
            FsyncPolicy::IntervalMs(ms) if self.dirty && self.failed.is_none() => {
                // An interval too large to represent means "no timed fsync".
                self.last_sync.checked_add(Duration::from_millis(ms))
            }
            _ => None,
        }
    }

    fn shutdown(&mut self) {
        if self.failed.is_none()
            && self.dirty
            && self.policy != FsyncPolicy::Never
            && let Err(e) = self.sync()
        {
            error!(error = %e, "journal: final fsync at shutdown failed");
        }
        self.shared.durable.close();
        info!(
            dir = %self.shared.dir.display(),
            last_sequence = self.next_seq.saturating_sub(1),
            "journal writer stopped"
        );
    }

    /// Writes one group, fsyncs per policy, publishes, then completes every request.
    fn commit(&mut self, group: Vec<Command>) {
        if let Some(reason) = &self.failed {
            for cmd in group {
                match cmd {
                    Command::Append { reply, .. } => {
                        reply.send(Err(JournalError::WriterFailed(reason.clone())))
                    }
                    Command::Sync { reply } => {
                        reply.send(Err(JournalError::WriterFailed(reason.clone())))
                    }
                }
            }
            return;
        }

        let mut acks = Vec::with_capacity(group.len());
        let mut batches = Vec::with_capacity(group.len());
        let mut force_sync = false;
        for cmd in group {
            match cmd {
                Command::Append { payloads, reply } => {
                    let start = self.next_seq;
                    // Non-empty batches are guaranteed by `Journal::append_batch_async`.
                    self.next_seq += payloads.len() as u64;
                    acks.push(Ack::Append(start..=self.next_seq - 1, reply));
                    batches.push((start, payloads));
                }
                Command::Sync { reply } => {
                    force_sync = true;
                    acks.push(Ack::Sync(reply));
                }
            }
        }

        let result = self.write_batches(batches).and_then(|()| {
            let due = match self.policy {
                FsyncPolicy::Always => true,
                FsyncPolicy::IntervalMs(ms) => {
                    self.last_sync.elapsed() >= Duration::from_millis(ms)
                }
                FsyncPolicy::Never => false,
            };
            if force_sync || due {
                self.sync()
            } else {
                Ok(())
            }
        });

        match result {
            Ok(()) => {
                let durable = self.next_seq - 1;
                self.shared.durable.publish(durable);
                for ack in acks {
                    match ack {
                        Ack::Append(range, reply) => reply.send(Ok(range)),
                        Ack::Sync(reply) => reply.send(Ok(())),
                    }
                }
            }
            Err(e) => {
                let reason = self.fail(&e);
                for ack in acks {
                    match ack {
                        Ack::Append(_, reply) => {
                            reply.send(Err(JournalError::WriterFailed(reason.clone())))
                        }
                        Ack::Sync(reply) => {
                            reply.send(Err(JournalError::WriterFailed(reason.clone())))
                        }
                    }
                }
            }
        }
    }

    /// Enters the failed state; returns the reason handed to callers.
    fn fail(&mut self, e: &JournalError) -> String {
        let reason = e.to_string();
        error!(error = %reason, "journal writer failed; refusing further appends until reopened");
        self.failed = Some(reason.clone());
        self.buf.clear();
        self.shared.durable.close();
        reason
    }

    fn write_batches(&mut self, batches: Vec<(u64, Vec<Vec<u8>>)>) -> Result<(), JournalError> {
        let wanted = self.wanted_key();
        let overhead = if wanted.is_some() { SEAL_OVERHEAD } else { 0 };
        for (mut seq, payloads) in batches {
            for payload in payloads {
                let record = (RECORD_HEADER_LEN + payload.len() + overhead) as u64;
                let pending = self.seg_len + self.buf.len() as u64;
                // A segment holds records of one key only (its header names it): after a key
                // change (rotation, encryption turned on or off) the next record starts a
                // new segment. Recovery already re-headed an active segment with no record.
                let key_changed = self.active_key != wanted;
                if pending > HEADER_LEN as u64
                    && (key_changed || pending + record > self.segment_bytes)
                {
                    self.flush()?;
                    self.roll(seq)?;
                }
                self.encode(seq, &payload)?;
                seq += 1;
                if self.buf.len() >= FLUSH_BYTES {
                    self.flush()?;
                }
            }
        }
        self.flush()
    }

    /// Appends record `seq` to the buffer, sealed when the active segment is encrypted.
    fn encode(&mut self, seq: u64, payload: &[u8]) -> Result<(), JournalError> {
        if self.active_key != self.wanted_key() {
            // Never seal with a key the segment's header does not name (nor write plain
            // records into an encrypted segment): such records could not be read back.
            return Err(JournalError::WriterFailed(format!(
                "segment {} is headed for key {:?}, records are for key {:?}",
                self.path.display(),
                self.active_key,
                self.wanted_key()
            )));
        }
        match &self.sealing {
            Some(sealing) => {
                encode_sealed_record(&mut self.buf, seq, payload, &sealing.sealer)?;
            }
            None => encode_record(&mut self.buf, seq, payload),
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), JournalError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&self.buf)
            .map_err(|e| JournalError::io("write records to", &self.path, e))?;
        self.seg_len += self.buf.len() as u64;
        self.buf.clear();
        self.dirty = true;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), JournalError> {
        self.file
            .sync_data()
            .map_err(|e| JournalError::io("fsync", &self.path, e))?;
        self.dirty = false;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Seals the active segment and starts a new one at `first_seq`.
    fn roll(&mut self, first_seq: u64) -> Result<(), JournalError> {
        let durable = self.policy != FsyncPolicy::Never;
        if durable {
            // The sealed segment is never touched again, so this is its last chance.
            self.sync()?;
        }
        let key = self.wanted_key();
        let (file, path) = create_segment(&self.shared.dir, first_seq, key, durable)?;
        lock(&self.shared.segments).insert(first_seq, path.clone());
        debug!(segment = %path.display(), first_seq, "journal rolled to new segment");
        self.file = file;
        self.path = path;
        self.seg_len = HEADER_LEN as u64;
        self.dirty = false;
        self.active_key = key;
        Ok(())
    }
}
