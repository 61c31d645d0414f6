//! sled's space amplification: the bytes on disk of a database after 1M inserts and 500k
//! deletes, against the bytes of the records it holds. A report, not a check:
//! `cargo test --release --test space -- --ignored --nocapture`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap::{Database, MapConfig, Object};

#[test]
#[ignore = "report: 1M inserts and 500k deletes on disk (about a minute in release)"]
fn space_after_a_million_inserts_and_half_a_million_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("db")).unwrap();
    db.create_map("m", MapConfig::default()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for batch in 0..100 {
        let mut txn = db.begin_write().unwrap();
        for i in 0..10_000 {
            let p = [0; 3].map(|_| rng.random_range(-500.0f32..500.0));
            let e = (0..32).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            txn.insert(
                "m",
                Object::new(format!("o{:07}", batch * 10_000 + i), "t", p, e),
            )
            .unwrap();
        }
        txn.commit().unwrap();
    }
    let after_inserts = (
        db.size_on_disk().unwrap(),
        db.map_stored_bytes("m").unwrap(),
    );
    for batch in 0..50 {
        let mut txn = db.begin_write().unwrap();
        for i in 0..10_000 {
            txn.delete("m", &format!("o{:07}", 2 * (batch * 10_000 + i)))
                .unwrap();
        }
        txn.commit().unwrap();
    }
    db.checkpoint().unwrap();
    let after_deletes = (
        db.size_on_disk().unwrap(),
        db.map_stored_bytes("m").unwrap(),
    );
    drop(db);
    let reopened = Database::open(dir.path().join("db")).unwrap();
    let after_reopen = reopened.size_on_disk().unwrap();
    let mb = |b: u64| b as f64 / 1e6;
    println!(
        "1M inserts: {:.0} MB on disk for {:.0} MB of records ({:.1}×)",
        mb(after_inserts.0),
        mb(after_inserts.1),
        after_inserts.0 as f64 / after_inserts.1 as f64
    );
    println!(
        "then 500k deletes: {:.0} MB on disk for {:.0} MB of records ({:.1}×); after a reopen {:.0} MB",
        mb(after_deletes.0), mb(after_deletes.1), after_deletes.0 as f64 / after_deletes.1 as f64, mb(after_reopen)
    );
    assert_eq!(reopened.maps()[0].objects, 500_000);
}
