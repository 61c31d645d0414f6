//! The per-request deadline ([`crate::Config::timeout`]) and its rule for writes: **a
//! request answered 503 committed nothing, and a request whose work reached a commit is
//! answered with its outcome**, however late — never 503 after its commit point.
//!
//! Each request gets a [`Deadline`]: an instant and a state that leaves `RUNNING` once,
//! by a compare-and-swap, either for `TIMED_OUT` (the request is answered 503) or for
//! `COMMITTED` (its work entered a commit):
//! - the middleware ([`deadline`]) races the handler against the instant. When the instant
//!   comes first it tries `RUNNING → TIMED_OUT`: won, it answers 503 at once; lost, a
//!   commit has started and it waits for the handler's answer (the commit runs to its end:
//!   the engine checks nothing inside a commit);
//! - the request's blocking work ([`crate::blocking`]) runs under a commit gate
//!   ([`tensormap::with_commit_gate`]) that the engine asks at every commit point on that
//!   thread, before anything is written: it admits the commit by `RUNNING → COMMITTED`
//!   (or when already `COMMITTED`: a script's second commit), and refuses it once the
//!   request is `TIMED_OUT` or past its instant (then it sets `TIMED_OUT` itself) — the
//!   transaction rolls back. So the work of a request answered 503 can never commit
//!   afterwards, and a request never answers 503 after one of its commits was admitted;
//! - so that the work of a timed-out write stops soon rather than running on to a refused
//!   commit, a TensorQL connection's statement limit is the time left when the request
//!   takes it, if less than `--statement-timeout` ([`time_left`], `pool.rs`);
//! - an answer the handler gives after the instant while nothing was committed (a statement
//!   stopped by the time left, a late timer) is replaced by the 503 too: it is `TIMED_OUT`.
//!
//! Reads never commit: they are answered 503 at the deadline as before, and their work ends
//! on its own (a TensorQL statement at its time left). A script whose first write committed
//! before the deadline is answered with what its later statements do (a statement stopped
//! by the time left: 400 at its line and column, the statements before it committed).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;

/// Nothing decided yet.
const RUNNING: u8 = 0;
/// A commit was admitted: the request is answered with its outcome.
const COMMITTED: u8 = 1;
/// The request is (or will be) answered 503: no commit may start.
const TIMED_OUT: u8 = 2;

/// The longest deadline kept (a larger timeout could overflow the clock's instant).
const LONGEST: Duration = Duration::from_secs(1 << 30);

/// One request's deadline and what happened first: its timeout or a commit.
#[derive(Debug)]
pub struct Deadline {
    at: Instant,
    state: AtomicU8,
}

impl Deadline {
    fn new(timeout: Duration) -> Self {
        let now = Instant::now();
        Deadline {
            // `--timeout` is below 10⁹ s; a longer one is cut to about 34 years.
            at: now.checked_add(timeout.min(LONGEST)).unwrap_or(now),
            state: AtomicU8::new(RUNNING),
        }
    }

