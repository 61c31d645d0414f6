//! Writes the seed corpora of the fuzz targets into `fuzz/seeds/TARGET/`, each file made by
//! the project's own writers where there is one:
//!
//! - `vllm_read`: tiny V-LLMs (`Model::to_vllm`, f32 and f16 weights, byte-level and BPE
//!   tokenizers);
//! - `encoder_load`: a tiny random BERT folder (its files joined as the target splits them:
//!   the weights written by candle's safetensors writer) and its byte form
//!   (`SentenceEncoder::to_bytes`);
//! - `copy_import`: a small map exported by `COPY m TO` as Parquet, CSV and JSON Lines, each
//!   behind the byte that picks its format;
//! - `server_body`: one request body per route, behind the byte that picks the route;
//! - `tql_exec`: statements on the target's fixture.
//!
//! Run from `fuzz/`: `cargo run --example make_seeds` (a plain build, not the fuzz one).
//! The seeds are committed; run it again when a format changes.
// A tool, not library code: a failure is a panic with its reason (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use tensormap::Database;
use tensormap_model::command::CommandModel;
use tensormap_model::{Model, ModelConfig, SentenceEncoder, Tokenizer, WeightDtype};

/// As in fuzz_targets/encoder_load.rs.
const SEP: &[u8] = b"\x00=FILE=\x00";

fn seeds(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
    println!("{}: {} bytes", dir.join(name).display(), bytes.len());
}

fn tiny_config(vocab_size: usize) -> ModelConfig {
    ModelConfig {
        dim: 6,
        hidden: 8,
        heads: 1,
        layers: 1,
        vocab_size,
        channels: 2,
        context: 8,
        ..ModelConfig::default()
    }
}

fn vllm() {
    let dir = seeds("vllm_read");
    let plain = Model::new(tiny_config(260), 1).unwrap();
    write(
        &dir,
        "bytes-f16.vllm",
        &plain.to_vllm_as(WeightDtype::F16).unwrap(),
    );
    write(&dir, "bytes-f32.vllm", &plain.to_vllm().unwrap());
    // Merges: "re" (256), "red" (257), "cu" (258), "cub" (259), "red " (260).
    let merges = vec![(114, 101), (256, 100), (99, 117), (258, 98), (257, 32)];
    let tok = Tokenizer::bpe(merges).unwrap();
    let vocab = tok.vocab_size();
    let bpe = Model::with_tokenizer(tiny_config(vocab), tok, 2).unwrap();
    write(
        &dir,
        "bpe-f16.vllm",
        &bpe.to_vllm_as(WeightDtype::F16).unwrap(),
    );
    // A command model (model type 3): the symbol merges, three text merges ("cu", "be",
    // "cube"), the shortest context it may have.
    let config = ModelConfig {
        context: 80,
        ..tiny_config(0)
    };
    let text = [
        (b"c".to_vec(), b"u".to_vec()),
        (b"b".to_vec(), b"e".to_vec()),
        (b"cu".to_vec(), b"be".to_vec()),
    ];
    let cmd = CommandModel::new(config, &text, 3).unwrap();
    write(
        &dir,
        "command-f16.vllm",
        &cmd.to_bytes(WeightDtype::F16).unwrap(),
    );
}

// ---------------------------------------------------------------- the encoder (as model/tests/encoder.rs)

const WORDS: [&str; 12] = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "red", "cube", "blue", "box", "a", "the", "##s", ".",
];

fn tokenizer_json() -> String {
    let vocab: Vec<String> = WORDS
        .iter()
        .enumerate()
        .map(|(i, w)| format!("\"{w}\":{i}"))
        .collect();
    format!(
        r###"{{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
"normalizer":{{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true}},
"pre_tokenizer":{{"type":"BertPreTokenizer"}},
"post_processor":{{"type":"TemplateProcessing",
"single":[{{"SpecialToken":{{"id":"[CLS]","type_id":0}}}},{{"Sequence":{{"id":"A","type_id":0}}}},{{"SpecialToken":{{"id":"[SEP]","type_id":0}}}}],
"pair":[{{"SpecialToken":{{"id":"[CLS]","type_id":0}}}},{{"Sequence":{{"id":"A","type_id":0}}}},{{"SpecialToken":{{"id":"[SEP]","type_id":0}}}},{{"Sequence":{{"id":"B","type_id":1}}}},{{"SpecialToken":{{"id":"[SEP]","type_id":1}}}}],
"special_tokens":{{"[CLS]":{{"id":"[CLS]","ids":[2],"tokens":["[CLS]"]}},"[SEP]":{{"id":"[SEP]","ids":[3],"tokens":["[SEP]"]}}}}}},
"decoder":null,
"model":{{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,"vocab":{{{}}}}}}}"###,
        vocab.join(",")
    )
}

