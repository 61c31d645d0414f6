//! A bulk insert given column by column ([`WriteTransaction::insert_columns`]): the ids,
//! the types, the positions and the embeddings as slices, as a binding holds them (NumPy
//! arrays, Arrow columns), staged into the map's memtable without an [`Object`] per row —
//! no allocation per row on the caller's side or here. A batch of at least `bulk_rows`
//! into an empty memtable is built into its segment at once and staged (the commit writes
//! it as its bulk file): its rows are copied once, in tree order, and no id table is
//! built for them but the segment's own.

use super::{state_mut, WriteTransaction};
use crate::object::{check_record, RecordRef};
use crate::{Error, Object, Result};

/// Objects given as columns, for [`WriteTransaction::insert_columns`]. Row `i` is
/// `ids[i]`, `kinds[i]` (or `kinds[0]` for every row when one is given),
/// `positions[3i..3i + 3]`, `embeddings[w·i..w·(i + 1)]` where
/// `w = embeddings.len() / ids.len()`, and `confidences[i]` (or `confidences[0]`).
#[derive(Debug, Clone, Copy)]
pub struct ObjectColumns<'a> {
    /// One id per object.
    pub ids: &'a [&'a str],
    /// One type per object, or one for all of them.
    pub kinds: &'a [&'a str],
    /// Three values (x, y, z) per object.
    pub positions: &'a [f32],
    /// The embeddings, row-major: the same number of values for every object (the map's
    /// `channels`, or the rows are refused as [`WriteTransaction::insert_many`] refuses
    /// them).
    pub embeddings: &'a [f32],
    /// One confidence per object, or one for all of them.
    pub confidences: &'a [f32],
}

impl<'a> ObjectColumns<'a> {
    /// Checks that the columns have one value (or row) per id, returning the embedding
    /// width.
    fn width(&self) -> Result<usize> {
        let n = self.ids.len();
        let bad = |what: &str, found: usize, expected: String| {
            Err(Error::InvalidArgument(format!(
                "{what} has {found} values for {n} ids (expected {expected})"
            )))
        };
        if self.kinds.len() != n && self.kinds.len() != 1 {
            return bad("types", self.kinds.len(), format!("1 or {n}"));
        }
        if self.confidences.len() != n && self.confidences.len() != 1 {
            return bad("confidence", self.confidences.len(), format!("1 or {n}"));
        }
        if self.positions.len() != 3 * n {
            return bad("positions", self.positions.len(), format!("{}", 3 * n));
        }
        if n == 0 {
            return Ok(0);
        }
        if !self.embeddings.len().is_multiple_of(n) {
            return bad(
                "embeddings",
                self.embeddings.len(),
                "the same number for each id".into(),
            );
        }
        Ok(self.embeddings.len() / n)
    }

    /// Row `i`'s fields, borrowed.
    #[inline]
    fn row(&self, i: usize, width: usize) -> (&'a str, RecordRef<'a>) {
        let p = &self.positions[3 * i..3 * i + 3];
        // Always 3 values (`width` checked the length); NaN would fail the position check.
        let position: &'a [f32; 3] = p.try_into().unwrap_or(&[f32::NAN; 3]);
        (
            self.ids[i],
            RecordRef {
                kind: self.kinds[if self.kinds.len() == 1 { 0 } else { i }],
                position,
                embedding: &self.embeddings[width * i..width * (i + 1)],
                confidence: self.confidences[if self.confidences.len() == 1 { 0 } else { i }],
            },
        )
    }
}

/// Checked columns as the rows a segment is built from.
struct ColumnRows<'c, 'a> {
    columns: &'c ObjectColumns<'a>,
    /// Values per embedding (the map's channels: every row was checked).
    width: usize,
}

impl tensormap_storage::segment::Rows for ColumnRows<'_, '_> {
    fn len(&self) -> usize {
        self.columns.ids.len()
    }
    fn id(&self, i: usize) -> &str {
        self.columns.ids[i]
    }
    // Each field read on its own (the build reads them column by column, in tree order):
    // `ObjectColumns::row` would compute every field's place for each.
    fn kind(&self, i: usize) -> &str {
        let k = self.columns.kinds;
        k[if k.len() == 1 { 0 } else { i }]
    }
    fn position(&self, i: usize) -> [f32; 3] {
        let p = self.columns.positions;
        [p[3 * i], p[3 * i + 1], p[3 * i + 2]]
    }
    fn embedding(&self, i: usize) -> &[f32] {
        &self.columns.embeddings[self.width * i..self.width * (i + 1)]
    }
    fn confidence(&self, i: usize) -> f32 {
        let c = self.columns.confidences;
        c[if c.len() == 1 { 0 } else { i }]
    }
}

