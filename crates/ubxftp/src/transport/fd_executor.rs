//! A one-future executor that sleeps in `poll(2)` on the descriptor its future serves.
//!
//! Why it exists: a driver sends a command and waits for the answer, so what a host feels on a
//! pseudo-terminal is the latency of one round trip. Served from tokio's reactor, a PTY round
//! trip costs 1.5–6× a blocking echo on the same PTY (the figure depends on the machine; see
//! `docs/BENCHMARKS.md`, "AT round trips"): the epoll wake-up, the hand-over of the task to a
//! worker and the worker's wake-up of its siblings all come before the first byte is read.
//! Handing bytes from a blocking reader thread to a task is no better, because the hand-over is
//! the cost. What is as fast as a blocking echo is to run the terminal's future on a thread of its
//! own that, when the future waits, sleeps in `poll` on the PTY itself: the host's bytes wake this
//! thread directly, which reads, answers and writes with no other thread involved.
//!
//! Everything else the future does still goes through the runtime, entered on this thread: FTP
//! sockets, timers and spawned tasks belong to it, and their wakers reach this thread through an
//! `eventfd` that is part of the same `poll`.
//!
//! The descriptor's reader and writer tell the executor what they wait for through [`Wants`]:
//! a read or write that would block sets its flag before returning `Pending`, and the executor
//! watches the descriptor for exactly those (and not at all when the future waits for something
//! else, so a hang-up it is not asking about cannot spin the loop). A flag left set by a future
//! that has since lost interest costs one extra poll of the future, never a busy loop, because
//! the flags are cleared before every poll.
//!
//! A [`Stopper`] ends the executor from any thread: the future is dropped on the executor's own
//! thread, while the runtime is still there, instead of being polled after the runtime's timers
//! have shut down.

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::eventfd::{EfdFlags, EventFd};
use tokio::runtime::Handle;

/// What the future is waiting for on the descriptor, set by its reader and writer.
#[derive(Debug, Default)]
pub struct Wants {
    read: AtomicBool,
    write: AtomicBool,
}

impl Wants {
    /// A read found nothing to read: wake the future when the descriptor is readable.
    pub fn read(&self) {
        self.read.store(true, Ordering::Relaxed);
    }

    /// A write found no room: wake the future when the descriptor is writable.
    pub fn write(&self) {
        self.write.store(true, Ordering::Relaxed);
    }

    /// The poll(2) events to watch for, clearing the flags for the next round.
    fn take(&self) -> PollFlags {
        let mut events = PollFlags::empty();
        if self.read.swap(false, Ordering::Relaxed) {
            events |= PollFlags::POLLIN;
        }
        if self.write.swap(false, Ordering::Relaxed) {
            events |= PollFlags::POLLOUT;
        }
        events
    }
}

/// The executor's wake-up: an eventfd the future's wakers write to, and the stop flag.
struct Wakeup {
    eventfd: EventFd,
    stopped: AtomicBool,
}

impl Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Only fails when the counter would overflow, i.e. when a wake-up is pending anyway.
        let _ = self.eventfd.write(1);
    }
}

/// Ends an [`Executor`]'s `block_on` from any thread.
#[derive(Clone)]
pub struct Stopper(Arc<Wakeup>);

impl Stopper {
    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::SeqCst);
        self.0.wake_by_ref();
    }
}

/// An executor for one future, made before its thread starts so that a [`Stopper`] exists from
/// the beginning.
pub struct Executor {
    wakeup: Arc<Wakeup>,
}

impl Executor {
    pub fn new() -> io::Result<Executor> {
        Ok(Executor {
            wakeup: Arc::new(Wakeup {
                eventfd: EventFd::from_flags(EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC)?,
                stopped: AtomicBool::new(false),
            }),
        })
    }

    pub fn stopper(&self) -> Stopper {
        Stopper(Arc::clone(&self.wakeup))
    }

    /// Runs `future` on the calling thread, within `runtime`, sleeping in `poll` on `fd` (for
    /// what `wants` asks) and on its wakers between polls. `None` when stopped first: the future
    /// is dropped here, unfinished.
    pub fn block_on<F: Future>(
        self,
        runtime: &Handle,
        fd: BorrowedFd<'_>,
        wants: &Wants,
        future: F,
    ) -> io::Result<Option<F::Output>> {
        let _entered = runtime.enter();
        let waker = Waker::from(Arc::clone(&self.wakeup));
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if self.wakeup.stopped.load(Ordering::SeqCst) {
                return Ok(None);
            }
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return Ok(Some(output));
            }
            let events = wants.take();
            let mut fds = [
                PollFd::new(self.wakeup.eventfd.as_fd(), PollFlags::POLLIN),
                PollFd::new(fd, events),
            ];
            // The descriptor only when the future waits for it.
            let watched = if events.is_empty() { 1 } else { 2 };
            match poll(&mut fds[..watched], PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
            if fds[0].any() == Some(true) {
                // Reset the counter; wake-ups after this one make the next poll return at once.
                let _ = self.wakeup.eventfd.read();
            }
        }
    }
}
