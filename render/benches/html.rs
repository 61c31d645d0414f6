//! The HTML view's export: encoding a seeded scene of 10k, 100k and 1M objects (plus the
//! 64³ field) into a page in memory, and the page's size (printed once per size). The peer,
//! in the same run: the same objects as JSON rows (serde_json), what a page without typed
//! arrays would carry.
//!
//! `cargo bench -p tensormap-render --bench html`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tensormap_render::html::{HtmlDocument, HtmlOptions};

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

criterion_group!(benches, export);
criterion_main!(benches);
