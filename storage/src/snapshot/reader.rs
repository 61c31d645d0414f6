//! [`SnapshotReader`]: opens a snapshot (binary or JSON, told apart by their first bytes),
//! checks its structure and every checksum, then yields the objects in chunks and the
//! bricks one at a time, each decoded and checked as it comes.
//!
//! **Nothing is created from a damaged file.** `open` reads the whole file once: the
//! header, the footer, every block header against the section it lies in and the file
//! size, every block's CRC32, the topology. Any damage from the disk or a transfer — any
//! changed byte, any truncation — is found there, before a single object is handed out.
//! What a checksum cannot catch (a file crafted with valid checksums but bad contents, or
//! a file changed while it is read) fails while streaming; a restorer therefore stages
//! what it reads and commits only when both iterators have ended without an error (a new
//! map in one write transaction), or calls [`SnapshotReader::verify`] first.
//!
//! Memory is bounded by the file, never by a count it claims: the reader holds the
//! topology bytes, one 32-byte entry per block it has walked, and a few blocks of at most
//! [`MAX_BLOCK_RAW`] bytes at a time.

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::path::Path;

use super::block::{self, stored_bound};
use super::columns::UserColumns;
use super::error::{Result, Section, SnapshotError};
use super::field::{self, check_topology, decode_brick, depth_of, record_len, BrickEntry, Leaves};
use super::json::JsonDoc;
use super::layout::{
    BlockHeader, Compression, Footer, Header, BLOCK_HEADER_LEN, FOOTER_LEN, HEADER_LEN, MAGIC,
    MAX_BLOCK_RAW,
};
use super::objects::ObjectChunk;
use super::{parallel, Format, Snapshot};
use crate::{Dtype, MapConfig};

/// Positional reads from a file or from memory.
pub trait ReadAt: Send + Sync + std::fmt::Debug {
    /// Fills `buf` from byte `offset`.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()>;
}

impl ReadAt for File {
    #[cfg(unix)]
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }

    #[cfg(windows)]
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
        use std::os::windows::fs::FileExt;
        while !buf.is_empty() {
            match self.seek_read(buf, offset)? {
                0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                n => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
            }
        }
        Ok(())
    }
}

/// A snapshot held in memory.
struct Memory(Vec<u8>);

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Memory({} bytes)", self.0.len())
    }
}

impl ReadAt for Memory {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| std::io::ErrorKind::UnexpectedEof)?;
        let end = start
            .checked_add(buf.len())
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        let src = self
            .0
            .get(start..end)
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// One block found by `open`: where it is and what its header says.
#[derive(Debug, Clone, Copy)]
struct BlockRef {
    /// File offset of the block header.
    offset: u64,
    head: BlockHeader,
    /// Ordinal of the block's first object or brick.
    first: u64,
}

#[derive(Debug)]
struct Binary {
    src: Box<dyn ReadAt>,
    header: Header,
    footer: Footer,
    topology: Vec<u8>,
    object_blocks: Vec<BlockRef>,
    field_blocks: Vec<BlockRef>,
    /// The user columns section, decoded and checked at open (absent without the flag).
    columns: Option<Box<UserColumns>>,
}

#[derive(Debug)]
enum Kind {
    Binary(Binary),
    Json(Box<JsonDoc>),
}

/// An open, checked snapshot. See the module docs for what `open` guarantees.
#[derive(Debug)]
pub struct SnapshotReader {
    name: String,
    threads: usize,
    kind: Kind,
}

