//! Reading `.vllm` bytes. Nothing is trusted: every length is checked against the bytes
//! left before anything is allocated, every section's CRC is checked before its payload is
//! parsed, the configuration is validated, and the weight directory must list exactly the
//! tensors the configuration implies, in canonical order, with their shapes. Errors name the
//! section and the file offset.

use candle_core::{Device, Tensor};
use tensormap_bytes::Reader;

use super::{
    WeightDtype, CONF_LEN, HEADER_LEN, MAGIC, META_LEN, MODEL_TYPE_SPATIAL, SECTIONS,
    TOKENIZER_BPE, VERSION,
};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::model::{Metadata, Model};
use crate::tokenizer::Tokenizer;
use crate::weights::Weights;

/// A bounds-checked reader over one part of the file ([`Reader`], whose offsets are file
/// offsets), and the section its errors name.
struct Cursor<'a> {
    r: Reader<'a>,
    section: &'static str,
}

impl<'a> Cursor<'a> {
    fn offset(&self) -> u64 {
        self.r.offset()
    }

    /// The file offset of the part's first byte.
    fn base(&self) -> u64 {
        self.r.offset() - self.r.position() as u64
    }

    /// The part's length in bytes.
    fn len(&self) -> usize {
        self.r.bytes().len()
    }

    fn err(&self, message: impl Into<String>) -> Error {
        Error::format(self.section, self.offset(), message)
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let section = self.section;
        self.r
            .take(n, what)
            .map_err(|e| Error::format(section, e.offset, e.message))
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn f32(&mut self, what: &str) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }

    fn usize(&mut self, what: &str) -> Result<usize> {
        Ok(self.u32(what)? as usize)
    }

    fn left(&self) -> usize {
        self.r.left()
    }
}

/// Reads the next section, which must be `tag` (its length and CRC checked by
/// [`Reader::section`]); returns a cursor over its payload.
fn section<'a>(file: &mut Cursor<'a>, tag: &'static str) -> Result<Cursor<'a>> {
    let bytes: [u8; 4] = tag
        .as_bytes()
        .try_into()
        .map_err(|_| Error::format(tag, file.offset(), "a section tag is 4 bytes"))?;
    let r = file
        .r
        .section(&bytes)
        .map_err(|e| Error::format(tag, e.offset, e.message))?;
    Ok(Cursor { r, section: tag })
}

fn finish(c: &Cursor, what: &str) -> Result<()> {
    if c.left() != 0 {
        return Err(c.err(format!("{} bytes after the {what}", c.left())));
    }
    Ok(())
}

fn read_config(c: &mut Cursor) -> Result<ModelConfig> {
    if c.len() != CONF_LEN {
        return Err(c.err(format!(
            "the payload is {} bytes, expected {CONF_LEN}",
            c.len()
        )));
    }
    let cfg = ModelConfig {
        dim: c.usize("dim")?,
        hidden: c.usize("hidden")?,
        heads: c.usize("heads")?,
        layers: c.usize("layers")?,
        vocab_size: c.usize("vocab_size")?,
        channels: c.usize("channels")?,
        context: c.usize("context")?,
        tensor_dim: [
            c.u32("tensor_dim")?,
            c.u32("tensor_dim")?,
            c.u32("tensor_dim")?,
        ],
        max_position: c.f32("max_position")?,
        norm_eps: c.f32("norm_eps")?,
    };
    let at = c.base();
    cfg.validate()
        .map_err(|e| Error::format("CONF", at, e.to_string()))?;
    Ok(cfg)
}

