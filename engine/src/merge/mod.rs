//! The background merger: a thread of each database's own that merges the segments of
//! its maps so that queries search few trees, without ever holding up a commit's work
//! or a reader.
//!
//! - **Readers** keep the version they started with; a merge publishes a new version,
//!   as a commit does.
//! - **Commits** never wait for a merge to be built or written. A merge reads the
//!   version current when it starts, builds its segment file and writes and fsyncs it on
//!   this thread; only then does it take the writer lock, for its *install*: check that
//!   every input is still in the current version (else the file is removed and the work
//!   dropped), carry over the rows deleted meanwhile (their bits, mapped to the new
//!   slots), and swap the manifest in one atomic sled batch — what a small commit does.
//!   The field journal must not name a retired segment: a commit that deletes a row of a
//!   segment being merged journals the removal by value (see `commit.rs`), and the
//!   install rewrites earlier removals of the inputs' rows by value (the same splats, so
//!   the same bits on replay); a bulk add naming an input needs the journal folded first.
//! - **Crash safety** is the commit's: the new file is durable before the batch that
//!   names it; a crash before the batch leaves an orphan file, removed at the next open;
//!   the inputs' files are removed after the batch.
//! - **Policy** (`policy.rs`): size-tiered for small files while commits arrive, and
//!   levelled above them (one large segment that takes in its tail once the tail holds an
//!   eighth of its rows, so a long load ends with little left to merge); once no commit has come
//!   for `Options::merge_quiet`, toward one segment per map, folding the field journal in
//!   the background (`fold.rs`, beside the merge's build) when its bulk adds name segments
//!   to merge.
//! - **Closing** (the last `Database` handle dropped) finishes what a quiet database
//!   would merge when it is at most `Options::close_merge_rows` rows, so that a short-lived process
//!   (a `tmap -f` load) leaves the next one a merged map; a larger merge is cancelled at
//!   its next step (its file removed) and finished early by the next process, whose
//!   merger starts at open.

mod fold;
mod job;
pub mod policy;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::db::{Inner, Version};
use crate::map::MapState;
use crate::Result;

pub(crate) use self::job::Job;

/// Durable segments beyond which large ones merge (see [`policy::while_writing`]).
pub const MAX_FILES: usize = 16;

/// What the merger and the rest of the database share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Wakes the merger: a commit, a waiter, closing.
    wake: Condvar,
    /// Wakes callers of `wait_for_merges`.
    settled: Condvar,
    /// Tells the merge in flight to stop at its next step.
    cancel: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    /// Commits published so far.
    commits: u64,
    last_commit: Option<Instant>,
    /// Durable segments the merge in flight rewrites: commits journal removals of their
    /// rows by value.
    merging: BTreeSet<u64>,
    /// The last handle was dropped.
    closing: bool,
    /// Callers of `wait_for_merges` waiting: the merger works as if writes had paused.
    waiters: usize,
    /// Times the merger found nothing left to do with writes paused.
    settled: u64,
    /// The merger thread runs.
    running: bool,
    /// Rows of the merge in flight (0: none).
    inflight: usize,
    /// The last failure of a background merge, for `Database::merge_error`.
    error: Option<String>,
}

impl Shared {
    /// Called by every commit once its version is published.
    pub fn committed(&self) {
        let mut st = self.state.lock();
        st.commits += 1;
        st.last_commit = Some(Instant::now());
        if st.running {
            self.wake.notify_one();
        }
    }

    /// The segments being merged (empty when none).
    pub fn merging(&self) -> BTreeSet<u64> {
        self.state.lock().merging.clone()
    }