/// A snapshot's contents in memory (see [`SnapshotReader::read_all`]).
impl SnapshotReader {
    /// Opens and checks the snapshot at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| SnapshotError::io(&name, e))?;
        let len = file
            .metadata()
            .map_err(|e| SnapshotError::io(&name, e))?
            .len();
        Self::from_source(Box::new(file), len, &name)
    }

    /// Opens and checks a snapshot held in memory; `name` names it in errors.
    pub fn from_bytes(bytes: Vec<u8>, name: &str) -> Result<Self> {
        let len = bytes.len() as u64;
        Self::from_source(Box::new(Memory(bytes)), len, name)
    }

    /// Opens and checks a snapshot of `len` bytes read from `src`.
    pub fn from_source(src: Box<dyn ReadAt>, len: u64, name: &str) -> Result<Self> {
        // Enough to see the magic, or a JSON document's `{` after some blank lines.
        let mut first = [0u8; 256];
        let n = len.min(first.len() as u64) as usize;
        src.read_exact_at(&mut first[..n], 0)
            .map_err(|e| SnapshotError::io(name, e))?;
        let kind = if n >= 4 && first[..4] == MAGIC {
            Kind::Binary(open_binary(src, len, name)?)
        } else if first[..n]
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{' || *b == 0xEF)
        {
            Kind::Json(Box::new(JsonDoc::open(src.as_ref(), len, name)?))
        } else {
            // Let the header check say what is wrong (too short, or the wrong magic).
            let mut head = vec![0u8; (len as usize).min(HEADER_LEN)];
            src.read_exact_at(&mut head, 0)
                .map_err(|e| SnapshotError::io(name, e))?;
            Header::decode(name, &head)?;
            return Err(SnapshotError::corrupt(
                name,
                Section::Header,
                0,
                "not a snapshot",
            ));
        };
        Ok(SnapshotReader {
            name: name.to_string(),
            threads: parallel::threads(0),
            kind,
        })
    }

    /// Uses `threads` threads to decode blocks (0: the machine's cores, at most 4).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = parallel::threads(threads);
        self
    }

    fn header(&self) -> &Header {
        match &self.kind {
            Kind::Binary(b) => &b.header,
            Kind::Json(j) => &j.header,
        }
    }

    /// The map's settings, all of them.
    pub fn config(&self) -> &MapConfig {
        &self.header().config
    }

    /// The type the field is stored as in this file.
    pub fn dtype(&self) -> Dtype {
        self.header().dtype
    }

    /// How the file is compressed.
    pub fn compression(&self) -> Compression {
        self.header().compression
    }

    /// Binary or JSON.
    pub fn format(&self) -> Format {
        match self.kind {
            Kind::Binary(_) => Format::Binary,
            Kind::Json(_) => Format::Json,
        }
    }

    /// The map's user columns and its objects' values, when the file carries them (a
    /// binary file with the user columns section); `None` for a map without them.
    pub fn user_columns(&self) -> Option<&UserColumns> {
        match &self.kind {
            Kind::Binary(b) => b.columns.as_deref(),
            Kind::Json(_) => None,
        }
    }

    /// Objects in the file.
    pub fn object_count(&self) -> u64 {
        match &self.kind {
            Kind::Binary(b) => b.footer.object_count,
            Kind::Json(j) => j.objects.len() as u64,
        }
    }

    /// Bricks in the file.
    pub fn brick_count(&self) -> u64 {
        match &self.kind {
            Kind::Binary(b) => b.footer.brick_count,
            Kind::Json(j) => j.bricks,
        }
    }

    /// The objects, in the order they were written, in chunks of at most about 1 MiB.
    /// Ids are not checked for uniqueness here (the restorer's id index does that, or
    /// [`verify`](Self::verify)); everything else about an object is.
    pub fn objects(&self) -> ObjectChunks<'_> {
        ObjectChunks {
            reader: self,
            next: 0,
            ready: VecDeque::new(),
            done: false,
        }
    }

    /// The bricks in Morton order, one at a time, values converted to f32.
    pub fn bricks(&self) -> Bricks<'_> {
        let (topology, depth) = match &self.kind {
            Kind::Binary(b) => (&b.topology[..], depth_of(b.header.config.resolution)),
            Kind::Json(j) => (&j.topology[..], depth_of(j.header.config.resolution)),
        };
        Bricks {
            reader: self,
            leaves: Leaves::new(topology, depth, self.brick_count()),
            next: 0,
            ready: VecDeque::new(),
            json: None,
            done: false,
        }
    }

    /// Decodes everything once without keeping it, checking what streaming checks and
    /// that the ids are unique. Returns the numbers of objects and bricks.
    pub fn verify(&self) -> Result<(u64, u64)> {
        let mut ids = HashSet::new();
        let mut objects = 0u64;
        for chunk in self.objects() {
            let chunk = chunk?;
            for e in chunk.iter() {
                if !ids.insert(e.id.to_string()) {
                    return Err(self.duplicate(e.id));
                }
            }
            objects += chunk.len() as u64;
        }
        let mut bricks = 0u64;
        for b in self.bricks() {
            b?;
            bricks += 1;
        }
        Ok((objects, bricks))
    }

    fn duplicate(&self, id: &str) -> SnapshotError {
        let section = match self.kind {
            Kind::Binary(_) => Section::Objects,
            Kind::Json(_) => Section::Json,
        };
        SnapshotError::corrupt(
            &self.name,
            section,
            0,
            format!("object id '{id}' appears twice"),
        )
    }

    /// Reads the whole snapshot at `path` into memory, checked (ids unique included).
    pub fn read_all(path: impl AsRef<Path>) -> Result<Snapshot> {
        Self::open(path)?.into_snapshot()
    }

    /// Reads everything into memory, checked (ids unique included).
    pub fn into_snapshot(self) -> Result<Snapshot> {
        let mut objects = ObjectChunk::new(self.config().channels as usize);
        let mut ids = HashSet::new();
        for chunk in self.objects() {
            for e in chunk?.iter() {
                if !ids.insert(e.id.to_string()) {
                    return Err(self.duplicate(e.id));
                }
                objects.push(&e);
            }
        }
        let bricks = self.bricks().collect::<Result<Vec<_>>>()?;
        Ok(Snapshot {
            config: self.config().clone(),
            dtype: self.dtype(),
            compression: self.compression(),
            format: self.format(),
            objects,
            bricks,
        })
    }
}

