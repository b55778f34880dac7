//! A minimal single-value channel built on std primitives.
//!
//! The receiver can either block ([`Receiver::recv`]) or be polled as a
//! future, so one reply path serves both the blocking and the async API
//! without pulling in an async runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};

use crate::lock;

struct Slot<T> {
    value: Option<T>,
    sender_gone: bool,
    waker: Option<Waker>,
}

struct Chan<T> {
    slot: Mutex<Slot<T>>,
    ready: Condvar,
}

/// Sending half; dropping it without sending cancels the receiver.
pub(crate) struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// Receiving half; blocking or as a future.
pub(crate) struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

/// The sender was dropped without sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Canceled;

/// Creates a connected sender/receiver pair.
pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan {
        slot: Mutex::new(Slot {
            value: None,
            sender_gone: false,
            waker: None,
        }),
        ready: Condvar::new(),
    });
    (Sender { chan: chan.clone() }, Receiver { chan })
}

impl<T> Sender<T> {
    /// Delivers the value and wakes the receiver.
    pub(crate) fn send(self, value: T) {
        let waker = {
            let mut slot = lock(&self.chan.slot);
            slot.value = Some(value);
            slot.waker.take()
        };
        self.chan.ready.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
        // Drop marks the sender gone; the value is already in place.
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut slot = lock(&self.chan.slot);
            slot.sender_gone = true;
            slot.waker.take()
        };
        self.chan.ready.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// Blocks until the value arrives or the sender is dropped.
    pub(crate) fn recv(self) -> Result<T, Canceled> {
        let mut slot = lock(&self.chan.slot);
        loop {
            if let Some(v) = slot.value.take() {
                return Ok(v);
            }
            if slot.sender_gone {
                return Err(Canceled);
            }
            slot = self
                .chan
                .ready
                .wait(slot)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, Canceled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = lock(&self.chan.slot);
        if let Some(v) = slot.value.take() {
            return Poll::Ready(Ok(v));
        }
        if slot.sender_gone {
            return Poll::Ready(Err(Canceled));
        }
        match &slot.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => slot.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_send_recv() {
        let (tx, rx) = channel();
        let t = std::thread::spawn(move || tx.send(5u32));
        assert_eq!(rx.recv(), Ok(5));
        t.join().unwrap();
    }

    #[test]
    fn dropped_sender_cancels() {
        let (tx, rx) = channel::<u32>();
        drop(tx);
        assert_eq!(rx.recv(), Err(Canceled));
    }
}
