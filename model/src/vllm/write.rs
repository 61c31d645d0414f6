//! Writing a model as `.vllm` bytes (layout in `mod.rs` and docs/FORMATS.md). The same
//! model gives the same bytes.

use candle_core::DType;

use super::{
    WeightDtype, CONF_LEN, HEADER_LEN, MAGIC, META_LEN, MODEL_TYPE_SPATIAL, TOKENIZER_BPE, VERSION,
};
use crate::error::{Error, Result};
use crate::model::Model;

fn section(out: &mut Vec<u8>, tag: &[u8; 4], payload: &[u8]) {
    let start = out.len();
    out.extend_from_slice(tag);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

fn u32_of(v: usize, what: &str) -> Result<[u8; 4]> {
    u32::try_from(v)
        .map(u32::to_le_bytes)
        .map_err(|_| Error::config(format!("{what} = {v} does not fit the .vllm format")))
}

/// The `.vllm` bytes of `model` with weights stored as `dtype`.
pub(crate) fn write(model: &Model, dtype: WeightDtype) -> Result<Vec<u8>> {
    let cfg = &model.config;
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&[MODEL_TYPE_SPATIAL, 0, 0, 0]);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    debug_assert_eq!(out.len(), HEADER_LEN);

    let mut conf = Vec::with_capacity(CONF_LEN);
    for (v, what) in [
        (cfg.dim, "dim"),
        (cfg.hidden, "hidden"),
        (cfg.heads, "heads"),
        (cfg.layers, "layers"),
        (cfg.vocab_size, "vocab_size"),
        (cfg.channels, "channels"),
        (cfg.context, "context"),
    ] {
        conf.extend_from_slice(&u32_of(v, what)?);
    }
    for d in cfg.tensor_dim {
        conf.extend_from_slice(&d.to_le_bytes());
    }
    conf.extend_from_slice(&cfg.max_position.to_le_bytes());
    conf.extend_from_slice(&cfg.norm_eps.to_le_bytes());
    debug_assert_eq!(conf.len(), CONF_LEN);
    section(&mut out, b"CONF", &conf);

    let merges = model.tokenizer.merges();
    let mut tokn = Vec::with_capacity(5 + 8 * merges.len());
    tokn.push(TOKENIZER_BPE);
    tokn.extend_from_slice(&u32_of(merges.len(), "merges")?);
    for &(l, r) in merges {
        tokn.extend_from_slice(&l.to_le_bytes());
        tokn.extend_from_slice(&r.to_le_bytes());
    }
    section(&mut out, b"TOKN", &tokn);

    let named = model.weights.named();
    let mut dir = Vec::new();
    let mut data = Vec::new();
    dir.extend_from_slice(&u32_of(named.len(), "tensor count")?);
    for (name, t) in &named {
        let values = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
        let offset = data.len() as u64;
        match dtype {
            WeightDtype::F32 => values
                .iter()
                .for_each(|v| data.extend_from_slice(&v.to_le_bytes())),
            WeightDtype::F16 => values
                .iter()
                .for_each(|v| data.extend_from_slice(&half::f16::from_f32(*v).to_le_bytes())),
        }
        let name_len = u16::try_from(name.len())
            .map_err(|_| Error::config(format!("tensor name {name} is too long")))?;
        dir.extend_from_slice(&name_len.to_le_bytes());
        dir.extend_from_slice(name.as_bytes());
        dir.push(dtype.code());
        dir.push(t.rank() as u8);
        for &d in t.dims() {
            dir.extend_from_slice(&u32_of(d, "tensor dimension")?);
        }
        dir.extend_from_slice(&offset.to_le_bytes());
        dir.extend_from_slice(&(data.len() as u64 - offset).to_le_bytes());
    }
    dir.extend_from_slice(&data);
    section(&mut out, b"WGHT", &dir);

    let meta = &model.meta;
    let mut m = Vec::with_capacity(META_LEN);
    m.extend_from_slice(&meta.created_unix_s.to_le_bytes());
    m.extend_from_slice(&meta.training_steps.to_le_bytes());
    m.extend_from_slice(&meta.loss.unwrap_or(f32::NAN).to_le_bytes());
    m.extend_from_slice(&meta.accuracy.unwrap_or(f32::NAN).to_le_bytes());
    section(&mut out, b"META", &m);
    Ok(out)
}