fn open_binary(src: Box<dyn ReadAt>, len: u64, name: &str) -> Result<Binary> {
    let io = |e| SnapshotError::io(name, e);
    let mut head = vec![0u8; (len as usize).min(HEADER_LEN)];
    src.read_exact_at(&mut head, 0).map_err(io)?;
    let header = Header::decode(name, &head)?;
    if len < (HEADER_LEN + FOOTER_LEN) as u64 {
        return Err(SnapshotError::corrupt(
            name,
            Section::Footer,
            HEADER_LEN as u64,
            format!(
                "the file's {len} bytes end before the {FOOTER_LEN}-byte footer: it is truncated"
            ),
        ));
    }
    let mut foot = [0u8; FOOTER_LEN];
    src.read_exact_at(&mut foot, len - FOOTER_LEN as u64)
        .map_err(io)?;
    let footer = Footer::decode(name, &foot, len, header.user_columns)?;
    let columns = if header.user_columns {
        // Between the field and the footer: its length is bounded by the file's.
        let at = footer.field_offset + footer.field_len;
        let mut bytes = vec![0u8; (len - FOOTER_LEN as u64 - at) as usize];
        src.read_exact_at(&mut bytes, at).map_err(io)?;
        let columns = UserColumns::decode(&bytes, at)
            .map_err(|e| SnapshotError::corrupt(name, Section::UserColumns, e.offset, e.message))?;
        Some(Box::new(columns))
    } else {
        None
    };
    let config = &header.config;
    let ch = config.channels as usize;

    // The topology: its length was checked against the file size by the footer.
    let topo_at = footer.topology_offset;
    let mut topology = vec![0u8; footer.topology_len as usize];
    src.read_exact_at(&mut topology, topo_at).map_err(io)?;
    let crc = crc32fast::hash(&topology);
    if crc != footer.topology_crc {
        return Err(SnapshotError::corrupt(
            name,
            Section::Topology,
            topo_at,
            format!(
                "checksum mismatch: stored {:#010x}, computed {crc:#010x}",
                footer.topology_crc
            ),
        ));
    }
    let depth = depth_of(config.resolution);
    let leaves = check_topology(&topology, depth).map_err(|(at, reason)| {
        SnapshotError::corrupt(name, Section::Topology, topo_at + at, reason)
    })?;
    let leaves = if depth == 0 {
        footer.brick_count.min(1)
    } else {
        leaves
    };
    if leaves != footer.brick_count {
        return Err(SnapshotError::corrupt(
            name,
            Section::Footer,
            len - FOOTER_LEN as u64 + 56,
            format!(
                "{} bricks claimed, the topology has {leaves}",
                footer.brick_count
            ),
        ));
    }

    // Objects: each takes at least this many raw bytes, so a block of `raw_len` bytes holds
    // at most `raw_len / min` of them and the section at most this many in all.
    let min_object = 35 + 4 * ch as u64;
    let max_objects =
        (footer.objects_len / (BLOCK_HEADER_LEN as u64 + 1)) * (MAX_BLOCK_RAW as u64 / min_object);
    if footer.object_count > max_objects {
        return Err(SnapshotError::corrupt(
            name,
            Section::Footer,
            len - FOOTER_LEN as u64 + 48,
            format!(
                "{} objects claimed, a {}-byte objects section holds at most {max_objects}",
                footer.object_count, footer.objects_len
            ),
        ));
    }
    let object_blocks = walk(
        src.as_ref(),
        name,
        Section::Objects,
        footer.objects_offset,
        footer.objects_len,
        footer.object_count,
        header.compression,
        &|h: &BlockHeader| {
            let fits = h.raw_len as u64 >= 4 + h.count as u64 * min_object;
            fits.then_some(())
                .ok_or_else(|| format!("{} objects cannot fit in {} bytes", h.count, h.raw_len))
        },
    )?;
    let record = record_len(ch, header.dtype) as u64;
    let field_blocks = walk(
        src.as_ref(),
        name,
        Section::Field,
        footer.field_offset,
        footer.field_len,
        footer.brick_count,
        header.compression,
        &|h: &BlockHeader| {
            let expected = h.count as u64 * record;
            (h.raw_len as u64 == expected).then_some(()).ok_or_else(|| {
                format!(
                    "{} bricks take {expected} bytes, the block says {}",
                    h.count, h.raw_len
                )
            })
        },
    )?;
    Ok(Binary {
        src,
        header,
        footer,
        topology,
        object_blocks,
        field_blocks,
        columns,
    })
}