const CONFIG: &str = r#"{"model_type":"bert","vocab_size":12,"hidden_size":4,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":4,"max_position_embeddings":6,"type_vocab_size":2,"layer_norm_eps":1e-12,"hidden_act":"gelu"}"#;

fn tensors() -> HashMap<String, Tensor> {
    let dev = Device::Cpu;
    let mut t = HashMap::new();
    let mut seed = 1u64;
    let mut rand = |shape: &[usize]| {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.4
            })
            .collect();
        Tensor::from_vec(v, shape, &dev).unwrap()
    };
    let (h, f) = (4, 4);
    t.insert(
        "bert.embeddings.word_embeddings.weight".into(),
        rand(&[12, h]),
    );
    t.insert(
        "bert.embeddings.position_embeddings.weight".into(),
        rand(&[6, h]),
    );
    t.insert(
        "bert.embeddings.token_type_embeddings.weight".into(),
        rand(&[2, h]),
    );
    t.insert("bert.embeddings.LayerNorm.weight".into(), rand(&[h]));
    t.insert("bert.embeddings.LayerNorm.bias".into(), rand(&[h]));
    let p = "bert.encoder.layer.0.";
    for (n, s) in [
        ("attention.self.query", [h, h]),
        ("attention.self.key", [h, h]),
        ("attention.self.value", [h, h]),
        ("attention.output.dense", [h, h]),
        ("intermediate.dense", [f, h]),
        ("output.dense", [h, f]),
    ] {
        t.insert(format!("{p}{n}.weight"), rand(&s));
        t.insert(format!("{p}{n}.bias"), rand(&s[..1]));
    }
    for n in ["attention.output.LayerNorm", "output.LayerNorm"] {
        t.insert(format!("{p}{n}.weight"), rand(&[h]));
        t.insert(format!("{p}{n}.bias"), rand(&[h]));
    }
    t
}

fn encoder() {
    let dir = seeds("encoder_load");
    let scratch = std::env::temp_dir().join(format!("tensormap-seeds-{}", std::process::id()));
    std::fs::create_dir_all(scratch.join("1_Pooling")).unwrap();
    let weights = scratch.join("model.safetensors");
    candle_core::safetensors::save(&tensors(), &weights).unwrap();
    let safetensors = std::fs::read(&weights).unwrap();
    let tokenizer = tokenizer_json();
    let modules = r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},{"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]"#;
    let pooling = r#"{"word_embedding_dimension":4,"pooling_mode_cls_token":false,"pooling_mode_mean_tokens":true}"#;
    let sbert = r#"{"max_seq_length":5,"do_lower_case":false}"#;
    let join = |parts: &[&[u8]]| parts.join(SEP);
    let three = join(&[CONFIG.as_bytes(), tokenizer.as_bytes(), &safetensors]);
    let all = join(&[
        CONFIG.as_bytes(),
        tokenizer.as_bytes(),
        &safetensors,
        modules.as_bytes(),
        pooling.as_bytes(),
        sbert.as_bytes(),
    ]);
    write(&dir, "folder-3-files", &three);
    write(&dir, "folder-6-files", &all);
    // The same folder loads here, or the seeds are no good.
    for (name, text) in [
        ("config.json", CONFIG),
        ("tokenizer.json", tokenizer.as_str()),
        ("modules.json", modules),
        ("1_Pooling/config.json", pooling),
        ("sentence_bert_config.json", sbert),
    ] {
        std::fs::write(scratch.join(name), text).unwrap();
    }
    let enc = SentenceEncoder::load(&scratch).unwrap();
    assert_eq!(enc.embed(&["red cubes"]).unwrap()[0].len(), 4);
    write(&dir, "byte-form.tmse", &enc.to_bytes().unwrap());
    std::fs::remove_dir_all(scratch).unwrap();
}

// ---------------------------------------------------------------- COPY

