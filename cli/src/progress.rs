//! The shell's progress bar (indicatif) for long statements: SNAPSHOT, RESTORE, COPY,
//! TRAIN MODEL. A task that ends within a second shows nothing; a longer one draws a bar on
//! standard error when that is a terminal (indicatif draws nothing otherwise).

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parking_lot::Mutex;
use tensormap::query::{ProgressSink, Unit};

/// How long a task runs before its bar appears.
const DELAY: Duration = Duration::from_secs(1);

/// A [`ProgressSink`] drawing one bar at a time.
#[derive(Default)]
pub struct Bar {
    task: Mutex<Option<Task>>,
}

struct Task {
    bar: ProgressBar,
    unit: Unit,
    started: Instant,
    shown: bool,
}

fn style(unit: Unit, known_total: bool) -> ProgressStyle {
    let counts = match unit {
        Unit::Bytes => "{bytes}/{total_bytes} {binary_bytes_per_sec}",
        Unit::Rows => "{human_pos}/{human_len} rows {per_sec}",
        Unit::Steps => "step {human_pos}/{human_len}",
        Unit::Items => "{human_pos}/{human_len}",
    };
    let template = if known_total {
        format!("{{msg:.bold}} [{{bar:30}}] {counts} eta {{eta}} {{prefix}}")
    } else {
        "{msg:.bold} {spinner} {elapsed} {prefix}".to_string()
    };
    ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl ProgressSink for Bar {
    fn start(&self, label: &str, total: u64, unit: Unit) {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        bar.set_style(style(unit, total > 0));
        bar.set_message(label.to_string());
        *self.task.lock() = Some(Task {
            bar,
            unit,
            started: Instant::now(),
            shown: false,
        });
    }

    fn total(&self, total: u64) {
        if let Some(t) = self.task.lock().as_ref() {
            t.bar.set_length(total);
            t.bar.set_style(style(t.unit, total > 0));
        }
    }

    fn set(&self, done: u64, message: Option<&str>) {
        if let Some(t) = self.task.lock().as_mut() {
            t.bar.set_position(done);
            if let Some(m) = message {
                t.bar.set_prefix(m.to_string());
            }
            if !t.shown && t.started.elapsed() >= DELAY {
                t.shown = true;
                t.bar.set_draw_target(ProgressDrawTarget::stderr());
            }
        }
    }

    fn finish(&self) {
        if let Some(t) = self.task.lock().take() {
            t.bar.finish_and_clear();
        }
    }
}
