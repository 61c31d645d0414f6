//! SQL's three-valued logic (NULL is unknown), comparison of values, and the conversions
//! of an argument to the type an operator expects.

use std::cmp::Ordering;
use std::sync::Arc;

use tensormap_engine::Value;

use crate::error::{Error, Pos, Result};

/// SQL's truth value of `v`: `Some(bool)`, or `None` for NULL.
pub fn truth(v: &Value, pos: Pos, what: &str) -> Result<Option<bool>> {
    match v {
        Value::Bool(b) => Ok(Some(*b)),
        Value::Null => Ok(None),
        other => Err(Error::invalid(
            pos,
            format!("{what} expects a boolean, found a {}", other.type_name()),
        )),
    }
}

pub(super) fn bool_or_null(b: Option<bool>) -> Value {
    b.map_or(Value::Null, Value::Bool)
}

/// A vector argument.
pub fn as_vector(v: &Value, pos: Pos, what: &str) -> Result<Arc<[f32]>> {
    match v {
        Value::Vector(x) => Ok(x.clone()),
        other => Err(Error::invalid(
            pos,
            format!("{what} expects a vector, found a {}", other.type_name()),
        )),
    }
}

/// A number argument.
pub fn as_number(v: &Value, pos: Pos, what: &str) -> Result<f64> {
    match v {
        Value::Number(x) => Ok(*x),
        other => Err(Error::invalid(
            pos,
            format!("{what} expects a number, found a {}", other.type_name()),
        )),
    }
}

pub fn and3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

/// SQL's OR of truth values (NULL = unknown).
pub fn or3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

/// Compares two values for `=`, `<`, ...: `None` when either is null.
pub fn compare(a: &Value, b: &Value, pos: Pos) -> Result<Option<Ordering>> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => Ok(None),
        (Value::Number(x), Value::Number(y)) => Ok(x.partial_cmp(y)),
        (Value::Text(_), Value::Text(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Vector(_), Value::Vector(_)) => Ok(Some(a.total_cmp(b))),
        _ => Err(Error::invalid(
            pos,
            format!(
                "cannot compare a {} with a {}",
                a.type_name(),
                b.type_name()
            ),
        )),
    }
}
