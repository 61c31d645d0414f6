//! COPY and a map's user columns: every type (and NULL in every nullable column) round
//! trips through Parquet, CSV, JSON Lines and a partitioned export; the Parquet columns
//! have their documented Arrow types; Parquet written by other tools loads with its
//! widenings; a missing NOT NULL value, a NULL in a NOT NULL column or a value of the
//! wrong type is an error naming the file, the row and the column, and changes nothing.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use tensormap_engine::{Database, Value};
use tensormap_query::Session;

const COLUMNS: &str = "(label TEXT NOT NULL DEFAULT 'x', speed REAL, n INTEGER, ok BOOLEAN, \
                       seen_at TIMESTAMP, raw BLOB)";
const SETTINGS: &str = "WITH (channels = 2, bounds = 100)";

fn session() -> Session {
    let mut s = Session::new(Database::open_in_memory().unwrap());
    s.set_copy_formats(Some(Arc::new(tensormap_interop::Interop)));
    s
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

fn select_all(s: &mut Session, map: &str) -> Vec<Vec<Value>> {
    s.execute(&format!("SELECT * FROM {map} ORDER BY id"))
        .unwrap()
        .remove(0)
        .rows
}

/// A session with map `src` of every column type: values in every column of some rows,
/// NULL in every nullable column of others, text CSV and JSON quote.
fn loaded() -> Session {
    let mut s = session();
    s.execute(&format!("CREATE MAP src {COLUMNS} {SETTINGS}"))
        .unwrap();
    s.execute(
        "INSERT INTO src (id, type, position, embedding, label, speed, n, ok, seen_at, raw) VALUES
          ('a', 'car', [1, 2, 3], [1, 0], 'red, \"fast\"', 31.5, 7, TRUE, '2026-05-01T12:30:00Z', '00ff10'),
          ('b', 'car', [-4, 5, 6], [0, 1], 'line\nbreak', -0.1, -9007199254740991, FALSE,
           '1969-12-31 23:59:59.25', ''),
          ('c', '', [7, -8, 9], [1, 1], 'ünï', NULL, NULL, NULL, NULL, NULL),
          ('d', 'x', [50, 50, -50], [0.5, 0.5], 'plain', 1e300, 0, NULL, '2000-02-29', NULL)",
    )
    .unwrap();
    s.execute("INSERT INTO src (id, position, embedding) VALUES ('e', [0, 0, 0], [0, 0])")
        .unwrap();
    s
}

#[test]
fn every_type_and_null_round_trips_through_every_format() {
    let mut s = loaded();
    let want = select_all(&mut s, "src");
    assert_eq!(want.len(), 5);
    assert_eq!(want[4][5], Value::text("x"), "the default");
    let dir = tempfile::tempdir().unwrap();
    let exports = [
        ("a.parquet", ""),
        ("a.csv", ""),
        ("a.json", ""),
        ("parts", "WITH (partition_by = 'octree', depth = 1)"),
    ];
    for (i, (name, with)) in exports.iter().enumerate() {
        let file = path(dir.path(), name);
        let r = s.execute(&format!("COPY src TO '{file}' {with}")).unwrap();
        assert_eq!(r[0].status, "COPY 5", "{name}");
        s.execute(&format!("CREATE MAP dst{i} {COLUMNS} {SETTINGS}"))
            .unwrap();
        let r = s.execute(&format!("COPY dst{i} FROM '{file}'")).unwrap();
        assert_eq!(r[0].status, "COPY 5", "{name}");
        let got = select_all(&mut s, &format!("dst{i}"));
        // A BLOB of no bytes is an empty CSV field, which reads as NULL.
        let mut want = want.clone();
        if name.ends_with(".csv") {
            want[1][10] = Value::Null;
        }
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn parquet_user_columns_have_their_arrow_types() {
    let mut s = loaded();
    let dir = tempfile::tempdir().unwrap();
    let file = path(dir.path(), "a.parquet");
    s.execute(&format!("COPY src TO '{file}'")).unwrap();
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap()).unwrap();
    let schema = builder.schema().clone();
    let geo = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .unwrap()
        .iter()
        .find(|kv| kv.key == "geo")
        .unwrap()
        .value
        .clone()
        .unwrap();
    assert!(geo.contains("\"primary_column\":\"geometry\""), "{geo}");
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "id",
            "type",
            "x",
            "y",
            "z",
            "embedding",
            "confidence",
            "geometry",
            "bbox",
            "label",
            "speed",
            "n",
            "ok",
            "seen_at",
            "raw"
        ]
    );
    let types: Vec<DataType> = schema.fields()[9..]
        .iter()
        .map(|f| {
            assert!(f.is_nullable());
            f.data_type().clone()
        })
        .collect();
    assert_eq!(
        types,
        [
            DataType::Utf8,
            DataType::Float64,
            DataType::Int64,
            DataType::Boolean,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            DataType::Binary,
        ]
    );
    // The values as another reader sees them.
    let batch = builder.build().unwrap().next().unwrap().unwrap();
    let ids = batch
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let a = (0..ids.len()).find(|i| ids.value(*i) == "a").unwrap();
    let n = batch
        .column(11)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(n.value(a), 7);
    let t = batch
        .column(13)
        .as_any()
        .downcast_ref::<arrow_array::TimestampMicrosecondArray>()
        .unwrap();
    assert_eq!(t.value(a), 1_777_638_600_000_000);
}

