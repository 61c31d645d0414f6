//! The byte form of a [`SentenceEncoder`]: one self-describing, CRC-checked blob holding the
//! configuration, the pooling head, the tokenizer and the weights — what the database stores
//! as a model of kind `"bert"`.
//!
//! ```text
//! header   "TMSE"  u32 version=1  u32 crc32(bytes 0..8)
//! section  tag[4]  u64 payload_len  payload  u32 crc32(tag ‖ payload_len ‖ payload)
//! CONF     config.json, UTF-8 text, as read from the model folder
//! POOL     u8 mode (0 mean, 1 CLS)  u8 normalize (0/1)  u32 max_len
//! TOKN     tokenizer.json, UTF-8 text
//! WGHT     u32 count, then per tensor: u16 name_len  name (UTF-8)  u8 rank  u32 dims[rank]
//!          f32 values (row-major)
//! file     header CONF POOL TOKN WGHT             (in this order, nothing after WGHT)
//! ```
//! Integers and floats are little-endian. The tensors are exactly those the configuration
//! implies, in canonical order (`network::tensor_specs`), so a reader knows every name and
//! shape before it reads one; each entry's name and shape are compared with the expected ones
//! and its data length with the bytes left before anything is allocated. Errors name the
//! section and the byte offset.

use candle_core::{Device, Tensor};
use tensormap_bytes::{put_section, Reader};

use super::config::{BertConfig, Pooling, PoolingMode};
use super::network::tensor_specs;
use super::SentenceEncoder;
use crate::error::{Error, Result};

/// The blob's first four bytes.
pub const MAGIC: [u8; 4] = *b"TMSE";
/// The version this crate reads and writes.
pub const VERSION: u32 = 1;
const HEADER_LEN: usize = 12;
const POOL_LEN: usize = 6;

/// Writes the byte form.
pub(super) fn write(enc: &SentenceEncoder) -> Result<Vec<u8>> {
    let specs = tensor_specs(enc.bert.config());
    let values: usize = enc.bert.weights.iter().map(Tensor::elem_count).sum();
    let mut out = Vec::with_capacity(
        HEADER_LEN
            + enc.config_json.len()
            + enc.tokenizer_json.len()
            + 4 * values
            + 64 * specs.len()
            + 128,
    );
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    let crc = crc32fast::hash(&out[..8]);
    out.extend_from_slice(&crc.to_le_bytes());

    put_section(&mut out, b"CONF", enc.config_json.as_bytes());
    let p = enc.pooling;
    let mut pool = Vec::with_capacity(POOL_LEN);
    pool.push(match p.mode {
        PoolingMode::Mean => 0,
        PoolingMode::Cls => 1,
    });
    pool.push(u8::from(p.normalize));
    pool.extend_from_slice(&(p.max_len as u32).to_le_bytes());
    put_section(&mut out, b"POOL", &pool);
    put_section(&mut out, b"TOKN", enc.tokenizer_json.as_bytes());

    let mut w = Vec::with_capacity(4 * values + 64 * specs.len() + 4);
    w.extend_from_slice(&(specs.len() as u32).to_le_bytes());
    for ((name, shape), t) in specs.iter().zip(&enc.bert.weights) {
        w.extend_from_slice(&(name.len() as u16).to_le_bytes());
        w.extend_from_slice(name.as_bytes());
        w.push(shape.len() as u8);
        for &d in shape {
            w.extend_from_slice(&(d as u32).to_le_bytes());
        }
        for v in t.flatten_all()?.to_vec1::<f32>()? {
            w.extend_from_slice(&v.to_le_bytes());
        }
    }
    put_section(&mut out, b"WGHT", &w);
    Ok(out)
}

/// A bounds-checked reader ([`Reader`], whose offsets are blob offsets), and the section its
/// errors name.
struct Cursor<'a> {
    r: Reader<'a>,
    section: &'static str,
}

impl<'a> Cursor<'a> {
    fn err(&self, message: impl Into<String>) -> Error {
        Error::encoder_bytes(self.section, self.r.offset(), message)
    }

    fn left(&self) -> usize {
        self.r.left()
    }

    /// The part's length in bytes.
    fn len(&self) -> usize {
        self.r.bytes().len()
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let section = self.section;
        self.r
            .take(n, what)
            .map_err(|e| Error::encoder_bytes(section, e.offset, e.message))
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

    /// The whole part as UTF-8 text.
    fn text(&self) -> Result<&'a str> {
        let bytes = self.r.bytes();
        let base = self.r.offset() - self.r.position() as u64;
        std::str::from_utf8(bytes).map_err(|e| {
            Error::encoder_bytes(
                self.section,
                base + e.valid_up_to() as u64,
                "not valid UTF-8 text",
            )
        })
    }

    fn finish(&self) -> Result<()> {
        if self.left() != 0 {
            return Err(self.err(format!("{} unexpected bytes at the end", self.left())));
        }
        Ok(())
    }
}

