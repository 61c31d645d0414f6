//! The HTML view's export: encoding a seeded scene of 10k, 100k and 1M objects (plus the
//! 64³ field) into a page in memory, and the page's size (printed once per size).
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
    }
    g.finish();
}

criterion_group!(benches, export);
criterion_main!(benches);
