//! User columns: the typed columns a map declares beside its built-in ones (`label TEXT`,
//! `seen_at TIMESTAMP`, ...), their values per object, and how a value of the language
//! becomes a stored cell and back.
//!
//! A map's [`UserTable`] holds its schema and the values of its objects by id, in a
//! persistent hash map (a hash array mapped trie) shared between versions: cloning a table
//! is O(1), and a write copies only the nodes on its key's path, O(log n), so a commit
//! costs what it writes, not a share of everything written before. Values are keyed by
//! id, not by a row's place, so the index reorganising its rows
//! (commits, seals, merges) never moves them. They are stored as one record per object
//! beside the object index (`map/<id>/values/<object id>`), written in the commit's one
//! batch with the rest of it; a map without user columns writes none of these keys.

use std::sync::Arc;

use imbl::shared_ptr::DefaultSharedPtr;
use imbl::GenericHashMap;
use rustc_hash::FxBuildHasher;
pub use tensormap_storage::{Cell, ColumnDef, ColumnType, SchemaRecord, ValuesRecord};

use tensormap_storage::keys::{self, Keyspace};
use tensormap_storage::{codec, Backend, Batch, Error as StorageError};

use crate::map::MapState;
use crate::txn::state_mut;
use crate::{Error, MapConfig, Object, Result, Value, WriteTransaction};

/// The built-in columns of an object, which a user column may not be named.
pub const BUILT_IN: [&str; 8] = [
    "id",
    "type",
    "position",
    "x",
    "y",
    "z",
    "embedding",
    "confidence",
];

/// Object id → its stored cells. A persistent map: clones share every node, and a write
/// copies the nodes on one path (those another version still holds), never the whole.
type Values = GenericHashMap<Arc<str>, Arc<[(u32, Cell)]>, FxBuildHasher, DefaultSharedPtr>;

/// A map's user columns and their values.
#[derive(Debug, Clone, Default)]
pub struct UserTable {
    schema: Arc<SchemaRecord>,
    /// The cells of the objects that store any; an object absent here reads its columns'
    /// defaults.
    values: Values,
}

impl UserTable {
    /// The schema.
    pub fn schema(&self) -> &SchemaRecord {
        &self.schema
    }

    /// Replaces the schema (values of dropped columns stay stored, never read again).
    pub fn set_schema(&mut self, schema: SchemaRecord) {
        self.schema = Arc::new(schema);
    }

    /// The columns, in declared order.
    pub fn columns(&self) -> &[ColumnDef] {
        &self.schema.columns
    }

    /// Column `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.schema.columns.iter().find(|c| c.name == name)
    }

    /// The stored cells of object `id`.
    pub fn cells(&self, id: &str) -> Option<&[(u32, Cell)]> {
        self.values.get(id).map(|c| &c[..])
    }

    /// The value of column `def` for object `id`: stored, or the column's default.
    pub fn cell<'s>(&'s self, id: &str, def: &'s ColumnDef) -> &'s Cell {
        self.cells(id)
            .and_then(|cells| cells.iter().find(|(c, _)| *c == def.id))
            .map(|(_, v)| v)
            .unwrap_or(&def.default)
    }

    /// The value of column `name` for object `id`, or `None` when there is no such column.
    pub fn value(&self, id: &str, name: &str) -> Option<Value> {
        let def = self.column(name)?;
        Some(cell_value(self.cell(id, def)))
    }

    /// Stores the cells of object `id` (replacing any).
    pub fn put(&mut self, id: &str, cells: Vec<(u32, Cell)>) {
        self.values.insert(Arc::from(id), Arc::from(cells));
    }

    /// Forgets the cells of object `id`; whether it had any.
    pub fn remove(&mut self, id: &str) -> bool {
        // Looked up first: a removal copies the path to the key even when it is absent.
        if !self.values.contains_key(id) {
            return false;
        }
        self.values.remove(id).is_some()
    }

    /// How many objects store cells.
    pub fn stored(&self) -> usize {
        self.values.len()
    }

    /// The objects that store cells and their cells, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[(u32, Cell)])> {
        self.values.iter().map(|(id, cells)| (&id[..], &cells[..]))
    }
}