impl WriteTransaction {
    /// Adds the objects of `columns` to `map`, or none: the same checks, the same errors
    /// and the same result as [`WriteTransaction::insert_many`] of the same objects, without
    /// building an `Object` per row (the fast way from columnar data: NumPy, Arrow).
    ///
    /// A map with a `NOT NULL` user column without a `DEFAULT` refuses them, as
    /// [`WriteTransaction::insert_slice`] does.
    pub fn insert_columns(&mut self, map: &str, columns: ObjectColumns<'_>) -> Result<()> {
        let width = columns.width()?;
        let n = columns.ids.len();
        let state = self.state(map)?;
        crate::user::check_defaults_suffice(state, map)?;
        let duplicate = |id: &str| Error::DuplicateId {
            map: map.to_string(),
            id: id.to_string(),
        };
        let invalid = |i: usize| {
            let (id, r) = columns.row(i, width);
            check_record(id, &r, &state.config)
                .err()
                .map(|reason| Error::InvalidObject {
                    id: id.to_string(),
                    reason,
                })
        };
        if let Some((bad, e)) = (0..n).find_map(|i| invalid(i).map(|e| (i, e))) {
            // The first bad object, as a row-by-row insert would find it: a repeated id
            // before the invalid one is reported first.
            if let Some(id) = state.objects.first_taken(&columns.ids[..bad], false) {
                return Err(duplicate(id));
            }
            return Err(e);
        }
        if let Some(id) = state.objects.first_taken(columns.ids, true) {
            return Err(duplicate(id));
        }
        let bulk_rows = self.inner.options.bulk_rows.max(1);
        let state = state_mut(&mut self.changed, &self.base, map)?;
        if n >= bulk_rows && state.objects.can_stage() {
            // The commit's bulk path would build this segment from the memtable: build it
            // now, from the columns, and stage it (no memtable copy, no per-row id table).
            let channels = state.config.channels as usize;
            let rows = ColumnRows {
                columns: &columns,
                width,
            };
            let file = crate::index::segment::build(state.id, channels, &rows, 0)?;
            state.objects.stage(file);
            return Ok(());
        }
        state.objects.reserve(n);
        // One object whose buffers every row reuses: the memtable copies what it keeps.
        let mut scratch = Object::new(String::new(), String::new(), [0.0; 3], Vec::new());
        scratch.embedding.reserve(width);
        for i in 0..n {
            let (id, r) = columns.row(i, width);
            scratch.id.clear();
            scratch.id.push_str(id);
            if scratch.kind != r.kind {
                scratch.kind.clear();
                scratch.kind.push_str(r.kind);
            }
            scratch.position = *r.position;
            scratch.embedding.clear();
            scratch.embedding.extend_from_slice(r.embedding);
            scratch.confidence = r.confidence;
            state.objects.insert(&scratch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Database, MapConfig};

    fn db(channels: u32) -> Database {
        let db = Database::open_in_memory().unwrap();
        db.create_map(
            "m",
            MapConfig {
                channels,
                ..Default::default()
            },
        )
        .unwrap();
        db
    }

    /// Rows as columns and as objects, from a seed.
    fn rows(n: usize, channels: usize, seed: u32) -> Vec<Object> {
        let mut x = seed.wrapping_mul(2654435761).max(1);
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x % 20_000) as f32 / 20.0 - 500.0
        };
        (0..n)
            .map(|i| {
                let position = [next(), next(), next()];
                let embedding = (0..channels).map(|_| next() / 100.0).collect();
                let kind = ["cube", "ball", ""][i % 3];
                Object::new(format!("o{seed}_{i}"), kind, position, embedding)
                    .with_confidence((i % 5) as f32 / 4.0)
            })
            .collect()
    }

    struct Cols {
        ids: Vec<String>,
        kinds: Vec<String>,
        positions: Vec<f32>,
        embeddings: Vec<f32>,
        confidences: Vec<f32>,
    }

