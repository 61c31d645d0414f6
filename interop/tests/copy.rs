//! COPY end to end through a session: each format's round trip (same objects, same
//! field), partitioned exports, the Parquet file's metadata, and bad input (a clear error
//! naming the row and column, nothing changed, also inside BEGIN).
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow_array::builder::{Float32Builder, ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, Float32Array, Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::reader::{FileReader, SerializedFileReader};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap_engine::{Database, Object};
use tensormap_query::progress::{ProgressSink, Unit};
use tensormap_query::{Error, Session};

const SETTINGS: &str = "WITH (channels = 4, bounds = 100, resolution = 32)";

fn session(db: &Database) -> Session {
    let mut s = Session::new(db.clone());
    s.set_copy_formats(Some(Arc::new(tensormap_interop::Interop)));
    s
}

fn random_objects(n: usize, seed: u64) -> Vec<Object> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let p = [0; 3].map(|_| rng.random_range(-100.0f32..=100.0));
            let e = (0..4).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            let kind = ["cube", "sphere", "cone, \"tall\""][i % 3];
            // Ids with the characters CSV and JSON quote.
            let id = match i % 5 {
                0 => format!("o{i}"),
                1 => format!("o,{i}"),
                2 => format!("o\"{i}\""),
                3 => format!("ö {i}\n"),
                _ => format!("o'{i}"),
            };
            Object::new(id, kind, p, e).with_confidence(rng.random_range(0.0f32..=1.0))
        })
        .collect()
}

/// A database with map `src` holding `n` random objects.
fn loaded(n: usize) -> (Database, Session) {
    let db = Database::open_in_memory().unwrap();
    let mut s = session(&db);
    s.execute(&format!("CREATE MAP src {SETTINGS}")).unwrap();
    let mut t = db.begin_write().unwrap();
    t.insert_many("src", random_objects(n, 7)).unwrap();
    t.commit().unwrap();
    (db, s)
}

fn objects(db: &Database, map: &str) -> Vec<Object> {
    let r = db.begin_read().unwrap();
    let mut v: Vec<Object> = r
        .map(map)
        .unwrap()
        .objects()
        .map(|o| o.to_object())
        .collect();
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v
}

/// Every occupied cell of the field with its value.
fn field(s: &mut Session, map: &str) -> Vec<(String, Vec<f32>)> {
    let r = s
        .execute(&format!(
            "SELECT i, j, k, value FROM VOXELS({map}) ORDER BY i, j, k"
        ))
        .unwrap();
    r[0].rows
        .iter()
        .map(|row| {
            let cell = format!("{} {} {}", row[0], row[1], row[2]);
            let tensormap_engine::Value::Vector(v) = &row[3] else {
                panic!("value is not a vector")
            };
            (cell, v.to_vec())
        })
        .collect()
}

fn same_field(a: &[(String, Vec<f32>)], b: &[(String, Vec<f32>)]) {
    assert_eq!(a.len(), b.len(), "occupied cells");
    for ((ca, va), (cb, vb)) in a.iter().zip(b) {
        assert_eq!(ca, cb);
        for (x, y) in va.iter().zip(vb) {
            assert!((x - y).abs() <= 1e-4 * (1.0 + x.abs()), "{ca}: {x} vs {y}");
        }
    }
}