/// A stored cell as the language reads it: TEXT as text, REAL and INTEGER as numbers,
/// BOOLEAN as a boolean, TIMESTAMP as its text `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC: text
/// that sorts in time order), BLOB as its bytes in lowercase hex.
pub fn cell_value(c: &Cell) -> Value {
    match c {
        Cell::Null => Value::Null,
        Cell::Text(s) => Value::text(s),
        Cell::Real(x) => Value::Number(*x),
        Cell::Integer(i) => Value::Number(*i as f64),
        Cell::Boolean(b) => Value::Bool(*b),
        Cell::Timestamp(t) => Value::Text(Arc::from(format_timestamp(*t))),
        Cell::Blob(b) => {
            let mut s = String::with_capacity(b.len() * 2);
            for x in b {
                s.push_str(&format!("{x:02x}"));
            }
            Value::Text(Arc::from(s))
        }
    }
}

/// The largest integer a number of the language (an f64) holds exactly.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// `v` as a cell of type `ty`; the error says what was expected and what was found.
pub fn to_cell(v: &Value, ty: ColumnType) -> std::result::Result<Cell, String> {
    let mismatch = || format!("expected {}, found a {}", ty.name(), v.type_name());
    Ok(match (ty, v) {
        (_, Value::Null) => Cell::Null,
        (ColumnType::Text, Value::Text(s)) => Cell::Text(s.to_string()),
        (ColumnType::Real, Value::Number(x)) if x.is_finite() => Cell::Real(*x),
        (ColumnType::Integer, Value::Number(x)) => {
            if x.fract() != 0.0 || !x.is_finite() || x.abs() > MAX_EXACT {
                return Err(format!("expected INTEGER, found {x}"));
            }
            Cell::Integer(*x as i64)
        }
        (ColumnType::Boolean, Value::Bool(b)) => Cell::Boolean(*b),
        (ColumnType::Timestamp, Value::Text(s)) => {
            Cell::Timestamp(parse_timestamp(s).ok_or_else(|| {
                format!("'{s}' is not a timestamp (YYYY-MM-DD[ HH:MM:SS[.ffffff]])")
            })?)
        }
        (ColumnType::Blob, Value::Text(s)) => {
            Cell::Blob(parse_hex(s).ok_or_else(|| format!("'{s}' is not hex bytes"))?)
        }
        _ => return Err(mismatch()),
    })
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    b.chunks(2)
        .map(|p| Some((digit(p[0])? * 16 + digit(p[1])?) as u8))
        .collect()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD`, optionally followed by ` ` or `T` and `HH:MM[:SS[.f…]]`, then optionally
/// `Z` or an offset `±HH:MM`: microseconds since the epoch, UTC. Years 0000..=9999.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    let num = |t: &str| -> Option<i64> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (date, rest) = match s.find([' ', 'T', 't']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d) = (num(y)?, num(m)?, num(d)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > month_days[(m - 1) as usize] {
        return None;
    }
    let mut micros = days_from_civil(y, m, d) * 86_400_000_000;
    if rest.is_empty() {
        return Some(micros);
    }
    // The zone: `Z` or `±HH:MM` at the end.
    let (time, offset) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0)
    } else if rest.len() > 6 && matches!(rest.as_bytes()[rest.len() - 6], b'+' | b'-') {
        let (t, z) = rest.split_at(rest.len() - 6);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let (h, mi) = z[1..].split_once(':')?;
        if h.len() != 2 || mi.len() != 2 {
            return None;
        }
        (t, sign * (num(h)? * 60 + num(mi)?) * 60_000_000)
    } else {
        (rest, 0)
    };
    let (hms, frac) = match time.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (time, None),
    };
    let mut fields = hms.split(':');
    let h = num(fields.next()?)?;
    let mi = num(fields.next()?)?;
    let sec = match fields.next() {
        Some(x) => num(x)?,
        None => 0,
    };
    if fields.next().is_some() || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    micros += (h * 3600 + mi * 60 + sec) * 1_000_000;
    if let Some(f) = frac {
        if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut digits = f.to_string();
        digits.truncate(6);
        while digits.len() < 6 {
            digits.push('0');
        }
        micros += num(&digits)?;
    }
    Some(micros - offset)
}

/// Microseconds since the epoch as `YYYY-MM-DD HH:MM:SS`, with `.f…` (trailing zeros
/// dropped) when there is a fraction of a second.
pub fn format_timestamp(t: i64) -> String {
    let days = t.div_euclid(86_400_000_000);
    let rem = t.rem_euclid(86_400_000_000);
    let (y, m, d) = civil_from_days(days);
    let secs = rem / 1_000_000;
    let frac = rem % 1_000_000;
    let mut s = format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if frac != 0 {
        let f = format!("{frac:06}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s
}

/// Checks a new column: its name (not a built-in one), its default (of its type, and not
/// NULL when the column is NOT NULL and `populated`).
fn check_column(map: &str, def: &ColumnDef, others: &[ColumnDef], populated: bool) -> Result<()> {
    let bad = |m: String| Err(Error::InvalidArgument(m));
    if def.name.is_empty() || def.name.len() > crate::MAX_TEXT_BYTES {
        return bad(format!(
            "a column name must have 1 to {} bytes",
            crate::MAX_TEXT_BYTES
        ));
    }
    if BUILT_IN.contains(&def.name.as_str()) {
        return bad(format!("'{}' is a built-in column of every map", def.name));
    }
    if others.iter().any(|c| c.name == def.name) {
        return bad(format!("map '{map}' already has a column '{}'", def.name));
    }
    if !def.default.fits(def.ty) {
        return bad(format!(
            "the default of column '{}' is not of its type {}",
            def.name,
            def.ty.name()
        ));
    }
    if def.not_null && def.default == Cell::Null && populated {
        return bad(format!(
            "column '{}' is NOT NULL without a DEFAULT: map '{map}' has objects, which would hold NULL",
            def.name
        ));
    }
    Ok(())
}

/// Stores `table`'s schema in the batch: a record, or none when it has no columns.
fn put_schema(map_id: u32, schema: &SchemaRecord, batch: &mut Batch) -> Result<()> {
    if schema.columns.is_empty() && schema.next_id == 0 {
        batch.delete(keys::schema(map_id));
    } else {
        batch.put(keys::schema(map_id), codec::encode(schema)?);
    }
    Ok(())
}

/// Drops the stored values of object `id` (it is being deleted).
pub(crate) fn forget(state: &mut MapState, id: &str, batch: &mut Batch) {
    if state.objects.user.remove(id) {
        batch.delete(keys::values(state.id, id));
    }
}

/// Refuses objects given without their user column values for `state` (map `map`) when
/// one of its columns is `NOT NULL` without a `DEFAULT`: they would hold NULL there.
pub(crate) fn check_defaults_suffice(state: &MapState, map: &str) -> Result<()> {
    match state
        .objects
        .user
        .columns()
        .iter()
        .find(|c| c.not_null && c.default == Cell::Null)
    {
        Some(c) => Err(Error::InvalidArgument(format!(
            "column '{}' of map '{map}' is NOT NULL without a DEFAULT: objects inserted \
             without their values would hold NULL (give them with insert_with_values)",
            c.name
        ))),
        None => Ok(()),
    }
}

/// The user columns of map `map_id` as stored: its schema and every object's values.
pub(crate) fn load(backend: &dyn Backend, map_id: u32) -> Result<UserTable> {
    let mut table = UserTable::default();
    let key = keys::schema(map_id);
    let Some(bytes) = backend.get(&key)? else {
        return Ok(table);
    };
    let schema: SchemaRecord = codec::decode(&key, &bytes)?;
    if let Some(c) = schema.columns.iter().find(|c| c.id >= schema.next_id) {
        return Err(StorageError::corrupt(
            &key,
            format!("column '{}' has an id past the schema's next id", c.name),
        )
        .into());
    }
    table.set_schema(schema);
    let prefix = keys::keyspace_prefix(map_id, Keyspace::Values);
    backend.scan_prefix(&prefix, &mut |k, v| {
        let id = std::str::from_utf8(&k[prefix.len()..])
            .map_err(|_| StorageError::corrupt(k, "object id is not UTF-8"))?;
        let rec: ValuesRecord = codec::decode(k, v)?;
        table.put(id, rec.cells);
        Ok(())
    })?;
    Ok(table)
}

impl WriteTransaction {
    /// Creates an empty map with user columns `columns` (their `id`s are given here, in
    /// order).
    pub fn create_map_with_columns(
        &mut self,
        name: &str,
        config: MapConfig,
        columns: Vec<ColumnDef>,
    ) -> Result<()> {
        let mut schema = SchemaRecord::default();
        for mut c in columns {
            c.id = schema.next_id;
            check_column(name, &c, &schema.columns, false)?;
            schema.next_id += 1;
            schema.columns.push(c);
        }
        self.create_map(name, config)?;
        if schema.columns.is_empty() {
            return Ok(());
        }
        let state = state_mut(&mut self.changed, &self.base, name)?;
        put_schema(state.id, &schema, &mut self.batch)?;
        state.objects.user.set_schema(schema);
        Ok(())
    }

    /// Adds user column `column` to map `map` (its `id` is given here); the objects it
    /// has read the column's default.
    pub fn add_column(&mut self, map: &str, mut column: ColumnDef) -> Result<()> {
        let state = self.state(map)?;
        let mut schema = state.objects.user.schema().clone();
        column.id = schema.next_id;
        check_column(map, &column, &schema.columns, !state.objects.is_empty())?;
        schema.next_id += 1;
        schema.columns.push(column);
        self.set_schema(map, schema)
    }

    /// Drops user column `name` of map `map`.
    pub fn drop_column(&mut self, map: &str, name: &str) -> Result<()> {
        let mut schema = self.state(map)?.objects.user.schema().clone();
        let at = column_at(map, &schema, name)?;
        schema.columns.remove(at);
        self.set_schema(map, schema)
    }

    /// Renames user column `name` of map `map` to `to`.
    pub fn rename_column(&mut self, map: &str, name: &str, to: &str) -> Result<()> {
        let mut schema = self.state(map)?.objects.user.schema().clone();
        let at = column_at(map, &schema, name)?;
        let mut renamed = schema.columns.remove(at);
        renamed.name = to.to_string();
        check_column(map, &renamed, &schema.columns, false)?;
        schema.columns.insert(at, renamed);
        self.set_schema(map, schema)
    }

    fn set_schema(&mut self, map: &str, schema: SchemaRecord) -> Result<()> {
        let state = state_mut(&mut self.changed, &self.base, map)?;
        put_schema(state.id, &schema, &mut self.batch)?;
        state.objects.user.set_schema(schema);
        Ok(())
    }

    /// Adds `objects` to map `map` with their user column values, all or none: `values[i]`
    /// is `(column id, value)` for the columns object `i` stores (the others read their
    /// defaults), one entry per object. Besides the checks of
    /// [`WriteTransaction::insert_slice`], every value must name a column of the map (each
    /// column at most once per object) and be of its type, and no `NOT NULL` column may end up NULL (given NULL, or not given
    /// and without a default); the error names the object and the column. The values are
    /// stored in this transaction's batch with the objects.
    pub fn insert_with_values(
        &mut self,
        map: &str,
        objects: &[Object],
        values: Vec<Vec<(u32, Cell)>>,
    ) -> Result<()> {
        if values.len() != objects.len() {
            return Err(Error::InvalidArgument(format!(
                "{} rows of values for {} objects",
                values.len(),
                objects.len()
            )));
        }
        let state = self.state(map)?;
        let columns = state.objects.user.columns();
        let map_id = state.id;
        // Every record is made before anything changes: a failure leaves the transaction
        // as it was.
        let mut records = Vec::with_capacity(objects.len());
        for (o, cells) in objects.iter().zip(&values) {
            let bad = |reason: String| Error::InvalidObject {
                id: o.id.clone(),
                reason,
            };
            for (at, (c, v)) in cells.iter().enumerate() {
                let def = columns
                    .iter()
                    .find(|d| d.id == *c)
                    .ok_or_else(|| bad(format!("map '{map}' has no column number {c}")))?;
                // A row names each column once: reads take the first cell of a column,
                // so a second would be stored and never read.
                if cells[..at].iter().any(|(earlier, _)| earlier == c) {
                    return Err(bad(format!(
                        "column '{}' is given twice in the object's row",
                        def.name
                    )));
                }
                if !v.fits(def.ty) {
                    return Err(bad(format!(
                        "column '{}' holds {}, the value is not one",
                        def.name,
                        def.ty.name()
                    )));
                }
            }
            for def in columns.iter().filter(|d| d.not_null) {
                let value = cells
                    .iter()
                    .find(|(c, _)| *c == def.id)
                    .map_or(&def.default, |(_, v)| v);
                if *value == Cell::Null {
                    return Err(bad(format!(
                        "column '{}' is NOT NULL: the object has no value for it",
                        def.name
                    )));
                }
            }
            if !cells.is_empty() {
                let bytes = encode_cells(cells)?;
                records.push((keys::values(map_id, &o.id), bytes));
            }
        }
        self.insert_objects(map, objects)?;
        let state = state_mut(&mut self.changed, &self.base, map)?;
        let mut records = records.into_iter();
        for (o, cells) in objects.iter().zip(values) {
            if cells.is_empty() {
                continue;
            }
            if let Some((key, bytes)) = records.next() {
                self.batch.put(key, bytes);
            }
            state.objects.user.put(&o.id, cells);
        }
        Ok(())
    }

    /// Sets the user column values of object `id` of map `map`: `(column id, value)` for
    /// the columns it stores (the others read their defaults). The caller has checked the
    /// values against the columns' types.
    pub fn set_values(&mut self, map: &str, id: &str, cells: Vec<(u32, Cell)>) -> Result<()> {
        let state = self.state(map)?;
        if state.objects.find(id).is_none() {
            return Err(Error::ObjectNotFound {
                map: map.to_string(),
                id: id.to_string(),
            });
        }
        let state = state_mut(&mut self.changed, &self.base, map)?;
        let key = keys::values(state.id, id);
        if cells.is_empty() {
            if state.objects.user.remove(id) {
                self.batch.delete(key);
            }
            return Ok(());
        }
        let record = ValuesRecord { cells };
        self.batch.put(key, codec::encode(&record)?);
        state.objects.user.put(id, record.cells);
        Ok(())
    }
}

/// The stored record of `cells`: the bytes of `ValuesRecord { cells }`, encoded from the
/// slice without copying the cells into a record first (bincode writes a `Vec` and a slice
/// alike: its length, then its elements).
fn encode_cells(cells: &[(u32, Cell)]) -> Result<Vec<u8>> {
    Ok(codec::encode(&cells)?)
}

impl WriteTransaction {
    /// Gives map `map`, just restored from a snapshot with its objects, the user columns
    /// the snapshot carries (the reader checked the schema and that each row names
    /// columns of it, once each, with values of their types). Checked here: each row is an
    /// object of the map, and no object is left NULL in a `NOT NULL` column.
    pub(crate) fn restore_columns(
        &mut self,
        map: &str,
        columns: &tensormap_storage::snapshot::UserColumns,
    ) -> Result<()> {
        let schema = columns.schema.clone();
        let state = self.state(map)?;
        let mut given = vec![0usize; schema.columns.len()];
        let mut records = Vec::with_capacity(columns.rows.len());
        for (id, cells) in &columns.rows {
            if state.objects.find(id).is_none() {
                return Err(Error::InvalidArgument(format!(
                    "the snapshot's user columns hold values for object '{id}', which it does \
                     not hold"
                )));
            }
            for (n, def) in schema.columns.iter().enumerate() {
                if cells.iter().any(|(c, v)| *c == def.id && *v != Cell::Null) {
                    given[n] += 1;
                }
            }
            if !cells.is_empty() {
                records.push((keys::values(state.id, id), encode_cells(cells)?));
            }
        }
        let objects = state.objects.len();
        for (def, given) in schema.columns.iter().zip(given) {
            if def.not_null && def.default == Cell::Null && given < objects {
                return Err(Error::InvalidArgument(format!(
                    "the snapshot's column '{}' is NOT NULL without a DEFAULT, but {} of its \
                     {objects} objects have no value for it",
                    def.name,
                    objects - given
                )));
            }
        }
        let state = state_mut(&mut self.changed, &self.base, map)?;
        put_schema(state.id, &schema, &mut self.batch)?;
        state.objects.user.set_schema(schema);
        for ((id, cells), (key, bytes)) in columns
            .rows
            .iter()
            .filter(|(_, cells)| !cells.is_empty())
            .zip(records)
        {
            self.batch.put(key, bytes);
            state.objects.user.put(id, cells.clone());
        }
        Ok(())
    }
}

fn column_at(map: &str, schema: &SchemaRecord, name: &str) -> Result<usize> {
    schema
        .columns
        .iter()
        .position(|c| c.name == name)
        .ok_or_else(|| Error::InvalidArgument(format!("map '{map}' has no column '{name}'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_sort_as_text() {
        assert_eq!(parse_timestamp("1970-01-01"), Some(0));
        assert_eq!(parse_timestamp("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(
            parse_timestamp("2026-12-06 20:00:00+01:00"),
            parse_timestamp("2026-12-06T19:00:00Z")
        );
        assert_eq!(parse_timestamp("2024-02-30"), None);
        assert_eq!(parse_timestamp("2024-02-29 24:00:00"), None);
        assert_eq!(parse_timestamp("soon"), None);
        for s in [
            "2026-12-06 19:19:26",
            "1969-12-31 23:59:59.5",
            "2000-02-29 00:00:00.000001",
            "0001-01-01 00:00:00",
        ] {
            let t = parse_timestamp(s).unwrap();
            assert_eq!(format_timestamp(t), s);
        }
        let a = format_timestamp(parse_timestamp("2026-01-01 10:00:00").unwrap());
        let b = format_timestamp(parse_timestamp("2026-01-01 10:00:00.25").unwrap());
        assert!(a < b);
    }

    #[test]
    fn values_become_cells_of_their_type_or_say_why_not() {
        assert_eq!(
            to_cell(&Value::Number(3.0), ColumnType::Integer),
            Ok(Cell::Integer(3))
        );
        assert!(to_cell(&Value::Number(3.5), ColumnType::Integer).is_err());
        assert!(to_cell(&Value::text("x"), ColumnType::Real)
            .unwrap_err()
            .contains("expected REAL, found a text"));
        assert_eq!(
            to_cell(&Value::text("00ff"), ColumnType::Blob),
            Ok(Cell::Blob(vec![0, 255]))
        );
        assert_eq!(cell_value(&Cell::Blob(vec![0, 255])), Value::text("00ff"));
        assert_eq!(to_cell(&Value::Null, ColumnType::Boolean), Ok(Cell::Null));
    }

    #[test]
    fn a_slice_of_cells_encodes_as_its_values_record() {
        let cells = vec![
            (0, Cell::Text("a".into())),
            (2, Cell::Null),
            (5, Cell::Blob(vec![1, 2])),
        ];
        let record = codec::encode(&ValuesRecord {
            cells: cells.clone(),
        })
        .unwrap();
        assert_eq!(encode_cells(&cells).unwrap(), record);
        assert_eq!(
            encode_cells(&[]).unwrap(),
            codec::encode(&ValuesRecord::default()).unwrap()
        );
    }

    #[test]
    fn tables_keep_values_by_id_and_read_defaults() {
        let def = ColumnDef {
            id: 0,
            name: "n".into(),
            ty: ColumnType::Integer,
            not_null: false,
            default: Cell::Integer(7),
        };
        let mut t = UserTable::default();
        t.set_schema(SchemaRecord {
            next_id: 1,
            columns: vec![def],
        });
        assert_eq!(t.value("a", "n"), Some(Value::Number(7.0)));
        assert_eq!(t.value("a", "m"), None);
        t.put("a", vec![(0, Cell::Integer(1))]);
        let before = t.clone();
        t.put("a", vec![(0, Cell::Null)]);
        assert_eq!(before.value("a", "n"), Some(Value::Number(1.0)));
        assert_eq!(t.value("a", "n"), Some(Value::Null));
        assert!(t.remove("a"));
        assert!(!t.remove("a"));
    }

    #[test]
    fn a_version_keeps_its_values_while_a_clone_is_written() {
        let cell = |i: i64| vec![(0, Cell::Integer(i))];
        let mut t = UserTable::default();
        for i in 0..5000 {
            t.put(&format!("o{i}"), cell(i));
        }
        let before = t.clone();
        for i in (0..5000).step_by(3) {
            t.put(&format!("o{i}"), cell(-i));
        }
        for i in (1..5000).step_by(7) {
            t.remove(&format!("o{i}"));
        }
        t.put("new", cell(1));
        assert_eq!(before.stored(), 5000);
        assert_eq!(t.stored(), 5000 - 5000usize.div_ceil(7) + 1);
        for i in 0..5000 {
            let id = format!("o{i}");
            assert_eq!(before.cells(&id), Some(&cell(i)[..]));
            let now = if i % 7 == 1 {
                None
            } else if i % 3 == 0 {
                Some(cell(-i))
            } else {
                Some(cell(i))
            };
            assert_eq!(t.cells(&id).map(<[_]>::to_vec), now);
        }
        assert_eq!(before.cells("new"), None);
        assert_eq!(t.iter().count(), t.stored());
    }
}
