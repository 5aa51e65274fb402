//! The one worker thread that runs offloaded jobs (password hashing) off the event loop,
//! fed through a bounded queue; results come back through a channel and a `mio::Waker`.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, channel, sync_channel};
use std::thread;

use mio::Waker;

/// Work handed to the worker thread.
pub type Job<D> = Box<dyn FnOnce() -> D + Send>;

/// Which request a job belongs to: connection slot and that connection's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JobId {
    pub slot: usize,
    pub generation: u64,
}

/// The loop's side of the worker: submit jobs, collect results.
pub(crate) struct Worker<D> {
    jobs: SyncSender<(JobId, Job<D>)>,
    /// `None` in a result means the job panicked.
    results: Receiver<(JobId, Option<D>)>,
}

impl<D: Send + 'static> Worker<D> {
    /// Starts the worker thread with a queue of `capacity` waiting jobs.
    pub(super) fn spawn(capacity: usize, waker: Arc<Waker>) -> io::Result<Self> {
        let (jobs, job_queue) = sync_channel::<(JobId, Job<D>)>(capacity);
        let (result_sender, results) = channel();
        thread::Builder::new()
            .name("latchkey-worker".into())
            .spawn(move || {
                for (id, job) in job_queue {
                    // A panicking job must still answer its request (with a 500).
                    let outcome = catch_unwind(AssertUnwindSafe(job)).ok();
                    if result_sender.send((id, outcome)).is_err() {
                        break;
                    }
                    // The loop may be gone already; nothing else to do then.
                    let _ = waker.wake();
                }
            })?;
        Ok(Worker { jobs, results })
    }

    /// Queues `job`; gives it back when the queue is full (or the worker is gone).
    pub(super) fn submit(&self, id: JobId, job: Job<D>) -> Result<(), Job<D>> {
        match self.jobs.try_send((id, job)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full((_, job)) | TrySendError::Disconnected((_, job))) => Err(job),
        }
    }

    /// One finished job, if any.
    pub(super) fn try_result(&self) -> Option<(JobId, Option<D>)> {
        // Empty and disconnected alike mean "nothing to collect now".
        self.results.try_recv().ok()
    }
}