    /// The last background merge failure.
    pub fn error(&self) -> Option<String> {
        self.state.lock().error.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Whether the work in flight should stop now.
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Whether the database is closing.
    pub fn closing(&self) -> bool {
        self.state.lock().closing
    }

    /// Blocks until the merger has nothing left to do with writes paused (returns at
    /// once when there is no merger).
    pub fn wait(&self) {
        let mut st = self.state.lock();
        if !st.running {
            return;
        }
        st.waiters += 1;
        let target = st.settled + 1;
        self.wake.notify_one();
        while st.settled < target && st.running {
            self.settled.wait(&mut st);
        }
        st.waiters -= 1;
    }
}

/// The merger thread of one database; dropping it (with the last `Database` handle)
/// closes it: see the module header.
#[derive(Debug)]
pub(crate) struct Merger {
    inner: Arc<Inner>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Merger {
    /// Starts the merger of `inner` (None: the thread could not start; commits then
    /// merge as they go).
    pub fn start(inner: Arc<Inner>) -> Option<Merger> {
        inner.merge.lock().running = true;
        let worker = inner.clone();
        match std::thread::Builder::new()
            .name("tensormap-merge".into())
            .spawn(move || run(&worker))
        {
            Ok(thread) => Some(Merger {
                inner,
                thread: Some(thread),
            }),
            Err(_) => {
                inner.merge.lock().running = false;
                None
            }
        }
    }
}

impl Drop for Merger {
    fn drop(&mut self) {
        let shared = &self.inner.merge;
        {
            let mut st = shared.lock();
            st.closing = true;
            if st.inflight > self.inner.options.close_merge_rows || !self.inner.merge_at_close {
                shared.cancel.store(true, Ordering::Relaxed);
            }
            shared.wake.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the merger does next: a merge, after folding the field journal of map
/// `fold.0` (id `fold.1`) on a second thread while the merge is built, when the journal
/// names segments the merge takes.
struct Task {
    job: Job,
    fold: Option<(Arc<str>, u32)>,
}

/// The merger's loop: plan, run, and sleep until a commit, a waiter, closing, or the
/// moment writes count as paused.
fn run(inner: &Arc<Inner>) {
    let shared = &inner.merge;
    let quiet_after = inner.options.merge_quiet;
    // The commit count at the last failure: nothing is retried until another commit.
    let mut failed_at: Option<u64> = None;
    loop {
        let (quiet, closing, commits, since) = {
            let st = shared.lock();
            let since = st.last_commit.map(|t| t.elapsed());
            // Writes have paused: no commit for a while and no write transaction open (a
            // bulk commit can take longer than the pause).
            let paused = since.is_none_or(|s| s >= quiet_after) && !inner.writer.is_locked();
            let quiet = st.closing || st.waiters > 0 || paused;
            (quiet, st.closing, st.commits, since)
        };
        if closing && !inner.merge_at_close {
            break;
        }
        let version = inner.current.read().clone();
        let task = if failed_at == Some(commits) {
            None
        } else {
            plan(&version, quiet, inner)
        };
        drop(version);
        if let Some((task, rows)) = task {
            if !(closing && rows > inner.options.close_merge_rows) {
                shared.lock().inflight = rows;
                let done = match task.fold {
                    None => job::run(inner, task.job, || Ok(true)),
                    Some((name, id)) => std::thread::scope(|scope| {
                        let folding = scope.spawn(|| fold::run(inner, &name, id));
                        job::run(inner, task.job, || {
                            folding
                                .join()
                                .unwrap_or_else(|p| std::panic::resume_unwind(p))
                        })
                    }),
                };
                let mut st = shared.lock();
                st.inflight = 0;
                st.merging.clear();
                match done {
                    Ok(true) => {}
                    // Dropped with no commit since it was planned (the lock was not to be
                    // had while closing, or nothing was left to do): the same plan would
                    // be made again, so wait for a commit.
                    Ok(false) if st.commits == commits => failed_at = Some(commits),
                    Ok(false) => {}
                    Err(e) => {
                        st.error = Some(e.to_string());
                        failed_at = Some(commits);
                    }
                }
                if shared.cancelled() || (st.closing && failed_at == Some(commits)) {
                    break;
                }
                continue;
            }
        }
        let mut st = shared.lock();
        if st.closing {
            break;
        }
        if st.commits != commits {
            continue; // planned on an older version
        }
        if quiet {
            st.settled += 1;
            shared.settled.notify_all();
            shared.wake.wait(&mut st);
        } else if st.waiters == 0 {
            // Until the pause would be long enough, or a commit (a transaction open now
            // ends with one, or is dropped: then the pause is checked again).
            let left = quiet_after.saturating_sub(since.unwrap_or_default());
            shared.wake.wait_for(
                &mut st,
                left.max(quiet_after / 4).max(Duration::from_millis(1)),
            );
        }
    }
    let mut st = shared.lock();
    st.running = false;
    st.inflight = 0;
    st.merging.clear();
    shared.settled.notify_all();
}

/// The summary of a map's segments the policy reads.
fn summaries(state: &MapState) -> Vec<policy::Seg> {
    let named = &state.journal.journal_segments;
    state
        .objects
        .segs()
        .iter()
        .map(|s| policy::Seg {
            rows: s.len(),
            dead: s.dead_count,
            durable: s.durable_id().is_some(),
            named: s
                .durable_id()
                .is_some_and(|id| named.binary_search(&id).is_ok()),
        })
        .collect()
}

/// The next task over every map of `version`, with the rows it rewrites.
fn plan(version: &Version, quiet: bool, inner: &Inner) -> Option<(Task, usize)> {
    for state in version.maps.values() {
        let segs = summaries(state);
        let pick = if quiet {
            policy::once_quiet(&segs)
        } else {
            None
        }
        .or_else(|| {
            policy::while_writing(&segs, inner.options.large_rows, MAX_FILES, false)
                .or_else(|| policy::levelled(&segs, inner.options.large_rows))
        });
        let Some(pick) = pick else { continue };
        let rows: usize = pick.iter().map(|i| segs[*i].rows - segs[*i].dead).sum();
        // Only a quiet plan picks named segments. The install rewrites removals that name
        // them by value; bulk adds need the journal folded first.
        let fold = (state.journal.journal_bulk > 0 && pick.iter().any(|i| segs[*i].named))
            .then(|| (state.name.clone(), state.id));
        let inputs = pick
            .iter()
            .map(|i| state.objects.segs()[*i].clone())
            .collect();
        let job = Job {
            map: state.name.clone(),
            map_id: state.id,
            channels: state.config.channels as usize,
            inputs,
        };
        return Some((Task { job, fold }, rows));
    }
    None
}

/// Takes the writer lock for an install, giving up when the database closes or the work
/// is cancelled meanwhile (a transaction may hold it for long, or forever when its owner
/// is the one closing).
pub(crate) fn writer_lock(inner: &Inner) -> Option<parking_lot::MutexGuard<'_, ()>> {
    loop {
        if let Some(g) = inner.writer.try_lock_for(Duration::from_millis(20)) {
            return Some(g);
        }
        if inner.merge.cancelled() || inner.merge.closing() {
            return None;
        }
    }
}

/// Hands out a blob id for a file the merger writes.
pub(crate) fn allocate(inner: &Inner) -> u64 {
    let mut next = inner.next_blob.lock();
    let id = *next;
    *next += 1;
    id
}

/// Publishes `state` in place of map `state.name` (the caller holds the writer lock).
pub(crate) fn publish(inner: &Inner, current: &Version, state: MapState) {
    let mut version = current.clone();
    version.maps.insert(state.name.to_string(), Arc::new(state));
    *inner.current.write() = Arc::new(version);
}

/// Registers `ids` as being merged.
pub(crate) fn register(inner: &Inner, ids: impl IntoIterator<Item = u64>) {
    inner.merge.lock().merging.extend(ids);
}

/// The result type of a background task: whether it installed its work.
pub(crate) type Outcome = Result<bool>;
