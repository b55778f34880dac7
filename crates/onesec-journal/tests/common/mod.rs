//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

use onesec_journal::{FsyncPolicy, Journal, JournalConfig, KeyRing, Recovery};

/// A fixed test key (never a real one) and a second one for rotation.
pub const TEST_KEY: &str = "3f1c9a7e5b2d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f61";
pub const OTHER_KEY: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90f1e2d3c4b5a69788796a5b4c3d2e1f00";

thread_local! {
    /// The key ring `config` gives journals opened on this test's thread.
    static KEYS: std::cell::RefCell<Option<Arc<KeyRing>>> = const { std::cell::RefCell::new(None) };
}

/// A key ring of the given hex keys, current first.
pub fn ring(keys: &[&str]) -> Arc<KeyRing> {
    Arc::new(KeyRing::parse(&keys.join("\n"), "test keys").expect("test keys parse"))
}

/// Runs `test` with every journal `config`/`open` makes on this thread encrypted with
/// `TEST_KEY`: the same test, once plain and once encrypted.
pub fn encrypted(test: fn()) {
    KEYS.with(|k| *k.borrow_mut() = Some(ring(&[TEST_KEY])));
    test();
    KEYS.with(|k| *k.borrow_mut() = None);
}

/// Whether this thread's journals are encrypted (see [`encrypted`]).
pub fn is_encrypted() -> bool {
    KEYS.with(|k| k.borrow().is_some())
}

/// The configuration for `dir` with this thread's key ring.
pub fn config(dir: &Path) -> JournalConfig {
    JournalConfig::new(dir).keys(KEYS.with(|k| k.borrow().clone()))
}

/// Opens a journal in `dir` with the given segment size and policy.
pub fn open(dir: &Path, segment_bytes: u64, fsync: FsyncPolicy) -> (Journal, Recovery) {
    Journal::open(config(dir).segment_bytes(segment_bytes).fsync(fsync)).expect("open journal")
}

/// Deterministic payload for a sequence: varying length, content derived from `seq`.
pub fn payload_for(seq: u64) -> Vec<u8> {
    let len = (seq.wrapping_mul(2_654_435_761) % 300) as usize + 1;
    let mut v = Vec::with_capacity(len + 8);
    v.extend_from_slice(&seq.to_le_bytes());
    let mut x = seq ^ 0x9E37_79B9_7F4A_7C15;
    for _ in 0..len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push(x as u8);
    }
    v
}

/// Segment files in `dir`, sorted by name (= by first sequence).
pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

/// Reads every durable record from `from` on.
pub fn read_all(journal: &Journal, from: u64) -> Vec<(u64, Vec<u8>)> {
    journal
        .reader(from)
        .expect("reader")
        .collect::<Result<Vec<_>, _>>()
        .expect("read records")
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Minimal executor: polls `fut` on the current thread, parking between wake-ups.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
