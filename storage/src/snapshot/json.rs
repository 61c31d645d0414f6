//! The JSON form of a snapshot (docs/FORMATS.md, "The JSON form"): the map's settings and objects as JSON,
//! the field as base64 of a zstd frame of the same brick records the binary form uses.
//!
//! ```json
//! {"tensor_map_3d": {
//!   "version": "1.0.0",
//!   "metadata": {"author": "tensormap 0.1.0"},
//!   "dimensions": {"x": 64, "y": 64, "z": 64, "channels": 32},
//!   "spatial_bounds": {"min": [-500, -500, -500], "max": [500, 500, 500]},
//!   "settings": {"dtype": "f32", "sigma": 2.0, "splat_radius": 3},
//!   "embeddings": [{"id": "a", "type": "cube", "position": [0, 0, 0],
//!                   "vector": [0.23, -0.45], "confidence": 0.98}],
//!   "tensor_data": {"format": "tensor3d-bricks", "dtype": "f32", "compression": "zstd",
//!                   "bricks": 1, "topology": "<base64>", "data": "<base64>", "crc32": 0}}}
//! ```
//! Numbers are the shortest decimals that read back as the same f32 (f64 for bounds and
//! sigma). `topology` is base64 of the octree masks; `data` is base64 of the brick records
//! back to back, zstd-compressed (one frame, with zstd's checksum) unless `compression` is
//! `none`; `crc32` is the CRC32 of `data`'s bytes as stored (after base64 decoding).
//! The objects are plain text and carry no checksum: the JSON form is meant to be read and
//! edited by other programs.
//!
//! The writer streams; the reader reads the document whole (the JSON form is for
//! interchange and small maps), checks every object and decodes the field once to check
//! it before anything is handed out, then decodes it again brick by brick.

use std::collections::HashSet;
use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::write::EncoderWriter;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::error::{Result, Section, SnapshotError};
use super::field::{
    check_topology, decode_brick, depth_of, encode_brick, record_len, unmorton, BrickEntry, Leaves,
};
use super::layout::{Compression, Header};
use super::objects::{check_entry, ObjectChunk, ObjectEntry};
use super::reader::ReadAt;
use super::writer::{BrickError, SnapshotSink};
use crate::{Dtype, MapConfig};

/// The `version` this code writes and reads.
pub const JSON_VERSION: &str = "1.0.0";
/// The `tensor_data.format` this code writes and reads.
pub const TENSOR_FORMAT: &str = "tensor3d-bricks";
const ZSTD_LEVEL: i32 = 3;

/// Counts the bytes that pass.
#[derive(Debug)]
struct Counting<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes the bytes that pass.
#[derive(Debug)]
struct Hashing<W> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

type B64<W> = Hashing<EncoderWriter<'static, base64::engine::GeneralPurpose, Counting<W>>>;

enum Out<W: Write> {
    Text(Counting<W>),
    Zstd(zstd::stream::write::Encoder<'static, B64<W>>),
    Raw(B64<W>),
    Gone,
}

impl<W: Write> std::fmt::Debug for Out<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Out::Text(_) => "Text",
            Out::Zstd(_) => "Zstd",
            Out::Raw(_) => "Raw",
            Out::Gone => "Gone",
        })
    }
}

#[derive(Serialize)]
struct ObjectOut<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    position: [f32; 3],
    vector: &'a [f32],
    confidence: f32,
}

/// The streaming JSON encoder behind [`super::SnapshotWriter`].
#[derive(Debug)]
pub(crate) struct JsonEncoder<W: SnapshotSink> {
    out: Out<W>,
    header: Header,
    first_object: bool,
    record: Vec<u8>,
}

