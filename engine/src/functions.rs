//! User-defined scalar functions: registered on a `Database` by the embedding program (or by
//! a loaded model), callable by name from TensorQL.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::Value;

/// A scalar function: its arguments in, a value or an error message out.
pub type ScalarFn = Arc<dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync>;

/// A registered function and the number of arguments it takes.
#[derive(Clone)]
pub struct Function {
    /// Arguments it takes.
    pub arity: usize,
    /// The function.
    pub f: ScalarFn,
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Function({} arguments)", self.arity)
    }
}

/// Functions by lower-case name.
#[derive(Debug, Default)]
pub struct Registry {
    functions: RwLock<HashMap<String, Function>>,
}

impl Registry {
    /// Adds or replaces `name` (case-insensitive).
    pub fn register(&self, name: &str, arity: usize, f: ScalarFn) {
        self.functions
            .write()
            .insert(name.to_ascii_lowercase(), Function { arity, f });
    }

    /// The function `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<Function> {
        self.functions
            .read()
            .get(&name.to_ascii_lowercase())
            .cloned()
    }

    /// Removes `name`; true if it was registered.
    pub fn remove(&self, name: &str) -> bool {
        self.functions
            .write()
            .remove(&name.to_ascii_lowercase())
            .is_some()
    }
}