/// Writes a Parquet file of one object a row plus `extra` columns.
fn parquet_with(file: &str, ids: &[&str], extra: Vec<(&str, ArrayRef)>) {
    let n = ids.len();
    let mut fields = vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("x", DataType::Float32, false),
        Field::new("y", DataType::Float32, false),
        Field::new("z", DataType::Float32, false),
        Field::new(
            "embedding",
            DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, false)), 2),
            false,
        ),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(ids.to_vec())),
        Arc::new(Float32Array::from(vec![1.0; n])),
        Arc::new(Float32Array::from(vec![2.0; n])),
        Arc::new(Float32Array::from(vec![3.0; n])),
        Arc::new(
            arrow_array::FixedSizeListArray::try_new(
                Arc::new(Field::new("item", DataType::Float32, false)),
                2,
                Arc::new(Float32Array::from(vec![0.5; 2 * n])),
                None,
            )
            .unwrap(),
        ),
    ];
    for (name, a) in extra {
        fields.push(Field::new(name, a.data_type().clone(), true));
        columns.push(a);
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut w = ArrowWriter::try_new(std::fs::File::create(file).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn foreign_parquet_columns_widen_and_missing_ones_take_their_defaults() {
    let mut s = session();
    s.execute(&format!("CREATE MAP m {COLUMNS} {SETTINGS}"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = path(dir.path(), "f.parquet");
    parquet_with(
        &file,
        &["p", "q"],
        vec![
            ("n", Arc::new(Int32Array::from(vec![Some(3), None]))),
            ("speed", Arc::new(Int64Array::from(vec![4, 5]))),
            (
                "seen_at",
                Arc::new(StringArray::from(vec![
                    Some("2026-05-01T14:30:00+02:00"),
                    None,
                ])),
            ),
        ],
    );
    s.execute(&format!("COPY m FROM '{file}'")).unwrap();
    let r = s
        .execute("SELECT id, label, speed, n, ok, seen_at FROM m ORDER BY id")
        .unwrap();
    assert_eq!(
        r[0].rows,
        vec![
            vec![
                Value::text("p"),
                Value::text("x"),
                Value::Number(4.0),
                Value::Number(3.0),
                Value::Null,
                Value::text("2026-05-01 12:30:00"),
            ],
            vec![
                Value::text("q"),
                Value::text("x"),
                Value::Number(5.0),
                Value::Null,
                Value::Null,
                Value::Null,
            ],
        ]
    );
    // Float32 for REAL too; a column unknown to the map is still an error.
    let file = path(dir.path(), "g.parquet");
    parquet_with(
        &file,
        &["r"],
        vec![("speed", Arc::new(Float32Array::from(vec![0.5])))],
    );
    s.execute(&format!("COPY m FROM '{file}'")).unwrap();
    let file = path(dir.path(), "h.parquet");
    parquet_with(
        &file,
        &["s"],
        vec![("colour", Arc::new(Float64Array::from(vec![0.5])))],
    );
    let e = s.execute(&format!("COPY m FROM '{file}'")).unwrap_err();
    assert!(e.message.contains("unknown column 'colour'"), "{e}");
    assert_eq!(select_all(&mut s, "m").len(), 3);
}

/// A map `m` with a NOT NULL column without a default, holding one object.
fn strict() -> Session {
    let mut s = session();
    s.execute(&format!(
        "CREATE MAP m (req TEXT NOT NULL, speed REAL, ok BOOLEAN) {SETTINGS}"
    ))
    .unwrap();
    s.execute(
        "INSERT INTO m (id, position, embedding, req, speed) VALUES ('k', [0, 0, 0], [1, 1], 'kept', 2)",
    )
    .unwrap();
    s
}

/// Runs `sql`, expects an error with every one of `wanted`, and `m` unchanged.
fn refused(s: &mut Session, sql: &str, wanted: &[&str]) {
    let before = select_all(s, "m");
    let e = s.execute(sql).unwrap_err();
    for w in wanted {
        assert!(e.message.contains(w), "{sql}: {e} lacks '{w}'");
    }
    assert_eq!(select_all(s, "m"), before, "{sql} changed the map");
}

#[test]
fn missing_null_and_wrong_values_are_named_and_change_nothing() {
    let mut s = strict();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let f = path(dir.path(), name);
        std::fs::write(&f, text).unwrap();
        f
    };
    // The NOT NULL column missing from the file.
    let f = write("a.csv", "id,x,y,z,embedding\nn1,0,0,0,\"[1, 0]\"\n");
    refused(
        &mut s,
        &format!("COPY m FROM '{f}'"),
        &["a.csv' row 1, column req", "NOT NULL without a DEFAULT"],
    );
    // A NULL (an empty field) in it, on row 2.
    let f = write(
        "b.csv",
        "id,x,y,z,embedding,req\nn1,0,0,0,\"[1, 0]\",r\nn2,0,0,0,\"[1, 0]\",\n",
    );
    refused(
        &mut s,
        &format!("COPY m FROM '{f}'"),
        &["b.csv' row 2, column req", "NULL in a NOT NULL column"],
    );
    // A value of the wrong type.
    let f = write(
        "c.csv",
        "id,x,y,z,embedding,req,speed\nn1,0,0,0,\"[1, 0]\",r,1\nn2,0,0,0,\"[1, 0]\",r,fast\n",
    );
    refused(
        &mut s,
        &format!("COPY m FROM '{f}'"),
        &["c.csv' row 2, column speed", "expected REAL, found 'fast'"],
    );
    let f = write(
        "d.json",
        "{\"id\":\"n1\",\"x\":0,\"y\":0,\"z\":0,\"embedding\":[1,0],\"req\":\"r\",\"ok\":true}\n\
         {\"id\":\"n2\",\"x\":0,\"y\":0,\"z\":0,\"embedding\":[1,0],\"req\":\"r\",\"ok\":\"yes\"}\n",
    );
    refused(
        &mut s,
        &format!("COPY m FROM '{f}'"),
        &[
            "d.json' row 2, column ok",
            "expected BOOLEAN, found a string",
        ],
    );
    let f = write(
        "e.json",
        "{\"id\":\"n1\",\"x\":0,\"y\":0,\"z\":0,\"embedding\":[1,0],\"req\":null}\n",
    );
    refused(
        &mut s,
        &format!("COPY m FROM '{f}'"),
        &["e.json' row 1, column req", "NULL in a NOT NULL column"],
    );
    let f = write(
        "f.json",
        "{\"id\":\"n1\",\"x\":0,\"y\":0,\"z\":0,\"embedding\":[1,0],\"req\":\"r\",\"colour\":1}\n",
    );
    refused(
        &mut s,
        &format!("COPY m FROM '{f}'"),
        &["f.json' row 1", "unknown field `colour`"],
    );
    let f = path(dir.path(), "g.parquet");
    parquet_with(
        &f,
        &["n1", "n2"],
        vec![
            ("req", Arc::new(StringArray::from(vec!["r", "r"]))),
            ("ok", Arc::new(StringArray::from(vec![None, Some("yes")]))),
        ],
    );
    refused(
        &mut s,
        &format!("COPY m FROM '{f}'"),
        &[
            "g.parquet' row 2, column ok",
            "expected BOOLEAN, found a column of Arrow type Utf8",
        ],
    );
    // Given right, the rows go in with their values.
    let f = write(
        "h.csv",
        "id,x,y,z,embedding,req,ok\nn1,0,0,0,\"[1, 0]\",r,true\n",
    );
    s.execute(&format!("COPY m FROM '{f}'")).unwrap();
    let r = s
        .execute("SELECT id, req, speed, ok FROM m ORDER BY id")
        .unwrap();
    assert_eq!(
        r[0].rows,
        vec![
            vec![
                Value::text("k"),
                Value::text("kept"),
                Value::Number(2.0),
                Value::Null
            ],
            vec![
                Value::text("n1"),
                Value::text("r"),
                Value::Null,
                Value::Bool(true)
            ],
        ]
    );
}

#[test]
fn values_join_an_open_transaction_and_a_geoparquet_name_is_refused_in_parquet() {
    let mut s = loaded();
    let dir = tempfile::tempdir().unwrap();
    let file = path(dir.path(), "a.json");
    s.execute(&format!("COPY src TO '{file}'")).unwrap();
    s.execute(&format!("CREATE MAP dst {COLUMNS} {SETTINGS}"))
        .unwrap();
    s.execute("BEGIN").unwrap();
    s.execute(&format!("COPY dst FROM '{file}'")).unwrap();
    let r = s.execute("SELECT label FROM dst WHERE id = 'a'").unwrap();
    assert_eq!(r[0].rows, vec![vec![Value::text("red, \"fast\"")]]);
    s.execute("ROLLBACK").unwrap();
    assert!(select_all(&mut s, "dst").is_empty());
    // A user column named as GeoParquet's column: Parquet cannot hold both, CSV can.
    s.execute(&format!("CREATE MAP geo (geometry TEXT) {SETTINGS}"))
        .unwrap();
    s.execute("INSERT INTO geo (id, position, embedding, geometry) VALUES ('g', [0, 0, 0], [1, 0], 'POINT')")
        .unwrap();
    let e = s
        .execute(&format!("COPY geo TO '{}'", path(dir.path(), "g.parquet")))
        .unwrap_err();
    assert!(e.message.contains("column 'geometry'"), "{e}");
    assert!(!dir.path().join("g.parquet").exists());
    let csv = path(dir.path(), "g.csv");
    s.execute(&format!("COPY geo TO '{csv}'")).unwrap();
    s.execute(&format!("CREATE MAP geo2 (geometry TEXT) {SETTINGS}"))
        .unwrap();
    s.execute(&format!("COPY geo2 FROM '{csv}'")).unwrap();
    assert_eq!(select_all(&mut s, "geo2"), select_all(&mut s, "geo"));
}