/// Walks the blocks of one section: every header checked against the section's end and
/// `check`, every CRC verified; the items must add up to `expected`.
#[allow(clippy::too_many_arguments)]
fn walk(
    src: &dyn ReadAt,
    name: &str,
    section: Section,
    start: u64,
    len: u64,
    expected: u64,
    compression: Compression,
    check: &dyn Fn(&BlockHeader) -> std::result::Result<(), String>,
) -> Result<Vec<BlockRef>> {
    let end = start + len;
    let mut at = start;
    let mut items = 0u64;
    let mut blocks = Vec::new();
    let mut buf = Vec::new();
    while at < end {
        let bad = |reason: String| SnapshotError::corrupt(name, section, at, reason);
        if end - at < BLOCK_HEADER_LEN as u64 {
            return Err(bad(format!(
                "{} bytes left, a block header takes {BLOCK_HEADER_LEN}",
                end - at
            )));
        }
        let mut hb = [0u8; BLOCK_HEADER_LEN];
        src.read_exact_at(&mut hb, at)
            .map_err(|e| SnapshotError::io(name, e))?;
        let h = BlockHeader::decode(&hb);
        let body = at + BLOCK_HEADER_LEN as u64;
        if h.stored_len as u64 > end - body {
            return Err(bad(format!(
                "a block of {} bytes runs past the section's end at {end}",
                h.stored_len
            )));
        }
        let mut stored = std::mem::take(&mut buf);
        stored.resize(h.stored_len as usize, 0);
        src.read_exact_at(&mut stored, body)
            .map_err(|e| SnapshotError::io(name, e))?;
        let crc = h.crc_of(&stored);
        if crc != h.crc {
            return Err(bad(format!(
                "block checksum mismatch: stored {:#010x}, computed {crc:#010x}",
                h.crc
            )));
        }
        buf = stored;
        if h.count == 0 {
            return Err(bad("an empty block".into()));
        }
        if h.raw_len as usize > MAX_BLOCK_RAW {
            return Err(bad(format!(
                "a block of {} raw bytes exceeds the limit of {MAX_BLOCK_RAW}",
                h.raw_len
            )));
        }
        let bound = stored_bound(compression, h.raw_len as usize);
        if compression == Compression::None && h.stored_len != h.raw_len
            || h.stored_len as usize > bound
        {
            return Err(bad(format!(
                "{} stored bytes for {} raw bytes with compression {}",
                h.stored_len,
                h.raw_len,
                compression.name()
            )));
        }
        check(&h).map_err(bad)?;
        blocks.push(BlockRef {
            offset: at,
            head: h,
            first: items,
        });
        items += h.count as u64;
        if items > expected {
            return Err(bad(format!(
                "more than the {expected} items the footer claims"
            )));
        }
        at = body + h.stored_len as u64;
    }
    if items != expected {
        return Err(SnapshotError::corrupt(
            name,
            section,
            end,
            format!("{items} items in the section, the footer claims {expected}"),
        ));
    }
    Ok(blocks)
}

