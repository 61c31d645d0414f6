//! The conversion behind `db.insert`: a list of ids read from Python in one pass, and the
//! engine's `Object`s built from it and the arrays with the GIL released.
//!
//! Reading a `str` under the stable ABI for Python 3.9 makes a `bytes` object per string
//! (there is no borrowed UTF-8 view before 3.10), so a list of ids is joined by `"\0"` and
//! encoded once by Python's own C loops, and split here. An id holding a NUL, an item that
//! is not a `str`, or a text that does not encode takes the item-by-item path, which
//! reports the error.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};
use tensormap::Object;

use crate::convert::type_name;

/// A sequence of str, read: `get(i)` is the i-th.
#[derive(Debug)]
pub enum Strs {
    /// The items joined by NUL; item `i` is `text[starts[i]..starts[i + 1] - 1]` (the last
    /// ends at `text.len()`: no NUL after it).
    Joined { text: String, starts: Vec<usize> },
    /// One String per item.
    Owned(Vec<String>),
}

impl Strs {
    pub fn len(&self) -> usize {
        match self {
            Strs::Joined { starts, .. } => starts.len(),
            Strs::Owned(v) => v.len(),
        }
    }

    /// Item `i` (`i < len()`).
    pub fn get(&self, i: usize) -> &str {
        match self {
            Strs::Joined { text, starts, .. } => {
                let end = starts.get(i + 1).map_or(text.len(), |s| s - 1);
                text.get(starts[i]..end).unwrap_or("")
            }
            Strs::Owned(v) => &v[i],
        }
    }

    /// The items as Strings.
    pub fn into_strings(self) -> Vec<String> {
        match self {
            Strs::Owned(v) => v,
            joined => (0..joined.len())
                .map(|i| joined.get(i).to_string())
                .collect(),
        }
    }
}

/// `obj`, a sequence of str (`what` names it in errors).
pub fn strs(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Strs> {
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a sequence of str, found a single str"
        )));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        if let Some(joined) = joined(list) {
            return Ok(joined);
        }
    }
    item_by_item(obj, what).map(Strs::Owned)
}

/// A list of str as one buffer, or None where it is not simply that (see the header).
fn joined(list: &Bound<'_, PyList>) -> Option<Strs> {
    let n = list.len();
    if n == 0 {
        return None;
    }
    let py = list.py();
    let bytes = PyString::new(py, "\0")
        .call_method1("join", (list,))
        .and_then(|s| s.call_method1("encode", ("utf-8",)))
        .ok()?
        .cast_into::<PyBytes>()
        .ok()?;
    // One copy out of Python's buffer, so the ids can go to other threads.
    let text = std::str::from_utf8(bytes.as_bytes()).ok()?.to_string();
    let mut starts = Vec::with_capacity(n);
    starts.push(0);
    starts.extend(
        text.bytes()
            .enumerate()
            .filter(|(_, b)| *b == 0)
            .map(|(i, _)| i + 1),
    );
    // More NULs than separators: an id holds one.
    (starts.len() == n).then_some(Strs::Joined { text, starts })
}

/// Each item read on its own (any iterable; a list's items in place).
fn item_by_item(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<String>> {
    let bad = || {
        PyTypeError::new_err(format!(
            "{what} must be a sequence of str, found {}",
            type_name(obj)
        ))
    };
    if let Ok(list) = obj.cast::<PyList>() {
        let mut out = Vec::with_capacity(list.len());
        for item in list.iter() {
            let s = item.cast::<PyString>().map_err(|_| bad())?;
            out.push(s.to_cow()?.into_owned());
        }
        return Ok(out);
    }
    obj.extract::<Vec<String>>().map_err(|_| bad())
}

/// The columns of a bulk insert, checked for length: `n` ids, one kind or `n`, positions
/// `n × 3`, embeddings `n × width`, one confidence or `n`.
pub struct Columns<'a> {
    pub ids: &'a Strs,
    pub kinds: &'a Strs,
    pub positions: &'a [f32],
    pub embeddings: &'a [f32],
    pub width: usize,
    pub confidences: &'a [f32],
}

impl Columns<'_> {
    fn object(&self, i: usize) -> Object {
        let one = |len: usize| if len == 1 { 0 } else { i };
        let (p, w) = (self.positions, self.width);
        Object {
            id: self.ids.get(i).to_string(),
            kind: self.kinds.get(one(self.kinds.len())).to_string(),
            position: [p[3 * i], p[3 * i + 1], p[3 * i + 2]],
            embedding: self.embeddings[i * w..(i + 1) * w].to_vec(),
            confidence: self.confidences[one(self.confidences.len())],
        }
    }

    /// Every row as an `Object`, in order. (On the calling thread: objects built on other
    /// threads come from their malloc arenas, whose pages the engine's staging and segment
    /// build then cannot reuse once the objects are dropped — measured slower, not faster.)
    pub fn objects(&self) -> Vec<Object> {
        (0..self.ids.len()).map(|i| self.object(i)).collect()
    }
}
