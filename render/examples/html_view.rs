//! Writes the HTML view of a seeded random scene (objects in clusters and a 64³ field), for
//! the browser checks (scripts/check-browser.py) and for trying the viewer by hand:
//!
//! ```text
//! cargo run -p tensormap-render --example html_view -- OUT.html N [--seed S]
//!     [--objects OUT.json] [key=value ...]
//! ```
//!
//! `key=value` are the HTML view's options (`color_by=score`, `effects=liquid`,
//! `sample=1000`, `slice=x`, `slice_at=-40`, ...): numbers, `true`/`false`, `[x,y,z]`, or
//! text. `--objects` also writes `{"count", "objects": [{"id", "position"}, ...]}` (at most
//! 5000 objects, evenly spread) so a check can find objects on the screen.

use std::io::Write;
use std::time::Instant;

use tensormap_render::html::{HtmlDocument, HtmlOptions, OptionValue};

#[path = "support/scene.rs"]
mod scene;

fn value(text: &str) -> OptionValue {
    if let Ok(n) = text.parse::<f64>() {
        return OptionValue::Number(n);
    }
    match text {
        "true" => return OptionValue::Bool(true),
        "false" => return OptionValue::Bool(false),
        _ => {}
    }
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        let parts: Result<Vec<f64>, _> = inner.split(',').map(|p| p.trim().parse()).collect();
        if let Ok(v) = parts {
            return OptionValue::Vector(v);
        }
    }
    OptionValue::Text(text.to_string())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: html_view OUT.html N [--seed S] [--objects OUT.json] [key=value ...]";
    let out = args.next().ok_or(usage)?;
    let n: usize = args.next().ok_or(usage)?.parse()?;
    let (mut seed, mut objects_json, mut options) = (42u64, None, HtmlOptions::default());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seed" => seed = args.next().ok_or(usage)?.parse()?,
            "--objects" => objects_json = Some(args.next().ok_or(usage)?),
            kv => {
                let (k, v) = kv.split_once('=').ok_or(usage)?;
                options.apply(k, &value(v))?;
            }
        }
    }
    let t = Instant::now();
    let s = scene::random_scene(n, seed);
    let made = t.elapsed();
    let t = Instant::now();
    let doc = HtmlDocument::new(&s, &options)?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(&out)?);
    doc.write_to(&mut file)?;
    file.flush()?;
    eprintln!(
        "wrote {out}: {n} objects, {} bytes, export {:.0} ms (scene {:.0} ms)",
        doc.len(),
        t.elapsed().as_secs_f64() * 1e3,
        made.as_secs_f64() * 1e3
    );
    if let Some(path) = objects_json {
        let step = n.div_ceil(5000).max(1);
        let list: Vec<_> = (0..n)
            .step_by(step)
            .map(
                |i| serde_json::json!({"id": s.objects.ids[i], "position": s.objects.positions[i]}),
            )
            .collect();
        let j = serde_json::json!({"count": n, "objects": list});
        std::fs::write(path, j.to_string())?;
    }
    Ok(())
}