fn read_tokenizer(c: &mut Cursor, cfg: &ModelConfig) -> Result<Tokenizer> {
    let kind = c.u8("tokenizer type")?;
    if kind != TOKENIZER_BPE {
        return Err(c.err(format!(
            "tokenizer type {kind} is not supported (0 = byte-level BPE)"
        )));
    }
    let count = c.usize("merge count")?;
    if count.saturating_mul(8) != c.left() {
        return Err(c.err(format!(
            "{count} merges need {} bytes, the section has {}",
            count.saturating_mul(8),
            c.left()
        )));
    }
    let at = c.offset();
    let mut merges = Vec::with_capacity(count);
    for _ in 0..count {
        merges.push((c.u32("merge")?, c.u32("merge")?));
    }
    let tok = Tokenizer::bpe(merges).map_err(|e| Error::format("TOKN", at, e.to_string()))?;
    if tok.vocab_size() != cfg.vocab_size {
        return Err(Error::format(
            "TOKN",
            at,
            format!(
                "the tokenizer has {} tokens, the configuration says {}",
                tok.vocab_size(),
                cfg.vocab_size
            ),
        ));
    }
    Ok(tok)
}

/// One weight directory entry.
struct Entry {
    dtype: WeightDtype,
    offset: u64,
    len: u64,
    shape: Vec<usize>,
    /// File offset of the entry (for errors about its data).
    at: u64,
}

/// The (name, shape) of every tensor `cfg` implies, in canonical order.
fn expected_tensors(cfg: &ModelConfig) -> Result<Vec<(String, Vec<usize>)>> {
    let mut spec = Vec::new();
    let dummy = Tensor::zeros((), candle_core::DType::F32, &Device::Cpu)?;
    Weights::build(cfg, |name, shape, _| {
        spec.push((name.to_string(), shape.to_vec()));
        Ok(dummy.clone())
    })?;
    Ok(spec)
}

fn read_weights(c: &mut Cursor, cfg: &ModelConfig) -> Result<Weights> {
    let spec = expected_tensors(cfg)?;
    let count = c.usize("tensor count")?;
    if count != spec.len() {
        return Err(c.err(format!(
            "{count} tensors, the configuration implies {}",
            spec.len()
        )));
    }
    let mut entries = Vec::with_capacity(spec.len());
    for (i, (name, shape)) in spec.iter().enumerate() {
        let at = c.offset();
        let name_len = c.u16("tensor name length")? as usize;
        let found = c.take(name_len, "tensor name")?;
        if found != name.as_bytes() {
            return Err(Error::format(
                "WGHT",
                at,
                format!(
                    "entry {i} is {:?}, expected {name:?}",
                    String::from_utf8_lossy(found)
                ),
            ));
        }
        let code = c.u8("dtype")?;
        let dtype = WeightDtype::from_code(code).ok_or_else(|| {
            c.err(format!(
                "{name}: dtype {code} is not supported (0 = f32, 1 = f16)"
            ))
        })?;
        let rank = c.u8("rank")? as usize;
        if rank != shape.len() {
            return Err(c.err(format!("{name}: rank {rank}, expected {}", shape.len())));
        }
        let mut dims = Vec::with_capacity(rank);
        for _ in 0..rank {
            dims.push(c.usize("dimension")?);
        }
        if &dims != shape {
            return Err(c.err(format!("{name}: shape {dims:?}, expected {shape:?}")));
        }
        let offset = c.u64("data offset")?;
        let len = c.u64("data length")?;
        entries.push(Entry {
            dtype,
            offset,
            len,
            shape: dims,
            at,
        });
    }
    // The data area is the rest of the payload; tensors lie back to back in entry order.
    let data_base = c.offset() as usize;
    let data = c.take(c.left(), "data")?;
    let mut expected_offset = 0u64;
    let mut tensors = Vec::with_capacity(entries.len());
    for (e, (name, _)) in entries.iter().zip(&spec) {
        let n: usize = e.shape.iter().product();
        let want = (n as u64).saturating_mul(e.dtype.size() as u64);
        if e.len != want || e.offset != expected_offset {
            return Err(Error::format(
                "WGHT",
                e.at,
                format!(
                    "{name}: data at {} of {} bytes, expected at {expected_offset} of {want}",
                    e.offset, e.len
                ),
            ));
        }
        let end = e.offset.saturating_add(e.len);
        if end > data.len() as u64 {
            return Err(Error::format(
                "WGHT",
                e.at,
                format!(
                    "{name}: data ends at {end}, past the {} bytes of the data area",
                    data.len()
                ),
            ));
        }
        let bytes = &data[e.offset as usize..end as usize];
        let values: Vec<f32> = match e.dtype {
            WeightDtype::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            WeightDtype::F16 => bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        };
        if let Some(k) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::format(
                "WGHT",
                (data_base as u64) + e.offset + (k * e.dtype.size()) as u64,
                format!("{name}: value {k} is not finite"),
            ));
        }
        tensors.push(Tensor::from_vec(values, e.shape.as_slice(), &Device::Cpu)?);
        expected_offset = end;
    }
    if expected_offset != data.len() as u64 {
        return Err(Error::format(
            "WGHT",
            data_base as u64 + expected_offset,
            format!(
                "{} bytes after the last tensor",
                data.len() as u64 - expected_offset
            ),
        ));
    }
    let mut it = tensors.into_iter();
    Weights::build(cfg, |name, _, _| {
        it.next()
            .ok_or_else(|| Error::format("WGHT", c.base(), format!("missing {name}")))
    })
}

