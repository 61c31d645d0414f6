//! The `.vllm` format: round trips, f16 storage, and damage. Every single-byte change and
//! every truncation of a small file is an error naming a section and an offset, never a
//! panic or a silently different model.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tensormap_model::{
    Error, Model, ModelConfig, Sampling, TrainOptions, TrainSample, WeightDtype,
};

fn small() -> Model {
    let mut c = ModelConfig::small(1, 6, 2, 3);
    c.context = 16;
    Model::new(c, 11).unwrap()
}

fn committed() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny.vllm")).unwrap()
}

fn same_weights(a: &Model, b: &Model) -> bool {
    a.parameters().unwrap() == b.parameters().unwrap()
}

#[test]
fn round_trip_is_exact_and_stable() {
    let mut m = small();
    m.set_created(1_700_000_000);
    let bytes = m.to_vllm().unwrap();
    let back = Model::from_vllm(&bytes).unwrap();
    assert!(same_weights(&m, &back));
    assert_eq!(back.config(), m.config());
    assert_eq!(back.metadata(), m.metadata());
    assert_eq!(
        back.to_vllm().unwrap(),
        bytes,
        "the same model gives the same bytes"
    );
    // A file written by the NumPy reference (mixed f16/f32, BPE merges) reads and
    // re-writes to a model with the same weights.
    let tiny = Model::from_vllm(&committed()).unwrap();
    let again = Model::from_vllm(&tiny.to_vllm().unwrap()).unwrap();
    assert!(same_weights(&tiny, &again));
    assert_eq!(again.tokenizer().merges(), tiny.tokenizer().merges());
    assert_eq!(again.metadata(), tiny.metadata());
}

#[test]
fn trained_metadata_survives_the_file() {
    let mut m = small();
    let emb = [0.5f32, -0.5, 1.0];
    let samples = [TrainSample {
        text: "a",
        position: [1.0, 2.0, 3.0],
        embedding: &emb,
    }];
    let opts = TrainOptions {
        epochs: 2,
        ..TrainOptions::default()
    };
    let report = m
        .train(&samples, &opts, |_| std::ops::ControlFlow::Continue(()))
        .unwrap();
    let back = Model::from_vllm(&m.to_vllm().unwrap()).unwrap();
    assert_eq!(back.info().steps, 2);
    assert_eq!(back.info().loss, Some(report.final_loss));
    assert!(same_weights(&m, &back));
}

#[test]
fn f16_storage_halves_the_weights_and_rounds_them() {
    let m = Model::new(ModelConfig::small(2, 24, 2, 4), 3).unwrap();
    let f32_bytes = m.to_vllm().unwrap();
    let f16_bytes = m.to_vllm_as(WeightDtype::F16).unwrap();
    let n = m.info().parameters as usize;
    assert_eq!(f32_bytes.len() - f16_bytes.len(), 2 * n);
    let back = Model::from_vllm(&f16_bytes).unwrap();
    for (a, b) in m
        .parameters()
        .unwrap()
        .iter()
        .zip(back.parameters().unwrap())
    {
        for (x, y) in a.values.iter().zip(&b.values) {
            assert!(
                (x - y).abs() <= x.abs() * 1e-3 + 1e-7,
                "{}: {x} vs {y}",
                a.name
            );
        }
    }
    // Close enough to generate the same greedy text.
    let g = |m: &Model| m.generate("cube", 5, &Sampling::greedy()).unwrap();
    assert_eq!(g(&m), g(&back));
}

fn describe(e: &Error) -> (&'static str, u64) {
    match e {
        Error::Format {
            section, offset, ..
        } => (section, *offset),
        other => panic!("expected a format error, got {other}"),
    }
}

#[test]
fn every_single_byte_change_is_detected() {
    let bytes = small().to_vllm().unwrap();
    assert!(
        bytes.len() < 32 * 1024,
        "a small file: {} bytes",
        bytes.len()
    );
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[i] ^= flip;
            let e = Model::from_vllm(&bad).expect_err(&format!("byte {i} ^ {flip:#x} went unseen"));
            let (_, offset) = describe(&e);
            assert!(offset <= bytes.len() as u64, "{e}");
        }
    }
}

#[test]
fn every_truncation_and_extension_is_detected() {
    let bytes = small().to_vllm().unwrap();
    for len in 0..bytes.len() {
        let e = Model::from_vllm(&bytes[..len]).expect_err(&format!("truncated to {len}"));
        describe(&e);
    }
    let mut longer = bytes.clone();
    longer.push(0);
    let e = Model::from_vllm(&longer).unwrap_err();
    assert_eq!(describe(&e), ("end", bytes.len() as u64));
}

