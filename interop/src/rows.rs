//! What every format shares: the columns, their order on export (Morton order of the
//! positions), reading a file's header into column places (the built-in columns and the
//! map's user columns), and numbers as text.

use tensormap_engine::user::ColumnDef;
use tensormap_engine::{MapConfig, MapView, ObjectRef};
use tensormap_query::copy::CopyError;

/// The columns of every format, in the order they are written.
pub const COLUMNS: [&str; 7] = ["id", "type", "x", "y", "z", "embedding", "confidence"];

/// Columns an import skips: the GeoParquet geometry and its bbox covering (the same point
/// as `x, y, z`).
pub const SKIPPED: [&str; 2] = ["geometry", "bbox"];

/// Bits of each axis in a row's Morton key: the finest level a partition can use, and
/// far below any f32 position's spacing at the map's scale.
pub const KEY_BITS: u32 = 21;

/// The Morton key of `p` on a grid of `2^KEY_BITS` cells per axis over the map's bounds
/// `[-bounds, bounds]³`. Its top `3·d` bits are the key of the depth-`d` octree cell.
pub fn morton_key(p: [f32; 3], bounds: f64) -> u64 {
    let cells = (1u64 << KEY_BITS) as f64;
    let q = p.map(|v| {
        let t = ((v as f64 + bounds) / (2.0 * bounds) * cells).floor();
        // Validated positions lie inside the bounds; the top edge belongs to the last cell.
        t.clamp(0.0, cells - 1.0) as u32
    });
    tensormap_storage::brick::morton(q)
}

/// Every object of `map` with its Morton key, sorted by key, ties by id: the order of
/// a Parquet export, so that a row group covers a compact region of space.
pub fn sorted_rows<'a>(map: &MapView<'a>) -> Vec<(u64, ObjectRef<'a>)> {
    let bounds = map.config().bounds;
    let mut rows: Vec<(u64, ObjectRef<'a>)> = map
        .objects()
        .map(|o| (morton_key(o.position(), bounds), o))
        .collect();
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id().cmp(b.1.id())));
    rows
}

/// Where each column of a file is (its index among the file's columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// `id` (required).
    pub id: usize,
    /// `type` (default `''`).
    pub kind: Option<usize>,
    /// `x`, `y`, `z` (required).
    pub xyz: [usize; 3],
    /// `embedding` (required).
    pub embedding: usize,
    /// `confidence` (default 1.0).
    pub confidence: Option<usize>,
    /// The map's user columns the file has: (the file's column, the map's column index).
    pub user: Vec<(usize, usize)>,
}

/// The layout of a file whose columns are `names`, for a map with user columns `user`:
/// every name must be one of [`COLUMNS`], of `user` (or [`SKIPPED`]), once; `id`, `x`,
/// `y`, `z` and `embedding` must be there.
pub fn layout<S: AsRef<str>>(
    file: &str,
    names: &[S],
    user: &[ColumnDef],
) -> Result<Layout, CopyError> {
    let mut at: [Option<usize>; 7] = [None; 7];
    let mut users: Vec<(usize, usize)> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let name = name.as_ref();
        if let Some(u) = user.iter().position(|c| c.name == name) {
            if users.iter().any(|(_, v)| *v == u) {
                return Err(CopyError::file(
                    file,
                    format!("column '{name}' appears twice"),
                ));
            }
            users.push((i, u));
            continue;
        }
        if SKIPPED.contains(&name) {
            continue;
        }
        let Some(c) = COLUMNS.iter().position(|c| *c == name) else {
            let mut known = COLUMNS.join(", ");
            for c in user {
                known.push_str(", ");
                known.push_str(&c.name);
            }
            return Err(CopyError::file(
                file,
                format!("unknown column '{name}' (the columns are {known})"),
            ));
        };
        if at[c].is_some() {
            return Err(CopyError::file(
                file,
                format!("column '{name}' appears twice"),
            ));
        }
        at[c] = Some(i);
    }
    let need = |c: usize| {
        at[c].ok_or_else(|| {
            CopyError::file(
                file,
                format!(
                    "missing column '{}' (needed: id, x, y, z, embedding; type and confidence are optional)",
                    COLUMNS[c]
                ),
            )
        })
    };
    Ok(Layout {
        id: need(0)?,
        kind: at[1],
        xyz: [need(2)?, need(3)?, need(4)?],
        embedding: need(5)?,
        confidence: at[6],
        user: users,
    })
}

