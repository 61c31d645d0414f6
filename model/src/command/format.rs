//! The command model's file: a `.vllm` file (docs/FORMATS.md) whose header says model type
//! 3, "command", with one more section after `META`:
//! ```text
//! header   "VLLM"  u32 version=1  u8 model_type=3  u8[3] zero  u32 crc32(bytes 0..12)
//! file     header CONF TOKN WGHT META CMDS      (nothing after CMDS)
//! CMDS     u32 grammar version (1)  u32 symbol count  f32 threshold  u64 corpus seed
//!          u64 corpus examples       (28 bytes, then the section's u32 CRC as every section)
//! ```
//! The network, tokenizer and training record are exactly a V-LLM's, so the part before
//! `CMDS`, with the model type set back to 1, is a valid spatial `.vllm`; a reader of
//! spatial V-LLMs refuses a command model by its type byte, and this reader refuses a
//! spatial V-LLM the same way. The tokenizer's first merges must be the command symbols.

use super::symbols::SYMBOLS;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::vllm::{self, WeightDtype, HEADER_LEN, MAGIC, MODEL_TYPE_SPATIAL, SECTIONS, VERSION};

/// The header's model type of a command model (the original format numbers 0 base,
/// 1 spatial, 2 multimodal).
pub const MODEL_TYPE_COMMAND: u8 = 3;
/// The grammar this crate's command models are trained for.
pub const GRAMMAR_VERSION: u32 = 1;
/// Bytes of the `CMDS` payload.
pub const CMDS_LEN: usize = 28;

/// What `CMDS` holds besides the grammar version and symbol count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Statements less probable than this are answered "not sure" (in `[0, 1]`).
    pub threshold: f32,
    /// Seed of the training corpus.
    pub seed: u64,
    /// Examples in the training corpus.
    pub examples: u64,
}

fn crc_of_header(h: &[u8]) -> u32 {
    crc32fast::hash(&h[..12])
}

/// The command file of `model` with `settings`, weights stored as `dtype`.
pub fn write(model: &Model, settings: &Settings, dtype: WeightDtype) -> Result<Vec<u8>> {
    let mut out = vllm::write(model, dtype)?;
    out[8] = MODEL_TYPE_COMMAND;
    let crc = crc_of_header(&out);
    out[12..16].copy_from_slice(&crc.to_le_bytes());
    let mut p = Vec::with_capacity(CMDS_LEN);
    p.extend_from_slice(&GRAMMAR_VERSION.to_le_bytes());
    p.extend_from_slice(&(SYMBOLS as u32).to_le_bytes());
    p.extend_from_slice(&settings.threshold.to_le_bytes());
    p.extend_from_slice(&settings.seed.to_le_bytes());
    p.extend_from_slice(&settings.examples.to_le_bytes());
    let start = out.len();
    out.extend_from_slice(b"CMDS");
    out.extend_from_slice(&(p.len() as u64).to_le_bytes());
    out.extend_from_slice(&p);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// Reads a command file: the network (by the `.vllm` reader) and its settings.
pub fn read(bytes: &[u8]) -> Result<(Model, Settings)> {
    if bytes.len() < HEADER_LEN {
        return Err(Error::format(
            "header",
            0,
            format!("truncated: {} bytes, a header is {HEADER_LEN}", bytes.len()),
        ));
    }
    if bytes[..4] != MAGIC {
        return Err(Error::format("header", 0, "not a .vllm file (bad magic)"));
    }
    if le_u32(&bytes[12..16]) != crc_of_header(bytes) {
        return Err(Error::format(
            "header",
            12,
            "CRC mismatch: the header is damaged",
        ));
    }
    if le_u32(&bytes[4..8]) != VERSION {
        return Err(Error::format(
            "header",
            4,
            format!(
                "version {} (this reader knows {VERSION})",
                le_u32(&bytes[4..8])
            ),
        ));
    }
    match bytes[8] {
        MODEL_TYPE_COMMAND => {}
        MODEL_TYPE_SPATIAL => {
            return Err(Error::format(
                "header",
                8,
                "this is a spatial V-LLM (model type 1), not a command model (type 3)",
            ))
        }
        t => {
            return Err(Error::format(
                "header",
                8,
                format!("model type {t} is not a command model (type 3)"),
            ))
        }
    }
    // Walk the four V-LLM sections to find where CMDS starts; their CRCs and contents are
    // checked by the V-LLM reader.
    let mut at = HEADER_LEN;
    for tag in SECTIONS {
        let len = bytes
            .get(at + 4..at + 12)
            .map(le_u64)
            .ok_or_else(|| Error::format(tag, at as u64, "truncated section header"))?;
        let end = (at as u64 + 12)
            .checked_add(len)
            .and_then(|e| e.checked_add(4))
            .filter(|&e| e <= bytes.len() as u64)
            .ok_or_else(|| {
                Error::format(
                    tag,
                    at as u64 + 4,
                    format!("a payload of {len} bytes runs past the end"),
                )
            })?;
        at = end as usize;
    }
    let mut network = bytes[..at].to_vec();
    network[8] = MODEL_TYPE_SPATIAL;
    let crc = crc_of_header(&network);
    network[12..16].copy_from_slice(&crc.to_le_bytes());
    let model = vllm::read(&network)?;

    let cmds = &bytes[at..];
    let want = 4 + 8 + CMDS_LEN + 4;
    if cmds.len() != want || &cmds[..4] != b"CMDS" || le_u64(&cmds[4..12]) != CMDS_LEN as u64 {
        return Err(Error::format(
            "CMDS",
            at as u64,
            format!(
                "expected the CMDS section ({want} bytes) and nothing after it, found {} bytes",
                cmds.len()
            ),
        ));
    }
    if le_u32(&cmds[want - 4..]) != crc32fast::hash(&cmds[..want - 4]) {
        return Err(Error::format(
            "CMDS",
            (at + want - 4) as u64,
            "CRC mismatch: the section is damaged",
        ));
    }
    let p = &cmds[12..12 + CMDS_LEN];
    let (grammar, symbols) = (le_u32(&p[0..4]), le_u32(&p[4..8]));
    if grammar != GRAMMAR_VERSION || symbols as usize != SYMBOLS {
        return Err(Error::format(
            "CMDS",
            (at + 12) as u64,
            format!(
                "grammar {grammar} with {symbols} symbols; this crate reads grammar \
                 {GRAMMAR_VERSION} with {SYMBOLS}"
            ),
        ));
    }
    let threshold = f32::from_le_bytes([p[8], p[9], p[10], p[11]]);
    if !(0.0..=1.0).contains(&threshold) {
        return Err(Error::format(
            "CMDS",
            (at + 20) as u64,
            format!("threshold {threshold} is not in [0, 1]"),
        ));
    }
    let settings = Settings {
        threshold,
        seed: le_u64(&p[12..20]),
        examples: le_u64(&p[20..28]),
    };
    Ok((model, settings))
}

/// Whether `bytes` start like a command model's file (the `.vllm` magic and model type 3),
/// so a loader can tell a command model from a spatial V-LLM before reading either.
pub fn is_command_file(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER_LEN && bytes[..4] == MAGIC && bytes[8] == MODEL_TYPE_COMMAND
}
