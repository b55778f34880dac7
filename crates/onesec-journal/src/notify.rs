//! Publication of the last durable sequence to subscribers and readers.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::lock;

struct State {
    seq: u64,
    closed: bool,
    wakers: Vec<Waker>,
}

/// The last durable (acknowledged) sequence, with blocking and async waits.
pub(crate) struct Durable {
    seq: AtomicU64,
    state: Mutex<State>,
    changed: Condvar,
}

impl Durable {
    pub(crate) fn new(seq: u64) -> Self {
        Durable {
            seq: AtomicU64::new(seq),
            state: Mutex::new(State {
                seq,
                closed: false,
                wakers: Vec::new(),
            }),
            changed: Condvar::new(),
        }
    }

    /// Last durable sequence (0 when the journal holds no record yet).
    pub(crate) fn get(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// Whether the writer has stopped (shut down or failed).
    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// Publishes a new durable sequence and wakes every waiter.
    pub(crate) fn publish(&self, seq: u64) {
        let wakers = {
            let mut st = lock(&self.state);
            st.seq = seq;
            self.seq.store(seq, Ordering::Release);
            std::mem::take(&mut st.wakers)
        };
        self.changed.notify_all();
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Marks the writer as stopped and wakes every waiter.
    pub(crate) fn close(&self) {
        let wakers = {
            let mut st = lock(&self.state);
            st.closed = true;
            std::mem::take(&mut st.wakers)
        };
        self.changed.notify_all();
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Blocks until the durable sequence exceeds `seen`, the writer stops,
    /// or `deadline` passes; returns the durable sequence at that point.
    pub(crate) fn wait_beyond(&self, seen: u64, deadline: Option<Instant>) -> u64 {
        let mut st = lock(&self.state);
        loop {
            if st.seq > seen || st.closed {
                return st.seq;
            }
            match deadline {
                None => {
                    st = self
                        .changed
                        .wait(st)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return st.seq;
                    }
                    st = self
                        .changed
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
    }

    fn poll_beyond(&self, seen: u64, cx: &mut Context<'_>) -> Poll<u64> {
        let mut st = lock(&self.state);
        if st.seq > seen || st.closed {
            return Poll::Ready(st.seq);
        }
        if !st.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            st.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// A handle that is woken whenever new records become durable.
///
/// Obtained from [`crate::Journal::subscribe`]. It does not keep the writer
/// alive: once every `Journal` handle is dropped, waits return and
/// [`Subscription::is_closed`] becomes true.
#[derive(Clone)]
pub struct Subscription {
    durable: Arc<Durable>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("last_sequence", &self.last_sequence())
            .finish()
    }
}

impl Subscription {
    pub(crate) fn new(durable: Arc<Durable>) -> Self {
        Subscription { durable }
    }

    /// Last durable (acknowledged) sequence; 0 if the journal is empty.
    pub fn last_sequence(&self) -> u64 {
        self.durable.get()
    }

    /// True once the writer has stopped (journal dropped or failed): no more records will arrive.
    pub fn is_closed(&self) -> bool {
        self.durable.is_closed()
    }

    /// Blocks until the durable sequence is above `seen`, the journal closes, or `timeout` elapses; returns the durable sequence.
    pub fn wait_beyond(&self, seen: u64, timeout: Duration) -> u64 {
        self.durable
            .wait_beyond(seen, Instant::now().checked_add(timeout))
    }

    /// Blocks (without timeout) until the durable sequence is above `seen` or the journal closes.
    pub fn wait_beyond_forever(&self, seen: u64) -> u64 {
        self.durable.wait_beyond(seen, None)
    }

    /// A future resolving to the durable sequence once it is above `seen` (or the journal closes).
    pub fn changed(&self, seen: u64) -> Changed {
        Changed {
            durable: self.durable.clone(),
            seen,
        }
    }
}

/// Future returned by [`Subscription::changed`]; resolves to the durable sequence.
#[derive(Clone)]
pub struct Changed {
    durable: Arc<Durable>,
    seen: u64,
}

impl std::fmt::Debug for Changed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Changed").field("seen", &self.seen).finish()
    }
}

impl Future for Changed {
    type Output = u64;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        self.durable.poll_beyond(self.seen, cx)
    }
}
