//! [`SnapshotWriter`]: a snapshot written as the map is walked — objects first, then the
//! brick coordinates (the topology), then the bricks one at a time — so a large map never
//! needs to be in memory twice. Blocks of about 1 MiB are compressed on several threads.
//!
//! Every call checks what it is given (the rules for objects, `crate::rules`; order, shape
//! and invariants for bricks) so that whatever this writer finishes, the reader accepts.
//! The first error poisons the writer: later calls fail, and dropping it removes the
//! temporary file, so a failed snapshot never replaces a good one.

use std::io::Write;
use std::path::Path;

use super::atomic::AtomicFile;
use super::block::{self, BLOCK_TARGET};
use super::columns::UserColumns;
use super::error::{Result, SnapshotError};
use super::field::{self, check_brick, depth_of, encode_brick, morton, record_len};
use super::json::JsonEncoder;
use super::layout::{BlockHeader, Footer, Header, HEADER_LEN};
use super::objects::{check_entry, ObjectChunk, ObjectEntry};
use super::{parallel, Format, SnapshotInfo, SnapshotOptions};
use crate::brick::CELLS;
use crate::MapConfig;

/// Where a snapshot's bytes go: a file published at the end, or memory.
pub trait SnapshotSink: Write {
    /// Makes the written bytes durable and visible (for a file: fsync, rename, fsync of
    /// the folder).
    fn complete(&mut self) -> std::io::Result<()>;
}

impl SnapshotSink for AtomicFile {
    fn complete(&mut self) -> std::io::Result<()> {
        self.commit()
    }
}

impl SnapshotSink for Vec<u8> {
    fn complete(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, PartialEq)]
enum Stage {
    Objects,
    Field,
    Failed,
}

/// Writes one snapshot: [`push_object`](Self::push_object) (or
/// [`push_columns`](Self::push_columns)) for every object, then
/// [`begin_field`](Self::begin_field) with every brick's coordinates in Morton order, then
/// [`push_brick`](Self::push_brick) for each of them in that order, then
/// [`finish`](Self::finish).
#[derive(Debug)]
pub struct SnapshotWriter<W: SnapshotSink = AtomicFile> {
    name: String,
    config: MapConfig,
    options: SnapshotOptions,
    stage: Stage,
    /// Objects not yet in a block.
    chunk: ObjectChunk,
    objects: u64,
    /// The Morton codes of the bricks announced by `begin_field`, and how many came.
    mortons: Vec<u64>,
    bricks: u64,
    logical: u64,
    /// The encoded user columns section, written before the footer (binary form only).
    columns: Option<Vec<u8>>,
    encoder: Encoder<W>,
}

#[derive(Debug)]
enum Encoder<W: SnapshotSink> {
    Binary(BinaryEncoder<W>),
    Json(Box<JsonEncoder<W>>),
}

impl SnapshotWriter<AtomicFile> {
    /// Starts a snapshot of a map of `config` at `path` (written to a temporary file in the
    /// same folder until [`finish`](Self::finish)).
    pub fn create(
        path: impl AsRef<Path>,
        config: &MapConfig,
        options: &SnapshotOptions,
    ) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        config
            .validate()
            .map_err(|e| SnapshotError::invalid(&name, e.to_string()))?;
        let file = AtomicFile::create(path).map_err(|e| SnapshotError::io(&name, e))?;
        Self::new(file, &name, config, options)
    }

    /// [`create`](Self::create) for a map with user columns: `columns` (its schema and
    /// its objects' values) is written as the file's user columns section. Binary form
    /// only; the rows' ids must be objects pushed to this writer (the restorer checks).
    pub fn create_with_columns(
        path: impl AsRef<Path>,
        config: &MapConfig,
        options: &SnapshotOptions,
        columns: &UserColumns,
    ) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        config
            .validate()
            .map_err(|e| SnapshotError::invalid(&name, e.to_string()))?;
        // Checked before the temporary file exists.
        let section = columns_section(&name, options, columns)?;
        let file = AtomicFile::create(path).map_err(|e| SnapshotError::io(&name, e))?;
        Self::start(file, &name, config, options, Some(section))
    }
}

