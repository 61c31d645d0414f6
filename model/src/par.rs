//! Splitting a CPU kernel's output between threads (the fused attention, the in-place bias).

/// Runs `work(i, chunk)` on the `i`-th `chunk`-long piece of `out` (the last may be
/// shorter): the first piece on the calling thread, every other on a scoped thread of its
/// own. Callers size `chunk` so that there are as many pieces as threads they want.
pub fn for_chunks<F>(out: &mut [f32], chunk: usize, work: F)
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    let work = &work;
    std::thread::scope(|scope| {
        let mut chunks = out.chunks_mut(chunk.max(1)).enumerate();
        let first = chunks.next();
        for (i, piece) in chunks {
            scope.spawn(move || work(i, piece));
        }
        if let Some((i, piece)) = first {
            work(i, piece);
        }
    });
}
