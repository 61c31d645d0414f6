//! `RENDER SELECT ... TO 'x.html'` (docs/LANGUAGE.md, "Snapshots and rendering"): the view
//! holds exactly the SELECT's objects and columns and the map's field (checked against the
//! SELECT and `VOXELS(map)` as oracles); every refusal is a TensorQL error at the setting
//! it names and leaves no file; `.svg` learns the liquid filter.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;

use tensormap_engine::{Database, ErrorKind, Value};
use tensormap_query::{QueryResult, Session};
use tensormap_render::html::{ColumnValues, HtmlOptions, BRICK_EDGE};

fn run(s: &mut Session, sql: &str) -> Vec<QueryResult> {
    s.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn rows(s: &mut Session, sql: &str) -> Vec<Vec<Value>> {
    run(s, sql).pop().unwrap().rows
}

fn scene() -> Session {
    let mut s = Session::new(Database::open_in_memory().unwrap());
    run(
        &mut s,
        "CREATE MAP scene WITH (resolution = 32, channels = 4, bounds = 100)",
    );
    let mut sql =
        String::from("INSERT INTO scene (id, type, position, embedding, confidence) VALUES ");
    for i in 0..400 {
        let f = i as f32;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "('o{i}', '{}', [{}, {}, {}], [{}, {}, {}, {}], {})",
            ["cube", "sphere", "torus", "point"][i % 4],
            (f * 7.3) % 190.0 - 95.0,
            (f * 3.1) % 190.0 - 95.0,
            (f * 5.7) % 190.0 - 95.0,
            (f * 0.1).sin(),
            (f * 0.2).cos(),
            0.5,
            -(f * 0.05).sin(),
            (i % 10) as f32 / 10.0
        ));
    }
    run(&mut s, &sql);
    s
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_view_holds_the_selects_objects_columns_and_field() {
    let mut s = scene();
    let select = "SELECT id, confidence * 2 AS score, DISTANCE(position, [0, 0, 0]) AS d, \
                  type || '!' AS label, embedding, id AS again, position \
                  FROM scene WHERE WITHIN(position, [0, 0, 0], 80) AND type <> 'point' \
                  ORDER BY id LIMIT 150";
    let want = rows(&mut s, select);
    assert!(want.len() > 50, "{}", want.len());
    let v = s.view_scene(select).unwrap();
    assert_eq!(v.map, "scene");
    let o = &v.objects;
    assert_eq!(o.len(), want.len());
    let names: Vec<&str> = o.columns.iter().map(|c| c.name.as_str()).collect();
    // Built-in names and vectors are left out; `again` is a column of its own.
    assert_eq!(names, ["score", "d", "label", "again"]);
    let by_id: HashMap<&str, usize> = o
        .ids
        .iter()
        .enumerate()
        .map(|(k, id)| (id.as_str(), k))
        .collect();
    for row in &want {
        let Value::Text(id) = &row[0] else { panic!() };
        let k = by_id[&**id];
        let Value::Vector(p) = &row[6] else { panic!() };
        assert_eq!(o.positions[k], [p[0], p[1], p[2]]);
        assert!(o.kinds[k] != "point");
        let Value::Number(score) = row[1] else {
            panic!()
        };
        let Value::Number(d) = row[2] else { panic!() };
        match (
            &o.columns[0].values,
            &o.columns[1].values,
            &o.columns[2].values,
        ) {
            (ColumnValues::Number(a), ColumnValues::Number(b), ColumnValues::Text(l)) => {
                assert_eq!((a[k], b[k]), (score, d));
                assert_eq!(l[k].as_deref(), Some(format!("{}!", o.kinds[k]).as_str()));
                assert!((o.confidence[k] as f64 * 2.0 - score).abs() < 1e-6);
            }
            other => panic!("{other:?}"),
        }
    }

    // The field: every occupied cell of VOXELS(scene) with its norm, and nothing else.
    let f = v.field.as_ref().expect("the map has a field");
    assert_eq!((f.resolution, f.bounds), (32, 100.0));
    let mut norms: HashMap<[u32; 3], f32> = HashMap::new();
    for b in &f.bricks {
        for (n, &value) in b.norms.iter().enumerate() {
            let n = n as u32;
            let cell = [
                b.coords[0] * BRICK_EDGE + n % 8,
                b.coords[1] * BRICK_EDGE + (n / 8) % 8,
                b.coords[2] * BRICK_EDGE + n / 64,
            ];
            if value > 0.0 {
                norms.insert(cell, value);
            }
        }
    }
    let voxels = rows(&mut s, "SELECT i, j, k, norm FROM VOXELS(scene)");
    assert!(voxels.len() > 1000, "{}", voxels.len());
    let mut occupied = 0;
    for r in &voxels {
        let [Value::Number(i), Value::Number(j), Value::Number(k), Value::Number(norm)] = &r[..]
        else {
            panic!("{r:?}")
        };
        if *norm == 0.0 {
            continue;
        }
        occupied += 1;
        let got = norms[&[*i as u32, *j as u32, *k as u32]] as f64;
        assert!(
            (got - norm).abs() <= 1e-5 * norm.max(1.0),
            "{i} {j} {k}: {got} vs {norm}"
        );
    }
    assert_eq!(occupied, norms.len());

    // An ordinal in ORDER BY still names the SELECT's own item.
    let top = "SELECT id, confidence * 3 AS c FROM scene ORDER BY 2 DESC, 1 LIMIT 7";
    let want: Vec<String> = rows(&mut s, top).iter().map(|r| r[0].to_string()).collect();
    let v = s.view_scene(top).unwrap();
    let mut got = v.objects.ids.clone();
    let mut want_sorted = want.clone();
    got.sort();
    want_sorted.sort();
    assert_eq!(got, want_sorted);
    assert!(
        v.objects.confidence.iter().all(|&c| c == 0.9),
        "{:?}",
        v.objects.confidence
    );
}