/// Reads blocks again, checks their CRCs (the file may have changed since `open`) and
/// decompresses them.
fn load(b: &Binary, name: &str, section: Section, r: &BlockRef) -> Result<Vec<u8>> {
    let mut stored = vec![0u8; r.head.stored_len as usize];
    b.src
        .read_exact_at(&mut stored, r.offset + BLOCK_HEADER_LEN as u64)
        .map_err(|e| SnapshotError::io(name, e))?;
    if r.head.crc_of(&stored) != r.head.crc {
        return Err(SnapshotError::corrupt(
            name,
            section,
            r.offset,
            "block checksum mismatch: the file changed after it was opened",
        ));
    }
    Ok(stored)
}

/// The objects of a snapshot, chunk by chunk (see [`SnapshotReader::objects`]).
#[derive(Debug)]
pub struct ObjectChunks<'r> {
    reader: &'r SnapshotReader,
    next: usize,
    ready: VecDeque<Result<ObjectChunk>>,
    done: bool,
}

/// Objects a JSON snapshot hands out per chunk.
const JSON_CHUNK: usize = 4096;

impl Iterator for ObjectChunks<'_> {
    type Item = Result<ObjectChunk>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.ready.is_empty() {
            let name = &self.reader.name;
            match &self.reader.kind {
                Kind::Json(j) => {
                    let all = &j.objects;
                    if self.next >= all.len() {
                        self.done = true;
                        return None;
                    }
                    let end = (self.next + JSON_CHUNK).min(all.len());
                    let mut c = ObjectChunk::new(j.header.config.channels as usize);
                    for i in self.next..end {
                        c.push(&all.get(i));
                    }
                    self.next = end;
                    return Some(Ok(c));
                }
                Kind::Binary(b) => {
                    let batch: Vec<BlockRef> = b
                        .object_blocks
                        .iter()
                        .skip(self.next)
                        .take(2 * self.reader.threads)
                        .copied()
                        .collect();
                    if batch.is_empty() {
                        self.done = true;
                        return None;
                    }
                    self.next += batch.len();
                    let mut loaded = Vec::with_capacity(batch.len());
                    for r in batch {
                        match load(b, name, Section::Objects, &r) {
                            Ok(stored) => loaded.push((r, stored)),
                            Err(e) => {
                                self.done = true;
                                return Some(Err(e));
                            }
                        }
                    }
                    let config = &b.header.config;
                    let compression = b.header.compression;
                    let decoded = parallel::map(loaded, self.reader.threads, |(r, stored)| {
                        block::decompress(stored, r.head.raw_len as usize, compression)
                            .and_then(|raw| {
                                ObjectChunk::decode_block(
                                    &raw,
                                    r.head.count as usize,
                                    r.first,
                                    config,
                                )
                            })
                            .map_err(|reason| {
                                SnapshotError::corrupt(name, Section::Objects, r.offset, reason)
                            })
                    });
                    self.ready.extend(decoded);
                }
            }
        }
        let item = self.ready.pop_front()?;
        if item.is_err() {
            self.done = true;
            self.ready.clear();
        }
        Some(item)
    }
}

