//! The layout of keys in the single ordered keyspace.
//!
//! ```text
//! [0x00] name                          global metadata (e.g. "next_map_id")
//! [0x01] map name                      catalog: CatalogRecord
//! [0x02] map id (u32 BE) [0x01] id     objects: ObjectRecord
//! [0x02] map id (u32 BE) [0x03] seq    journal: JournalRecord (u64 BE)
//! [0x02] map id (u32 BE) [0x04]        map meta: MapMetaRecord
//! [0x02] map id (u32 BE) [0x05]        manifest: ManifestRecord (the map's segment files)
//! [0x02] map id (u32 BE) [0x06] seg chunk   dead slots of a segment (u64 BE, u32 BE)
//! [0x02] map id (u32 BE) [0x07]        user columns: SchemaRecord (absent: none)
//! [0x02] map id (u32 BE) [0x08] id     user column values of object id: ValuesRecord
//! [0x03] model name                    model catalog: ModelRecord (its bytes are a blob)
//! ```
//! Objects under `objects` are the map's *recent* rows: those committed in small
//! transactions since they were last sealed into a segment file. Everything else lives in
//! the segment files the manifest names.
//! Big-endian integers keep a keyspace's scan in numeric order, so the journal replays in
//! sequence order. One commit of the engine is one batch over these keys.

const META: u8 = 0x00;
const CATALOG: u8 = 0x01;
const MAP: u8 = 0x02;
const MODEL: u8 = 0x03;

/// The keyspaces of one map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Keyspace {
    /// Object records by id.
    Objects = 0x01,
    // 0x02 held field bricks in format 1; they are in brick files now.
    /// Splats since the last checkpoint, by sequence number.
    Journal = 0x03,
    /// The map's bookkeeping record.
    Meta = 0x04,
    /// The list of the map's segment files.
    Manifest = 0x05,
    /// Tombstone bitsets of segment rows, in chunks.
    Dead = 0x06,
    /// The map's user columns (only maps that have some).
    Schema = 0x07,
    /// The user column values of each object, by id (only maps with user columns).
    Values = 0x08,
}

/// The global key `name`.
pub fn global(name: &str) -> Vec<u8> {
    let mut k = vec![META];
    k.extend_from_slice(name.as_bytes());
    k
}

/// The prefix of every catalog key.
pub fn catalog_prefix() -> Vec<u8> {
    vec![CATALOG]
}

/// The catalog key of map `name`.
pub fn catalog(name: &str) -> Vec<u8> {
    let mut k = vec![CATALOG];
    k.extend_from_slice(name.as_bytes());
    k
}

/// The prefix of every model catalog key.
pub fn model_prefix() -> Vec<u8> {
    vec![MODEL]
}

/// The model catalog key of model `name`.
pub fn model(name: &str) -> Vec<u8> {
    let mut k = vec![MODEL];
    k.extend_from_slice(name.as_bytes());
    k
}

/// The prefix of every key of map `map_id`.
pub fn map_prefix(map_id: u32) -> Vec<u8> {
    let mut k = vec![MAP];
    k.extend_from_slice(&map_id.to_be_bytes());
    k
}

/// The prefix of one keyspace of a map.
pub fn keyspace_prefix(map_id: u32, ks: Keyspace) -> Vec<u8> {
    let mut k = map_prefix(map_id);
    k.push(ks as u8);
    k
}

/// The key of object `id`.
pub fn object(map_id: u32, id: &str) -> Vec<u8> {
    let mut k = keyspace_prefix(map_id, Keyspace::Objects);
    k.extend_from_slice(id.as_bytes());
    k
}