#[test]
fn render_to_html_writes_the_page_of_the_select() {
    let mut s = scene();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("View.HTML");
    let p = path.to_str().unwrap();
    let select = "SELECT *, confidence * 10 AS score FROM scene WHERE type = 'cube'";
    let r = run(
        &mut s,
        &format!(
            "RENDER {select} TO '{p}' WITH (color_by = 'score', effects = 'liquid', \
             slice = 'x', slice_at = -20, title = 'cubes', point_budget = 5000)"
        ),
    );
    let html = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        r[0].status,
        format!("RENDER {} bytes to '{p}' (100 objects)", html.len())
    );
    assert_eq!(files(dir.path()), ["View.HTML"]);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<title>cubes</title>"));
    for part in [
        r#""count":100"#,
        r#""colorBy":"column","colorColumn":"score""#,
        r#""liquid":true"#,
        r#""slice":{"at":-20.0,"axis":"x"}"#,
        r#""pointBudget":5000"#,
        r#""kind":"number","name":"score""#,
    ] {
        assert!(html.contains(part), "{part}");
    }
    // The same page as the call behind db.render(sql, format="html").
    let mut o = HtmlOptions::default();
    for (k, v) in [
        ("color_by", tensormap_render::OptionValue::Text("score")),
        ("effects", tensormap_render::OptionValue::Text("liquid")),
        ("slice", tensormap_render::OptionValue::Text("x")),
        ("slice_at", tensormap_render::OptionValue::Number(-20.0)),
        ("title", tensormap_render::OptionValue::Text("cubes")),
        (
            "point_budget",
            tensormap_render::OptionValue::Number(5000.0),
        ),
    ] {
        o.set(k, v).unwrap();
    }
    assert_eq!(s.render_html(select, &o).unwrap().to_string(), html);

    // An empty result is a page too, and a second RENDER replaces the file.
    run(
        &mut s,
        &format!("RENDER SELECT * FROM scene WHERE type = 'none' TO '{p}'"),
    );
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.contains(r#""count":0"#));
    assert_eq!(files(dir.path()), ["View.HTML"]);
}