/// A number written as text (CSV): a decimal, with an optional exponent; `NaN` and `inf`
/// read as such (and are then refused by the map's rules, naming the row).
pub fn parse_number(s: &str) -> Result<f32, String> {
    let t = s.trim();
    t.parse::<f32>()
        .map_err(|_| format!("'{}' is not a number", clip(t)))
}

/// A vector written as text: `[a, b, ...]` (tensormap's, DuckDB's, Python's lists) or
/// numbers separated by spaces (NumPy's `[a b ...]`).
pub fn parse_vector(s: &str, hint: usize) -> Result<Vec<f32>, String> {
    let t = s.trim();
    let inner = t
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| format!("'{}' is not a list like [0.5, -1, 2e-3]", clip(t)))?;
    let mut v = Vec::with_capacity(hint);
    for part in inner.split(|c: char| c == ',' || c.is_ascii_whitespace()) {
        if part.is_empty() {
            continue;
        }
        v.push(
            part.parse::<f32>()
                .map_err(|_| format!("'{}' in the list is not a number", clip(part)))?,
        );
    }
    Ok(v)
}

/// At most 40 characters of `s`, for messages.
pub fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Appends the shortest decimal that reads back as `x` (finite: a map holds no other).
pub fn push_f32(out: &mut Vec<u8>, x: f32) {
    if x == x.trunc() && x.abs() < 16_777_216.0 {
        // Integral and exact: its digits.
        out.extend_from_slice((x as i64).to_string().as_bytes());
        return;
    }
    let mut buf = zmij::Buffer::new();
    out.extend_from_slice(buf.format_finite(x).as_bytes());
}

/// The map's channels, as a capacity hint for one embedding.
pub fn channels(config: &MapConfig) -> usize {
    config.channels as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_nest_by_octree_level() {
        let b = 100.0;
        // The corners of the cube and a point in the first octant of depth 1.
        assert_eq!(morton_key([-100.0, -100.0, -100.0], b), 0);
        assert_eq!(morton_key([100.0, 100.0, 100.0], b), (1 << 63) - 1);
        let k = morton_key([10.0, -10.0, -10.0], b);
        assert_eq!(k >> (3 * (KEY_BITS - 1)), 1); // x high, y and z low
    }

    #[test]
    fn layouts_and_text() {
        let l = layout("f", &["embedding", "x", "y", "z", "id", "geometry"], &[]).unwrap();
        assert_eq!(l.id, 4);
        assert_eq!(l.kind, None);
        assert_eq!(l.xyz, [1, 2, 3]);
        let e = layout("f", &["id", "x", "y", "z"], &[]).unwrap_err();
        assert!(e.message.contains("missing column 'embedding'"), "{e}");
        let e = layout("f", &["id", "x", "y", "z", "embedding", "colour"], &[]).unwrap_err();
        assert!(e.message.contains("unknown column 'colour'"), "{e}");
        let colour = ColumnDef {
            id: 3,
            name: "colour".into(),
            ty: tensormap_engine::user::ColumnType::Text,
            not_null: false,
            default: tensormap_engine::user::Cell::Null,
        };
        let names = ["id", "colour", "x", "y", "z", "embedding"];
        let l = layout("f", &names, std::slice::from_ref(&colour)).unwrap();
        assert_eq!(l.user, vec![(1, 0)]);
        let e = layout(
            "f",
            &["id", "x", "y", "z", "embedding", "Colour"],
            &[colour],
        )
        .unwrap_err();
        assert!(
            e.message
                .contains("the columns are id, type, x, y, z, embedding, confidence, colour"),
            "{e}"
        );
        assert_eq!(
            parse_vector("[1, -2.5,3e-1]", 3).unwrap(),
            vec![1.0, -2.5, 0.3]
        );
        assert_eq!(parse_vector(" [1 2\n 3] ", 3).unwrap(), vec![1.0, 2.0, 3.0]);
        assert_eq!(parse_vector("[]", 0).unwrap(), Vec::<f32>::new());
        assert!(parse_vector("1, 2", 2).is_err());
        assert!(parse_vector("[1, x]", 2).is_err());
        assert!(parse_number("NaN").unwrap().is_nan());
        assert!(parse_number("abc").is_err());
        for x in [0.1f32, -3.0, 1e-7, 123456.78, f32::MAX, 16_777_216.0] {
            let mut b = Vec::new();
            push_f32(&mut b, x);
            assert_eq!(String::from_utf8(b).unwrap().parse::<f32>().unwrap(), x);
        }
    }
}
