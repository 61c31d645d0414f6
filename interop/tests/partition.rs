//! The partitioned export that Spark prunes: the manifest, the KDB split of a skewed cell
//! (every point routed by the manifest to the file that holds it), the `bbox` covering
//! column and its metadata, small Morton-sorted row groups, and the folder read back.
// Test code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use tensormap_engine::{Database, Object};
use tensormap_query::Session;

fn session(db: &Database) -> Session {
    let mut s = Session::new(db.clone());
    s.set_copy_formats(Some(Arc::new(tensormap_interop::Interop)));
    s
}

/// 3,000 uniform points and a dense cluster of 5,000 inside one depth-1 cell, plus 1,200
/// copies of one position.
fn skewed() -> Vec<Object> {
    let mut rng = ChaCha8Rng::seed_from_u64(28);
    let mut v = Vec::new();
    for i in 0..3000 {
        let p = [0; 3].map(|_| rng.random_range(-99.0f32..=99.0));
        v.push(Object::new(format!("u{i}"), "u", p, vec![0.5, 1.0]));
    }
    for i in 0..5000 {
        let p = [40.0, 40.0, -40.0].map(|c| c + rng.random_range(-5.0f32..5.0));
        v.push(Object::new(format!("c{i}"), "c", p, vec![1.0, 0.0]));
    }
    for i in 0..1200 {
        v.push(Object::new(
            format!("s{i}"),
            "s",
            [-60.0, 60.0, 60.0],
            vec![0.0, 1.0],
        ));
    }
    v
}

struct FileRows {
    xyz: Vec<[f32; 3]>,
    bbox: Vec<[f32; 6]>,
    row_groups: Vec<usize>,
    geo: Value,
}

fn read(file: &Path) -> FileRows {
    let b = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).unwrap()).unwrap();
    let meta = b.metadata().clone();
    let geo_text = meta
        .file_metadata()
        .key_value_metadata()
        .unwrap()
        .iter()
        .find(|kv| kv.key == "geo")
        .unwrap()
        .value
        .clone()
        .unwrap();
    let row_groups = meta
        .row_groups()
        .iter()
        .map(|g| g.num_rows() as usize)
        .collect();
    let mut out = FileRows {
        xyz: Vec::new(),
        bbox: Vec::new(),
        row_groups,
        geo: serde_json::from_str(&geo_text).unwrap(),
    };
    for batch in b.build().unwrap() {
        let batch = batch.unwrap();
        let col = |n: &str| {
            batch
                .column_by_name(n)
                .unwrap()
                .as_primitive::<Float32Type>()
                .clone()
        };
        let (x, y, z) = (col("x"), col("y"), col("z"));
        let bb = batch.column_by_name("bbox").unwrap().as_struct().clone();
        let f = |n: &str| {
            bb.column_by_name(n)
                .unwrap()
                .as_primitive::<Float32Type>()
                .clone()
        };
        let fields = ["xmin", "ymin", "xmax", "ymax", "zmin", "zmax"].map(f);
        for i in 0..batch.num_rows() {
            out.xyz.push([x.value(i), y.value(i), z.value(i)]);
            out.bbox.push(fields.clone().map(|a| a.value(i)));
        }
    }
    out
}

/// The file the manifest's split tree routes `p` (in cell `cell`) to.
fn route(manifest: &Value, cell: u64, p: [f32; 3]) -> u64 {
    let c = manifest["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cell"] == cell)
        .unwrap();
    let mut node = &c["split"];
    while node.get("file").is_none() {
        let axis = node["axis"].as_u64().unwrap() as usize;
        let at = node["at"].as_f64().unwrap();
        node = if (p[axis] as f64) < at {
            &node["below"]
        } else {
            &node["above"]
        };
    }
    node["file"].as_u64().unwrap()
}

