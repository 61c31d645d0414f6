//! The HTML document around the viewer: a content security policy that lets nothing leave
//! the page, the manifest, the data blocks and the bundle, all inline.

use std::io::{self, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::blocks::Block;

/// The viewer: three.js and the page's code, one minified script built by esbuild from
/// render/viewer/ (render/viewer/README.md says how to rebuild it).
pub const VIEWER_JS: &str = include_str!("../../assets/viewer.js");

/// Where the page may load from. A file: nothing at all (inline script and style, images
/// from data: and blob: that three.js makes itself). Served: its own origin too, for the
/// view's data routes and `/query`.
fn csp(served: bool) -> &'static str {
    if served {
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
         img-src data: blob:; connect-src 'self'"
    } else {
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
         img-src data: blob:"
    }
}

/// Text escaped for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn head(title: &str, served: bool) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\
         <meta name=\"generator\" content=\"tensormap\">\
         <title>{}</title></head>\n<body>\n",
        csp(served),
        escape(title)
    )
}

const BLOCK_OPEN_A: &str = "<script type=\"application/octet-stream\" id=\"tm-b";
const BLOCK_OPEN_B: &str = "\">";
const SCRIPT_CLOSE: &str = "</script>\n";
const MANIFEST_OPEN: &str = "<script type=\"application/json\" id=\"tm-manifest\">";
const NOSCRIPT: &str = "<noscript>This view needs JavaScript and WebGL.</noscript>\n";
const BUNDLE_OPEN: &str = "<script>";
const TAIL: &str = "</body></html>\n";

/// The bytes [`write_document`] writes for these parts.
pub fn document_len(title: &str, manifest: &str, blocks: &[Block], served: bool) -> u64 {
    let mut n = head(title, served).len() + NOSCRIPT.len();
    n += MANIFEST_OPEN.len() + manifest.len() + SCRIPT_CLOSE.len();
    let mut total = n as u64;
    for (k, b) in blocks.iter().enumerate() {
        let fixed = BLOCK_OPEN_A.len() + k.to_string().len() + BLOCK_OPEN_B.len();
        total += (fixed + SCRIPT_CLOSE.len()) as u64 + base64_len(b.bytes.len());
    }
    total + (BUNDLE_OPEN.len() + VIEWER_JS.len() + SCRIPT_CLOSE.len() + TAIL.len()) as u64
}

fn base64_len(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(3) * 4
}

/// Writes the page: head, manifest, blocks (base64), then the viewer, which runs last and
/// so finds everything above it.
pub fn write_document(
    out: &mut dyn Write,
    title: &str,
    manifest: &str,
    blocks: &[Block],
    served: bool,
) -> io::Result<()> {
    out.write_all(head(title, served).as_bytes())?;
    out.write_all(NOSCRIPT.as_bytes())?;
    out.write_all(MANIFEST_OPEN.as_bytes())?;
    out.write_all(manifest.as_bytes())?;
    out.write_all(SCRIPT_CLOSE.as_bytes())?;
    // Encoded in slices of whole 3-byte groups, so one buffer of bounded size serves every
    // block (a block may be tens of megabytes).
    let mut text = String::new();
    for (k, b) in blocks.iter().enumerate() {
        write!(out, "{BLOCK_OPEN_A}{k}{BLOCK_OPEN_B}")?;
        for chunk in b.bytes.chunks(3 << 16) {
            text.clear();
            STANDARD.encode_string(chunk, &mut text);
            out.write_all(text.as_bytes())?;
        }
        out.write_all(SCRIPT_CLOSE.as_bytes())?;
    }
    out.write_all(BUNDLE_OPEN.as_bytes())?;
    out.write_all(VIEWER_JS.as_bytes())?;
    out.write_all(SCRIPT_CLOSE.as_bytes())?;
    out.write_all(TAIL.as_bytes())?;
    Ok(())
}

/// A page inside an `<iframe srcdoc>`, for notebooks (a `_repr_html_`): the document as an
/// escaped attribute value, `height` CSS pixels tall, full width.
pub fn iframe(page: &str, height: u32) -> String {
    format!(
        "<iframe srcdoc=\"{}\" style=\"width: 100%; height: {height}px; border: 0\" \
         sandbox=\"allow-scripts\" title=\"tensormap view\"></iframe>",
        escape(page)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::blocks::Dtype;

    #[test]
    fn the_bundle_cannot_close_its_script_element() {
        let lower = VIEWER_JS.to_ascii_lowercase();
        assert!(
            !lower.contains("</script"),
            "the bundle would end its <script> early"
        );
        assert!(
            !lower.contains("<!--"),
            "<!-- inside a script changes how it is parsed"
        );
        assert!(
            VIEWER_JS.len() > 100_000,
            "the committed bundle is missing or empty"
        );
    }

    #[test]
    fn the_length_is_known_before_writing() {
        let blocks: Vec<Block> = (0..12)
            .map(|k| Block {
                dtype: Dtype::U8,
                bytes: vec![7; k * 100_001],
            })
            .collect();
        let mut out = Vec::new();
        write_document(&mut out, "a <b>", "{}", &blocks, false).unwrap();
        assert_eq!(
            out.len() as u64,
            document_len("a <b>", "{}", &blocks, false)
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("<title>a &lt;b&gt;</title>"));
        assert!(text.contains("default-src 'none'"));
        assert!(!text.contains("connect-src"));
        let frame = iframe(&text, 480);
        assert!(frame.starts_with("<iframe srcdoc=\"&lt;!DOCTYPE html&gt;"));
        let value = escape(&text);
        assert_eq!(
            frame[16..].find('"'),
            Some(value.len()),
            "the page stays inside the attribute"
        );
    }
}