/// The encoded user columns section of `columns`, checked as a reader will check it.
fn columns_section(
    name: &str,
    options: &SnapshotOptions,
    columns: &UserColumns,
) -> Result<Vec<u8>> {
    if options.format != Format::Binary {
        return Err(SnapshotError::invalid(
            name,
            "the JSON form does not carry user columns: write the binary form",
        ));
    }
    let section = columns.encode();
    UserColumns::decode(&section, 0)
        .map_err(|e| SnapshotError::invalid(name, format!("user columns: {}", e.message)))?;
    Ok(section)
}

impl<W: SnapshotSink> SnapshotWriter<W> {
    /// Starts a snapshot written to `sink`; `name` names it in errors.
    pub fn new(sink: W, name: &str, config: &MapConfig, options: &SnapshotOptions) -> Result<Self> {
        Self::start(sink, name, config, options, None)
    }

    /// [`new`](Self::new) for a map with user columns (see
    /// [`SnapshotWriter::create_with_columns`]).
    pub fn new_with_columns(
        sink: W,
        name: &str,
        config: &MapConfig,
        options: &SnapshotOptions,
        columns: &UserColumns,
    ) -> Result<Self> {
        let section = columns_section(name, options, columns)?;
        Self::start(sink, name, config, options, Some(section))
    }

    /// Starts a snapshot; `columns` is the encoded user columns section, if any (then the
    /// header's flag bit 0 is set and the section is written before the footer).
    fn start(
        sink: W,
        name: &str,
        config: &MapConfig,
        options: &SnapshotOptions,
        columns: Option<Vec<u8>>,
    ) -> Result<Self> {
        config
            .validate()
            .map_err(|e| SnapshotError::invalid(name, e.to_string()))?;
        let header = Header {
            config: config.clone(),
            dtype: options.dtype,
            compression: options.compression,
            user_columns: columns.is_some(),
        };
        let encoder = match options.format {
            Format::Binary => Encoder::Binary(BinaryEncoder::new(sink, header, options.threads)),
            Format::Json => Encoder::Json(Box::new(JsonEncoder::new(sink, header))),
        };
        let mut w = SnapshotWriter {
            name: name.to_string(),
            config: config.clone(),
            options: options.clone(),
            stage: Stage::Objects,
            chunk: ObjectChunk::new(config.channels as usize),
            objects: 0,
            mortons: Vec::new(),
            bricks: 0,
            logical: 0,
            columns,
            encoder,
        };
        let r = match &mut w.encoder {
            Encoder::Binary(b) => b.start(),
            Encoder::Json(j) => j.start(),
        };
        w.guard(r.map_err(|e| SnapshotError::io(name, e)))?;
        Ok(w)
    }

    /// Poisons the writer on error.
    fn guard<T>(&mut self, r: Result<T>) -> Result<T> {
        if r.is_err() {
            self.stage = Stage::Failed;
        }
        r
    }

    fn expect(&mut self, stage: Stage, call: &str) -> Result<()> {
        if self.stage == stage {
            return Ok(());
        }
        let reason = match self.stage {
            Stage::Failed => format!("{call} after an earlier error"),
            Stage::Objects => format!("{call} before begin_field"),
            Stage::Field => format!("{call} after begin_field"),
        };
        self.stage = Stage::Failed;
        Err(SnapshotError::invalid(&self.name, reason))
    }

    /// Adds one object. Objects come before the field; their order is kept.
    pub fn push_object(&mut self, object: &ObjectEntry<'_>) -> Result<()> {
        self.expect(Stage::Objects, "push_object")?;
        if let Err(e) = check_entry(object, &self.config) {
            return self.guard(Err(SnapshotError::invalid(&self.name, e)));
        }
        self.chunk.push(object);
        self.logical += object.logical_bytes();
        if self.chunk.raw_len() >= BLOCK_TARGET {
            self.flush_objects()?;
        }
        Ok(())
    }

    /// Adds objects given as columns (as the engine holds them): row `i` is
    /// `(ids[i], kinds[i], positions[i], embeddings[i·channels..], confidences[i])`.
    pub fn push_columns<S: AsRef<str>>(
        &mut self,
        ids: &[S],
        kinds: &[S],
        positions: &[[f32; 3]],
        embeddings: &[f32],
        confidences: &[f32],
    ) -> Result<()> {
        let n = ids.len();
        let ch = self.config.channels as usize;
        if kinds.len() != n
            || positions.len() != n
            || confidences.len() != n
            || embeddings.len() != n * ch
        {
            self.stage = Stage::Failed;
            return Err(SnapshotError::invalid(
                &self.name,
                format!(
                    "columns of unequal length: {n} ids, {} types, {} positions, {} embedding values ({ch} channels), {} confidences",
                    kinds.len(),
                    positions.len(),
                    embeddings.len(),
                    confidences.len()
                ),
            ));
        }
        for i in 0..n {
            self.push_object(&ObjectEntry {
                id: ids[i].as_ref(),
                kind: kinds[i].as_ref(),
                position: positions[i],
                embedding: &embeddings[i * ch..(i + 1) * ch],
                confidence: confidences[i],
            })?;
        }
        Ok(())
    }