/// Re-seals a section after an edit, so that the structure, not the CRC, is what fails.
fn reseal(bytes: &mut [u8], section_start: usize) {
    let len = u64::from_le_bytes(
        bytes[section_start + 4..section_start + 12]
            .try_into()
            .unwrap(),
    );
    let end = section_start + 12 + len as usize;
    let crc = crc32(&bytes[section_start..end]);
    bytes[end..end + 4].copy_from_slice(&crc.to_le_bytes());
}

fn crc32(data: &[u8]) -> u32 {
    // Bitwise CRC-32 (IEEE), the checksum of docs/FORMATS.md.
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn resealed_structural_damage_is_named() {
    let bytes = small().to_vllm().unwrap();
    let conf = 16;
    // A configuration that does not validate: heads = 4 does not divide dim = 6.
    let mut bad = bytes.clone();
    bad[conf + 12 + 8..conf + 12 + 12].copy_from_slice(&4u32.to_le_bytes());
    reseal(&mut bad, conf);
    let e = Model::from_vllm(&bad).unwrap_err();
    assert_eq!(describe(&e).0, "CONF");
    assert!(e.to_string().contains("multiple of heads"), "{e}");
    // A huge merge count: refused by arithmetic, nothing allocated.
    let tokn = conf + 12 + 48 + 4;
    let mut bad = bytes.clone();
    bad[tokn + 13..tokn + 17].copy_from_slice(&u32::MAX.to_le_bytes());
    reseal(&mut bad, tokn);
    let e = Model::from_vllm(&bad).unwrap_err();
    assert_eq!(describe(&e).0, "TOKN");
    // A weight directory entry renamed.
    let wght = tokn + 12 + 5 + 4;
    let mut bad = bytes.clone();
    bad[wght + 12 + 4 + 2] ^= 0x20; // 't' of token_embedding -> 'T'
    reseal(&mut bad, wght);
    let e = Model::from_vllm(&bad).unwrap_err();
    assert_eq!(describe(&e), ("WGHT", (wght + 12 + 4) as u64));
    assert!(e.to_string().contains("token_embedding.weight"), "{e}");
    // A non-finite weight.
    let mut bad = bytes.clone();
    let data_end =
        wght + 12 + u64::from_le_bytes(bytes[wght + 4..wght + 12].try_into().unwrap()) as usize;
    bad[data_end - 4..data_end].copy_from_slice(&f32::NAN.to_le_bytes());
    reseal(&mut bad, wght);
    let e = Model::from_vllm(&bad).unwrap_err();
    assert!(e.to_string().contains("not finite"), "{e}");
    // A section length far beyond the file.
    let mut bad = bytes.clone();
    bad[wght + 4..wght + 12].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    let e = Model::from_vllm(&bad).unwrap_err();
    assert_eq!(describe(&e), ("WGHT", (wght + 4) as u64));
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[test]
fn merges_that_double_their_tokens_are_refused_without_the_memory() {
    // tests/data/doubling_merges.vllm (421 bytes, valid CRCs): a CONF of vocabulary 300 and a
    // TOKN of 40 merges, "aa" then each token joined with itself, which would spell 2^41
    // bytes; it ran the `vllm_read` fuzz target out of memory before the tokenizer bounded
    // the bytes its merges spell.
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/doubling_merges.vllm"
    ))
    .unwrap();
    assert_eq!(bytes.len(), 421);
    let e = Model::from_vllm(&bytes).unwrap_err();
    assert_eq!(describe(&e).0, "TOKN");
    assert!(e.to_string().contains("bytes a merge"), "{e}");
}

#[test]
fn other_files_and_versions_are_refused() {
    let bytes = small().to_vllm().unwrap();
    let e = Model::from_vllm(b"PK\x03\x04 a zip file, not a model").unwrap_err();
    assert!(e.to_string().contains("not a .vllm file"), "{e}");
    let mut v2 = bytes.clone();
    v2[4] = 2;
    let crc = crc32(&v2[..12]);
    v2[12..16].copy_from_slice(&crc.to_le_bytes());
    let e = Model::from_vllm(&v2).unwrap_err();
    assert!(e.to_string().contains("version 2"), "{e}");
    let e = Model::load("/nonexistent/dir/model.vllm").unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
    assert!(e.to_string().contains("/nonexistent/dir/model.vllm"), "{e}");
}

#[test]
fn save_and_load_through_a_file() {
    let dir = std::env::temp_dir().join(format!("tensormap-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.vllm");
    let m = small();
    m.save(&path).unwrap();
    let back = Model::load(&path).unwrap();
    assert!(same_weights(&m, &back));
    std::fs::remove_dir_all(&dir).unwrap();
}
