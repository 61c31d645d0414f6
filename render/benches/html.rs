//! The HTML view's export: encoding a seeded scene of 10k, 100k and 1M objects (plus the
//! 64³ field) into a page in memory, and the page's size (printed once per size). The peer,
//! in the same run: the same objects as JSON rows (serde_json), what a page without typed
//! arrays would carry.
//!
//! Also the served viewer's encoders on a map of 1M objects (`served/...`).
//!
//! `cargo bench -p tensormap-render --bench html`
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tensormap_render::html::{HtmlDocument, HtmlOptions, ServedMap};

#[path = "../examples/support/scene.rs"]
#[allow(dead_code)]
mod scene;

fn export(c: &mut Criterion) {
    let mut g = c.benchmark_group("html_export");
    g.sample_size(10);
    for n in [10_000usize, 100_000, 1_000_000] {
        let s = scene::random_scene(n, 42);
        let opts = HtmlOptions::default();
        let doc = HtmlDocument::new(&s, &opts).expect("the scene is valid");
        eprintln!(
            "html_export/{n}: {} bytes ({:.1} bytes per object)",
            doc.len(),
            doc.len() as f64 / n as f64
        );
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &s, |b, s| {
            b.iter(|| {
                let doc = HtmlDocument::new(s, &opts).expect("the scene is valid");
                let mut out = Vec::with_capacity(doc.len() as usize);
                doc.write_to(&mut out).expect("writing to memory");
                out.len()
            })
        });
        let o = &s.objects;
        let rows = || {
            let mut out = Vec::with_capacity(n * 160);
            let (
                tensormap_render::html::ColumnValues::Number(score),
                tensormap_render::html::ColumnValues::Text(label),
            ) = (&o.columns[0].values, &o.columns[1].values)
            else {
                unreachable!("the scene's columns are score and label")
            };
            let rows: Vec<_> = (0..n)
                .map(|i| {
                    serde_json::json!({"id": o.ids[i], "type": o.kinds[i], "position": o.positions[i],
                        "confidence": o.confidence[i], "score": score[i], "label": label[i]})
                })
                .collect();
            serde_json::to_writer(&mut out, &rows).expect("writing to memory");
            out.len()
        };
        eprintln!("json_rows/{n}: {} bytes (objects only)", rows());
        g.bench_function(BenchmarkId::new("json_rows", n), |b| b.iter(rows));
    }
    g.finish();
}

/// The served viewer's side of a first view: indexing a map of 1M objects (once per
/// committed state), its meta, and the objects of the page's first requests: one cell's
/// first 256, and 250k objects spread over every cell (the most one request asks for).
fn served(c: &mut Criterion) {
    let mut g = c.benchmark_group("served");
    g.sample_size(10);
    let n = 1_000_000;
    let s = scene::random_scene(n, 42);
    g.bench_function(BenchmarkId::new("index", n), |b| {
        b.iter(|| ServedMap::new("demo", s.objects.clone(), s.field.as_ref(), 0).expect("valid"))
    });
    let map = ServedMap::new("demo", s.objects.clone(), s.field.as_ref(), 0).expect("valid");
    let meta: serde_json::Value = serde_json::from_str(map.meta_json()).expect("JSON");
    let cells = meta["cells"]["list"].as_array().expect("cells").clone();
    eprintln!(
        "served meta: {} bytes, {} cells",
        map.meta_json().len(),
        cells.len()
    );
    let one = format!(r#"{{"cells": [[{}, 0, 256]]}}"#, cells[0][0]);
    g.bench_function("cells_256", |b| {
        b.iter(|| map.cells(one.as_bytes()).expect("valid"))
    });
    let share = 250_000 / cells.len() + 1;
    let spread: Vec<String> = cells
        .iter()
        .map(|c| format!("[{}, 0, {share}]", c[0]))
        .collect();
    let spread = format!(r#"{{"cells": [{}]}}"#, spread.join(","));
    let bytes = map.cells(spread.as_bytes()).expect("valid").len();
    eprintln!("served cells_250k: {bytes} bytes");
    g.bench_function("cells_250k", |b| {
        b.iter(|| map.cells(spread.as_bytes()).expect("valid"))
    });
    g.finish();
}

criterion_group!(benches, export, served);
criterion_main!(benches);
