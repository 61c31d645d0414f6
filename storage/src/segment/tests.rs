//! The segment file against its own writer: round trips, look-ups, damage and limits.
use super::open::search;
use super::*;
use crate::Blob;

struct Vecs {
    ids: Vec<String>,
    kinds: Vec<String>,
    pos: Vec<[f32; 3]>,
    emb: Vec<f32>,
    conf: Vec<f32>,
    ch: usize,
}

impl Rows for Vecs {
    fn len(&self) -> usize {
        self.ids.len()
    }
    fn id(&self, i: usize) -> &str {
        &self.ids[i]
    }
    fn kind(&self, i: usize) -> &str {
        &self.kinds[i]
    }
    fn position(&self, i: usize) -> [f32; 3] {
        self.pos[i]
    }
    fn embedding(&self, i: usize) -> &[f32] {
        &self.emb[i * self.ch..(i + 1) * self.ch]
    }
    fn confidence(&self, i: usize) -> f32 {
        self.conf[i]
    }
}

fn sample(n: usize) -> Vecs {
    let ch = 3;
    Vecs {
        ids: (0..n).map(|i| format!("obj-{i}-é")).collect(),
        kinds: (0..n)
            .map(|i| ["cube", "ball"][i % 2].to_string())
            .collect(),
        pos: (0..n).map(|i| [i as f32, -(i as f32), 0.5]).collect(),
        emb: (0..n * ch).map(|i| i as f32 * 0.25).collect(),
        conf: (0..n).map(|i| (i % 10) as f32 / 10.0).collect(),
        ch,
    }
}

/// A (flat) tree of the right shape for `n` rows.
fn tree_for(n: usize) -> (Vec<usize>, Vec<Aabb>) {
    let mut lens = Vec::new();
    let mut nodes = n.div_ceil(TREE_FANOUT);
    loop {
        lens.push(nodes);
        if nodes <= TREE_FANOUT {
            break;
        }
        nodes = nodes.div_ceil(TREE_FANOUT);
    }
    let total = lens.iter().sum();
    (lens, vec![[0.0; 6]; total])
}

fn encode(v: &Vecs) -> Blob {
    let (lens, boxes) = tree_for(v.len());
    build(
        7,
        v.ch,
        v,
        TreeParts {
            level_lens: &lens,
            boxes: &boxes,
        },
    )
    .unwrap()
}

#[test]
fn round_trip_and_lookup() {
    for n in [0, 1, 17, 300, 5000] {
        let v = sample(n);
        let seg = SegmentFile::open(9, encode(&v)).unwrap();
        assert_eq!((seg.rows(), seg.channels(), seg.map_id()), (n, 3, 7));
        assert_eq!(seg.positions(), &v.pos[..]);
        assert_eq!(seg.embeddings(), &v.emb[..]);
        assert_eq!(seg.confidence(), &v.conf[..]);
        for i in 0..n {
            assert_eq!(seg.id_of(i), v.ids[i]);
            assert_eq!(&*seg.types()[seg.kind_codes()[i] as usize], v.kinds[i]);
            assert_eq!(seg.find(&v.ids[i]), Some(i as u32));
        }
        assert_eq!(seg.find("nope"), None);
        assert_eq!(seg.find(""), None);
        // Warming reads each id's first byte (0 for an empty id).
        let slots: Vec<u32> = (0..n as u32).step_by(7).collect();
        let want = slots.iter().take(WARM_IDS).fold(0, |x, s| {
            x ^ v
                .ids
                .get(*s as usize)
                .map_or(0, |id| id.bytes().next().unwrap_or(0))
        });
        assert_eq!(seg.warm_ids(&slots), want);
    }
}

#[test]
fn search_finds_the_first_at_least() {
    let sorted: Vec<u64> = (0..1000u64).map(|i| i * i * 7919).collect();
    for h in [
        0,
        1,
        7919,
        7920,
        u64::MAX,
        999 * 999 * 7919,
        500 * 500 * 7919 - 1,
    ] {
        assert_eq!(
            search(&sorted, h),
            sorted.partition_point(|x| *x < h),
            "{h}"
        );
    }
    let dup = vec![5u64; 100];
    assert_eq!(search(&dup, 5), 0);
    assert_eq!(search(&dup, 6), 100);
}

#[test]
fn every_single_byte_change_and_truncation_is_detected() {
    let bytes = encode(&sample(40)).bytes().to_vec();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x41;
        let err = SegmentFile::open(3, Blob::copy_from(&b));
        assert!(err.is_err(), "change at {i} undetected");
    }
    for n in 0..bytes.len() {
        assert!(SegmentFile::open(3, Blob::copy_from(&bytes[..n])).is_err());
    }
}

#[test]
fn errors_name_the_segment_and_offset() {
    let mut b = encode(&sample(40)).bytes().to_vec();
    b[HEADER + 5] ^= 1;
    let err = SegmentFile::open(0x2a, Blob::copy_from(&b))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("segment 000000000000002a")
            && err.contains("offset 64")
            && err.contains("positions"),
        "{err}"
    );
}

#[test]
fn a_huge_row_count_with_valid_checksums_fails_fast() {
    let mut b = encode(&sample(2)).bytes().to_vec();
    b[24..32].copy_from_slice(&(1u64 << 60).to_le_bytes());
    let crc = crc32fast::hash(&b[..60]);
    b[60..64].copy_from_slice(&crc.to_le_bytes());
    let err = SegmentFile::open(1, Blob::copy_from(&b))
        .unwrap_err()
        .to_string();
    assert!(err.contains("rows cannot fit"), "{err}");
}
