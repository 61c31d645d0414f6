//! Typed-array blocks and the JSON that describes them.
//!
//! A block is the little-endian bytes of one typed array (`u8`, `u16`, `u32`, `f32`, `f64`).
//! JSON names a block as `{"block": k, "type": "f32", "len": n}` (`len` in elements). In an
//! HTML file block `k` is the base64 text of the element `<script id="tm-bk">`; in a
//! served-view frame it is at an offset the frame's header lists. Both are decoded by the
//! same code in the page.

use serde_json::{json, Map, Value};

use super::input::{ColumnValues, ViewObjects};

/// Element type of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// Unsigned byte.
    U8,
    /// Unsigned 16-bit.
    U16,
    /// Unsigned 32-bit.
    U32,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
}

impl Dtype {
    fn name(self) -> &'static str {
        match self {
            Dtype::U8 => "u8",
            Dtype::U16 => "u16",
            Dtype::U32 => "u32",
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
        }
    }

    /// Bytes per element (also the alignment a frame gives the block).
    pub fn size(self) -> usize {
        match self {
            Dtype::U8 => 1,
            Dtype::U16 => 2,
            Dtype::U32 | Dtype::F32 => 4,
            Dtype::F64 => 8,
        }
    }
}

/// One typed array's bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Its element type.
    pub dtype: Dtype,
    /// Little-endian bytes.
    pub bytes: Vec<u8>,
}

/// Blocks collected while their JSON description is built.
#[derive(Debug, Default)]
pub struct Blocks {
    /// In the order the JSON numbers them.
    pub list: Vec<Block>,
}

impl Blocks {
    /// Adds a block and returns its JSON reference.
    pub fn push(&mut self, dtype: Dtype, bytes: Vec<u8>) -> Value {
        let len = bytes.len() / dtype.size();
        self.list.push(Block { dtype, bytes });
        json!({"block": self.list.len() - 1, "type": dtype.name(), "len": len})
    }

    /// Adds `f32` values.
    pub fn f32s(&mut self, values: impl Iterator<Item = f32>) -> Value {
        let bytes = values.flat_map(f32::to_le_bytes).collect();
        self.push(Dtype::F32, bytes)
    }

    /// Adds `u32` values.
    pub fn u32s(&mut self, values: impl Iterator<Item = u32>) -> Value {
        let bytes = values.flat_map(u32::to_le_bytes).collect();
        self.push(Dtype::U32, bytes)
    }

    /// Adds `u16` values.
    pub fn u16s(&mut self, values: impl Iterator<Item = u16>) -> Value {
        let bytes = values.flat_map(u16::to_le_bytes).collect();
        self.push(Dtype::U16, bytes)
    }

    /// Adds strings as UTF-8 bytes and their end offsets: `{"ends": u32 block, "bytes": u8
    /// block}` (string `i` is `bytes[ends[i-1]..ends[i]]`). `None` if the bytes pass 4 GiB.
    pub fn strings<'a>(&mut self, values: impl Iterator<Item = &'a str>) -> Option<Value> {
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for s in values {
            bytes.extend_from_slice(s.as_bytes());
            ends.push(u32::try_from(bytes.len()).ok()?);
        }
        let ends = self.u32s(ends.into_iter());
        let bytes = self.push(Dtype::U8, bytes);
        Some(json!({"ends": ends, "bytes": bytes}))
    }

    /// The total bytes of the blocks.
    pub fn byte_len(&self) -> u64 {
        self.list.iter().map(|b| b.bytes.len() as u64).sum()
    }
}

/// Type names interned in order of first appearance, with codes of the narrowest width.
fn type_codes(blocks: &mut Blocks, objects: &ViewObjects, order: &[u32]) -> Value {
    let mut names: Vec<&str> = Vec::new();
    let mut index: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    let codes: Vec<u32> = order
        .iter()
        .map(|&i| {
            let k = objects.kinds[i as usize].as_str();
            *index.entry(k).or_insert_with(|| {
                names.push(k);
                names.len() as u32 - 1
            })
        })
        .collect();
    let block = if names.len() <= 256 {
        blocks.push(Dtype::U8, codes.iter().map(|&c| c as u8).collect())
    } else if names.len() <= 65_536 {
        blocks.u16s(codes.iter().map(|&c| c as u16))
    } else {
        blocks.u32s(codes.into_iter())
    };
    json!({"names": names, "codes": block})
}

/// True when every value is NaN or reads back exactly from f32.
fn fits_f32(values: &[f64]) -> bool {
    values
        .iter()
        .all(|v| v.is_nan() || (*v as f32) as f64 == *v)
}