#[test]
fn skewed_cell_is_split_and_every_point_routes_to_its_file() {
    let db = Database::open_in_memory().unwrap();
    let mut s = session(&db);
    s.execute("CREATE MAP m WITH (channels = 2, bounds = 100, resolution = 16)")
        .unwrap();
    let objects = skewed();
    let mut t = db.begin_write().unwrap();
    t.insert_many("m", objects.clone()).unwrap();
    t.commit().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let max = 1000u64;
    let r = s
        .execute(&format!(
            "COPY m TO '{}' WITH (partition_by = 'octree', depth = 1, max_rows_per_file = {max})",
            out.display()
        ))
        .unwrap();
    assert_eq!(r[0].status, "COPY 9200");

    let text = std::fs::read_to_string(out.join("_tensormap.json")).unwrap();
    let m: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(m["format"], "tensormap-octree-parquet");
    assert_eq!(m["version"], 1);
    assert_eq!(m["rows"], 9200);
    assert_eq!(m["map"]["name"], "m");
    assert_eq!(m["map"]["channels"], 2);
    assert_eq!(m["scheme"]["depth"], 1);
    assert_eq!(m["scheme"]["cells_per_axis"], 2);
    assert_eq!(m["scheme"]["max_rows_per_file"], max);
    let files = m["files"].as_array().unwrap();
    let cells = m["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 8);
    let mut total = 0;
    let mut oversized = 0;
    for (i, f) in files.iter().enumerate() {
        let cell = f["cell"].as_u64().unwrap();
        let rows = read(&out.join(f["path"].as_str().unwrap()));
        assert_eq!(rows.xyz.len() as u64, f["rows"].as_u64().unwrap());
        total += rows.xyz.len();
        // The 1,200 copies of one point cannot be split: the only file over the limit.
        if rows.xyz.len() as u64 > max {
            oversized += 1;
            assert!(
                rows.xyz
                    .iter()
                    .filter(|p| **p == [-60.0, 60.0, 60.0])
                    .count()
                    >= 1200
            );
        }
        let bbox: Vec<f64> = f["bbox"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let region: Vec<f64> = f["region"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let mut last = 0;
        for (p, b) in rows.xyz.iter().zip(&rows.bbox) {
            assert_eq!(tensormap_interop::partition::cell_of(*p, 100.0, 1), cell);
            assert_eq!(route(&m, cell, *p), i as u64, "{p:?} routes to file {i}");
            for a in 0..3 {
                let v = p[a] as f64;
                assert!(bbox[a] <= v && v <= bbox[a + 3], "{p:?} in the file's bbox");
                assert!(region[a] <= v && v <= region[a + 3], "{p:?} in its region");
            }
            assert_eq!(*b, [p[0], p[1], p[0], p[1], p[2], p[2]], "bbox column");
            let key = tensormap_interop::rows::morton_key(*p, 100.0);
            assert!(key >= last, "Morton order within a piece");
            last = key;
        }
        assert!(rows.row_groups.iter().all(|&n| n <= 8192));
        let cover = &rows.geo["columns"]["geometry"]["covering"]["bbox"];
        assert_eq!(cover["xmin"], serde_json::json!(["bbox", "xmin"]));
        assert_eq!(cover["zmax"], serde_json::json!(["bbox", "zmax"]));
    }
    assert_eq!(total, 9200);
    assert_eq!(oversized, 1);
    let cluster = cells
        .iter()
        .find(|c| c["rows"].as_u64().unwrap() > 5000)
        .unwrap();
    assert!(cluster["files"].as_array().unwrap().len() >= 6);

    // The folder reads back, the manifest and the bbox column skipped.
    s.execute("CREATE MAP back WITH (channels = 2, bounds = 100, resolution = 16)")
        .unwrap();
    let r = s
        .execute(&format!("COPY back FROM '{}'", out.display()))
        .unwrap();
    assert_eq!(r[0].status, "COPY 9200");
}

#[test]
fn a_small_export_has_one_file_per_cell_and_the_cell_boxes() {
    let db = Database::open_in_memory().unwrap();
    let mut s = session(&db);
    s.execute("CREATE MAP m WITH (channels = 2, bounds = 100)")
        .unwrap();
    s.execute("INSERT INTO m (id, position, embedding) VALUES ('a', [-10, -10, -10], [1, 0]), ('b', [50, 10, -20], [0, 1])")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    s.execute(&format!(
        "COPY m TO '{}' WITH (partition_by = 'octree', depth = 1)",
        out.display()
    ))
    .unwrap();
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("_tensormap.json")).unwrap())
            .unwrap();
    let cells = m["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2);
    assert_eq!(cells[0]["cell"], 0);
    assert_eq!(
        cells[0]["box"],
        serde_json::json!([-100.0, -100.0, -100.0, 0.0, 0.0, 0.0])
    );
    assert_eq!(cells[0]["split"], serde_json::json!({"file": 0}));
    assert_eq!(cells[1]["cell"], 3);
    assert_eq!(cells[1]["index"], serde_json::json!([1, 1, 0]));
    assert_eq!(m["files"][1]["path"], "cell=3/part-0.parquet");
    assert_eq!(
        m["files"][1]["bbox"],
        serde_json::json!([50.0, 10.0, -20.0, 50.0, 10.0, -20.0])
    );
}
