//! The SQLite peer of `benches/peers.rs` answers exactly as brute force and tensormap do,
//! so the benchmark compares the same work.

#[path = "../benches/common/sqlite.rs"]
mod sqlite;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap::{Database, MapConfig, Object};

#[test]
fn sqlite_peer_matches_brute_force_and_tensormap() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let objects: Vec<Object> = (0..20_000)
        .map(|i| {
            let p = [0; 3].map(|_| rng.random_range(-500.0f32..500.0));
            Object::new(format!("obj{i:07}"), "cube", p, vec![0.5; 32])
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut peer = sqlite::SqlitePeer::open(&dir.path().join("peer.db")).unwrap();
    assert!(
        peer.nearest([0.0; 3], 5).unwrap().is_empty(),
        "an empty table"
    );
    peer.load(&objects, 0, 3000).unwrap();
    let db = Database::open_in_memory().unwrap();
    db.create_map("m", MapConfig::default()).unwrap();
    let mut txn = db.begin_write().unwrap();
    for o in &objects {
        txn.insert("m", o.clone()).unwrap();
    }
    txn.commit().unwrap();
    let read = db.begin_read().unwrap();
    let map = read.map("m").unwrap();
    let dist = |o: &Object, c: [f32; 3]| {
        (0..3)
            .map(|a| (f64::from(o.position[a]) - f64::from(c[a])).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    for _ in 0..200 {
        let c = [0; 3].map(|_| rng.random_range(-600.0f32..600.0));
        let r = rng.random_range(0.0f32..120.0);
        let mut got = peer.within(c, r).unwrap();
        got.sort_unstable();
        let want: Vec<i64> = (0..objects.len() as i64)
            .filter(|i| dist(&objects[*i as usize], c) <= f64::from(r))
            .collect();
        assert_eq!(got, want, "radius {r} around {c:?}");

        let k = rng.random_range(1..30);
        let got = peer.nearest(c, k).unwrap();
        let ours = map.nearest(c, k).unwrap();
        assert_eq!(got.len(), k);
        let mut all: Vec<(f64, i64)> = (0..objects.len() as i64)
            .map(|i| (dist(&objects[i as usize], c), i))
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (rank, ((id, d), (o, od))) in got.iter().zip(&ours).enumerate() {
            assert_eq!(*id, all[rank].1, "nearest {k} to {c:?}, rank {rank}");
            assert!((d - all[rank].0).abs() < 1e-9);
            assert_eq!(o.id(), objects[*id as usize].id);
            assert!((f64::from(*od) - d).abs() < 1e-3);
        }
    }
}