fn count(s: &mut Session, map: &str) -> String {
    let r = s.execute(&format!("SELECT COUNT(*) FROM {map}")).unwrap();
    r[0].rows[0][0].to_string()
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[test]
fn every_format_round_trips_objects_and_field() {
    let (db, mut s) = loaded(600);
    let dir = tempfile::tempdir().unwrap();
    let want = objects(&db, "src");
    let want_field = field(&mut s, "src");
    for (i, name) in ["a.parquet", "a.csv", "a.json"].iter().enumerate() {
        let file = path(dir.path(), name);
        let r = s.execute(&format!("COPY src TO '{file}'")).unwrap();
        assert_eq!(r[0].status, "COPY 600");
        let dst = format!("dst{i}");
        s.execute(&format!("CREATE MAP {dst} {SETTINGS}")).unwrap();
        let r = s.execute(&format!("COPY {dst} FROM '{file}'")).unwrap();
        assert_eq!(r[0].status, "COPY 600", "{name}");
        assert_eq!(objects(&db, &dst), want, "{name}");
        same_field(&field(&mut s, &dst), &want_field);
    }
    // `WITH (format = ...)` overrides the extension.
    let file = path(dir.path(), "b.txt");
    s.execute(&format!("COPY src TO '{file}' WITH (format = 'csv')"))
        .unwrap();
    s.execute(&format!("CREATE MAP dst3 {SETTINGS}")).unwrap();
    s.execute(&format!("COPY dst3 FROM '{file}' WITH (format = 'csv')"))
        .unwrap();
    assert_eq!(objects(&db, "dst3"), want);
}

#[test]
fn parquet_has_geoparquet_metadata_zstd_and_row_groups() {
    let (_db, mut s) = loaded(1000);
    let dir = tempfile::tempdir().unwrap();
    let file = path(dir.path(), "g.parquet");
    s.execute(&format!("COPY src TO '{file}' WITH (row_group_size = 50)"))
        .unwrap();
    let reader = SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
    let meta = reader.metadata();
    assert_eq!(meta.file_metadata().num_rows(), 1000);
    assert_eq!(meta.num_row_groups(), 20);
    let kv = meta.file_metadata().key_value_metadata().unwrap();
    assert_eq!(kv.iter().filter(|k| k.key == "geo").count(), 1);
    let geo = kv.iter().find(|k| k.key == "geo").unwrap();
    let geo: serde_json::Value = serde_json::from_str(geo.value.as_ref().unwrap()).unwrap();
    assert_eq!(geo["version"], "1.1.0");
    assert_eq!(geo["primary_column"], "geometry");
    let g = &geo["columns"]["geometry"];
    assert_eq!(g["encoding"], "WKB");
    assert_eq!(g["geometry_types"], serde_json::json!(["Point Z"]));
    assert!(g["crs"].is_null());
    let bbox: Vec<f64> = serde_json::from_value(g["bbox"].clone()).unwrap();
    assert_eq!(bbox.len(), 6);
    assert!(bbox[0] >= -100.0 && bbox[3] <= 100.0 && bbox[0] < bbox[3]);
    let columns: Vec<String> = meta
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.path().string())
        .collect();
    assert_eq!(
        columns,
        [
            "id",
            "type",
            "x",
            "y",
            "z",
            "embedding.list.item",
            "confidence",
            "geometry",
            "bbox.xmin",
            "bbox.ymin",
            "bbox.xmax",
            "bbox.ymax",
            "bbox.zmin",
            "bbox.zmax"
        ]
    );
    let mut volume = 0.0;
    for rg in meta.row_groups() {
        for c in rg.columns() {
            assert_eq!(
                c.compression(),
                parquet::basic::Compression::ZSTD(Default::default()),
                "{}",
                c.column_path()
            );
        }
        // Morton order: each row group covers a compact region (in random order 50
        // points would span most of the cube), which its x, y, z statistics tell.
        let extent = |i: usize| match rg.column(i).statistics() {
            Some(parquet::file::statistics::Statistics::Float(v)) => {
                (v.max_opt().unwrap() - v.min_opt().unwrap()) as f64 / 200.0
            }
            other => panic!("statistics of column {i}: {other:?}"),
        };
        volume += [2, 3, 4].map(extent).iter().product::<f64>();
    }
    let mean = volume / meta.num_row_groups() as f64;
    assert!(mean < 0.3, "row groups span {mean} of the cube on average");
}

