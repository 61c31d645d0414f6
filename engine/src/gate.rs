//! The commit gate: how a caller that answers for a deadline — a server answering a
//! request — learns that the work it started has reached its commit point, and stops it
//! there when the deadline was answered first.
//!
//! [`with_commit_gate`] installs a gate on the calling thread for the length of a closure.
//! Every [`WriteTransaction::commit`] on that thread asks the gate first, before it writes
//! anything (this is the commit point of every write: TensorQL's auto-commits and COMMIT,
//! CHECKPOINT, RESTORE, the typed calls):
//! - `true` admits the commit, which then runs to its end — nothing interrupts a commit
//!   once it has started (no limit, no gate is consulted inside it): it is durable when it
//!   returns `Ok`, and on an error nothing changed, as for any commit;
//! - `false` refuses it: the transaction is dropped (rolled back) and the commit returns
//!   [`Error::CommitRefused`].
//!
//! The gate is per thread because the commit point lies deep inside calls its caller does
//! not see (a TensorQL script commits inside its session, once per write outside `BEGIN`
//! and at `COMMIT`). A caller that runs one request's work on one thread — the server's
//! blocking task — so gates exactly that request's commits; commits on other threads (other
//! requests, the background merger's installs, which are no transactions) never see it.
//! A gate installed inside another replaces it until the inner closure returns.

use std::cell::RefCell;
use std::rc::Rc;

#[cfg(doc)]
use crate::{Error, WriteTransaction};

/// A gate: asked once per commit on its thread, `true` to admit the commit.
type Gate = Rc<dyn Fn() -> bool>;

thread_local! {
    /// The gate of this thread's current [`with_commit_gate`] call, if any.
    static GATE: RefCell<Option<Gate>> = const { RefCell::new(None) };
}

/// Runs `f` with `gate` asked before every commit made on this thread (see the module
/// header); the previous gate, if any, is back when `f` returns or unwinds.
pub fn with_commit_gate<R>(gate: impl Fn() -> bool + 'static, f: impl FnOnce() -> R) -> R {
    let previous = GATE.with(|g| g.borrow_mut().replace(Rc::new(gate)));
    let _restore = Restore(previous);
    f()
}

/// Puts the outer gate back (also when `f` panics).
struct Restore(Option<Gate>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        GATE.with(|g| *g.borrow_mut() = previous);
    }
}

/// Whether a commit on this thread may start: no gate, or the gate admits it.
pub(crate) fn admits() -> bool {
    // Cloned out of the cell before the call: the cell is not borrowed while the gate runs.
    let gate = GATE.with(|g| g.borrow().clone());
    gate.is_none_or(|g| g())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn gates_nest_and_are_removed_when_their_closure_ends() {
        assert!(admits());
        let asked = Rc::new(Cell::new(0));
        let counter = asked.clone();
        with_commit_gate(
            move || {
                counter.set(counter.get() + 1);
                false
            },
            || {
                assert!(!admits());
                with_commit_gate(|| true, || assert!(admits()));
                assert!(!admits());
            },
        );
        assert_eq!(asked.get(), 2);
        assert!(admits());
        // Another thread never sees this thread's gate.
        with_commit_gate(
            || false,
            || {
                let other = std::thread::spawn(admits).join();
                assert!(matches!(other, Ok(true)));
            },
        );
    }

    #[test]
    fn a_refused_commit_changes_nothing() {
        let db = crate::Database::open_in_memory().unwrap();
        let config = crate::MapConfig {
            channels: 2,
            ..Default::default()
        };
        let refused = with_commit_gate(|| false, || db.create_map("m", config.clone()));
        assert!(matches!(refused, Err(crate::Error::CommitRefused)));
        assert_eq!(
            refused.map_err(|e| e.kind()).err(),
            Some(crate::ErrorKind::Limit)
        );
        assert!(db.maps().is_empty());
        // The writer lock was released with the transaction.
        with_commit_gate(|| true, || db.create_map("m", config)).unwrap();
        assert_eq!(db.maps().len(), 1);
    }
}