    fn columns_of(objects: &[Object]) -> Cols {
        Cols {
            ids: objects.iter().map(|o| o.id.clone()).collect(),
            kinds: objects.iter().map(|o| o.kind.clone()).collect(),
            positions: objects.iter().flat_map(|o| o.position).collect(),
            embeddings: objects.iter().flat_map(|o| o.embedding.clone()).collect(),
            confidences: objects.iter().map(|o| o.confidence).collect(),
        }
    }

    fn insert(db: &Database, c: &Cols) -> Result<()> {
        let mut txn = db.begin_write()?;
        stage(&mut txn, c)?;
        txn.commit()
    }

    fn insert_many(db: &Database, objects: Vec<Object>) -> Result<()> {
        let mut txn = db.begin_write()?;
        txn.insert_many("m", objects)?;
        txn.commit()
    }

    fn all(db: &Database) -> Vec<Object> {
        let read = db.begin_read().unwrap();
        let view = read.map("m").unwrap();
        let mut out: Vec<Object> = view.objects().map(|o| o.to_object()).collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    #[test]
    fn columns_read_back_as_insert_many_of_the_same_objects() {
        // Below and above the bulk path's threshold (4,096 rows), into a map that holds
        // objects already.
        for n in [0, 1, 100, 5000] {
            let (a, b) = (db(4), db(4));
            for seed in [1, 2] {
                let objects = rows(n, 4, seed);
                insert(&a, &columns_of(&objects)).unwrap();
                insert_many(&b, objects).unwrap();
            }
            assert_eq!(all(&a), all(&b), "{n} rows");
            assert_eq!(all(&a).len(), 2 * n);
            let q = [0.5, -0.25, 1.0, 0.0];
            // The softmax's sum depends on how the rows lie in segments (the background
            // merger's timing): the same ids, weights equal to float rounding.
            let ra = a.begin_read().unwrap();
            let rb = b.begin_read().unwrap();
            let wa = ra.attention("m", &q, crate::Candidates::All, 5).unwrap();
            let wb = rb.attention("m", &q, crate::Candidates::All, 5).unwrap();
            assert_eq!(wa.len(), wb.len());
            for ((ia, xa), (ib, xb)) in wa.iter().zip(&wb) {
                assert_eq!(ia, ib);
                assert!((xa - xb).abs() <= 1e-6 * xb.abs(), "{xa} against {xb}");
            }
            if n > 0 {
                let first = &rows(n, 4, 1)[0];
                let [i, j, k] = ra.map("m").unwrap().cell_of(first.position).unwrap();
                let (va, vb) = (ra.voxel("m", i, j, k).unwrap(), rb.voxel("m", i, j, k));
                let vb = vb.unwrap();
                assert_eq!(va.len(), vb.len());
                for (x, y) in va.iter().zip(&vb) {
                    assert!((x - y).abs() <= 1e-6 * (1.0 + y.abs()), "{x} against {y}");
                }
                assert!(va.iter().any(|v| *v != 0.0));
            }
        }
    }

    #[test]
    fn one_type_and_one_confidence_stand_for_every_row() {
        let objects: Vec<Object> = rows(50, 2, 3)
            .into_iter()
            .map(|mut o| {
                o.kind = "cube".into();
                o.confidence = 0.5;
                o
            })
            .collect();
        let mut c = columns_of(&objects);
        c.kinds = vec!["cube".into()];
        c.confidences = vec![0.5];
        let a = db(2);
        insert(&a, &c).unwrap();
        assert_eq!(all(&a), {
            let mut o = objects;
            o.sort_by(|a, b| a.id.cmp(&b.id));
            o
        });
    }

    #[test]
    fn errors_are_insert_many_s_and_nothing_is_added() {
        let base = rows(200, 2, 4);
        let check = |change: &dyn Fn(&mut Vec<Object>)| {
            let mut objects = base.clone();
            change(&mut objects);
            let (a, b) = (db(2), db(2));
            let ea = insert(&a, &columns_of(&objects)).unwrap_err();
            let eb = insert_many(&b, objects.clone()).unwrap_err();
            assert_eq!(ea.to_string(), eb.to_string());
            assert!(all(&a).is_empty());
        };
        check(&|o| o[150].position[1] = f32::NAN);
        check(&|o| o[10].embedding[0] = f32::INFINITY);
        check(&|o| o[20].confidence = 2.0);
        check(&|o| o[30].id = String::new());
        check(&|o| o[199].id = o[3].id.clone());
        // A repeat before an invalid row is reported first; one after it is not.
        check(&|o| {
            o[40].id = o[2].id.clone();
            o[60].position[0] = 1e9;
        });
        check(&|o| {
            o[60].id = o[2].id.clone();
            o[40].position[0] = 1e9;
        });
        // Taken by a stored object.
        let a = db(2);
        insert(&a, &columns_of(&base[..10])).unwrap();
        let e = insert(&a, &columns_of(&base[5..20])).unwrap_err();
        assert!(
            matches!(e, Error::DuplicateId { ref id, .. } if *id == base[5].id),
            "{e}"
        );
        assert_eq!(all(&a).len(), 10);
    }

    /// `insert_columns` without committing.
    fn stage(txn: &mut WriteTransaction, c: &Cols) -> Result<()> {
        let ids: Vec<&str> = c.ids.iter().map(String::as_str).collect();
        let kinds: Vec<&str> = c.kinds.iter().map(String::as_str).collect();
        txn.insert_columns(
            "m",
            ObjectColumns {
                ids: &ids,
                kinds: &kinds,
                positions: &c.positions,
                embeddings: &c.embeddings,
                confidences: &c.confidences,
            },
        )
    }

    #[test]
    fn large_batches_are_refused_as_insert_many_refuses_them() {
        // 5000 rows ≥ bulk_rows: the staged path, into an empty and a populated map.
        let base = rows(5000, 2, 6);
        let check = |stored: usize, change: &dyn Fn(&mut Vec<Object>)| {
            let mut objects = base.clone();
            change(&mut objects);
            let (a, b) = (db(2), db(2));
            let before = rows(stored, 2, 7);
            insert(&a, &columns_of(&before)).unwrap();
            insert_many(&b, before).unwrap();
            let ea = insert(&a, &columns_of(&objects)).unwrap_err();
            let eb = insert_many(&b, objects.clone()).unwrap_err();
            assert_eq!(ea.to_string(), eb.to_string());
            assert_eq!(all(&a).len(), stored);
        };
        for stored in [0, 10, 5000] {
            check(stored, &|o| o[4999].id = o[3].id.clone());
            check(stored, &|o| o[100].id = o[4000].id.clone());
            check(stored, &|o| {
                o[40].id = o[2].id.clone();
                o[60].position[0] = 1e9;
            });
            check(stored, &|o| o[2500].embedding[1] = f32::NAN);
        }
        // Taken by a stored object, in a segment file or among the records.
        for stored in [10, 5000] {
            let a = db(2);
            let before = rows(stored, 2, 7);
            insert(&a, &columns_of(&before)).unwrap();
            let mut objects = base.clone();
            objects[3000].id = before[stored - 1].id.clone();
            objects[4000].id = before[0].id.clone();
            let e = insert(&a, &columns_of(&objects)).unwrap_err();
            assert!(
                matches!(e, Error::DuplicateId { ref id, .. } if *id == before[stored - 1].id),
                "{e}"
            );
            assert_eq!(all(&a).len(), stored);
        }
    }

    #[test]
    fn a_staged_batch_behaves_as_memtable_rows_within_its_transaction() {
        // The same changes after a large insert_columns (staged as a segment) and after
        // insert_many (memtable rows): the same answers inside the transaction, the same
        // errors, the same objects and field once committed.
        let first = rows(5000, 4, 8);
        let more = rows(100, 4, 9);
        let (a, b) = (db(4), db(4));
        insert(&a, &columns_of(&rows(300, 4, 10))).unwrap();
        insert_many(&b, rows(300, 4, 10)).unwrap();
        let mut ta = a.begin_write().unwrap();
        let mut tb = b.begin_write().unwrap();
        stage(&mut ta, &columns_of(&first)).unwrap();
        assert_eq!(ta.state("m").unwrap().objects.staged_rows(), 5000);
        tb.insert_many("m", first.clone()).unwrap();
        for t in [&ta, &tb] {
            assert_eq!(t.get("m", &first[17].id).unwrap(), Some(first[17].clone()));
        }
        // A repeat of a staged row: refused, before an invalid row too.
        let mut again = more.clone();
        again[50].id = first[4321].id.clone();
        again[70].position[2] = f32::NAN;
        let ea = stage(&mut ta, &columns_of(&again)).unwrap_err();
        let eb = tb.insert_many("m", again.clone()).unwrap_err();
        assert_eq!(ea.to_string(), eb.to_string());
        assert!(matches!(ea, Error::DuplicateId { .. }), "{ea}");
        let ea = ta.insert("m", first[9].clone()).unwrap_err();
        assert!(matches!(ea, Error::DuplicateId { .. }), "{ea}");
        // A second batch, a delete, an update, a re-insert of a deleted id.
        stage(&mut ta, &columns_of(&more)).unwrap();
        // Into a memtable that holds rows: the staged batch became memtable rows.
        assert_eq!(ta.state("m").unwrap().objects.staged_rows(), 0);
        tb.insert_many("m", more.clone()).unwrap();
        for t in [&mut ta, &mut tb] {
            t.delete("m", &first[5].id).unwrap();
            let mut o = first[6].clone();
            o.position = [1.0, 2.0, 3.0];
            t.update("m", o).unwrap();
            t.insert("m", first[5].clone()).unwrap();
            assert_eq!(t.map("m").unwrap().len(), 5400);
        }
        ta.commit().unwrap();
        tb.commit().unwrap();
        assert_eq!(all(&a), all(&b));
        // A staged batch deleted from inside its transaction, then read.
        let (a, b) = (db(4), db(4));
        let mut ta = a.begin_write().unwrap();
        let mut tb = b.begin_write().unwrap();
        stage(&mut ta, &columns_of(&first)).unwrap();
        tb.insert_many("m", first.clone()).unwrap();
        for t in [&mut ta, &mut tb] {
            t.delete("m", &first[4999].id).unwrap();
            assert_eq!(t.get("m", &first[4999].id).unwrap(), None);
            assert_eq!(t.map("m").unwrap().len(), 4999);
        }
        ta.commit().unwrap();
        tb.commit().unwrap();
        assert_eq!(all(&a), all(&b));
        let (ra, rb) = (a.begin_read().unwrap(), b.begin_read().unwrap());
        let p = first[0].position;
        let [i, j, k] = ra.map("m").unwrap().cell_of(p).unwrap();
        let (va, vb) = (
            ra.voxel("m", i, j, k).unwrap(),
            rb.voxel("m", i, j, k).unwrap(),
        );
        for (x, y) in va.iter().zip(&vb) {
            assert!((x - y).abs() <= 1e-6 * (1.0 + y.abs()), "{x} against {y}");
        }
    }

    #[test]
    fn a_staged_batch_rolled_back_leaves_nothing() {
        let a = db(2);
        let mut t = a.begin_write().unwrap();
        stage(&mut t, &columns_of(&rows(5000, 2, 11))).unwrap();
        assert_eq!(t.state("m").unwrap().objects.staged_rows(), 5000);
        assert_eq!(t.map("m").unwrap().len(), 5000);
        drop(t);
        assert!(all(&a).is_empty());
        insert(&a, &columns_of(&rows(5000, 2, 11))).unwrap();
        assert_eq!(all(&a).len(), 5000);
    }

    #[test]
    fn columns_of_the_wrong_length_are_refused() {
        let a = db(2);
        let c = columns_of(&rows(10, 2, 5));
        let ids: Vec<&str> = c.ids.iter().map(String::as_str).collect();
        let good = ObjectColumns {
            ids: &ids,
            kinds: &["t"],
            positions: &c.positions,
            embeddings: &c.embeddings,
            confidences: &[1.0],
        };
        let mut txn = a.begin_write().unwrap();
        for bad in [
            ObjectColumns {
                positions: &c.positions[..29],
                ..good
            },
            ObjectColumns {
                embeddings: &c.embeddings[..19],
                ..good
            },
            ObjectColumns {
                kinds: &["a", "b"],
                ..good
            },
            ObjectColumns {
                confidences: &[1.0, 1.0],
                ..good
            },
        ] {
            let e = txn.insert_columns("m", bad).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
        }
        // A width that is not the map's: the row-by-row error.
        let e = txn
            .insert_columns(
                "m",
                ObjectColumns {
                    embeddings: &c.embeddings[..10],
                    ..good
                },
            )
            .unwrap_err();
        assert!(matches!(e, Error::InvalidObject { .. }), "{e}");
        txn.insert_columns("m", good).unwrap();
        txn.commit().unwrap();
        assert_eq!(all(&a).len(), 10);
    }
}
