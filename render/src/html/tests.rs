//! The HTML view read back: the page's blocks decoded as the viewer decodes them must give
//! the scene's objects and field; samples, determinism and every refusal.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use super::*;

#[path = "../../examples/support/scene.rs"]
#[allow(dead_code)]
mod scene;

/// The manifest and the decoded blocks of a page.
struct Page {
    manifest: Value,
    blocks: Vec<Vec<u8>>,
}

fn element<'a>(html: &'a str, open: &str) -> &'a str {
    let start = html.find(open).unwrap_or_else(|| panic!("no {open}")) + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    &html[start..end]
}

fn read(html: &str) -> Page {
    let manifest = element(html, r#"<script type="application/json" id="tm-manifest">"#);
    let manifest: Value = serde_json::from_str(manifest).unwrap();
    let mut blocks = Vec::new();
    while let Some(at) = html.find(&format!(r#"id="tm-b{}">"#, blocks.len())) {
        let text = element(&html[at..], "\">");
        blocks.push(STANDARD.decode(text).unwrap());
    }
    Page { manifest, blocks }
}

impl Page {
    fn bytes(&self, r: &Value) -> &[u8] {
        &self.blocks[r["block"].as_u64().unwrap() as usize]
    }
    fn f32s(&self, r: &Value) -> Vec<f32> {
        assert_eq!(r["type"], "f32");
        let b = self.bytes(r);
        assert_eq!(b.len(), 4 * r["len"].as_u64().unwrap() as usize);
        b.chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }
    fn f64s(&self, r: &Value) -> Vec<f64> {
        match r["type"].as_str().unwrap() {
            "f32" => self.f32s(r).into_iter().map(f64::from).collect(),
            "f64" => self
                .bytes(r)
                .chunks(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            t => panic!("{t}"),
        }
    }
    fn uints(&self, r: &Value) -> Vec<u32> {
        let b = self.bytes(r);
        match r["type"].as_str().unwrap() {
            "u8" => b.iter().map(|&v| v as u32).collect(),
            "u16" => b
                .chunks(2)
                .map(|c| u16::from_le_bytes(c.try_into().unwrap()) as u32)
                .collect(),
            "u32" => b
                .chunks(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            t => panic!("{t}"),
        }
    }
    fn strings(&self, r: &Value) -> Vec<String> {
        let ends = self.uints(&r["ends"]);
        let bytes = self.bytes(&r["bytes"]);
        let mut start = 0;
        ends.iter()
            .map(|&e| {
                let s = String::from_utf8(bytes[start..e as usize].to_vec()).unwrap();
                start = e as usize;
                s
            })
            .collect()
    }
}

fn doc(scene: &ViewScene, o: &HtmlOptions) -> (String, Page) {
    let html = HtmlDocument::new(scene, o).unwrap().to_string();
    let page = read(&html);
    (html, page)
}

#[test]
fn objects_read_back_by_id_in_cell_order() {
    let mut s = scene::random_scene(3000, 7);
    s.objects.ids[5] = "ünï</script>\"'&".into();
    s.objects.confidence[6] = f32::NAN;
    if let ColumnValues::Number(v) = &mut s.objects.columns[0].values {
        v[7] = f64::NAN;
    }
    let (html, p) = doc(&s, &HtmlOptions::default());
    let m = &p.manifest;
    assert_eq!(
        (m["format"].as_str(), m["version"].as_u64()),
        (Some(FORMAT), Some(1))
    );
    assert_eq!(
        (m["count"].as_u64(), m["drawn"].as_u64()),
        (Some(3000), Some(3000))
    );
    assert_eq!(m["sampled"], false);
    let o = &m["objects"];
    let ids = p.strings(&o["ids"]);
    let pos = p.f32s(&o["positions"]);
    let conf = p.f32s(&o["confidence"]);
    let names: Vec<String> = serde_json::from_value(o["types"]["names"].clone()).unwrap();
    let codes = p.uints(&o["types"]["codes"]);
    let score = p.f64s(&o["columns"][0]["values"]);
    assert_eq!(o["columns"][0]["name"], "score");
    assert_eq!(
        o["columns"][0]["values"]["type"], "f64",
        "computed values stay f64"
    );
    let label = p.strings(&o["columns"][1]);
    let nulls = p.uints(&o["columns"][1]["nulls"]);
    let by_id: HashMap<&str, usize> = s
        .objects
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    assert_eq!(ids.len(), 3000);
    for (k, id) in ids.iter().enumerate() {
        let i = by_id[id.as_str()];
        assert_eq!(&pos[3 * k..3 * k + 3], &s.objects.positions[i]);
        assert_eq!(conf[k].to_bits(), s.objects.confidence[i].to_bits());
        assert_eq!(names[codes[k] as usize], s.objects.kinds[i]);
        let ColumnValues::Number(sv) = &s.objects.columns[0].values else {
            unreachable!()
        };
        assert_eq!(score[k].to_bits(), sv[i].to_bits());
        let ColumnValues::Text(lv) = &s.objects.columns[1].values else {
            unreachable!()
        };
        assert_eq!(nulls[k] == 1, lv[i].is_none());
        assert_eq!(label[k], lv[i].clone().unwrap_or_default());
    }
    // The cells partition the objects, in order, and each object lies in its cell.
    let c = &m["cells"];
    let (codes, counts) = (p.uints(&c["codes"]), p.uints(&c["counts"]));
    assert_eq!(counts.iter().sum::<u32>(), 3000);
    assert!(codes.windows(2).all(|w| w[0] < w[1]));
    let ix = CellIndex {
        origin: serde_json::from_value(c["origin"].clone()).unwrap(),
        size: c["size"].as_f64().unwrap(),
        depth: c["depth"].as_u64().unwrap() as u32,
        order: vec![],
        cells: vec![],
    };
    let mut k = 0;
    for (&code, &n) in codes.iter().zip(&counts) {
        let (lo, hi) = ix.cell_box(code);
        for _ in 0..n {
            for a in 0..3 {
                let v = pos[3 * k + a] as f64;
                assert!(lo[a] - 1e-6 <= v && v <= hi[a] + 1e-6);
            }
            k += 1;
        }
    }
    // Nothing in the page can end a script element early.
    assert!(html.contains(r#"ünï\u003c/script>"#) || !html.contains("ünï</script>"));
    assert_eq!(html.matches("</script>").count(), 2 + p.blocks.len());
}

#[test]
fn the_field_is_pooled_and_options_reach_the_page() {
    let s = scene::random_scene(500, 2);
    let o = HtmlOptions {
        field_resolution: 32,
        color_by: ColorBy::parse("score"),
        liquid: true,
        slice: SliceChoice::Axis(Axis::X),
        slice_at: Some(120.0),
        ..HtmlOptions::default()
    };
    let (_, p) = doc(&s, &o);
    let f = &p.manifest["field"];
    assert_eq!(
        (f["resolution"].as_u64(), f["sourceResolution"].as_u64()),
        (Some(32), Some(64))
    );
    let pooled = PageField::new(s.field.as_ref().unwrap(), 32);
    let scale = f["normScale"].as_f64().unwrap();
    let norms = p.uints(&f["norms"]);
    assert_eq!(norms.len(), pooled.norms.len());
    for (q, v) in norms.iter().zip(&pooled.norms) {
        // Half a unit, and f32's rounding of the division.
        assert!((*q as f64 * scale - *v as f64).abs() <= 0.51 * scale);
        assert!(*v != 0.0 || *q == 0, "zero reads back as zero");
    }
    let coords: Vec<u32> = pooled.coords.iter().flatten().copied().collect();
    assert_eq!(p.uints(&f["coords"]), coords);
    let opts = &p.manifest["options"];
    assert_eq!(
        (opts["colorBy"].as_str(), opts["colorColumn"].as_str()),
        (Some("column"), Some("score"))
    );
    assert_eq!(opts["liquid"], true);
    assert_eq!(opts["slice"], serde_json::json!({"axis": "x", "at": 120.0}));
    // `distance` picks the SELECT's own distance column when there is one.
    let mut d = s.clone();
    d.objects.columns[0].name = "distance".into();
    let (_, p) = doc(
        &d,
        &HtmlOptions {
            color_by: ColorBy::Distance,
            ..HtmlOptions::default()
        },
    );
    assert_eq!(p.manifest["options"]["colorColumn"], "distance");
    let (_, p) = doc(
        &s,
        &HtmlOptions {
            color_by: ColorBy::Distance,
            ..HtmlOptions::default()
        },
    );
    assert_eq!(p.manifest["options"]["colorBy"], "distance");
    // No field: no slice, field null.
    let mut nf = s.clone();
    nf.field = None;
    let (_, p) = doc(&nf, &HtmlOptions::default());
    assert!(p.manifest["field"].is_null() && p.manifest["options"]["slice"].is_null());
}

#[test]
fn a_sample_keeps_every_cell_in_proportion_and_says_so() {
    let s = scene::random_scene(10_000, 3);
    let (_, full) = doc(&s, &HtmlOptions::default());
    let (_, p) = doc(
        &s,
        &HtmlOptions {
            sample: Some(1000),
            ..HtmlOptions::default()
        },
    );
    let m = &p.manifest;
    assert_eq!(
        (m["count"].as_u64(), m["drawn"].as_u64()),
        (Some(10_000), Some(1000))
    );
    assert_eq!(m["sampled"], true);
    let full_counts: HashMap<u32, u32> = full
        .uints(&full.manifest["cells"]["codes"])
        .into_iter()
        .zip(full.uints(&full.manifest["cells"]["counts"]))
        .collect();
    let codes = p.uints(&m["cells"]["codes"]);
    let counts = p.uints(&m["cells"]["counts"]);
    assert_eq!(counts.iter().sum::<u32>(), 1000);
    for (c, n) in codes.iter().zip(&counts) {
        let exact = full_counts[c] as f64 / 10.0;
        assert!((*n as f64 - exact).abs() < 1.0 + 1e-9);
    }
    // The sample is each cell's prefix: its ids are among the full file's first ids per cell.
    let ids = p.strings(&m["objects"]["ids"]);
    assert_eq!(ids.len(), 1000);
    assert_eq!(
        ids.iter().collect::<std::collections::HashSet<_>>().len(),
        1000
    );
}

#[test]
fn same_scene_same_bytes_whatever_the_row_order() {
    let s = scene::random_scene(2000, 9);
    let a = HtmlDocument::new(&s, &HtmlOptions::default())
        .unwrap()
        .to_string();
    let mut r = s.clone();
    let rev = |o: &mut ViewObjects| {
        o.ids.reverse();
        o.kinds.reverse();
        o.positions.reverse();
        o.confidence.reverse();
        for c in &mut o.columns {
            match &mut c.values {
                ColumnValues::Number(v) => v.reverse(),
                ColumnValues::Text(v) => v.reverse(),
            }
        }
    };
    rev(&mut r.objects);
    let b = HtmlDocument::new(&r, &HtmlOptions::default())
        .unwrap()
        .to_string();
    assert!(a == b, "the page depends on the order of the rows");
}

#[test]
fn refusals_are_clear_and_write_nothing() {
    let s = scene::random_scene(100, 1);
    let refuse = |s: &ViewScene, o: &HtmlOptions| {
        let mut out = Vec::new();
        let e = write_html(&mut out, s, o).unwrap_err();
        assert!(out.is_empty(), "bytes written before the error");
        e.to_string()
    };
    assert!(refuse(
        &s,
        &HtmlOptions {
            color_by: ColorBy::parse("nope"),
            ..HtmlOptions::default()
        }
    )
    .contains("no column 'nope'"));
    assert!(refuse(
        &s,
        &HtmlOptions {
            slice_at: Some(501.0),
            ..HtmlOptions::default()
        }
    )
    .contains("outside the field"));
    let mut bad = s.clone();
    bad.objects.positions[3] = [0.0, f32::INFINITY, 0.0];
    assert!(refuse(&bad, &HtmlOptions::default()).contains("object 'obj-3'"));
    let mut bad = s.clone();
    bad.objects.confidence.pop();
    assert!(refuse(&bad, &HtmlOptions::default()).contains("100 ids but"));
    let mut bad = s.clone();
    bad.field.as_mut().unwrap().bricks[0].norms[0] = -1.0;
    assert!(refuse(&bad, &HtmlOptions::default()).contains("not a finite number ≥ 0"));

    // Past the file size limit (the real one is 256 MiB: the same check, at a smaller size).
    let e = HtmlDocument::with_limit(&s, &HtmlOptions::default(), 50_000).unwrap_err();
    assert!(
        matches!(e, HtmlError::FileTooLarge { limit: 50_000, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("served viewer"));

    // Past MAX_OBJECTS: refused, unless sampled.
    let mut big = ViewObjects::default();
    for i in 0..=MAX_OBJECTS {
        big.push(
            i.to_string(),
            "p",
            [(i % 1000) as f32, (i / 1000) as f32, 0.0],
            1.0,
        );
    }
    let big = ViewScene {
        map: "m".into(),
        objects: big,
        field: None,
    };
    let e = refuse(&big, &HtmlOptions::default());
    assert!(
        e.contains("1000001 objects, more than the 1000000") && e.contains("LIMIT"),
        "{e}"
    );
    let d = HtmlDocument::new(
        &big,
        &HtmlOptions {
            sample: Some(5000),
            ..HtmlOptions::default()
        },
    )
    .unwrap();
    let m: Value = serde_json::from_str(d.manifest()).unwrap();
    assert_eq!(
        (m["count"].as_u64(), m["drawn"].as_u64()),
        (Some(1_000_001), Some(5000))
    );
}

#[test]
fn an_empty_result_is_a_page_too() {
    let s = ViewScene {
        map: "m".into(),
        ..ViewScene::default()
    };
    let (_, p) = doc(&s, &HtmlOptions::default());
    assert_eq!(p.manifest["count"], 0);
    assert!(p.manifest["bbox"].is_null());
}
