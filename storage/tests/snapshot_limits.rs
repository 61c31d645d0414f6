//! Counts and lengths read from a file never drive an allocation: a header claiming 2^60
//! objects, or blocks claiming gigabytes, fail at once within a memory budget of a small
//! multiple of the file, and streaming a large file holds a few blocks, not the file. The
//! budget is enforced by this test binary's allocator (`cap`): going over it aborts the
//! test. One test function, so that no other test allocates meanwhile.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cap::Cap;
use tensormap_storage::snapshot::{
    reseal, SnapshotOptions, SnapshotReader, FOOTER_LEN, HEADER_LEN,
};
use tensormap_storage::MapConfig;

#[global_allocator]
static ALLOC: Cap<std::alloc::System> = Cap::new(std::alloc::System, usize::MAX);

/// Runs `f` allowed `budget` bytes more than are allocated now.
fn within<T>(budget: usize, f: impl FnOnce() -> T) -> T {
    ALLOC.set_limit(ALLOC.allocated() + budget).unwrap();
    let out = f();
    ALLOC.set_limit(usize::MAX).unwrap();
    out
}

fn small() -> Vec<u8> {
    let cfg = MapConfig {
        resolution: 16,
        channels: 4,
        bounds: 10.0,
        ..MapConfig::default()
    };
    common::scene(&cfg, 5, 9)
        .to_bytes(&SnapshotOptions {
            threads: 1,
            ..Default::default()
        })
        .unwrap()
}

#[test]
fn claims_and_streaming_stay_within_a_memory_budget() {
    huge_claims_fail_fast_without_allocating();
    reading_holds_a_few_blocks_not_the_file();
}

fn huge_claims_fail_fast_without_allocating() {
    let good = small();
    let foot = good.len() - FOOTER_LEN;
    // (what, offset, new value, its width in bytes)
    let cases = [
        ("2^60 objects", foot + 48, 1u64 << 60, 8),
        ("2^60 bricks", foot + 56, 1 << 60, 8),
        ("a 2^60-byte topology", foot + 24, 1 << 60, 8),
        ("a 4 GiB stored block", HEADER_LEN + 8, u32::MAX as u64, 4),
        ("a 4 GiB raw block", HEADER_LEN + 4, u32::MAX as u64, 4),
        (
            "2^32 - 1 objects in a block",
            HEADER_LEN,
            u32::MAX as u64,
            4,
        ),
    ];
    for (what, at, value, width) in cases {
        let mut bad = good.clone();
        bad[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
        reseal(&mut bad);
        let len = good.len();
        let start = std::time::Instant::now();
        // The file is moved in; the reader may copy a block or two of it, no more.
        let r = within(2 * len + 4096, || {
            SnapshotReader::from_bytes(bad, "claims").map(|_| ())
        });
        r.expect_err(what);
        assert!(start.elapsed().as_secs_f64() < 1.0, "{what}: slow");
    }
}

fn reading_holds_a_few_blocks_not_the_file() {
    let cfg = MapConfig {
        channels: 32,
        ..MapConfig::default()
    };
    let scene = common::scene(&cfg, 20_000, 10);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.tensor3d");
    scene
        .write(
            &path,
            &SnapshotOptions {
                threads: 1,
                ..Default::default()
            },
        )
        .unwrap();
    drop(scene);
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    assert!(len > 12 << 20, "file of {len} bytes");
    // Two blocks in flight (≤ 4 MiB raw each, ~1 MiB here) and their decoded items.
    within(12 << 20, || {
        let r = SnapshotReader::open(&path).unwrap().with_threads(1);
        for c in r.objects() {
            c.unwrap();
        }
        for b in r.bricks() {
            b.unwrap();
        }
    });
}