fn copy() {
    let dir = seeds("copy_import");
    let scratch = std::env::temp_dir().join(format!("tensormap-seeds-copy-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let db = Database::open_in_memory().unwrap();
    db.execute("CREATE MAP m WITH (channels = 4, bounds = 100)")
        .unwrap();
    db.execute(
        "INSERT INTO m (id, type, position, embedding, confidence) VALUES
         ('a', 'cube', [1, 2, 3], [0.5, -1, 0, 0.25], 1),
         ('b', 'sphere', [-40, 10.5, 0], [0, 0, 1, 0], 0.75),
         ('c', 'cube', [99, -99, 50], [0.1, 0.2, 0.3, 0.4], 0.5),
         ('d d', 'chair, \"big\"', [0, 0, 0], [-1, -1, -1, -1], 0),
         ('é', 'lamp', [12.25, -7, 3], [1e-7, 3e7, -0.5, 2], 0.125)",
    )
    .unwrap();
    for (pick, ext) in [(0u8, "parquet"), (1, "csv"), (2, "json")] {
        let file = scratch.join(format!("m.{ext}"));
        db.execute(&format!("COPY m TO '{}'", file.display()))
            .unwrap();
        let mut bytes = vec![pick];
        bytes.extend(std::fs::read(&file).unwrap());
        write(&dir, &format!("m.{ext}"), &bytes);
    }
    std::fs::remove_dir_all(scratch).unwrap();
}

// ---------------------------------------------------------------- bodies and statements

fn server() {
    let dir = seeds("server_body");
    // The byte picks fuzz_targets/server_body.rs's ROUTES[byte % 7].
    let bodies: [(u8, &str, &str); 14] = [
        (
            0,
            "query-select",
            r#"{"sql": "SELECT id, type FROM m WHERE WITHIN(position, ?, ?) ORDER BY id LIMIT 5", "params": [[0, 0, 0], 40]}"#,
        ),
        (
            0,
            "query-write",
            r#"{"sql": "BEGIN; INSERT INTO m (id, position, embedding) VALUES ('x', [1, 2, 3], [1, 0, 0, 0]); UPDATE m SET confidence = 0.5 WHERE id = 'o1'; ROLLBACK"}"#,
        ),
        (
            0,
            "query-attention",
            r#"{"sql": "SELECT id, ATTENTION(?) AS w FROM m ORDER BY w DESC LIMIT 3; SELECT COUNT(*) FROM VOXELS(m) WHERE norm > 0.1", "params": [[1, 0, 0, 0]]}"#,
        ),
        (
            0,
            "query-model",
            r#"{"sql": "SELECT mm_embed(type), mm_score('a cube', embedding, position) FROM m LIMIT 2; SELECT mm_generate('a', 3, 0, 0, 1)"}"#,
        ),
        (
            1,
            "embed",
            r#"{"map": "m", "position": [1, 2, 3], "features": [0.5, 0.25, 0, 1], "object_type": "cube", "id": "new", "confidence": 0.9}"#,
        ),
        (
            1,
            "embed-legacy",
            r#"{"tensor_map_id": "n", "position": [1, 2, 3], "features": [0.5, 0.25]}"#,
        ),
        (
            2,
            "query",
            r#"{"map": "m", "center": [0, 0, 0], "radius": 50, "filters": {"object_type": "cube", "min_confidence": 0.1}, "limit": 10, "include_embeddings": true, "include_patches": true}"#,
        ),
        (
            3,
            "generate",
            r#"{"model": "mm", "prompt": "a red cube", "max_length": 4, "temperature": 0.5, "top_k": 5, "seed": 1}"#,
        ),
        (
            3,
            "ask",
            r#"{"map": "m", "prompt": "how many cubes are there?"}"#,
        ),
        (
            4,
            "render",
            r#"{"map": "m", "camera": {"position": [0, 0, 300], "rotation": [10, 20, 0], "fov": 60, "perspective": 1}, "effects": {"liquid": true, "wireframe": true, "tensorField": true}, "width": 200, "height": 150}"#,
        ),
        (4, "render-plain", r#"{"tensor_map_id": "n"}"#),
        (
            5,
            "cells",
            r#"{"cells": [[0, 0, 10], [7, 0, 5], [4000000000, 0, 1]]}"#,
        ),
        (
            6,
            "field",
            r#"{"bricks": [[0, 0, 0], [1, 1, 1], [3, 2, 1]]}"#,
        ),
        (
            0,
            "query-describe",
            r#"{"sql": "DESCRIBE m; SHOW MAPS; SHOW MODELS; EXPLAIN SELECT * FROM m a, n b WHERE WITHIN(b.position, a.position, 5)"}"#,
        ),
    ];
    for (pick, name, body) in bodies {
        let mut bytes = vec![pick];
        bytes.extend_from_slice(body.as_bytes());
        write(&dir, name, &bytes);
    }
}

fn tql() {
    let dir = seeds("tql_exec");
    let statements = [
        ("select", "SELECT id, type, position, confidence FROM m WHERE WITHIN(position, [0, 0, 0], 30) ORDER BY id LIMIT 10"),
        ("nearest", "SELECT id FROM m ORDER BY DISTANCE(position, [10, -5, 3]) LIMIT 5"),
        ("attention", "SELECT id, ATTENTION([1, 0, 0.5, 0]) AS w FROM m ORDER BY w DESC LIMIT 5"),
        ("group", "SELECT type, COUNT(*), AVG(confidence), MAX(position[1]) FROM m GROUP BY type HAVING COUNT(*) > 1 ORDER BY 2 DESC"),
        ("join", "SELECT a.id, b.id FROM m a JOIN n b ON WITHIN(b.position, a.position, 20) LIMIT 20"),
        ("voxels", "SELECT i, j, k, center, norm FROM VOXELS(m) WHERE norm > 0.05 ORDER BY norm DESC LIMIT 5"),
        ("with", "WITH near AS (SELECT id, type FROM m WHERE WITHIN(position, [0, 0, 0], 60)) SELECT type, COUNT(*) FROM near GROUP BY type UNION ALL SELECT 'all', COUNT(*) FROM m"),
        ("window", "SELECT id, ROW_NUMBER() OVER (PARTITION BY type ORDER BY confidence DESC) AS r FROM m WHERE confidence > 0.9"),
        ("subquery", "SELECT id FROM n WHERE type IN (SELECT type FROM m WHERE confidence > 0.99) AND EXISTS (SELECT 1 FROM m WHERE id = 'o1')"),
        ("insert", "INSERT INTO m (id, type, position, embedding) VALUES ('new', 'cube', [1, 2, 3], [1, 0, 0, 0]), ('o1', 'x', [0, 0, 0], [0, 0, 0, 0]) ON CONFLICT (id) DO UPDATE SET confidence = 0.25"),
        ("txn", "BEGIN; UPDATE m SET position = [1, 1, 1] WHERE type = 'cube'; DELETE FROM n WHERE confidence < 0.7; SELECT COUNT(*) FROM m WHERE WITHIN(position, [1, 1, 1], 0.5); ROLLBACK"),
        ("failing", "BEGIN; INSERT INTO m (id, position, embedding) VALUES ('z', [1000, 0, 0], [1, 2, 3, 4]); COMMIT"),
        ("catalog", "CREATE MAP k WITH (channels = 3, resolution = 8); INSERT INTO k (id, type, position, embedding) SELECT id, type, position, embedding[1:3] FROM m LIMIT 10; ALTER MAP k RENAME TO k2; DESCRIBE k2; SHOW MAPS; DROP MAP k2"),
        ("models", "SELECT mm_embed('a red cube'), mm_score('cube', [0, 0, 0, 1], [1, 2, 3]), mm_generate('a', 2, 0, 0, 1); SHOW MODELS"),
        ("explain", "EXPLAIN ANALYZE SELECT a.id FROM m a, n b WHERE WITHIN(a.position, b.position, 10) ORDER BY a.id LIMIT 3"),
        ("render", "RENDER SELECT * FROM m WHERE confidence > 0.8 WITH (width = 120, height = 90, heatmap = true)"),
        ("ask", "EXPLAIN ASK m 'how many cubes are near the origin?'; ASK m 'list the lamps'"),
        ("checkpoint", "DELETE FROM m WHERE id = 'o3'; CHECKPOINT; SELECT COUNT(*) FROM m"),
    ];
    for (name, text) in statements {
        write(&dir, &format!("{name}.tql"), text.as_bytes());
    }
}

fn main() {
    vllm();
    encoder();
    copy();
    server();
    tql();
}
