//! Progress of long statements (SNAPSHOT, RESTORE, COPY, TRAIN MODEL).
//!
//! A program that wants to show it (the shell draws a bar) gives its session a
//! [`ProgressSink`]; a statement reports through a [`Progress`] handle, which does nothing
//! when there is no sink. The handle tells the sink that the task ended when it is dropped,
//! so an early return on an error ends the bar too.

use std::fmt;
use std::sync::Arc;

/// What `done` and `total` count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Bytes (of a file written or read).
    Bytes,
    /// Rows (objects exported or imported).
    Rows,
    /// Training steps.
    Steps,
}

/// Receives the progress of one task at a time. Implementations decide what to show and
/// when (the shell shows nothing for a task that ends within a second).
pub trait ProgressSink: Send + Sync {
    /// A task starts: `label` says what ("snapshot scene"), `total` is its size in `unit`s
    /// (0 when unknown).
    fn start(&self, label: &str, total: u64, unit: Unit);
    /// `done` units so far (absolute, not a delta), with an optional short message
    /// ("loss 0.731").
    fn set(&self, done: u64, message: Option<&str>);
    /// The task ended, successfully or not.
    fn finish(&self);
}

/// The running task's handle: reports to the sink, if any; ends the task when dropped.
pub struct Progress {
    sink: Option<Arc<dyn ProgressSink>>,
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Progress")
            .field("shown", &self.sink.is_some())
            .finish()
    }
}

impl Progress {
    /// A handle that reports nowhere.
    pub fn none() -> Self {
        Progress { sink: None }
    }

    /// Starts a task on `sink` (nothing when `None`).
    pub fn start(
        sink: Option<Arc<dyn ProgressSink>>,
        label: &str,
        total: u64,
        unit: Unit,
    ) -> Self {
        if let Some(s) = &sink {
            s.start(label, total, unit);
        }
        Progress { sink }
    }

    /// Reports `done` units so far.
    pub fn set(&self, done: u64) {
        if let Some(s) = &self.sink {
            s.set(done, None);
        }
    }

    /// Reports `done` units so far with a short message.
    pub fn set_with(&self, done: u64, message: &str) {
        if let Some(s) = &self.sink {
            s.set(done, Some(message));
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(s) = &self.sink {
            s.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl ProgressSink for Log {
        fn start(&self, label: &str, total: u64, unit: Unit) {
            self.0.lock().unwrap().push(format!("start {label} {total} {unit:?}"));
        }
        fn set(&self, done: u64, message: Option<&str>) {
            self.0.lock().unwrap().push(format!("set {done} {message:?}"));
        }
        fn finish(&self) {
            self.0.lock().unwrap().push("finish".into());
        }
    }

    #[test]
    fn a_handle_reports_and_finishes_when_dropped() {
        let log = Arc::new(Log::default());
        {
            let p = Progress::start(Some(log.clone()), "snapshot m", 10, Unit::Bytes);
            p.set(4);
            p.set_with(10, "done");
        }
        assert_eq!(
            *log.0.lock().unwrap(),
            [
                "start snapshot m 10 Bytes",
                "set 4 None",
                "set 10 Some(\"done\")",
                "finish"
            ]
        );
        Progress::none().set(3); // reports nowhere, no panic
    }
}