/// The bricks of a snapshot, one at a time (see [`SnapshotReader::bricks`]).
#[derive(Debug)]
pub struct Bricks<'r> {
    reader: &'r SnapshotReader,
    leaves: Leaves<'r>,
    next: usize,
    ready: VecDeque<Result<BrickEntry>>,
    json: Option<super::json::BrickStream<'r>>,
    done: bool,
}

impl Iterator for Bricks<'_> {
    type Item = Result<BrickEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.ready.is_empty() {
            let name = &self.reader.name;
            match &self.reader.kind {
                Kind::Json(j) => {
                    let stream = self.json.get_or_insert_with(|| j.bricks(name));
                    let item = stream.next(&mut self.leaves);
                    if !matches!(item, Some(Ok(_))) {
                        self.done = true;
                    }
                    return item;
                }
                Kind::Binary(b) => {
                    let batch: Vec<BlockRef> = b
                        .field_blocks
                        .iter()
                        .skip(self.next)
                        .take(2 * self.reader.threads)
                        .copied()
                        .collect();
                    if batch.is_empty() {
                        self.done = true;
                        return None;
                    }
                    self.next += batch.len();
                    let mut loaded = Vec::with_capacity(batch.len());
                    for r in batch {
                        let coords: Vec<[u32; 3]> = (&mut self.leaves)
                            .take(r.head.count as usize)
                            .map(field::unmorton)
                            .collect();
                        match load(b, name, Section::Field, &r) {
                            Ok(stored) => loaded.push((r, stored, coords)),
                            Err(e) => {
                                self.done = true;
                                return Some(Err(e));
                            }
                        }
                    }
                    let h = &b.header;
                    let objects = b.footer.object_count;
                    let ch = h.config.channels as usize;
                    let record = record_len(ch, h.dtype);
                    let decoded =
                        parallel::map(loaded, self.reader.threads, |(r, stored, coords)| {
                            let bad = |reason: String| {
                                SnapshotError::corrupt(name, Section::Field, r.offset, reason)
                            };
                            let raw =
                                block::decompress(stored, r.head.raw_len as usize, h.compression)
                                    .map_err(bad)?;
                            if coords.len() != r.head.count as usize {
                                return Err(bad("more bricks than the topology has".into()));
                            }
                            raw.chunks_exact(record)
                                .zip(coords)
                                .enumerate()
                                .map(|(i, (rec, c))| {
                                    decode_brick(rec, c, ch, h.dtype, objects).map_err(|e| {
                                        bad(format!("brick {i} of the block, at {c:?}: {e}"))
                                    })
                                })
                                .collect::<Result<Vec<_>>>()
                        });
                    for d in decoded {
                        match d {
                            Ok(bricks) => self.ready.extend(bricks.into_iter().map(Ok)),
                            Err(e) => {
                                self.ready.push_back(Err(e));
                                break;
                            }
                        }
                    }
                }
            }
        }
        let item = self.ready.pop_front()?;
        if item.is_err() {
            self.done = true;
            self.ready.clear();
        }
        Some(item)
    }
}