#[test]
fn a_refused_view_is_an_error_where_it_is_written_and_writes_nothing() {
    let mut s = scene();
    run(
        &mut s,
        "CREATE MAP bare WITH (resolution = 16, channels = 2)",
    );
    run(
        &mut s,
        "INSERT INTO bare (id, type, position, embedding) VALUES ('a', 'cube', [1, 2, 3], [0, 0])",
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v.html");
    let p = p.to_str().unwrap();
    for (sql, kind, at, message) in [
        (
            "RENDER SELECT * FROM scene TO 'P' WITH (effects = 'sparkle')",
            ErrorKind::InvalidValue,
            "effects =",
            "unknown effect 'sparkle' (known: liquid, none)",
        ),
        (
            "RENDER SELECT id, confidence AS c FROM scene TO 'P' WITH (glow = true, color_by = 'score')",
            ErrorKind::InvalidValue,
            "color_by =",
            "color_by: the result has no column 'score' (use type, confidence, distance, c)",
        ),
        (
            "RENDER SELECT id, type AS t FROM scene TO 'P' WITH (color_by = 't')",
            ErrorKind::InvalidValue,
            "color_by =",
            "color_by: column 't' is not numeric",
        ),
        (
            "RENDER SELECT * FROM scene TO 'P' WITH (slice = 'y', slice_at = 150)",
            ErrorKind::InvalidValue,
            "slice_at =",
            "slice_at = 150 is outside the field: y must be within [-100, 100]",
        ),
        (
            "RENDER SELECT * FROM bare TO 'P' WITH (slice = 'z')",
            ErrorKind::InvalidValue,
            "slice =",
            "slice: the map has no voxel field to slice",
        ),
        (
            "RENDER SELECT * FROM scene TO 'P' WITH (width = 800)",
            ErrorKind::InvalidValue,
            "width =",
            "unknown html render setting 'width'",
        ),
        (
            "RENDER SELECT * FROM scene TO 'P' WITH (point_budget = 10)",
            ErrorKind::InvalidValue,
            "point_budget =",
            "point_budget must be a whole number in [1000, 10000000], found 10",
        ),
        (
            "RENDER SELECT * FROM VOXELS(scene) TO 'P'",
            ErrorKind::Syntax,
            "VOXELS",
            "RENDER draws a map's objects",
        ),
        (
            "RENDER SELECT * FROM nowhere TO 'P'",
            ErrorKind::NotFound,
            "nowhere",
            "nowhere",
        ),
    ] {
        let sql = sql.replace("'P'", &format!("'{p}'"));
        let e = s.execute(&sql).unwrap_err();
        assert_eq!(e.kind, kind, "{sql}: {e}");
        let col = sql.find(at).unwrap() + 1;
        assert_eq!((e.pos.line, e.pos.col as usize), (1, col), "{sql}: {e}");
        assert!(e.message.contains(message), "{sql}: {e}");
        assert!(files(dir.path()).is_empty(), "{sql} left a file");
    }
    // A folder that does not exist: an I/O error, nothing written.
    let e = s
        .execute(&format!(
            "RENDER SELECT * FROM scene TO '{}/missing/v.html'",
            dir.path().display()
        ))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io, "{e}");
    assert!(files(dir.path()).is_empty());
}

#[test]
fn a_result_past_the_limit_suggests_limit_sample_or_the_served_viewer() {
    // One HTML file holds at most MAX_OBJECTS objects; the check is the render crate's
    // (a 1M-row map is too slow for a unit test), reached through the statement's path.
    let mut s = scene();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v.html");
    let e = s
        .execute(&format!(
            "RENDER SELECT * FROM scene TO '{}' WITH (sample = 0)",
            p.display()
        ))
        .unwrap_err();
    assert!(
        e.message
            .contains("sample must be a whole number in [1, 1000000]"),
        "{e}"
    );
    let scene = s.view_scene("SELECT * FROM scene").unwrap();
    let mut big = scene.clone();
    let n = tensormap_render::html::MAX_OBJECTS + 1;
    for i in 0..n - big.objects.len() {
        big.objects
            .push(format!("x{i}"), "cube", [0.0, 0.0, 0.0], 1.0);
    }
    let e = tensormap_query::render_html::document(
        &big,
        &HtmlOptions::default(),
        tensormap_query::Pos { line: 1, col: 1 },
        &|_| None,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit);
    assert!(
        e.message.contains(
            "add LIMIT, draw a sample (WITH (sample = N)), or open the map in the served viewer"
        ),
        "{e}"
    );
    assert!(files(dir.path()).is_empty());
}