/// The objects `order` lists (indices into `objects`), in that order, as blocks; returns
/// their JSON description, or `None` if a string column passes 4 GiB:
///
/// `{"n", "positions": f32×3n, "ids": strings, "types": {"names", "codes"},
///   "confidence": f32, "columns": [{"name", "kind": "number", "values"} |
///   {"name", "kind": "text", "ends", "bytes", "nulls"?: u8 (1 = NULL)}]}`
pub fn objects_json(blocks: &mut Blocks, objects: &ViewObjects, order: &[u32]) -> Option<Value> {
    let at = |i: &u32| *i as usize;
    let positions = blocks.f32s(order.iter().flat_map(|i| objects.positions[at(i)]));
    let ids = blocks.strings(order.iter().map(|i| objects.ids[at(i)].as_str()))?;
    let types = type_codes(blocks, objects, order);
    let confidence = blocks.f32s(order.iter().map(|i| objects.confidence[at(i)]));
    let mut columns = Vec::with_capacity(objects.columns.len());
    for c in &objects.columns {
        let mut o = Map::new();
        o.insert("name".into(), Value::from(c.name.as_str()));
        match &c.values {
            ColumnValues::Number(v) => {
                o.insert("kind".into(), "number".into());
                let values = if fits_f32(v) {
                    blocks.f32s(order.iter().map(|i| v[at(i)] as f32))
                } else {
                    let bytes = order.iter().flat_map(|i| v[at(i)].to_le_bytes()).collect();
                    blocks.push(Dtype::F64, bytes)
                };
                o.insert("values".into(), values);
            }
            ColumnValues::Text(v) => {
                o.insert("kind".into(), "text".into());
                let s = blocks.strings(order.iter().map(|i| v[at(i)].as_deref().unwrap_or("")))?;
                if let Value::Object(s) = s {
                    o.extend(s);
                }
                if order.iter().any(|i| v[at(i)].is_none()) {
                    let nulls = order.iter().map(|i| v[at(i)].is_none() as u8).collect();
                    o.insert("nulls".into(), blocks.push(Dtype::U8, nulls));
                }
            }
        }
        columns.push(Value::Object(o));
    }
    Some(json!({
        "n": order.len(),
        "positions": positions,
        "ids": ids,
        "types": types,
        "confidence": confidence,
        "columns": columns,
    }))
}

/// JSON text safe inside a `<script>` element: every `<` is written `\u003c` (valid JSON,
/// so no `</script>` or `<!--` can appear).
pub fn script_safe_json(v: &Value) -> String {
    v.to_string().replace('<', "\\u003c")
}

/// A served-view frame: `TMV1`, the header's length (u32 LE), the header JSON (padded with
/// spaces to a multiple of 8), then each block at an offset aligned to 8 from the start of
/// the frame. The header gets `"blocks": [[offset, bytes], ...]`.
pub fn frame(mut header: Map<String, Value>, blocks: &Blocks) -> Vec<u8> {
    // The offsets depend on the header's length, which depends on the offsets' digits:
    // lay the blocks out after a header of a guessed size and grow the guess until it fits.
    let mut guess = 64 + 24 * blocks.list.len() + header_len_hint(&header);
    loop {
        let start = 8 + guess.next_multiple_of(8);
        let mut offsets = Vec::with_capacity(blocks.list.len());
        let mut at = start;
        for b in &blocks.list {
            at = at.next_multiple_of(8);
            offsets.push(json!([at, b.bytes.len()]));
            at += b.bytes.len();
        }
        header.insert("blocks".into(), Value::Array(offsets));
        let mut text = Value::Object(header.clone()).to_string().into_bytes();
        if text.len() > guess.next_multiple_of(8) {
            guess = text.len() + 64;
            continue;
        }
        text.resize(start - 8, b' ');
        let mut out = Vec::with_capacity(at);
        out.extend_from_slice(b"TMV1");
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(&text);
        for b in &blocks.list {
            out.resize(out.len().next_multiple_of(8), 0);
            out.extend_from_slice(&b.bytes);
        }
        return out;
    }
}

fn header_len_hint(header: &Map<String, Value>) -> usize {
    Value::Object(header.clone()).to_string().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_put_blocks_where_the_header_says() {
        let mut blocks = Blocks::default();
        for k in 0..40u32 {
            blocks.f32s((0..k * 7).map(|v| v as f32));
            blocks.push(Dtype::U8, vec![k as u8; k as usize * 3]);
        }
        let mut h = Map::new();
        h.insert("x".into(), "y".into());
        let f = frame(h, &blocks);
        assert_eq!(&f[..4], b"TMV1");
        let len = u32::from_le_bytes(f[4..8].try_into().unwrap()) as usize;
        assert_eq!((8 + len) % 8, 0);
        let header: Value = serde_json::from_slice(&f[8..8 + len]).unwrap();
        assert_eq!(header["x"], "y");
        let list = header["blocks"].as_array().unwrap();
        assert_eq!(list.len(), 80);
        for (b, at) in blocks.list.iter().zip(list) {
            let (o, n) = (
                at[0].as_u64().unwrap() as usize,
                at[1].as_u64().unwrap() as usize,
            );
            assert_eq!(o % 8, 0);
            assert!(o >= 8 + len);
            assert_eq!(&f[o..o + n], b.bytes.as_slice());
        }
    }

    #[test]
    fn numbers_are_f32_only_when_exact() {
        assert!(fits_f32(&[0.5, f64::NAN, 0.1f32 as f64]));
        assert!(!fits_f32(&[0.1]));
        assert_eq!(
            script_safe_json(&json!({"t": "</script><!--"})),
            r#"{"t":"\u003c/script>\u003c!--"}"#
        );
    }
}
