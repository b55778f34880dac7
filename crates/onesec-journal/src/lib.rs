//! # onesec-journal
//!
//! The durable, append-only, segmented, checksummed log that every event
//! ingested by onesec reaches **before** it is acknowledged to its sender.
//! The sequence number a record receives here is the event id used by the
//! rest of the system, so sequences are gapless, start at 1 and survive
//! restarts.
//!
//! ## Guarantees
//!
//! * With [`FsyncPolicy::Always`] (the default) an append returns only after
//!   its records are written **and fsynced**: an acknowledged record survives
//!   a process crash and a power failure.
//! * Appends from many threads are funnelled through one writer thread that
//!   commits everything pending as one *group* with a single fsync, so
//!   throughput grows with concurrency instead of being capped by fsync
//!   latency.
//! * Each batch gets a contiguous sequence range; batches are ordered by
//!   arrival at the writer.
//! * On [`Journal::open`], a torn tail of the newest segment (what a crash
//!   mid-write leaves) is cut off and reported in [`Recovery`]; damage
//!   anywhere else is a [`JournalError::Corrupt`] error, never a silent loss.
//!
//! The byte-level format, recovery rules and fsync policy are specified in
//! `docs/journal-format.md`.
//!
//! ## Usage
//!
//! ```no_run
//! use onesec_journal::{Journal, JournalConfig};
//!
//! # fn main() -> Result<(), onesec_journal::JournalError> {
//! let (journal, recovery) = Journal::open(JournalConfig::new("/var/lib/onesec/journal"))?;
//! if let Some(torn) = &recovery.torn_tail {
//!     eprintln!("dropped {} torn bytes: {}", torn.bytes_dropped, torn.reason);
//! }
//!
//! // Blocks until the batch is durable; only then acknowledge to the sender.
//! let ids = journal.append_batch(vec![b"event one".to_vec(), b"event two".to_vec()])?;
//! println!("events got ids {ids:?}");
//!
//! // Consumers read everything durable and can wait for more.
//! let mut reader = journal.reader(journal.first_sequence())?;
//! while let Some(record) = reader.next() {
//!     let (seq, payload) = record?;
//!     println!("{seq}: {} bytes", payload.len());
//! }
//!
//! // Retention: drop whole segments that only hold records below 1000.
//! journal.truncate_before(1000)?;
//! # Ok(()) }
//! ```
//!
//! In async code use [`Journal::append_batch_async`], which returns a future
//! that needs no particular runtime, and [`JournalReader::next_async`] or
//! [`Subscription::changed`] to wait for new records.

#![warn(missing_docs)]

mod crypt;
mod error;
mod format;
mod notify;
mod oneshot;
mod reader;
mod recovery;
mod reseal;
mod segment;
mod writer;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::future::Future;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use tracing::{error, info};

pub use error::JournalError;
pub use format::{ENCRYPTED_FORMAT_VERSION, FORMAT_VERSION, MAX_PAYLOAD_LEN};
pub use notify::{Changed, Subscription};
pub use onesec_keys::{KeyId, KeyRing};
pub use reader::{JournalReader, Position, read_at, read_at_with};
pub use recovery::{Recovery, TornTail};
pub use reseal::{Resealed, reseal_dir};

use notify::Durable;
use writer::{Command, Writer};

/// Default size at which a segment is rolled: 64 MiB.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// Name of the lock file that keeps two writers out of one directory.
const LOCK_FILE: &str = "LOCK";

/// When the writer fsyncs, and therefore what an acknowledgement promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// Fsync every group before acknowledging it: acknowledged records survive power loss (default).
    #[default]
    Always,
    /// Acknowledge after `write(2)`, fsync at most every N ms: survives process crashes, may lose the last N ms on power loss.
    IntervalMs(u64),
    /// Never fsync (segment rolls included): survives process crashes only; for tests and benchmarks.
    Never,
}