    fn flush_objects(&mut self) -> Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(
            &mut self.chunk,
            ObjectChunk::new(self.config.channels as usize),
        );
        let first = self.objects;
        self.objects += chunk.len() as u64;
        let r = match &mut self.encoder {
            Encoder::Binary(b) => b.objects(&chunk, first),
            Encoder::Json(j) => j.objects(&chunk),
        };
        let name = self.name.clone();
        self.guard(r.map_err(|e| SnapshotError::io(&name, e)))
    }

    /// Ends the objects and announces the bricks that follow: the coordinates of every
    /// stored brick, strictly ascending in Morton order (the order of an octree walked
    /// depth first with children x, y, z from bit 0).
    pub fn begin_field(&mut self, bricks: &[[u32; 3]]) -> Result<()> {
        self.expect(Stage::Objects, "begin_field")?;
        self.flush_objects()?;
        let per_axis = self.config.resolution / crate::brick::EDGE as u32;
        let mut mortons = Vec::with_capacity(bricks.len());
        for (i, b) in bricks.iter().enumerate() {
            if b.iter().any(|c| *c >= per_axis) {
                return self.guard(Err(SnapshotError::invalid(
                    &self.name,
                    format!("brick {b:?} lies outside a grid of {per_axis} bricks per axis"),
                )));
            }
            let m = morton(*b);
            if mortons.last().is_some_and(|last| *last >= m) {
                return self.guard(Err(SnapshotError::invalid(
                    &self.name,
                    format!("brick {i} {b:?} is not after the one before it in Morton order"),
                )));
            }
            mortons.push(m);
        }
        if !bricks.is_empty() && self.objects == 0 {
            return self.guard(Err(SnapshotError::invalid(
                &self.name,
                "a field with bricks but no objects: every covered cell comes from an object",
            )));
        }
        let topology = field::encode_topology(&mortons, depth_of(self.config.resolution));
        self.stage = Stage::Field;
        self.mortons = mortons;
        let count = self.mortons.len() as u64;
        let r = match &mut self.encoder {
            Encoder::Binary(b) => b.begin_field(&topology, count),
            Encoder::Json(j) => j.begin_field(&topology, count),
        };
        let name = self.name.clone();
        self.guard(r.map_err(|e| SnapshotError::io(&name, e)))
    }

    /// Adds the next brick announced to [`begin_field`](Self::begin_field): `512 ×
    /// channels` values (cell order `x + 8y + 64z`, channel fastest) and 512 splat counts.
    pub fn push_brick(&mut self, coords: [u32; 3], values: &[f32], counts: &[u32]) -> Result<()> {
        self.expect(Stage::Field, "push_brick")?;
        let next = self.bricks as usize;
        match self.mortons.get(next) {
            Some(&m) if m == morton(coords) => {}
            Some(&m) => {
                let expected = field::unmorton(m);
                return self.guard(Err(SnapshotError::invalid(
                    &self.name,
                    format!("brick {coords:?} given where brick {next} {expected:?} was announced"),
                )));
            }
            None => {
                return self.guard(Err(SnapshotError::invalid(
                    &self.name,
                    format!(
                        "brick {coords:?} is one more than the {} announced",
                        self.mortons.len()
                    ),
                )));
            }
        }
        let ch = self.config.channels as usize;
        if let Err(e) = check_brick(values, counts, ch, self.objects) {
            return self.guard(Err(SnapshotError::invalid(
                &self.name,
                format!("brick {coords:?}: {e}"),
            )));
        }
        let r = match &mut self.encoder {
            Encoder::Binary(b) => b.brick(values, counts),
            Encoder::Json(j) => j.brick(values, counts),
        };
        let name = self.name.clone();
        self.guard(r.map_err(|e| match e {
            BrickError::Io(e) => SnapshotError::io(&name, e),
            BrickError::Value(e) => SnapshotError::invalid(&name, format!("brick {coords:?}: {e}")),
        }))?;
        self.bricks += 1;
        self.logical += (CELLS * ch * 4) as u64;
        Ok(())
    }

    /// Objects given so far.
    pub fn objects_written(&self) -> u64 {
        self.objects + self.chunk.len() as u64
    }

    /// Bricks given so far.
    pub fn bricks_written(&self) -> u64 {
        self.bricks
    }

    /// Ends the snapshot: writes the footer and publishes the file (fsync, rename, fsync
    /// of the folder). A map without a field may skip `begin_field`.
    pub fn finish(self) -> Result<SnapshotInfo> {
        self.finish_into().map(|(info, _)| info)
    }

    /// [`finish`](Self::finish), handing the sink back (for snapshots made in memory).
    pub fn finish_into(mut self) -> Result<(SnapshotInfo, W)> {
        if self.stage == Stage::Objects {
            self.begin_field(&[])?;
        }
        self.expect(Stage::Field, "finish")?;
        if self.bricks != self.mortons.len() as u64 {
            let reason = format!(
                "{} bricks announced, {} given",
                self.mortons.len(),
                self.bricks
            );
            return self.guard(Err(SnapshotError::invalid(&self.name, reason)));
        }
        let name = self.name.clone();
        let (objects, bricks) = (self.objects, self.bricks);
        let r = match &mut self.encoder {
            Encoder::Binary(b) => b.finish(objects, bricks, self.columns.as_deref()),
            Encoder::Json(j) => j.finish(objects, bricks),
        };
        let file_bytes = self.guard(r.map_err(|e| SnapshotError::io(&name, e)))?;
        let info = SnapshotInfo {
            format: self.options.format,
            dtype: self.options.dtype,
            compression: self.options.compression,
            objects,
            bricks,
            logical_bytes: self.logical,
            file_bytes,
        };
        let mut sink = match self.encoder {
            Encoder::Binary(b) => b.out,
            Encoder::Json(j) => j.into_sink().map_err(|e| SnapshotError::io(&name, e))?,
        };
        sink.complete().map_err(|e| SnapshotError::io(&name, e))?;
        Ok((info, sink))
    }
}

