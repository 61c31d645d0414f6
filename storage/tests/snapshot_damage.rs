//! Damage to a small snapshot is always found when it is opened, before anything is read
//! from it: every single-byte change at every position, every truncation, anything
//! appended. Errors name the section the damaged byte lies in. Contents that are wrong
//! behind valid checksums (re-sealed with `reseal`) fail with an error too, never a panic.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use tensormap_storage::snapshot::{
    reseal, Compression, Format, Section, SnapshotError, SnapshotOptions, SnapshotReader,
    FOOTER_LEN, HEADER_LEN,
};
use tensormap_storage::{Dtype, MapConfig};

fn small(compression: Compression, dtype: Dtype) -> Vec<u8> {
    let cfg = MapConfig {
        resolution: 16,
        channels: 1,
        bounds: 10.0,
        splat_radius: 1,
        ..MapConfig::default()
    };
    let scene = common::scene(&cfg, 3, 7);
    assert!(!scene.bricks.is_empty());
    scene
        .to_bytes(&SnapshotOptions {
            compression,
            dtype,
            ..Default::default()
        })
        .unwrap()
}

/// Which section byte `i` of `bytes` lies in.
fn section_of(bytes: &[u8], i: usize) -> Section {
    let foot = bytes.len() - FOOTER_LEN;
    let at = |k: usize| {
        u64::from_le_bytes(bytes[foot + 8 * k..foot + 8 * k + 8].try_into().unwrap()) as usize
    };
    match i {
        i if i < HEADER_LEN => Section::Header,
        i if i >= foot => Section::Footer,
        i if i < at(2) => Section::Objects,
        i if i < at(4) => Section::Topology,
        _ => Section::Field,
    }
}

fn open(bytes: Vec<u8>) -> Result<SnapshotReader, SnapshotError> {
    SnapshotReader::from_bytes(bytes, "damaged")
}

#[test]
fn every_single_byte_change_is_found_at_open() {
    for (compression, dtype, all_values) in [
        (Compression::Zstd, Dtype::F32, true),
        (Compression::None, Dtype::I8, false),
        (Compression::Zstd, Dtype::F16, false),
    ] {
        let good = small(compression, dtype);
        open(good.clone()).unwrap().verify().unwrap();
        // Every possible new value for the zstd file; for the others three patterns a byte.
        let deltas: Vec<u8> = if all_values {
            (1..=255).collect()
        } else {
            vec![0x01, 0x80, 0xff]
        };
        let mut sections = std::collections::HashSet::new();
        for i in 0..good.len() {
            let expected = section_of(&good, i);
            sections.insert(format!("{expected}"));
            for &d in &deltas {
                let mut bad = good.clone();
                bad[i] ^= d;
                let err = match open(bad) {
                    Ok(_) => panic!("{compression:?}: byte {i} ^ {d:#04x} not detected"),
                    Err(e) => e,
                };
                // A changed magic may read as another format; anything else names its section.
                if i >= 4 {
                    assert_eq!(err.section(), Some(expected), "byte {i} ^ {d:#04x}: {err}");
                } else {
                    assert!(err.section().is_some(), "{err}");
                }
            }
        }
        assert_eq!(
            sections.len(),
            5,
            "the small snapshot lacks a section: {sections:?}"
        );
    }
}

#[test]
fn every_truncation_and_any_extension_is_found_at_open() {
    let good = small(Compression::Zstd, Dtype::F32);
    for n in 0..good.len() {
        let err = open(good[..n].to_vec())
            .err()
            .unwrap_or_else(|| panic!("truncation to {n} bytes accepted"));
        assert!(matches!(err, SnapshotError::Corrupt { .. }), "{n}: {err}");
    }
    for extra in [&b"\0"[..], b"T3D!", &[0u8; 80]] {
        let mut longer = good.clone();
        longer.extend_from_slice(extra);
        assert!(open(longer).is_err());
    }
}

#[test]
fn errors_say_where_and_what() {
    let good = small(Compression::Zstd, Dtype::F32);
    let mut bad = good.clone();
    bad[HEADER_LEN + 20] ^= 1; // inside the first object block
    let err = open(bad).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("damaged snapshot damaged: objects at offset 64: block checksum mismatch"),
        "{text}"
    );
    let mut bad = good.clone();
    bad[29] = 1; // gzip, with a valid checksum
    reseal(&mut bad);
    let text = open(bad).unwrap_err().to_string();
    assert!(
        text.contains("compression gzip (code 1) is not supported"),
        "{text}"
    );
    let mut bad = good.clone();
    bad[4] = 2; // version 2
    reseal(&mut bad);
    let text = open(bad).unwrap_err().to_string();
    assert!(text.contains("format version 2"), "{text}");
    let text = open(b"PK\x03\x04 a zip file, not a snapshot".repeat(5))
        .unwrap_err()
        .to_string();
    assert!(text.contains("not a .tensor3d snapshot"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let err = SnapshotReader::open(dir.path().join("missing.tensor3d")).unwrap_err();
    assert!(matches!(err, SnapshotError::Io { .. }), "{err}");
}

#[test]
fn resealed_damage_fails_cleanly_without_a_panic() {
    // Behind valid checksums a changed byte reaches the decoders: an error or, where the
    // change happens to be harmless (a value, a position), a valid snapshot — never a panic.
    for compression in [Compression::None, Compression::Zstd] {
        let good = small(compression, Dtype::I8);
        let mut errors = 0;
        for i in 0..good.len() {
            for d in [0x01u8, 0x40, 0xff] {
                let mut bad = good.clone();
                bad[i] ^= d;
                reseal(&mut bad);
                match open(bad) {
                    Err(_) => errors += 1,
                    Ok(r) => {
                        if r.verify().is_err() {
                            errors += 1;
                        }
                    }
                }
            }
        }
        assert!(errors > good.len(), "{compression:?}: only {errors} errors");
    }
}

#[test]
fn json_damage_to_the_tensor_data_is_found_at_open() {
    let cfg = MapConfig {
        resolution: 16,
        channels: 1,
        bounds: 10.0,
        splat_radius: 1,
        ..MapConfig::default()
    };
    let scene = common::scene(&cfg, 3, 7);
    let good = scene
        .to_bytes(&SnapshotOptions {
            format: Format::Json,
            ..Default::default()
        })
        .unwrap();
    let text = String::from_utf8(good.clone()).unwrap();
    let data = text.find("\"data\": \"").unwrap() + 9;
    let end = data + text[data..].find('"').unwrap();
    // Swapping a base64 character for another changes the decoded bytes.
    for i in data..end - 2 {
        let mut bad = good.clone();
        bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
        assert!(
            open(bad.clone()).is_err(),
            "tensor data byte {i} changed, not detected (data {data}..{end}): {}",
            String::from_utf8_lossy(&bad[data..end])
        );
    }
    // Every truncation that removes more than trailing white space.
    let last = good.iter().rposition(|b| !b.is_ascii_whitespace()).unwrap();
    for n in 0..=last {
        assert!(
            open(good[..n].to_vec()).is_err(),
            "JSON cut to {n} bytes accepted"
        );
    }
}