fn read_meta(c: &mut Cursor) -> Result<Metadata> {
    if c.len() != META_LEN {
        return Err(c.err(format!(
            "the payload is {} bytes, expected {META_LEN}",
            c.len()
        )));
    }
    let created_unix_s = c.u64("created")?;
    let training_steps = c.u64("training steps")?;
    let loss = c.f32("loss")?;
    let accuracy = c.f32("accuracy")?;
    Ok(Metadata {
        created_unix_s,
        training_steps,
        loss: (!loss.is_nan()).then_some(loss),
        accuracy: (!accuracy.is_nan()).then_some(accuracy),
    })
}

/// Parses a whole `.vllm` file.
pub(crate) fn read(bytes: &[u8]) -> Result<Model> {
    let mut file = Cursor {
        r: Reader::new(bytes),
        section: "header",
    };
    let header = file.take(HEADER_LEN, "the header")?;
    if header[0..4] != MAGIC {
        return Err(Error::format(
            "header",
            0,
            "not a .vllm file (no VLLM magic)",
        ));
    }
    let stored = u32::from_le_bytes([header[12], header[13], header[14], header[15]]);
    if crc32fast::hash(&header[..12]) != stored {
        return Err(Error::format(
            "header",
            12,
            "CRC mismatch: the header is damaged",
        ));
    }
    let version = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if version != VERSION {
        return Err(Error::format(
            "header",
            4,
            format!("version {version} is not supported (this reader knows {VERSION})"),
        ));
    }
    if header[8] != MODEL_TYPE_SPATIAL || header[9..12] != [0, 0, 0] {
        return Err(Error::format(
            "header",
            8,
            format!(
                "model type {} is not supported (1 = spatial), or reserved bytes are set",
                header[8]
            ),
        ));
    }
    let [conf, tokn, wght, meta] = SECTIONS;
    let cfg = read_config(&mut section(&mut file, conf)?)?;
    let tok = read_tokenizer(&mut section(&mut file, tokn)?, &cfg)?;
    let weights = {
        let mut c = section(&mut file, wght)?;
        read_weights(&mut c, &cfg)?
    };
    let mut m = section(&mut file, meta)?;
    let metadata = read_meta(&mut m)?;
    finish(&m, "metadata")?;
    if file.left() != 0 {
        return Err(Error::format(
            "end",
            file.offset(),
            format!("{} bytes after the META section", file.left()),
        ));
    }
    Model::from_parts(cfg, tok, weights, metadata)
        .map_err(|e| Error::format("CONF", HEADER_LEN as u64, e.to_string()))
}