/// Why an encoder refused a brick.
#[derive(Debug)]
pub(crate) enum BrickError {
    Io(std::io::Error),
    /// A value the file's dtype cannot hold.
    Value(String),
}

/// A block waiting to be compressed: its item count and raw bytes.
#[derive(Debug)]
struct Job {
    count: u32,
    raw: Vec<u8>,
}

/// The binary `.tensor3d` encoder: header, object blocks, topology, brick blocks, footer.
#[derive(Debug)]
struct BinaryEncoder<W: SnapshotSink> {
    out: W,
    header: Header,
    threads: usize,
    /// Bytes written so far: the offset of the next byte.
    offset: u64,
    pending: Vec<Job>,
    footer: Footer,
    /// Bricks per field block and the block being filled.
    per_block: usize,
    block: Vec<u8>,
    in_block: u32,
}

impl<W: SnapshotSink> BinaryEncoder<W> {
    fn new(out: W, header: Header, threads: usize) -> Self {
        let record = record_len(header.config.channels as usize, header.dtype);
        BinaryEncoder {
            out,
            threads: parallel::threads(threads),
            offset: 0,
            pending: Vec::new(),
            footer: Footer::default(),
            per_block: (BLOCK_TARGET / record).max(1),
            block: Vec::new(),
            in_block: 0,
            header,
        }
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.write_all(bytes)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    fn start(&mut self) -> std::io::Result<()> {
        let h = self.header.encode();
        self.write(&h)?;
        self.footer.objects_offset = HEADER_LEN as u64;
        Ok(())
    }

    fn queue(&mut self, job: Job) -> std::io::Result<()> {
        self.pending.push(job);
        // Enough blocks to keep every thread busy for a round.
        if self.pending.len() >= 2 * self.threads {
            self.drain()?;
        }
        Ok(())
    }

    /// Compresses the pending blocks in parallel and writes them in order.
    fn drain(&mut self) -> std::io::Result<()> {
        let jobs = std::mem::take(&mut self.pending);
        let compression = self.header.compression;
        let done = parallel::map(jobs, self.threads, |job| {
            let raw_len = job.raw.len() as u32;
            block::compress(job.raw, compression).map(|stored| {
                let head = BlockHeader::seal(job.count, raw_len, &stored);
                (head, stored)
            })
        });
        for r in done {
            let (head, stored) = r?;
            self.write(&head)?;
            self.write(&stored)?;
        }
        Ok(())
    }

    fn objects(&mut self, chunk: &ObjectChunk, first: u64) -> std::io::Result<()> {
        let raw = chunk.encode_block(first);
        self.queue(Job {
            count: chunk.len() as u32,
            raw,
        })
    }

    fn begin_field(&mut self, topology: &[u8], _bricks: u64) -> std::io::Result<()> {
        self.drain()?;
        let f = &mut self.footer;
        f.objects_len = self.offset - f.objects_offset;
        f.topology_offset = self.offset;
        f.topology_len = topology.len() as u64;
        f.topology_crc = crc32fast::hash(topology);
        self.write(topology)?;
        self.footer.field_offset = self.offset;
        Ok(())
    }

    fn brick(&mut self, values: &[f32], counts: &[u32]) -> std::result::Result<(), BrickError> {
        if self.block.is_empty() {
            let record = record_len(self.header.config.channels as usize, self.header.dtype);
            self.block.reserve(record * self.per_block);
        }
        let before = self.block.len();
        if let Err(e) = encode_brick(&mut self.block, values, counts, self.header.dtype) {
            self.block.truncate(before);
            return Err(BrickError::Value(e));
        }
        self.in_block += 1;
        if self.in_block as usize == self.per_block {
            self.close_block().map_err(BrickError::Io)?;
        }
        Ok(())
    }

    fn close_block(&mut self) -> std::io::Result<()> {
        if self.in_block == 0 {
            return Ok(());
        }
        let raw = std::mem::take(&mut self.block);
        let count = std::mem::take(&mut self.in_block);
        self.queue(Job { count, raw })
    }

    /// Writes the rest, the user columns section when there is one (the header's flag
    /// says so), and the footer; returns the file's length.
    fn finish(
        &mut self,
        objects: u64,
        bricks: u64,
        columns: Option<&[u8]>,
    ) -> std::io::Result<u64> {
        self.close_block()?;
        self.drain()?;
        let f = &mut self.footer;
        f.field_len = self.offset - f.field_offset;
        f.object_count = objects;
        f.brick_count = bricks;
        if let Some(section) = columns {
            self.write(section)?;
        }
        let footer = self.footer.encode();
        self.write(&footer)?;
        self.out.flush()?;
        Ok(self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dtype;

    /// Writes a two-object, one-brick snapshot to `file`.
    fn write(file: AtomicFile, format: Format) -> Result<SnapshotInfo> {
        let config = MapConfig {
            resolution: 16,
            channels: 2,
            ..MapConfig::default()
        };
        let options = SnapshotOptions {
            format,
            dtype: Dtype::F32,
            compression: crate::snapshot::Compression::None,
            threads: 1,
        };
        let mut w = SnapshotWriter::new(file, "t", &config, &options)?;
        for id in ["a", "b"] {
            w.push_object(&ObjectEntry {
                id,
                kind: "t",
                position: [0.0; 3],
                embedding: &[1.0, 2.0],
                confidence: 1.0,
            })?;
        }
        let (mut values, mut counts) = (vec![0.0f32; 1024], vec![0u32; 512]);
        values[0] = 3.0;
        counts[0] = 2;
        w.begin_field(&[[1, 1, 1]])?;
        w.push_brick([1, 1, 1], &values, &counts)?;
        w.finish()
    }

    #[test]
    fn a_write_failing_anywhere_leaves_the_old_file_and_no_temporary() {
        for format in [Format::Binary, Format::Json] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.tensor3d");
            let len = write(AtomicFile::create(&path).unwrap(), format)
                .unwrap()
                .file_bytes;
            let good = std::fs::read(&path).unwrap();
            for limit in 0..len {
                let mut file = AtomicFile::create(&path).unwrap();
                file.fail_after = Some(limit);
                let err = write(file, format).unwrap_err();
                assert!(matches!(err, SnapshotError::Io { .. }), "{limit}: {err}");
                assert_eq!(std::fs::read(&path).unwrap(), good, "{format:?} {limit}");
                assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
            }
        }
    }
}
