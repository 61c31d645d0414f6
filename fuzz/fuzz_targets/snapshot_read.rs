//! The `.tensor3d` reader (binary and JSON) on arbitrary bytes: an error or a snapshot,
//! never a panic or an unbounded allocation. Each input is read as it is, then again with
//! its checksums made valid (`reseal`), so that changed bytes reach the decoders behind
//! the checksums. Seeded with the files of `tests/data/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tensormap_storage::snapshot::{reseal, SnapshotReader};

fn read(bytes: Vec<u8>) {
    let Ok(reader) = SnapshotReader::from_bytes(bytes, "fuzz") else {
        return;
    };
    let reader = reader.with_threads(1);
    let mut objects = 0u64;
    for chunk in reader.objects() {
        match chunk {
            Ok(c) => objects += c.len() as u64,
            Err(_) => return,
        }
    }
    assert_eq!(objects, reader.object_count());
    let mut bricks = 0u64;
    for brick in reader.bricks() {
        match brick {
            Ok(b) => {
                assert_eq!(b.counts.len(), 512);
                assert_eq!(b.values.len(), 512 * reader.config().channels as usize);
                bricks += 1;
            }
            Err(_) => return,
        }
    }
    assert_eq!(bricks, reader.brick_count());
    let _ = reader.verify();
}

fuzz_target!(|data: &[u8]| {
    read(data.to_vec());
    let mut sealed = data.to_vec();
    reseal(&mut sealed);
    if sealed != data {
        read(sealed);
    }
});
