//! Mapping a function over a few large items on scoped threads, keeping their order:
//! blocks are compressed and decompressed this way (each is about 1 MiB of work).

/// The threads to use when the caller asks for `requested` (0: the machine's cores, at
/// most 4).
pub fn threads(requested: usize) -> usize {
    if requested > 0 {
        return requested;
    }
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4)
}

/// `items.map(f)` in order, on up to `threads` threads (the caller's among them).
pub fn map<T: Send, R: Send>(items: Vec<T>, threads: usize, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let n = items.len();
    if threads <= 1 || n <= 1 {
        return items.into_iter().map(f).collect();
    }
    let mut inputs: Vec<Option<T>> = items.into_iter().map(Some).collect();
    let mut outputs: Vec<Option<R>> = (0..n).map(|_| None).collect();
    let per = n.div_ceil(threads.min(n));
    let f = &f;
    std::thread::scope(|s| {
        let mut parts: Vec<_> = inputs
            .chunks_mut(per)
            .zip(outputs.chunks_mut(per))
            .collect();
        let mine = parts.pop();
        for (ins, outs) in parts {
            s.spawn(move || run(ins, outs, f));
        }
        if let Some((ins, outs)) = mine {
            run(ins, outs, f);
        }
    });
    outputs.into_iter().flatten().collect()
}

fn run<T, R>(ins: &mut [Option<T>], outs: &mut [Option<R>], f: &impl Fn(T) -> R) {
    for (i, o) in ins.iter_mut().zip(outs.iter_mut()) {
        if let Some(x) = i.take() {
            *o = Some(f(x));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_the_order() {
        for threads in 1..5 {
            for n in 0..9 {
                let v: Vec<usize> = (0..n).collect();
                let out = super::map(v, threads, |x| x * 2);
                assert_eq!(out, (0..n).map(|x| x * 2).collect::<Vec<_>>());
            }
        }
    }
}