fn other(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl<W: SnapshotSink> JsonEncoder<W> {
    pub(crate) fn new(sink: W, header: Header) -> Self {
        JsonEncoder {
            out: Out::Text(Counting { inner: sink, n: 0 }),
            header,
            first_object: true,
            record: Vec::new(),
        }
    }

    fn text(&mut self) -> std::io::Result<&mut Counting<W>> {
        match &mut self.out {
            Out::Text(w) => Ok(w),
            _ => Err(other("JSON writer out of order")),
        }
    }

    pub(crate) fn start(&mut self) -> std::io::Result<()> {
        let c = self.header.config.clone();
        let b = c.bounds;
        let head = serde_json::json!({
            "author": format!("tensormap {}", env!("CARGO_PKG_VERSION")),
        });
        let w = self.text()?;
        write!(
            w,
            "{{\"tensor_map_3d\": {{\n  \"version\": \"{JSON_VERSION}\",\n  \"metadata\": "
        )?;
        serde_json::to_writer(&mut *w, &head).map_err(other)?;
        write!(
            w,
            ",\n  \"dimensions\": {{\"x\": {r}, \"y\": {r}, \"z\": {r}, \"channels\": {}}},\n",
            c.channels,
            r = c.resolution
        )?;
        let min = serde_json::to_string(&[-b, -b, -b]).map_err(other)?;
        let max = serde_json::to_string(&[b, b, b]).map_err(other)?;
        writeln!(
            w,
            "  \"spatial_bounds\": {{\"min\": {min}, \"max\": {max}}},"
        )?;
        let settings = serde_json::json!({
            "dtype": c.dtype.name(),
            "sigma": c.sigma,
            "splat_radius": c.splat_radius,
        });
        write!(w, "  \"settings\": ")?;
        serde_json::to_writer(&mut *w, &settings).map_err(other)?;
        write!(w, ",\n  \"embeddings\": [")?;
        Ok(())
    }

    pub(crate) fn objects(&mut self, chunk: &ObjectChunk) -> std::io::Result<()> {
        let mut first = self.first_object;
        let w = self.text()?;
        for e in chunk.iter() {
            w.write_all(if first { b"\n    " } else { b",\n    " })?;
            first = false;
            let o = ObjectOut {
                id: e.id,
                kind: e.kind,
                position: e.position,
                vector: e.embedding,
                confidence: e.confidence,
            };
            serde_json::to_writer(&mut *w, &o).map_err(other)?;
        }
        self.first_object = first;
        Ok(())
    }

    pub(crate) fn begin_field(&mut self, topology: &[u8], bricks: u64) -> std::io::Result<()> {
        let h = self.header.clone();
        let w = self.text()?;
        write!(
            w,
            "\n  ],\n  \"tensor_data\": {{\"format\": \"{TENSOR_FORMAT}\", \"dtype\": \"{}\", \"compression\": \"{}\", \"bricks\": {bricks},\n    \"topology\": \"{}\",\n    \"data\": \"",
            h.dtype.name(),
            h.compression.name(),
            BASE64.encode(topology)
        )?;
        let Out::Text(w) = std::mem::replace(&mut self.out, Out::Gone) else {
            return Err(other("JSON writer out of order"));
        };
        let b64 = Hashing {
            inner: EncoderWriter::new(w, &BASE64),
            crc: crc32fast::Hasher::new(),
        };
        self.out = match h.compression {
            Compression::None => Out::Raw(b64),
            Compression::Zstd => {
                let mut z = zstd::stream::write::Encoder::new(b64, ZSTD_LEVEL)?;
                z.include_checksum(true)?;
                Out::Zstd(z)
            }
        };
        Ok(())
    }

    pub(crate) fn brick(
        &mut self,
        values: &[f32],
        counts: &[u32],
    ) -> std::result::Result<(), BrickError> {
        self.record.clear();
        encode_brick(&mut self.record, values, counts, self.header.dtype)
            .map_err(BrickError::Value)?;
        let r = match &mut self.out {
            Out::Zstd(z) => z.write_all(&self.record),
            Out::Raw(b) => b.write_all(&self.record),
            _ => Err(other("JSON writer out of order")),
        };
        r.map_err(BrickError::Io)
    }

    /// Closes the document; returns its length.
    pub(crate) fn finish(&mut self, _objects: u64, _bricks: u64) -> std::io::Result<u64> {
        let hashed = match std::mem::replace(&mut self.out, Out::Gone) {
            Out::Zstd(z) => z.finish()?,
            Out::Raw(b) => b,
            _ => return Err(other("JSON writer out of order")),
        };
        let crc = hashed.crc.finalize();
        let mut b64 = hashed.inner;
        let mut w = b64.finish()?;
        write!(w, "\",\n    \"crc32\": {crc}}}\n}}}}\n")?;
        w.flush()?;
        let n = w.n;
        self.out = Out::Text(w);
        Ok(n)
    }

    pub(crate) fn into_sink(self) -> std::io::Result<W> {
        match self.out {
            Out::Text(w) => Ok(w.inner),
            Out::Zstd(z) => Ok(z.finish()?.inner.into_inner().inner),
            Out::Raw(b) => Ok(b.inner.into_inner().inner),
            Out::Gone => Err(other("the JSON writer lost its file after an error")),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocIn {
    tensor_map_3d: BodyIn,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyIn {
    version: String,
    #[serde(default)]
    #[allow(dead_code)]
    metadata: Option<serde_json::Value>,
    dimensions: DimsIn,
    spatial_bounds: BoundsIn,
    settings: SettingsIn,
    embeddings: Vec<ObjectIn>,
    tensor_data: TensorIn,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DimsIn {
    x: u32,
    y: u32,
    z: u32,
    channels: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BoundsIn {
    min: [f64; 3],
    max: [f64; 3],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsIn {
    dtype: String,
    sigma: f64,
    splat_radius: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectIn {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    position: [f32; 3],
    vector: Vec<f32>,
    confidence: f32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TensorIn {
    format: String,
    dtype: String,
    compression: String,
    bricks: u64,
    topology: String,
    data: String,
    crc32: u32,
}

/// A JSON snapshot, parsed and checked.
#[derive(Debug)]
pub(crate) struct JsonDoc {
    pub(crate) header: Header,
    pub(crate) objects: ObjectChunk,
    pub(crate) topology: Vec<u8>,
    pub(crate) bricks: u64,
    /// The tensor data as stored (zstd or raw records).
    data: Vec<u8>,
}

impl JsonDoc {
    /// Reads, parses and checks the document of `len` bytes in `src`.
    pub(crate) fn open(src: &dyn ReadAt, len: u64, name: &str) -> Result<Self> {
        let bad = |reason: String| SnapshotError::corrupt(name, Section::Json, 0, reason);
        let len = usize::try_from(len).map_err(|_| bad("too large to read".into()))?;
        let mut text = vec![0u8; len];
        src.read_exact_at(&mut text, 0)
            .map_err(|e| SnapshotError::io(name, e))?;
        let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&text);
        let doc: DocIn = serde_json::from_slice(text)
            .map_err(|e| bad(format!("not a tensormap JSON snapshot: {e}")))?;
        let body = doc.tensor_map_3d;
        if body.version != JSON_VERSION {
            return Err(SnapshotError::Unsupported {
                path: name.to_string(),
                reason: format!(
                    "JSON version '{}': this version reads '{JSON_VERSION}'",
                    body.version
                ),
            });
        }
        let d = &body.dimensions;
        if d.x != d.y || d.x != d.z {
            return Err(bad(format!(
                "dimensions {}×{}×{} are not a cube",
                d.x, d.y, d.z
            )));
        }
        let (lo, hi) = (body.spatial_bounds.min, body.spatial_bounds.max);
        let b = hi[0];
        if hi.iter().any(|v| *v != b) || lo.iter().any(|v| *v != -b) {
            return Err(bad(format!(
                "spatial bounds {lo:?}..{hi:?} are not a cube [-b, b]³"
            )));
        }
        let map_dtype = Dtype::parse(&body.settings.dtype).map_err(|e| bad(e.to_string()))?;
        let config = MapConfig {
            resolution: d.x,
            channels: d.channels,
            bounds: b,
            dtype: map_dtype,
            sigma: body.settings.sigma,
            splat_radius: body.settings.splat_radius,
        };
        config.validate().map_err(|e| bad(e.to_string()))?;
        let t = &body.tensor_data;
        let unsupported = |reason: String| SnapshotError::Unsupported {
            path: name.to_string(),
            reason,
        };
        if t.format != TENSOR_FORMAT {
            return Err(unsupported(format!(
                "tensor_data format '{}': this version reads '{TENSOR_FORMAT}'",
                t.format
            )));
        }
        let dtype = Dtype::parse(&t.dtype).map_err(|e| unsupported(e.to_string()))?;
        let compression = Compression::parse(&t.compression).ok_or_else(|| {
            unsupported(format!(
                "compression '{}': this version reads 'none' and 'zstd'",
                t.compression
            ))
        })?;
        let header = Header {
            config,
            dtype,
            compression,
            user_columns: false,
        };

        let ch = header.config.channels as usize;
        let mut objects = ObjectChunk::new(ch);
        let mut ids = HashSet::with_capacity(body.embeddings.len());
        for (i, o) in body.embeddings.iter().enumerate() {
            let e = ObjectEntry {
                id: &o.id,
                kind: &o.kind,
                position: o.position,
                embedding: &o.vector,
                confidence: o.confidence,
            };
            check_entry(&e, &header.config).map_err(|r| bad(format!("embeddings[{i}]: {r}")))?;
            if !ids.insert(o.id.as_str()) {
                return Err(bad(format!(
                    "embeddings[{i}]: object id '{}' appears twice",
                    o.id
                )));
            }
            objects.push(&e);
        }
        drop(ids);

        let topology = BASE64
            .decode(&t.topology)
            .map_err(|e| bad(format!("tensor_data.topology is not base64: {e}")))?;
        let depth = depth_of(header.config.resolution);
        let leaves = check_topology(&topology, depth)
            .map_err(|(at, r)| SnapshotError::corrupt(name, Section::Topology, at, r))?;
        let leaves = if depth == 0 { t.bricks.min(1) } else { leaves };
        if leaves != t.bricks {
            return Err(bad(format!(
                "tensor_data.bricks is {}, the topology has {leaves}",
                t.bricks
            )));
        }
        let data = BASE64
            .decode(&t.data)
            .map_err(|e| bad(format!("tensor_data.data is not base64: {e}")))?;
        let crc = crc32fast::hash(&data);
        if crc != t.crc32 {
            return Err(SnapshotError::corrupt(
                name,
                Section::Field,
                0,
                format!(
                    "tensor data checksum mismatch: stored {:#010x}, computed {crc:#010x}",
                    t.crc32
                ),
            ));
        }
        let doc = JsonDoc {
            header,
            objects,
            topology,
            bricks: t.bricks,
            data,
        };
        // Decode the field once now, so that a bad one fails before anything is handed out.
        {
            let mut leaves = Leaves::new(&doc.topology, depth, doc.bricks);
            let mut stream = doc.bricks(name);
            while let Some(b) = stream.next(&mut leaves) {
                b?;
            }
        }
        Ok(doc)
    }

    /// The bricks, decoded one at a time.
    pub(crate) fn bricks<'a>(&'a self, name: &str) -> BrickStream<'a> {
        let input: Box<dyn Read + 'a> = match self.header.compression {
            Compression::None => Box::new(&self.data[..]),
            Compression::Zstd => match zstd::stream::read::Decoder::with_buffer(&self.data[..]) {
                Ok(d) => Box::new(d),
                Err(e) => Box::new(FailingRead(Some(e))),
            },
        };
        BrickStream {
            doc: self,
            name: name.to_string(),
            input,
            record: vec![0; record_len(self.header.config.channels as usize, self.header.dtype)],
            read: 0,
            done: false,
        }
    }
}

/// A reader that fails once (a zstd decoder that could not be made).
struct FailingRead(Option<std::io::Error>);

impl Read for FailingRead {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(self
            .0
            .take()
            .unwrap_or_else(|| other("zstd decoder unavailable")))
    }
}

/// The bricks of a JSON snapshot's tensor data, decoded in order.
pub(crate) struct BrickStream<'a> {
    doc: &'a JsonDoc,
    name: String,
    input: Box<dyn Read + 'a>,
    record: Vec<u8>,
    read: u64,
    done: bool,
}

impl std::fmt::Debug for BrickStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrickStream")
            .field("read", &self.read)
            .finish()
    }
}

impl BrickStream<'_> {
    /// The next brick, its coordinates taken from `leaves`.
    pub(crate) fn next(&mut self, leaves: &mut Leaves<'_>) -> Option<Result<BrickEntry>> {
        if self.done {
            return None;
        }
        let r = self.step(leaves);
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }

    fn step(&mut self, leaves: &mut Leaves<'_>) -> Option<Result<BrickEntry>> {
        let at = self.read * self.record.len() as u64;
        let bad = |reason: String| SnapshotError::corrupt(&self.name, Section::Field, at, reason);
        let h = &self.doc.header;
        if self.read == self.doc.bricks {
            // The data must end here (and zstd's checksum, read at the frame's end, match).
            let mut extra = [0u8; 1];
            return match self.input.read(&mut extra) {
                Ok(0) => None,
                Ok(_) => Some(Err(bad("tensor data goes on after the last brick".into()))),
                Err(e) => Some(Err(bad(format!("tensor data does not decompress: {e}")))),
            };
        }
        if let Err(e) = self.input.read_exact(&mut self.record) {
            return Some(Err(bad(format!(
                "tensor data ends inside brick {} ({e})",
                self.read
            ))));
        }
        let Some(m) = leaves.next() else {
            return Some(Err(bad("more bricks than the topology has".into())));
        };
        let coords = unmorton(m);
        let brick = decode_brick(
            &self.record,
            coords,
            h.config.channels as usize,
            h.dtype,
            self.doc.objects.len() as u64,
        )
        .map_err(|e| bad(format!("brick {} at {coords:?}: {e}", self.read)));
        self.read += 1;
        Some(brick)
    }
}
