//! The `.vllm` file: magic `VLLM`, version, configuration, tokenizer,
//! named weight tensors (f32 or f16), training metadata; every part CRC32-checked. The byte
//! layout is in docs/FORMATS.md; `read.rs` validates every length against the bytes that
//! are there before allocating anything, `write.rs` writes the same layout.
//!
//! ```text
//! header   "VLLM"  u32 version=1  u8 model_type=1  u8[3] zero  u32 crc32(bytes 0..12)
//! section  tag[4]  u64 payload_len  payload  u32 crc32(tag ‖ payload_len ‖ payload)
//! file     header CONF TOKN WGHT META            (in this order, nothing after META)
//! ```
//! All integers and floats are little-endian.

mod read;
mod write;

pub(crate) use read::read;
pub(crate) use write::write;

/// The file's first four bytes.
pub const MAGIC: [u8; 4] = *b"VLLM";
/// The format version this crate reads and writes.
pub const VERSION: u32 = 1;
/// Seed 6.2's `model_type`: 0 = base, 1 = spatial, 2 = multimodal. This crate's models
/// are spatial.
pub const MODEL_TYPE_SPATIAL: u8 = 1;
/// Header bytes, its CRC included.
pub const HEADER_LEN: usize = 16;
/// Bytes of the `CONF` payload.
pub const CONF_LEN: usize = 48;
/// Bytes of the `META` payload.
pub const META_LEN: usize = 24;
/// The sections, in file order.
pub const SECTIONS: [&str; 4] = ["CONF", "TOKN", "WGHT", "META"];
/// `TOKN` type of a byte-level BPE tokenizer (no merges: plain bytes). Seed 6.2 numbers
/// `0 = bpe, 1 = spatial, 2 = hybrid`; 1 and 2 are not supported.
pub const TOKENIZER_BPE: u8 = 0;

/// How weights are stored in a `.vllm` file. In memory they are always f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightDtype {
    /// 4 bytes a value, exact.
    F32,
    /// 2 bytes a value (IEEE half), rounded to nearest.
    F16,
}

impl WeightDtype {
    /// The dtype byte of a `WGHT` entry.
    pub fn code(self) -> u8 {
        match self {
            WeightDtype::F32 => 0,
            WeightDtype::F16 => 1,
        }
    }

    /// Bytes per value.
    pub fn size(self) -> usize {
        match self {
            WeightDtype::F32 => 4,
            WeightDtype::F16 => 2,
        }
    }

    /// The dtype of a `WGHT` entry's byte.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(WeightDtype::F32),
            1 => Some(WeightDtype::F16),
            _ => None,
        }
    }
}