/// Reads the next section, which must be `tag` (its length and CRC checked by
/// [`Reader::section`]).
fn section<'a>(file: &mut Cursor<'a>, tag: &'static str) -> Result<Cursor<'a>> {
    file.section = tag;
    let bytes: [u8; 4] = tag
        .as_bytes()
        .try_into()
        .map_err(|_| file.err("a section tag is 4 bytes"))?;
    let r = file
        .r
        .section(&bytes)
        .map_err(|e| Error::encoder_bytes(tag, e.offset, e.message))?;
    Ok(Cursor { r, section: tag })
}

/// Reads the byte form, trusting nothing in it.
pub(super) fn read(bytes: &[u8]) -> Result<SentenceEncoder> {
    let mut file = Cursor {
        r: Reader::new(bytes),
        section: "header",
    };
    let magic = file.array::<4>("magic")?;
    if magic != MAGIC {
        return Err(file.err(format!(
            "not a tensormap sentence encoder (magic {:?}, expected \"TMSE\")",
            String::from_utf8_lossy(&magic)
        )));
    }
    let version = file.u32("version")?;
    let stored = file.u32("header CRC")?;
    let computed = crc32fast::hash(&bytes[..8]);
    if stored != computed {
        return Err(Error::encoder_bytes(
            "header",
            8,
            format!("CRC mismatch (stored {stored:08x}, computed {computed:08x}): the header is damaged"),
        ));
    }
    if version != VERSION {
        return Err(Error::encoder_bytes(
            "header",
            4,
            format!("version {version} is not supported (this build reads {VERSION})"),
        ));
    }

    let conf = section(&mut file, "CONF")?;
    let config_json = conf.text()?.to_string();
    let config = BertConfig::parse("the CONF section", &config_json)?;

    let mut pool = section(&mut file, "POOL")?;
    if pool.len() != POOL_LEN {
        return Err(pool.err(format!(
            "the payload is {} bytes, expected {POOL_LEN}",
            pool.len()
        )));
    }
    let mode = match pool.u8("pooling mode")? {
        0 => PoolingMode::Mean,
        1 => PoolingMode::Cls,
        m => return Err(pool.err(format!("pooling mode {m} is unknown (0 mean, 1 CLS)"))),
    };
    let normalize = match pool.u8("normalize flag")? {
        0 => false,
        1 => true,
        n => return Err(pool.err(format!("normalize flag {n} is not 0 or 1"))),
    };
    let max_len = pool.u32("max_len")? as usize;
    if !(2..=config.max_position_embeddings).contains(&max_len) {
        return Err(pool.err(format!(
            "max_len {max_len} is outside 2 to max_position_embeddings {}",
            config.max_position_embeddings
        )));
    }
    let pooling = Pooling {
        mode,
        normalize,
        max_len,
    };

    let tokn = section(&mut file, "TOKN")?;
    let tokenizer_json = tokn.text()?.to_string();

    let mut wght = section(&mut file, "WGHT")?;
    let specs = tensor_specs(&config);
    let count = wght.u32("tensor count")? as usize;
    if count != specs.len() {
        return Err(wght.err(format!(
            "{count} tensors, the configuration needs {}",
            specs.len()
        )));
    }
    let mut weights = Vec::with_capacity(specs.len());
    for (name, shape) in &specs {
        let name_len = wght.u16("tensor name length")? as usize;
        let found = wght.take(name_len, "tensor name")?;
        if found != name.as_bytes() {
            return Err(wght.err(format!(
                "expected tensor `{name}`, found `{}`",
                String::from_utf8_lossy(found)
            )));
        }
        let rank = wght.u8("tensor rank")? as usize;
        if rank != shape.len() {
            return Err(wght.err(format!(
                "tensor `{name}` has rank {rank}, expected {}",
                shape.len()
            )));
        }
        let mut dims = Vec::with_capacity(rank);
        for _ in 0..rank {
            dims.push(wght.u32("tensor dimension")? as usize);
        }
        if &dims != shape {
            return Err(wght.err(format!(
                "tensor `{name}` has shape {dims:?}, expected {shape:?}"
            )));
        }
        let n: usize = shape.iter().product();
        let data = wght.take(
            n.checked_mul(4)
                .ok_or_else(|| wght.err(format!("tensor `{name}` is too large")))?,
            "tensor values",
        )?;
        let values: Vec<f32> = data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        weights.push(Tensor::from_vec(values, shape.as_slice(), &Device::Cpu)?);
    }
    wght.finish()?;
    if file.left() != 0 {
        return Err(Error::encoder_bytes(
            "end",
            file.r.offset(),
            format!("{} bytes after the WGHT section", file.left()),
        ));
    }
    SentenceEncoder::assemble(
        config,
        pooling,
        config_json,
        "the TOKN section",
        tokenizer_json,
        weights,
    )
}

impl SentenceEncoder {
    /// The byte form (see the `format` module): everything needed to rebuild this encoder,
    /// CRC-checked. About 4 bytes a parameter plus the tokenizer's JSON (~91 MB for MiniLM-L6).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        write(self)
    }

    /// Rebuilds an encoder from [`to_bytes`](Self::to_bytes)'s output. Damaged, truncated or
    /// foreign bytes are an error naming the section and byte offset; nothing is allocated
    /// from a length before it is checked against the bytes there.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        read(bytes)
    }
}
