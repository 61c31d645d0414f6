//! Progress of long statements (SNAPSHOT, RESTORE, COPY, TRAIN MODEL).
//!
//! A program that wants to show it (the shell draws a bar) gives its session a
//! [`ProgressSink`]; a statement reports through a [`Progress`] handle, which does nothing
//! when there is no sink. The handle tells the sink that the task ended when it is dropped,
//! so an early return on an error ends the bar too.

use std::cell::Cell;
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
    /// Items of mixed kinds (a restore's objects and bricks).
    Items,
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
    /// The task's size became known or changed (the default ignores it).
    fn total(&self, _total: u64) {}
    /// The task ended, successfully or not.
    fn finish(&self);
}

/// The running task's handle: reports to the sink, if any; ends the task when dropped.
pub struct Progress {
    sink: Option<Arc<dyn ProgressSink>>,
    /// The total last told to the sink.
    total: Cell<u64>,
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
        Progress {
            sink: None,
            total: Cell::new(0),
        }
    }

    /// Starts a task on `sink` (nothing when `None`).
    pub fn start(sink: Option<Arc<dyn ProgressSink>>, label: &str, total: u64, unit: Unit) -> Self {
        if let Some(s) = &sink {
            s.start(label, total, unit);
        }
        Progress {
            sink,
            total: Cell::new(total),
        }
    }

    /// Reports `done` of `total` units (telling the sink the total first when it changed).
    pub fn set_total(&self, done: u64, total: u64) {
        if let Some(s) = &self.sink {
            if self.total.replace(total) != total {
                s.total(total);
            }
            s.set(done, None);
        }
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

/// A training run's progress: the task starts at the first step reported (when the number
/// of steps is known) and each report shows the step's loss; it finishes when dropped.
pub struct StepProgress {
    sink: Option<Arc<dyn ProgressSink>>,
    label: String,
    bar: Option<Progress>,
}

impl fmt::Debug for StepProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepProgress")
            .field("label", &self.label)
            .field("bar", &self.bar)
            .finish()
    }
}

impl StepProgress {
    /// Reports to `sink` under `label`; nothing is shown before the first step.
    pub fn new(sink: Option<Arc<dyn ProgressSink>>, label: String) -> Self {
        StepProgress {
            sink,
            label,
            bar: None,
        }
    }

    /// Step `step` of `total` ended with `loss`.
    pub fn report(&mut self, step: u64, total: u64, loss: f32) {
        let StepProgress { sink, label, bar } = self;
        let bar =
            bar.get_or_insert_with(|| Progress::start(sink.clone(), label, total, Unit::Steps));
        bar.set_with(step, &format!("loss {loss:.4}"));
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
            self.0
                .lock()
                .unwrap()
                .push(format!("start {label} {total} {unit:?}"));
        }
        fn set(&self, done: u64, message: Option<&str>) {
            self.0
                .lock()
                .unwrap()
                .push(format!("set {done} {message:?}"));
        }
        fn finish(&self) {
            self.0.lock().unwrap().push("finish".into());
        }
        fn total(&self, total: u64) {
            self.0.lock().unwrap().push(format!("total {total}"));
        }
    }

    #[test]
    fn a_handle_reports_and_finishes_when_dropped() {
        let log = Arc::new(Log::default());
        {
            let p = Progress::start(Some(log.clone()), "snapshot m", 10, Unit::Bytes);
            p.set(4);
            p.set_with(10, "done");
            p.set_total(11, 20);
            p.set_total(12, 20);
        }
        assert_eq!(
            *log.0.lock().unwrap(),
            [
                "start snapshot m 10 Bytes",
                "set 4 None",
                "set 10 Some(\"done\")",
                "total 20",
                "set 11 None",
                "set 12 None",
                "finish"
            ]
        );
        Progress::none().set(3); // reports nowhere, no panic
    }
}