#[test]
fn svg_learns_the_liquid_effect() {
    let mut s = scene();
    let plain = rows(&mut s, "RENDER SELECT * FROM scene LIMIT 20");
    let liquid = rows(
        &mut s,
        "RENDER SELECT * FROM scene LIMIT 20 WITH (effects = 'liquid')",
    );
    let (Value::Text(plain), Value::Text(liquid)) = (&plain[0][0], &liquid[0][0]) else {
        panic!()
    };
    assert!(!plain.contains("feTurbulence"));
    assert!(liquid.contains("<feTurbulence") && liquid.contains("<feDisplacementMap"));
    assert!(liquid.contains(r#"<animate attributeName="baseFrequency""#));
    let e = s
        .execute("RENDER SELECT * FROM scene WITH (effects = 'glitter')")
        .unwrap_err();
    assert_eq!((e.pos.line, e.pos.col), (1, 34));
    assert!(
        e.message
            .contains("unknown effect 'glitter' (known: liquid, wireframe, none)"),
        "{e}"
    );
}

/// A map's user columns show on hover in both outputs: the SVG's `<title>` lists them
/// under the id, the HTML view carries them as columns (once, beside the SELECT's own).
#[test]
fn the_tooltips_show_the_user_columns() {
    let mut s = Session::new(Database::open_in_memory().unwrap());
    run(
        &mut s,
        "CREATE MAP cars (label TEXT, speed REAL, ok BOOLEAN, seen_at TIMESTAMP, raw BLOB) \
           WITH (channels = 2, bounds = 100);
         INSERT INTO cars (id, type, position, embedding, label, speed, ok, seen_at, raw) VALUES
           ('c1', 'cube', [0, 0, 0], [1, 0], 'red <&>', 31.5, TRUE, '2026-05-01T12:30:00Z', '00ff'),
           ('c2', 'sphere', [20, 0, 0], [0, 1], NULL, NULL, NULL, NULL, NULL)",
    );
    let svg = rows(&mut s, "RENDER SELECT id FROM cars WHERE id = 'c1'");
    let Value::Text(svg) = &svg[0][0] else {
        panic!()
    };
    assert!(
        svg.contains(
            "<title>c1\nlabel: red &lt;&amp;&gt;\nspeed: 31.5\nok: true\n\
             seen_at: 2026-05-01 12:30:00\nraw: 00ff</title>"
        ),
        "{svg}"
    );
    let svg = rows(&mut s, "RENDER SELECT * FROM cars WHERE id = 'c2'");
    let Value::Text(svg) = &svg[0][0] else {
        panic!()
    };
    assert!(
        svg.contains(
            "<title>c2\nlabel: NULL\nspeed: NULL\nok: NULL\nseen_at: NULL\nraw: NULL</title>"
        ),
        "{svg}"
    );
    // A map without user columns: the id alone, as before.
    let mut plain = scene();
    let svg = rows(&mut plain, "RENDER SELECT * FROM scene WHERE id = 'o1'");
    let Value::Text(svg) = &svg[0][0] else {
        panic!()
    };
    assert!(svg.contains("<title>o1</title>"), "{svg}");

    // The view: the SELECT's columns first, then the user columns it does not name.
    let v = s
        .view_scene("SELECT id, speed * 2 AS label FROM cars ORDER BY id")
        .unwrap();
    let names: Vec<&str> = v.objects.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["label", "speed", "ok", "seen_at", "raw"]);
    let values: Vec<&ColumnValues> = v.objects.columns.iter().map(|c| &c.values).collect();
    match values[..] {
        [ColumnValues::Number(label), ColumnValues::Number(speed), ColumnValues::Number(ok), ColumnValues::Text(seen), ColumnValues::Text(raw)] =>
        {
            assert_eq!(label[0], 63.0);
            assert!(label[1].is_nan());
            assert_eq!(speed[0], 31.5);
            assert!(speed[1].is_nan());
            assert_eq!(ok[0], 1.0);
            assert_eq!(seen, &[Some("2026-05-01 12:30:00".to_string()), None]);
            assert_eq!(raw, &[Some("00ff".to_string()), None]);
        }
        _ => panic!("{values:?}"),
    }
    // The page written from it holds its data base64-encoded: no text of a value raw.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cars.html");
    run(
        &mut s,
        &format!("RENDER SELECT id FROM cars TO '{}'", path.display()),
    );
    let page = std::fs::read_to_string(&path).unwrap();
    assert!(!page.contains("red <&>"), "the label is not written raw");
}
