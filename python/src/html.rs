//! `HTML`: the interactive view of a SELECT (`db.render(sql, format="html")`), a
//! self-contained page (WebGL, no network) shown inline by Jupyter through `_repr_html_`.

use pyo3::prelude::*;
use tensormap::render::html::iframe;

/// Height of the notebook's frame, CSS pixels.
const FRAME_HEIGHT: u32 = 520;

/// An interactive HTML view: `str(view)` or `.text` is the page; Jupyter and IPython show it
/// inline in a sandboxed `<iframe srcdoc>` (scripts allowed, nothing else), and `save`
/// writes the file that opens offline by double-click.
#[pyclass(module = "tensormap", name = "HTML", frozen)]
#[derive(Debug)]
pub struct Html {
    text: String,
    objects: usize,
}

impl Html {
    pub fn new(text: String, objects: usize) -> Self {
        Html { text, objects }
    }
}

#[pymethods]
impl Html {
    /// The page.
    #[getter]
    fn text(&self) -> &str {
        &self.text
    }

    /// The objects of the result (all of them, also when the page draws a sample).
    #[getter]
    fn count(&self) -> usize {
        self.objects
    }

    /// What Jupyter / IPython display: the page in a frame.
    fn _repr_html_(&self) -> String {
        iframe(&self.text, FRAME_HEIGHT)
    }

    /// Writes the page to `path` (UTF-8), through a temporary file beside it and a rename.
    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        py.detach(|| {
            tensormap::query::render_html::write_beside(&path, |out| {
                out.write_all(self.text.as_bytes())
            })
        })?;
        Ok(())
    }

    fn __str__(&self) -> &str {
        &self.text
    }

    /// Characters of the page, as `len(str(view))` counts them (its size in bytes is in
    /// the repr).
    fn __len__(&self) -> usize {
        self.text.chars().count()
    }

    fn __repr__(&self) -> String {
        format!(
            "<tensormap.HTML {} objects, {} bytes>",
            self.objects,
            self.text.len()
        )
    }
}
