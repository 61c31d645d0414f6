//! The sentence-encoder readers on arbitrary bytes: an error or an encoder, never a panic or
//! an unbounded allocation.
//!
//! - An input that starts with `TMSE` is the encoder's byte form (`SentenceEncoder::
//!   from_bytes`, what the database stores), read as it is and again with its CRCs made
//!   valid (`common/sections.rs`).
//! - Any other input is a Hugging Face model folder (`SentenceEncoder::load`): its parts,
//!   split on [`SEP`], are `config.json`, `tokenizer.json`, `model.safetensors`,
//!   `modules.json`, `1_Pooling/config.json` and `sentence_bert_config.json`, written into a
//!   folder of this process (reused: each input overwrites it; a missing part is a missing
//!   file).
//!
//! An encoder that loads is used — it tokenizes and embeds two texts — and its byte form
//! reads back to the same configuration and pooling. Seeded with a tiny random BERT folder
//! and its byte form (`fuzz/seeds/encoder_load/`, made by `examples/make_seeds.rs`).
//!
//! `TENSORMAP_FUZZ_DEBUG=1` prints what each load gave (to check what seeds reach).
#![no_main]

#[path = "common/sections.rs"]
mod sections;

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tensormap_model::SentenceEncoder;

/// Separates the files of a folder input (not a byte string JSON text holds).
const SEP: &[u8] = b"\x00=FILE=\x00";

/// The files of the folder, in input order.
const FILES: [&str; 6] = [
    "config.json",
    "tokenizer.json",
    "model.safetensors",
    "modules.json",
    "1_Pooling/config.json",
    "sentence_bert_config.json",
];

fn folder() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("tensormap-fuzz-encoder-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("1_Pooling")).expect("create the folder");
        dir
    })
}

fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(SEP.len()).position(|w| w == SEP) {
        parts.push(&rest[..at]);
        rest = &rest[at + SEP.len()..];
    }
    parts.push(rest);
    parts
}

fn debug<T: std::fmt::Debug, E: std::fmt::Display>(what: &str, r: &Result<T, E>) {
    if std::env::var_os("TENSORMAP_FUZZ_DEBUG").is_some() {
        match r {
            Ok(v) => eprintln!("{what}: {v:?}"),
            Err(e) => eprintln!("{what}: error: {e}"),
        }
    }
}

fn exercise(enc: &SentenceEncoder) {
    let _ = enc.tokenize("A red cube.");
    if let Ok(e) = enc.embed(&["a red cube", ""]) {
        assert_eq!(e.len(), 2);
        assert!(e.iter().all(|v| v.len() == enc.width()));
    }
    let bytes = enc
        .to_bytes()
        .expect("an encoder that loaded has a byte form");
    let back = SentenceEncoder::from_bytes(&bytes).expect("its byte form reads back");
    assert_eq!(back.config(), enc.config());
    assert_eq!(back.pooling(), enc.pooling());
}

fuzz_target!(|data: &[u8]| {
    if data.starts_with(b"TMSE") {
        let r = SentenceEncoder::from_bytes(data);
        debug("byte form", &r);
        if let Ok(enc) = r {
            exercise(&enc);
        }
        let mut sealed = data.to_vec();
        // The byte form's header: magic, version, CRC.
        sections::reseal(&mut sealed, 12);
        if sealed != data {
            if let Ok(enc) = SentenceEncoder::from_bytes(&sealed) {
                exercise(&enc);
            }
        }
        return;
    }
    let dir = folder();
    let parts = split(data);
    for (i, name) in FILES.iter().enumerate() {
        let path = dir.join(name);
        match parts.get(i) {
            Some(bytes) => std::fs::write(&path, bytes).expect("write a part"),
            None => match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("cannot remove {}: {e}", path.display()),
            },
        }
    }
    let r = SentenceEncoder::load(dir);
    debug("folder", &r);
    if let Ok(enc) = r {
        exercise(&enc);
    }
});