/// The key of journal entry `seq`.
pub fn journal(map_id: u32, seq: u64) -> Vec<u8> {
    let mut k = keyspace_prefix(map_id, Keyspace::Journal);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The key of the map's meta record.
pub fn map_meta(map_id: u32) -> Vec<u8> {
    keyspace_prefix(map_id, Keyspace::Meta)
}

/// The key of the map's user column schema.
pub fn schema(map_id: u32) -> Vec<u8> {
    keyspace_prefix(map_id, Keyspace::Schema)
}

/// The key of the user column values of object `id`.
pub fn values(map_id: u32, id: &str) -> Vec<u8> {
    let mut k = keyspace_prefix(map_id, Keyspace::Values);
    k.extend_from_slice(id.as_bytes());
    k
}

/// The key of the map's manifest.
pub fn manifest(map_id: u32) -> Vec<u8> {
    keyspace_prefix(map_id, Keyspace::Manifest)
}

/// The key of chunk `chunk` of the dead-slot bitset of segment `segment`.
pub fn dead(map_id: u32, segment: u64, chunk: u32) -> Vec<u8> {
    let mut k = keyspace_prefix(map_id, Keyspace::Dead);
    k.extend_from_slice(&segment.to_be_bytes());
    k.extend_from_slice(&chunk.to_be_bytes());
    k
}

/// The prefix of every dead-slot chunk of segment `segment`.
pub fn dead_prefix(map_id: u32, segment: u64) -> Vec<u8> {
    let mut k = keyspace_prefix(map_id, Keyspace::Dead);
    k.extend_from_slice(&segment.to_be_bytes());
    k
}

/// The segment and chunk of a dead-slot key.
pub fn parse_dead(key: &[u8]) -> Option<(u64, u32)> {
    let tail = key.get(key.len().checked_sub(12)?..)?;
    let seg = u64::from_be_bytes(tail[..8].try_into().ok()?);
    let chunk = u32::from_be_bytes(tail[8..].try_into().ok()?);
    Some((seg, chunk))
}

/// The trailing u64 of a journal key, if it has one.
pub fn trailing_u64(key: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

/// A readable rendering of any key, for error messages.
pub fn describe(key: &[u8]) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match key.split_first() {
        Some((&META, rest)) => format!("meta/{}", text(rest)),
        Some((&CATALOG, rest)) => format!("catalog/{:?}", text(rest)),
        Some((&MODEL, rest)) => format!("model/{:?}", text(rest)),
        Some((&MAP, rest)) if rest.len() >= 5 => {
            let id = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
            let tail = &rest[5..];
            match rest[4] {
                0x01 => format!("map {id}/objects/{:?}", text(tail)),
                0x03 => format!("map {id}/journal/{}", trailing_u64(key).unwrap_or(0)),
                0x04 => format!("map {id}/meta"),
                0x05 => format!("map {id}/manifest"),
                0x07 => format!("map {id}/schema"),
                0x08 => format!("map {id}/values/{:?}", text(tail)),
                0x06 => match parse_dead(key) {
                    Some((seg, chunk)) => format!("map {id}/dead/{seg:016x}/{chunk}"),
                    None => format!("map {id}/dead/?"),
                },
                ks => format!("map {id}/keyspace {ks:#04x}"),
            }
        }
        _ => format!("{key:02x?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_map_then_keyspace_then_number() {
        assert!(journal(1, 2) < journal(1, 256));
        assert!(object(1, "zzz") < journal(1, 0));
        assert!(map_meta(1) < map_prefix(2));
        assert!(journal(7, 9).starts_with(&keyspace_prefix(7, Keyspace::Journal)));
    }

    #[test]
    fn describe_names_the_parts() {
        assert_eq!(describe(&object(3, "cube_1")), "map 3/objects/\"cube_1\"");
        assert_eq!(describe(&journal(3, 42)), "map 3/journal/42");
        assert_eq!(describe(&catalog("scene")), "catalog/\"scene\"");
        assert_eq!(describe(&[0xff]), "[ff]");
        assert_eq!(describe(&model("tiny")), "model/\"tiny\"");
        assert!(model("zz") > map_prefix(u32::MAX) && model("") > catalog("zz"));
        assert_eq!(describe(&manifest(2)), "map 2/manifest");
        assert_eq!(describe(&dead(2, 0x10, 3)), "map 2/dead/0000000000000010/3");
        assert_eq!(parse_dead(&dead(9, 77, 5)), Some((77, 5)));
    }
}