    /// The commit gate: `true` admits a commit (and from then on the request waits for its
    /// answer), `false` refuses it (the request is, or will be, answered 503).
    fn admit_commit(&self) -> bool {
        if self.state.load(Ordering::Acquire) == RUNNING && Instant::now() >= self.at {
            // Past the instant and nothing committed: this request times out (the timer
            // may not have fired yet) — whoever sets TIMED_OUT first, the answer is 503.
            let _ = self.state.compare_exchange(
                RUNNING,
                TIMED_OUT,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
        match self
            .state
            .compare_exchange(RUNNING, COMMITTED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(state) => state == COMMITTED,
        }
    }

    /// Settles the request as timed out unless a commit was admitted: `true` when it is
    /// answered 503.
    fn time_out(&self) -> bool {
        match self
            .state
            .compare_exchange(RUNNING, TIMED_OUT, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(state) => state == TIMED_OUT,
        }
    }

    /// What is left before the instant (zero once past it).
    fn left(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }
}

tokio::task_local! {
    /// The deadline of the request whose future is being polled (set by [`deadline`]
    /// around the handler, read by [`crate::blocking`] when it hands work to the pool).
    static REQUEST: Arc<Deadline>;
}

thread_local! {
    /// The deadline of the request whose blocking work runs on this thread ([`within`]).
    static CURRENT: RefCell<Option<Arc<Deadline>>> = const { RefCell::new(None) };
}

/// The deadline of the request being handled, if called from its handler's future.
pub fn current() -> Option<Arc<Deadline>> {
    REQUEST.try_with(Arc::clone).ok()
}

/// Runs a request's blocking work `f` (on the blocking pool's thread) under the request's
/// commit gate, with [`time_left`] answering for it; without a deadline, just `f`.
pub fn within<T>(deadline: Option<Arc<Deadline>>, f: impl FnOnce() -> T) -> T {
    let Some(d) = deadline else { return f() };
    let previous = CURRENT.with(|c| c.borrow_mut().replace(d.clone()));
    let _restore = Restore(previous);
    tensormap::with_commit_gate(move || d.admit_commit(), f)
}

/// Puts the thread's previous request back (also when the work panics).
struct Restore(Option<Arc<Deadline>>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// The time left to the request whose blocking work runs on this thread (`None`: no
/// request), never zero — a statement limit of zero would be no limit at all.
pub fn time_left() -> Option<Duration> {
    CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .map(|d| d.left().max(Duration::from_micros(1)))
    })
}

/// The middleware that applies the deadline to every request (see the module header): 503
/// when the request runs past the server's timeout before any of its work committed.
pub async fn deadline(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let d = Arc::new(Deadline::new(s.timeout));
    let work = REQUEST.scope(d.clone(), next.run(req));
    tokio::pin!(work);
    let response = tokio::select! {
        response = &mut work => response,
        () = tokio::time::sleep_until(tokio::time::Instant::from_std(d.at)) => {
            if d.time_out() {
                // Nothing committed, and from now on nothing can: the work left running
                // ends at its time left or at its first commit, refused.
                return timed_out(&s);
            }
            // A commit was admitted: it is answered with its outcome, however late.
            work.await
        }
    };
    // Answered past the instant with nothing committed: a timeout too, whichever of the
    // timer and the work came first.
    if Instant::now() >= d.at && d.time_out() {
        return timed_out(&s);
    }
    response
}

/// The 503.
fn timed_out(s: &AppState) -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "the request took longer than the server's {:.3} s timeout; nothing it wrote was \
             committed",
            s.timeout.as_secs_f64()
        ),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_and_a_timeout_exclude_each_other() {
        // A commit first: the request waits for it, and later commits are admitted too.
        let d = Deadline::new(Duration::from_secs(60));
        assert!(d.admit_commit());
        assert!(!d.time_out());
        assert!(d.admit_commit());
        // The timeout first: no commit is admitted afterwards.
        let d = Deadline::new(Duration::from_secs(60));
        assert!(d.time_out());
        assert!(!d.admit_commit());
        assert!(d.time_out());
        // Past the instant, the gate times the request out itself.
        let d = Deadline::new(Duration::ZERO);
        assert!(!d.admit_commit());
        assert!(d.time_out());
    }

    #[test]
    fn the_time_left_is_the_current_requests_and_never_zero() {
        assert_eq!(time_left(), None);
        let d = Arc::new(Deadline::new(Duration::ZERO));
        let left = within(Some(d), time_left);
        assert_eq!(left, Some(Duration::from_micros(1)));
        let d = Arc::new(Deadline::new(Duration::from_secs(60)));
        let left = within(Some(d), time_left).unwrap_or_default();
        assert!(left > Duration::from_secs(59));
        assert_eq!(time_left(), None);
    }
}