/// Where and how a journal stores its segments.
#[derive(Debug, Clone)]
pub struct JournalConfig {
    /// Directory holding the segment files (created if missing).
    pub dir: PathBuf,
    /// Size at which the active segment is rolled (a segment holds at least one record, so one large record may exceed it).
    pub segment_bytes: u64,
    /// When to fsync; see [`FsyncPolicy`].
    pub fsync: FsyncPolicy,
    /// Encryption at rest: new segments are sealed with the ring's current key, older
    /// segments are opened with the key their header names. `None`: new segments are plain,
    /// and an encrypted segment stops the open.
    pub keys: Option<Arc<KeyRing>>,
}

impl PartialEq for JournalConfig {
    fn eq(&self, other: &Self) -> bool {
        let ids = |c: &JournalConfig| c.keys.as_ref().map(|k| k.ids());
        self.dir == other.dir
            && self.segment_bytes == other.segment_bytes
            && self.fsync == other.fsync
            && ids(self) == ids(other)
    }
}

impl Eq for JournalConfig {}

impl JournalConfig {
    /// Configuration with 64 MiB segments, [`FsyncPolicy::Always`], and the process's key
    /// ring (`onesec_keys::installed`, none unless the program installed one): a journal
    /// opened anywhere in an encrypting process encrypts without every caller passing keys.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        JournalConfig {
            dir: dir.into(),
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            fsync: FsyncPolicy::Always,
            keys: onesec_keys::installed(),
        }
    }

    /// Sets the key ring (`None`: plain segments, no encrypted segment readable).
    pub fn keys(mut self, keys: Option<Arc<KeyRing>>) -> Self {
        self.keys = keys;
        self
    }

    /// Sets the segment roll size.
    pub fn segment_bytes(mut self, bytes: u64) -> Self {
        self.segment_bytes = bytes;
        self
    }

    /// Sets the fsync policy.
    pub fn fsync(mut self, policy: FsyncPolicy) -> Self {
        self.fsync = policy;
        self
    }
}

/// State shared by the handles, the writer thread, readers and subscribers.
pub(crate) struct Shared {
    pub(crate) dir: PathBuf,
    /// Segment files by first sequence; the last entry is the active segment.
    pub(crate) segments: Mutex<BTreeMap<u64, PathBuf>>,
    pub(crate) durable: Arc<Durable>,
    pub(crate) policy: FsyncPolicy,
    /// The key ring readers open encrypted segments with.
    pub(crate) keys: Option<Arc<KeyRing>>,
}

/// Locks a mutex, ignoring poisoning (no journal invariant spans a panic).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Inner {
    tx: Option<mpsc::Sender<Command>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    /// Held for the lifetime of the journal; the OS releases it even on kill -9.
    _lock: File,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel lets the writer finish pending work and exit.
        drop(self.tx.take());
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            error!(dir = %self.shared.dir.display(), "journal writer thread panicked");
        }
    }
}

/// Handle to an open journal; cheap to clone, all clones share one writer thread.
///
/// The writer thread stops (after finishing pending appends) when the last
/// clone is dropped.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.inner.shared.dir)
            .field("policy", &self.inner.shared.policy)
            .field("last_sequence", &self.last_sequence())
            .finish()
    }
}