#[test]
fn partitioned_export_writes_one_sorted_file_per_octree_cell() {
    let (db, mut s) = loaded(2000);
    let dir = tempfile::tempdir().unwrap();
    let out = path(dir.path(), "out");
    let r = s
        .execute(&format!(
            "COPY src TO '{out}/' WITH (format = 'parquet', partition_by = 'octree', depth = 2)"
        ))
        .unwrap();
    assert_eq!(r[0].status, "COPY 2000");
    let mut cells: Vec<u64> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            // The manifest sits beside the cells' folders.
            (name != "_tensormap.json")
                .then(|| name.strip_prefix("cell=").unwrap().parse().unwrap())
        })
        .collect();
    cells.sort();
    // 2000 uniform points fill all 64 cells of depth 2.
    assert_eq!(cells, (0..64).collect::<Vec<u64>>());
    let mut total = 0;
    for cell in &cells {
        let file = Path::new(&out).join(format!("cell={cell}/part-0.parquet"));
        let rows = read_positions(&file);
        total += rows.len();
        let mut last = 0;
        for p in &rows {
            assert_eq!(tensormap_interop::partition::cell_of(*p, 100.0, 2), *cell);
            let key = tensormap_interop::rows::morton_key(*p, 100.0);
            assert!(key >= last, "rows in Morton order");
            last = key;
        }
    }
    assert_eq!(total, 2000);
    // The folder reads back as one import.
    s.execute(&format!("CREATE MAP back {SETTINGS}")).unwrap();
    let r = s.execute(&format!("COPY back FROM '{out}'")).unwrap();
    assert_eq!(r[0].status, "COPY 2000");
    assert_eq!(objects(&db, "back"), objects(&db, "src"));
    // A second export into the same folder is refused (its files would mix).
    let e = s
        .execute(&format!(
            "COPY src TO '{out}' WITH (partition_by = 'octree', depth = 1)"
        ))
        .unwrap_err();
    assert!(e.message.contains("not empty"), "{e}");
}

fn read_positions(file: &Path) -> Vec<[f32; 3]> {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(file).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let mut out = Vec::new();
    for b in reader {
        let b = b.unwrap();
        let col = |name: &str| {
            b.column_by_name(name)
                .unwrap()
                .as_any()
                .downcast_ref::<Float32Array>()
                .unwrap()
                .clone()
        };
        let (x, y, z) = (col("x"), col("y"), col("z"));
        for i in 0..b.num_rows() {
            out.push([x.value(i), y.value(i), z.value(i)]);
        }
    }
    out
}

/// Writes a Parquet file as other tools do: `embedding` a variable-size list, `x`, `y`,
/// `z` as float64, no `type` or `confidence`.
fn foreign_parquet(file: &str, rows: &[(String, [f64; 3], Vec<f32>)]) {
    foreign_parquet_in_groups(file, rows, 1 << 20);
}

