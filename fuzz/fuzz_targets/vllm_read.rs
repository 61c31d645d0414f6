//! The `.vllm` model readers on arbitrary bytes — the spatial V-LLM's (`Model::from_vllm`)
//! and the command model's (`command::CommandModel::from_bytes`, model type 3, what `ASK
//! USING` loads) — : an error or a model, never a panic or an unbounded allocation. Each input is read as it is, then again with
//! its CRCs made valid (`common/sections.rs`), so that changed bytes reach the parsers
//! behind the checksums. A model that reads is used — its tokenizer encodes and decodes a
//! text, it embeds the text and generates two tokens — and written back: its bytes read
//! again to the same configuration, tokenizer and metadata; a command model that reads
//! answers a question about a small catalog and its bytes read back. Seeded with small
//! models written by the crate's own writers (`fuzz/seeds/vllm_read/`, made by
//! `examples/make_seeds.rs`): f32 and f16 weights, byte-level and BPE tokenizers, a command
//! model.
//!
//! `TENSORMAP_FUZZ_DEBUG=1` prints what each read gave (to check what seeds reach).
#![no_main]

#[path = "common/sections.rs"]
mod sections;

use libfuzzer_sys::fuzz_target;
use tensormap_model::command::{Catalog, CommandModel};
use tensormap_model::{Model, Sampling, WeightDtype};

/// The `.vllm` header's length, its CRC included.
const HEADER_LEN: usize = 16;

fn debug() -> bool {
    std::env::var_os("TENSORMAP_FUZZ_DEBUG").is_some()
}

fn read(bytes: &[u8]) {
    let cmd = CommandModel::from_bytes(bytes);
    if debug() {
        eprintln!(
            "command model: {:?}",
            cmd.as_ref().map(|c| c.model().config())
        );
    }
    if let Ok(cmd) = cmd {
        let catalog = Catalog::new("m", ["cube", "chair"]);
        let _ = cmd.ask("how many cubes are there?", &catalog);
        let again = cmd
            .to_bytes(WeightDtype::F32)
            .expect("a command model that was read can be written");
        let back = CommandModel::from_bytes(&again).expect("what the writer writes reads back");
        assert_eq!(back.model().config(), cmd.model().config());
        assert_eq!(back.settings(), cmd.settings());
    }
    let model = Model::from_vllm(bytes);
    if debug() {
        eprintln!("model: {:?}", model.as_ref().map(|m| m.config()));
    }
    let Ok(model) = model else {
        return;
    };
    // A model this reader accepts runs: its weights are finite, its configuration valid,
    // and the work is bounded by the weights, which are in the input.
    let text = "a red cube near [1, 2, 3]";
    if let Ok(ids) = model.tokenizer().encode(text) {
        let _ = model.tokenizer().decode(&ids);
    }
    let _ = model.embed(&[text, ""]);
    let _ = model.generate(text, 2, &Sampling::greedy());
    let bytes = model
        .to_vllm()
        .expect("a model that was read can be written");
    let back = Model::from_vllm(&bytes).expect("what the writer writes reads back");
    assert_eq!(back.config(), model.config());
    assert_eq!(back.tokenizer().merges(), model.tokenizer().merges());
    assert_eq!(back.metadata(), model.metadata());
}

fuzz_target!(|data: &[u8]| {
    read(data);
    let mut sealed = data.to_vec();
    sections::reseal(&mut sealed, HEADER_LEN);
    if sealed != data {
        read(&sealed);
    }
});