impl Journal {
    /// Opens (or creates) the journal in `cfg.dir`, recovering from any crash, and starts the writer thread.
    pub fn open(cfg: JournalConfig) -> Result<(Journal, Recovery), JournalError> {
        let min_segment = (format::HEADER_LEN + format::RECORD_HEADER_LEN) as u64;
        if cfg.segment_bytes < min_segment {
            return Err(JournalError::InvalidConfig(format!(
                "segment_bytes is {}, but a segment needs at least {min_segment} bytes (header plus one empty record)",
                cfg.segment_bytes
            )));
        }
        let dir = cfg.dir;
        fs::create_dir_all(&dir).map_err(|e| JournalError::io("create directory", &dir, e))?;
        let lock_file = acquire_lock(&dir)?;
        let durable_repairs = cfg.fsync != FsyncPolicy::Never;
        let rec = recovery::recover(&dir, durable_repairs, cfg.keys.as_deref())?;
        let report = rec.report;
        info!(
            dir = %dir.display(),
            segments = report.segments,
            first_sequence = report.first_sequence,
            last_sequence = report.last_sequence,
            torn_bytes_dropped = report.torn_bytes_dropped(),
            "journal opened"
        );

        let shared = Arc::new(Shared {
            dir: dir.clone(),
            segments: Mutex::new(rec.segments),
            durable: Arc::new(Durable::new(report.last_sequence)),
            policy: cfg.fsync,
            keys: cfg.keys.clone(),
        });
        let sealing = writer::Sealing::new(cfg.keys)?;
        let writer = Writer::new(
            shared.clone(),
            cfg.segment_bytes,
            cfg.fsync,
            writer::Active {
                file: rec.active_file,
                path: rec.active_path,
                len: rec.active_len,
                key: rec.active_key,
            },
            rec.next_seq,
            sealing,
        );
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("onesec-journal-writer".to_owned())
            .spawn(move || writer.run(rx))
            .map_err(|e| JournalError::io("spawn writer thread for", &dir, e))?;
        let journal = Journal {
            inner: Arc::new(Inner {
                tx: Some(tx),
                thread: Some(thread),
                shared,
                _lock: lock_file,
            }),
        };
        Ok((journal, report))
    }

    /// Appends a batch as consecutive records and blocks until it is durable per the fsync policy; returns the sequences assigned.
    pub fn append_batch(
        &self,
        payloads: Vec<Vec<u8>>,
    ) -> Result<RangeInclusive<u64>, JournalError> {
        self.append_batch_async(payloads).wait()
    }

    /// Appends one record; shorthand for a batch of one. Returns its sequence.
    pub fn append(&self, payload: Vec<u8>) -> Result<u64, JournalError> {
        self.append_batch(vec![payload]).map(|r| *r.start())
    }

    /// Submits a batch now (its order among appends is fixed at this call) and returns a runtime-agnostic future of its sequence range.
    pub fn append_batch_async(&self, payloads: Vec<Vec<u8>>) -> AppendFuture {
        if payloads.is_empty() {
            return AppendFuture::ready(Err(JournalError::EmptyBatch));
        }
        if let Some((index, p)) = payloads
            .iter()
            .enumerate()
            .find(|(_, p)| p.len() > MAX_PAYLOAD_LEN)
        {
            return AppendFuture::ready(Err(JournalError::RecordTooLarge {
                index,
                len: p.len(),
                max: MAX_PAYLOAD_LEN,
            }));
        }
        let (reply, rx) = oneshot::channel();
        match self.send(Command::Append { payloads, reply }) {
            Ok(()) => AppendFuture {
                state: AppendState::Waiting(rx),
            },
            Err(e) => AppendFuture::ready(Err(e)),
        }
    }

