//! RENDER through TensorQL and `Database::render`: the SVG as a row or a file, .svg3d by
//! extension, the heatmap from the octree's coarse levels, and clear errors.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tensormap::{Database, RenderOptions, Value};

fn demo() -> Database {
    let db = Database::open_in_memory().unwrap();
    db.execute("CREATE MAP s WITH (channels = 4, bounds = 100)")
        .unwrap();
    let mut rows = Vec::new();
    for i in 0..40 {
        let kind = ["cube", "sphere", "pyramid", "torus"][i % 4];
        rows.push(format!(
            "('o{i}', '{kind}', [{}, {}, {}], [0.5, -0.5, {}, 0.1], 0.8)",
            (i as f32 * 4.7) % 180.0 - 90.0,
            (i as f32 * 7.3) % 180.0 - 90.0,
            (i as f32 * 2.9) % 180.0 - 90.0,
            i as f32 / 40.0
        ));
    }
    db.execute(&format!(
        "INSERT INTO s (id, type, position, embedding, confidence) VALUES {}",
        rows.join(", ")
    ))
    .unwrap();
    db
}

fn svg_of(db: &Database, sql: &str) -> String {
    let r = db.execute(sql).unwrap().pop().unwrap();
    assert_eq!(r.columns, ["svg"]);
    match &r.rows[0][0] {
        Value::Text(t) => t.to_string(),
        other => panic!("{other:?}"),
    }
}

fn count(svg: &str, class_prefix: &str) -> usize {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.starts_with(class_prefix))
        })
        .count()
}

#[test]
fn render_returns_the_svg_of_the_selected_objects() {
    let db = demo();
    let all = svg_of(
        &db,
        "RENDER SELECT * FROM s WITH (width = 400, height = 300, rotation = [0, 0, 0])",
    );
    assert_eq!(count(&all, "object "), 40);
    let some = svg_of(&db, "RENDER SELECT id FROM s WHERE type = 'cube' AND WITHIN(position, [0, 0, 0], 80) ORDER BY id LIMIT 5");
    assert!(count(&some, "object cube") <= 5 && count(&some, "object cube") >= 1);
    assert_eq!(count(&some, "object "), count(&some, "object cube"));
    // The heatmap comes from the octree's coarse levels: one element per region, never per cell.
    let doc = roxmltree::Document::parse(&all).unwrap();
    let heat = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("heatmap"))
        .unwrap();
    let regions = heat.children().filter(|n| n.is_element()).count();
    let bricks = db.begin_read().unwrap().stats("s").unwrap().bricks as usize;
    assert!(
        regions > 0 && regions <= bricks,
        "{regions} regions for {bricks} bricks"
    );
    let none = svg_of(
        &db,
        "RENDER SELECT * FROM s WITH (heatmap = false, axes = false, legend = false)",
    );
    assert_eq!(
        count(&none, "heatmap") + count(&none, "axes") + count(&none, "legend"),
        0
    );
    // The API gives the same text.
    let opts = RenderOptions {
        width: 400,
        height: 300,
        camera: tensormap::Camera {
            rotation: [0.0; 3],
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(db.render("SELECT * FROM s", &opts).unwrap(), all);
}

#[test]
fn render_to_files_svg_and_svg3d() {
    let db = demo();
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("view.svg");
    let svg3d = dir.path().join("view.svg3d");
    let r = db
        .execute(&format!("RENDER SELECT * FROM s TO '{}'", svg.display()))
        .unwrap()
        .pop()
        .unwrap();
    assert!(r.status.starts_with("RENDER"), "{}", r.status);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(!text.contains("svg3d"));
    roxmltree::Document::parse(&text).unwrap();
    db.execute(&format!(
        "RENDER SELECT * FROM s WHERE id = 'o3' TO '{}' WITH (fov = 45)",
        svg3d.display()
    ))
    .unwrap();
    let back = tensormap::render::read_svg3d(&std::fs::read_to_string(&svg3d).unwrap()).unwrap();
    assert_eq!(back.camera.fov, 45.0);
    assert_eq!(back.objects.len(), 1);
    let o = db.begin_read().unwrap().get("s", "o3").unwrap().unwrap();
    assert_eq!(
        (back.objects[0].id.as_str(), back.objects[0].position),
        ("o3", o.position)
    );
    assert_eq!(back.map_name.as_deref(), Some("s"));
}

#[test]
fn render_errors_are_clear_and_positioned() {
    let db = demo();
    for (sql, pos, msg) in [
        (
            "RENDER SELECT * FROM s WITH (width = 0)",
            (1, 30),
            "width must be a number in [1, 16384]",
        ),
        (
            "RENDER SELECT * FROM s WITH (zoom = 2)",
            (1, 30),
            "unknown render setting 'zoom'",
        ),
        (
            "RENDER SELECT * FROM s WITH (camera = [1, 2])",
            (1, 30),
            "camera must be a vector of 3 numbers",
        ),
        (
            "RENDER SELECT * FROM s WITH (heatmap = 1)",
            (1, 30),
            "heatmap must be true or false",
        ),
        (
            "RENDER SELECT * FROM VOXELS(s)",
            (1, 22),
            "RENDER draws a map's objects",
        ),
        ("RENDER SELECT * FROM nope", (1, 22), "no map named 'nope'"),
        (
            "RENDER SELECT * FROM s TO 42",
            (1, 27),
            "a file name string after TO",
        ),
        (
            "RENDER SELECT * FROM s TO '/nonexistent/dir/x.svg'",
            (1, 1),
            "cannot write",
        ),
    ] {
        let e = db.execute(sql).unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), pos, "{sql}: {e}");
        assert!(e.message.contains(msg), "{sql}: {e}");
    }
    assert!(db.render("SHOW MAPS", &RenderOptions::default()).is_err());
}
