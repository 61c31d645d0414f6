//! `SVG`: a rendered view, shown inline by Jupyter through `_repr_svg_`.

use pyo3::prelude::*;

/// An SVG image (`db.render(...)`): `str(svg)` or `.text` is the document; Jupyter and
/// IPython display it inline.
#[pyclass(module = "tensormap", name = "SVG", frozen)]
#[derive(Debug)]
pub struct Svg {
    text: String,
}

impl Svg {
    pub fn new(text: String) -> Self {
        Svg { text }
    }
}

#[pymethods]
impl Svg {
    /// Wraps SVG text.
    #[new]
    fn py_new(text: String) -> Self {
        Svg { text }
    }

    /// The SVG document.
    #[getter]
    fn text(&self) -> &str {
        &self.text
    }

    /// What Jupyter / IPython display.
    fn _repr_svg_(&self) -> &str {
        &self.text
    }

    /// Writes the document to `path` (UTF-8).
    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        py.detach(|| std::fs::write(&path, self.text.as_bytes()))?;
        Ok(())
    }

    fn __str__(&self) -> &str {
        &self.text
    }

    fn __len__(&self) -> usize {
        self.text.len()
    }

    fn __repr__(&self) -> String {
        format!("<tensormap.SVG {} bytes>", self.text.len())
    }
}
