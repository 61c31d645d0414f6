//! Connections for TensorQL requests. A [`Database`] connection is a TensorQL session
//! behind a mutex: one statement at a time. The pool hands each request a connection of
//! its own, so TensorQL requests run in parallel (the engine serializes their writes), and
//! takes it back afterwards, rolled back if the request left a `BEGIN` open — a transaction
//! never outlives its request, so it can never hold the writer lock between requests.

use std::time::Duration;

use parking_lot::Mutex;

use tensormap::Database;

/// The most idle connections kept (more are made on demand and dropped after use).
const MAX_IDLE: usize = 64;

/// Idle connections on one database.
#[derive(Debug)]
pub struct Pool {
    db: Database,
    idle: Mutex<Vec<Database>>,
    /// The per-statement limits set on every connection handed out.
    statement_timeout: Option<Duration>,
    memory_limit: Option<u64>,
}

impl Pool {
    pub fn new(
        db: Database,
        statement_timeout: Option<Duration>,
        memory_limit: Option<u64>,
    ) -> Self {
        Pool {
            db,
            idle: Mutex::new(Vec::new()),
            statement_timeout,
            memory_limit,
        }
    }

    /// The database (for the typed API: read and write transactions need no session).
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// A connection for one request (call from the request's blocking work).
    pub fn get(&self) -> Conn<'_> {
        let db = self.idle.lock().pop().unwrap_or_else(|| self.db.clone());
        // Every request starts from the server's limits, whatever an earlier request on
        // this connection SET (an admin may SET them for the rest of one request). A
        // statement runs no longer than the request's time left, so that the work of a
        // request answered 503 stops about then (its commits are refused anyway:
        // deadline.rs); each statement counts it from its own start, so a statement's limit
        // never ends before the request's deadline.
        let timeout = match (self.statement_timeout, super::deadline::time_left()) {
            (Some(t), Some(left)) => Some(t.min(left)),
            (t, left) => t.or(left),
        };
        db.set_limits(timeout, self.memory_limit);
        Conn {
            pool: self,
            db: Some(db),
        }
    }
}

/// A pooled connection; back to the pool when dropped.
#[derive(Debug)]
pub struct Conn<'a> {
    pool: &'a Pool,
    db: Option<Database>,
}

impl std::ops::Deref for Conn<'_> {
    type Target = Database;
    fn deref(&self) -> &Database {
        // Some until drop.
        self.db.as_ref().unwrap_or(&self.pool.db)
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        let Some(db) = self.db.take() else { return };
        if db.in_transaction() && db.execute("ROLLBACK").is_err() {
            // A connection whose transaction cannot be ended is not reused.
            return;
        }
        let mut idle = self.pool.idle.lock();
        if idle.len() < MAX_IDLE {
            idle.push(db);
        }
    }
}