/// [`foreign_parquet`] with row groups of `group_rows` rows.
fn foreign_parquet_in_groups(file: &str, rows: &[(String, [f64; 3], Vec<f32>)], group_rows: usize) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("x", DataType::Float64, true),
        Field::new("y", DataType::Float64, true),
        Field::new("z", DataType::Float64, true),
        Field::new(
            "embedding",
            DataType::List(Arc::new(Field::new("item", DataType::Float32, true))),
            true,
        ),
    ]));
    let mut ids = StringBuilder::new();
    let mut emb = ListBuilder::new(Float32Builder::new());
    let mut xyz = [Vec::new(), Vec::new(), Vec::new()];
    for (id, p, e) in rows {
        ids.append_value(id);
        for (c, v) in xyz.iter_mut().zip(p) {
            c.push(*v);
        }
        emb.values().append_slice(e);
        emb.append(true);
    }
    let [x, y, z] = xyz;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(ids.finish()),
        Arc::new(Float64Array::from(x)),
        Arc::new(Float64Array::from(y)),
        Arc::new(Float64Array::from(z)),
        Arc::new(emb.finish()),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(file).unwrap(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn rows(n: usize) -> Vec<(String, [f64; 3], Vec<f32>)> {
    (0..n)
        .map(|i| {
            let v = (i % 200) as f64 - 100.0;
            (
                format!("r{i}"),
                [v, -v, 0.5],
                vec![0.25, -1.0, 0.0, i as f32],
            )
        })
        .collect()
}

/// Runs `sql`, expects an error containing every one of `wanted`.
fn fails(s: &mut Session, sql: &str, wanted: &[&str]) -> Error {
    let e = s.execute(sql).unwrap_err();
    for w in wanted {
        assert!(e.message.contains(w), "{sql}: {e} lacks '{w}'");
    }
    e
}

#[test]
fn a_file_of_many_row_groups_is_read_in_order_and_its_errors_name_their_rows() {
    // 90k rows in 9 row groups: decoded on two threads (groups 0–3 and 4–8).
    let db = Database::open_in_memory().unwrap();
    let mut s = session(&db);
    s.execute(&format!("CREATE MAP m {SETTINGS}")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = path(dir.path(), "groups.parquet");
    foreign_parquet_in_groups(&file, &rows(90_000), 10_000);
    assert_eq!(
        s.execute(&format!("COPY m FROM '{file}'")).unwrap()[0].status,
        "COPY 90000"
    );
    // Every row once, with its own values (the file's row i is id r{i}, embedding[3] = i).
    let all = objects(&db, "m");
    assert_eq!(all.len(), 90_000);
    for o in &all {
        let i: usize = o.id[1..].parse().unwrap();
        assert_eq!(o.embedding[3], i as f32, "{}", o.id);
    }

    // A NaN in the second half names its row; with one in the first half too, that one.
    let mut bad = rows(90_000);
    bad[80_000].1[1] = f64::NAN;
    let late = path(dir.path(), "late.parquet");
    foreign_parquet_in_groups(&late, &bad, 10_000);
    s.execute(&format!("CREATE MAP n {SETTINGS}")).unwrap();
    fails(
        &mut s,
        &format!("COPY n FROM '{late}'"),
        &["row 80001, column y"],
    );
    bad[20_000].1[2] = f64::NAN;
    let both = path(dir.path(), "both.parquet");
    foreign_parquet_in_groups(&both, &bad, 10_000);
    fails(
        &mut s,
        &format!("COPY n FROM '{both}'"),
        &["row 20001, column z"],
    );
    assert_eq!(count(&mut s, "n"), "0");
}

#[test]
fn foreign_parquet_imports_and_bad_rows_are_named() {
    let db = Database::open_in_memory().unwrap();
    let mut s = session(&db);
    s.execute(&format!("CREATE MAP m {SETTINGS}")).unwrap();
    let dir = tempfile::tempdir().unwrap();

    // A list embedding, DOUBLE coordinates, type and confidence left out.
    let good = path(dir.path(), "good.parquet");
    foreign_parquet(&good, &rows(10));
    assert_eq!(
        s.execute(&format!("COPY m FROM '{good}'")).unwrap()[0].status,
        "COPY 10"
    );
    let o = &objects(&db, "m")[0];
    assert_eq!((o.kind.as_str(), o.confidence), ("", 1.0));
    s.execute("DELETE FROM m").unwrap();

    // A duplicate id on row 70,001: the row is named, nothing is added.
    let mut many = rows(70_001);
    many[70_000].0 = "r5".into();
    let dup = path(dir.path(), "dup.parquet");
    foreign_parquet(&dup, &many);
    fails(
        &mut s,
        &format!("COPY m FROM '{dup}'"),
        &["dup.parquet' row 70001, column id", "'r5'"],
    );
    assert_eq!(count(&mut s, "m"), "0");

    // An id the map has already: its row.
    s.execute("INSERT INTO m (id, position, embedding) VALUES ('r3', [0, 0, 0], [0, 0, 0, 0])")
        .unwrap();
    fails(
        &mut s,
        &format!("COPY m FROM '{good}'"),
        &["row 4, column id", "already has an object with id 'r3'"],
    );
    assert_eq!(count(&mut s, "m"), "1");

    // A wrong embedding width on row 3.
    let mut bad = rows(5);
    bad[2].2.push(1.0);
    let width = path(dir.path(), "width.parquet");
    foreign_parquet(&width, &bad);
    fails(
        &mut s,
        &format!("COPY m FROM '{width}'"),
        &[
            "row 3, column embedding",
            "5 values, the map has 4 channels",
        ],
    );
    // A NaN on row 2, a position outside the bounds on row 4.
    let mut bad = rows(5);
    bad[1].1[1] = f64::NAN;
    let nan = path(dir.path(), "nan.parquet");
    foreign_parquet(&nan, &bad);
    fails(
        &mut s,
        &format!("COPY m FROM '{nan}'"),
        &["row 2, column y", "not finite"],
    );
    let mut bad = rows(5);
    bad[3].1[2] = 100.5;
    let out = path(dir.path(), "out.parquet");
    foreign_parquet(&out, &bad);
    fails(
        &mut s,
        &format!("COPY m FROM '{out}'"),
        &["row 4, column z", "outside the bounds"],
    );
    assert_eq!(count(&mut s, "m"), "1");

    // A truncated file.
    let bytes = std::fs::read(&good).unwrap();
    let cut = path(dir.path(), "cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    fails(
        &mut s,
        &format!("COPY m FROM '{cut}'"),
        &["cut.parquet", "truncated or damaged"],
    );
    assert_eq!(count(&mut s, "m"), "1");

    // The `copy_import` fuzz target's crasher: a footer whose column chunk starts at a
    // negative offset (the parquet crate asserts on it).
    let negative = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/negative_chunk_offset.parquet"
    );
    fails(
        &mut s,
        &format!("COPY m FROM '{negative}'"),
        &[
            "negative_chunk_offset.parquet",
            "damaged footer",
            "claims bytes",
        ],
    );
    assert_eq!(count(&mut s, "m"), "1");
}

#[test]
fn bad_csv_and_json_are_named_by_row_and_column() {
    let db = Database::open_in_memory().unwrap();
    let mut s = session(&db);
    s.execute(&format!("CREATE MAP m {SETTINGS}")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let head = "id,type,x,y,z,embedding,confidence\n";
    let good = "a,cube,1,2,3,\"[1, 2, 3, 4]\",0.5\n";
    for (name, text, wanted) in [
        ("missing.csv", "id,x,y,z\na,1,2,3\n".to_string(), vec!["missing column 'embedding'"]),
        ("unknown.csv", "id,x,y,z,embedding,colour\n".to_string(), vec!["unknown column 'colour'"]),
        (
            "width.csv",
            format!("{head}{good}b,cube,1,2,3,\"[1, 2, 3]\",0.5\n"),
            vec!["row 2, column embedding", "3 values"],
        ),
        (
            "nan.csv",
            format!("{head}{good}b,cube,1,NaN,3,\"[1, 2, 3, 4]\",0.5\n"),
            vec!["row 2, column y", "not finite"],
        ),
        (
            "text.csv",
            format!("{head}{good}b,cube,1,2,three,\"[1, 2, 3, 4]\",0.5\n"),
            vec!["row 2, column z", "'three' is not a number"],
        ),
        (
            "confidence.csv",
            format!("{head}{good}b,cube,1,2,3,\"[1, 2, 3, 4]\",1.5\n"),
            vec!["row 2, column confidence"],
        ),
        (
            "dup.csv",
            format!("{head}{good}{good}"),
            vec!["row 2, column id", "'a'"],
        ),
        (
            "fields.csv",
            format!("{head}{good}b,cube,1,2\n"),
            vec!["row 2", "4 fields, the header has 7"],
        ),
        (
            "quote.csv",
            format!(
                "{head}{good}b,cube,1,2,3,\"[1, 2, 3, 4],0.5\nc,cube,1,2,3,\"[1, 2, 3, 4]\",0.5\nd,cube,1,2,3,\"[1, 2, 3, 4]\",0.5\n"
            ),
            vec!["row 2", "quote left open"],
        ),
        (
            "bad.json",
            "{\"id\":\"a\",\"x\":1,\"y\":2,\"z\":3,\"embedding\":[1,2,3,4]}\n\n{\"id\":\"b\",\"x\":1,\"y\":2,\"embedding\":[1,2,3,4]}\n".to_string(),
            vec!["row 2", "line 3", "missing field `z`"],
        ),
        (
            "nan.json",
            "{\"id\":\"a\",\"x\":NaN,\"y\":2,\"z\":3,\"embedding\":[1,2,3,4]}\n".to_string(),
            vec!["row 1"],
        ),
        (
            "array.json",
            "[{\"id\":\"a\"}]".to_string(),
            vec!["JSON Lines"],
        ),
        (
            "extra.json",
            "{\"id\":\"a\",\"x\":1,\"y\":2,\"z\":3,\"embedding\":[1,2,3,4],\"colour\":1}\n".to_string(),
            vec!["row 1", "unknown field `colour`"],
        ),
    ] {
        let file = path(dir.path(), name);
        std::fs::write(&file, text).unwrap();
        fails(&mut s, &format!("COPY m FROM '{file}'"), &wanted);
        assert_eq!(count(&mut s, "m"), "0", "{name}");
    }
}

#[test]
fn copy_from_joins_an_open_transaction_and_a_failure_leaves_it_unchanged() {
    let (db, mut s) = loaded(50);
    let dir = tempfile::tempdir().unwrap();
    let file = path(dir.path(), "t.parquet");
    s.execute(&format!("COPY src TO '{file}'")).unwrap();
    s.execute(&format!("CREATE MAP m {SETTINGS}")).unwrap();
    s.execute("BEGIN").unwrap();
    s.execute(&format!("COPY m FROM '{file}'")).unwrap();
    assert_eq!(count(&mut s, "m"), "50");
    // The same rows again: duplicates of what the transaction added; it stays open.
    fails(
        &mut s,
        &format!("COPY m FROM '{file}'"),
        &["row 1, column id"],
    );
    assert!(s.in_transaction());
    assert_eq!(count(&mut s, "m"), "50");
    // COPY TO inside the transaction sees its rows.
    let again = path(dir.path(), "again.csv");
    assert_eq!(
        s.execute(&format!("COPY m TO '{again}'")).unwrap()[0].status,
        "COPY 50"
    );
    s.execute("ROLLBACK").unwrap();
    assert_eq!(count(&mut s, "m"), "0");
    assert!(objects(&db, "m").is_empty());
    // A missing map and a missing file.
    fails(
        &mut s,
        &format!("COPY nope FROM '{file}'"),
        &["no map named 'nope'"],
    );
    fails(
        &mut s,
        &format!("COPY nope TO '{file}'"),
        &["no map named 'nope'"],
    );
    let missing = path(dir.path(), "missing.csv");
    fails(
        &mut s,
        &format!("COPY m FROM '{missing}'"),
        &["missing.csv", "cannot open"],
    );
}

#[test]
fn without_formats_copy_is_a_clear_error() {
    let db = Database::open_in_memory().unwrap();
    let mut s = Session::new(db);
    s.execute("CREATE MAP m").unwrap();
    let e = s.execute("COPY m TO 'x.parquet'").unwrap_err();
    assert!(e.message.contains("tensormap-interop"), "{e}");
}

#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl ProgressSink for Log {
    fn start(&self, label: &str, total: u64, unit: Unit) {
        self.0
            .lock()
            .unwrap()
            .push(format!("start {label} {total} {unit:?}"));
    }
    fn set(&self, done: u64, _: Option<&str>) {
        self.0.lock().unwrap().push(format!("set {done}"));
    }
    fn finish(&self) {
        self.0.lock().unwrap().push("finish".into());
    }
}

#[test]
fn copy_reports_progress_in_rows() {
    let (_db, mut s) = loaded(100);
    let log = Arc::new(Log::default());
    s.set_progress(Some(log.clone()));
    let dir = tempfile::tempdir().unwrap();
    let file = path(dir.path(), "p.parquet");
    s.execute(&format!("COPY src TO '{file}'")).unwrap();
    s.execute(&format!("CREATE MAP m {SETTINGS}")).unwrap();
    s.execute(&format!("COPY m FROM '{file}'")).unwrap();
    let log = log.0.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            format!("start copy src to '{file}' 100 Rows"),
            "set 100".into(),
            "finish".into(),
            format!("start copy m from '{file}' 100 Rows"),
            "set 100".into(),
            "finish".into(),
        ]
    );
}