    /// Fsyncs everything written so far regardless of the policy (useful with `IntervalMs`/`Never` at shutdown).
    pub fn sync(&self) -> Result<(), JournalError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Sync { reply })?;
        rx.recv().map_err(|_| JournalError::Closed)?
    }

    /// Last durable (acknowledged) sequence; 0 if the journal holds no record.
    pub fn last_sequence(&self) -> u64 {
        self.inner.shared.durable.get()
    }

    /// Oldest retained sequence (`last_sequence() + 1` if no record is retained).
    pub fn first_sequence(&self) -> u64 {
        let first = lock(&self.inner.shared.segments).keys().next().copied();
        first.unwrap_or_else(|| self.last_sequence() + 1)
    }

    /// The first sequence of every retained segment, oldest first: retention deletes whole
    /// segments, and picks them by these boundaries.
    pub fn segment_firsts(&self) -> Vec<u64> {
        lock(&self.inner.shared.segments).keys().copied().collect()
    }

    /// Directory the journal lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.shared.dir
    }

    /// A handle that can wait (blocking or async) for new durable records.
    pub fn subscribe(&self) -> Subscription {
        Subscription::new(self.inner.shared.durable.clone())
    }

    /// A reader yielding durable records from `from_seq` on; fails if `from_seq` was removed by retention (or is 0).
    pub fn reader(&self, from_seq: u64) -> Result<JournalReader, JournalError> {
        let first_available = self.first_sequence();
        if from_seq < first_available || from_seq == 0 {
            return Err(JournalError::SequenceUnavailable {
                requested: from_seq,
                first_available,
            });
        }
        Ok(JournalReader::new(self.inner.shared.clone(), from_seq))
    }

    /// Retention: deletes whole segments whose records are all below `seq` (never the active one); returns how many were deleted.
    pub fn truncate_before(&self, seq: u64) -> Result<usize, JournalError> {
        let shared = &self.inner.shared;
        // Never delete records that are not yet acknowledged.
        let limit = seq.min(shared.durable.get().saturating_add(1));
        let mut segs = lock(&shared.segments);
        let firsts: Vec<u64> = segs.keys().copied().collect();
        let mut removed = 0;
        // Oldest first, so a crash midway leaves a contiguous suffix.
        for pair in firsts.windows(2) {
            let (first, next_first) = (pair[0], pair[1]);
            if next_first > limit {
                break;
            }
            if let Some(path) = segs.get(&first).cloned() {
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(JournalError::io("remove segment", &path, e));
                    }
                }
                segs.remove(&first);
                removed += 1;
                info!(segment = %path.display(), "journal retention removed segment");
            }
        }
        drop(segs);
        if removed > 0 && shared.policy != FsyncPolicy::Never {
            segment::sync_dir(&shared.dir)?;
        }
        Ok(removed)
    }

    fn send(&self, cmd: Command) -> Result<(), JournalError> {
        match &self.inner.tx {
            Some(tx) => tx.send(cmd).map_err(|_| JournalError::Closed),
            None => Err(JournalError::Closed),
        }
    }
}

pub(crate) fn acquire_lock(dir: &Path) -> Result<File, JournalError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| JournalError::io("open lock file", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(JournalError::Locked {
            dir: dir.to_path_buf(),
        }),
        Err(TryLockError::Error(e)) => Err(JournalError::io("lock", &path, e)),
    }
}

enum AppendState {
    Ready(Option<Result<RangeInclusive<u64>, JournalError>>),
    Waiting(oneshot::Receiver<Result<RangeInclusive<u64>, JournalError>>),
}

/// Completion of an append: `.await` it, or call [`AppendFuture::wait`] to block.
///
/// The batch is already queued when this value exists; dropping it does not
/// cancel the append, only the notification.
#[must_use = "the append is queued, but its durability is only known once this future completes"]
pub struct AppendFuture {
    state: AppendState,
}

impl std::fmt::Debug for AppendFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            AppendState::Ready(_) => "ready",
            AppendState::Waiting(_) => "waiting",
        };
        f.debug_struct("AppendFuture")
            .field("state", &state)
            .finish()
    }
}

impl AppendFuture {
    fn ready(r: Result<RangeInclusive<u64>, JournalError>) -> Self {
        AppendFuture {
            state: AppendState::Ready(Some(r)),
        }
    }

    /// Blocks the current thread until the append is durable (or failed).
    pub fn wait(self) -> Result<RangeInclusive<u64>, JournalError> {
        match self.state {
            AppendState::Ready(r) => r.unwrap_or(Err(JournalError::Closed)),
            AppendState::Waiting(rx) => rx.recv().unwrap_or(Err(JournalError::Closed)),
        }
    }
}

impl Future for AppendFuture {
    type Output = Result<RangeInclusive<u64>, JournalError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            AppendState::Ready(r) => Poll::Ready(r.take().unwrap_or(Err(JournalError::Closed))),
            AppendState::Waiting(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or(Err(JournalError::Closed))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn handles_are_thread_safe() {
        assert_send_sync::<Journal>();
        assert_send_sync::<JournalReader>();
        assert_send_sync::<Subscription>();
        assert_send_sync::<AppendFuture>();
        assert_send_sync::<Changed>();
        assert_send_sync::<JournalError>();
    }

    #[test]
    fn async_futures_are_send() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(JournalConfig::new(dir.path())).unwrap();
        let mut r = j.reader(1).unwrap();
        assert_send(&r.next_async());
        assert_send(&j.append_batch_async(vec![vec![1]]));
    }
}
