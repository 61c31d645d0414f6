//! `?` parameters: the count checked against the values given, and each `?` replaced by
//! the value it stands for before the statement runs.

use tensormap_engine::Value;

use crate::ast::ExprKind;
use crate::error::{Error, Pos, Result};
use crate::parser::Parsed;

/// Checks that `given` values match the `?` of the whole script; the error names the
/// first `?` without a value (or the last statement when there are too many values).
pub(super) fn check_count(parsed: &[Parsed], given: usize) -> Result<()> {
    let total: usize = parsed.iter().map(|p| p.params).sum();
    if total == given {
        return Ok(());
    }
    let mut parsed = parsed.to_vec();
    let at = first_param_pos(&mut parsed, given)
        .or_else(|| parsed.last().map(|p| p.pos))
        .unwrap_or(Pos { line: 1, col: 1 });
    Err(Error::invalid(
        at,
        format!(
            "the statement has {total} parameter{}, {given} value{} given",
            if total == 1 { "" } else { "s" },
            if given == 1 { "" } else { "s" }
        ),
    ))
}

/// The error of a statement run with `?` parameters that were not bound.
pub(super) fn unbound(p: &Parsed) -> Error {
    let mut copy = [p.clone()];
    let at = first_param_pos(&mut copy, 0).unwrap_or(p.pos);
    Error::invalid(
        at,
        format!(
            "the statement has {} parameter{}, 0 values given",
            p.params,
            if p.params == 1 { "" } else { "s" }
        ),
    )
}

/// The position of the first `?` that has no value among `given`, if any.
fn first_param_pos(parsed: &mut [Parsed], given: usize) -> Option<Pos> {
    let mut found = None;
    for p in parsed.iter_mut() {
        for e in p.statement.exprs_mut() {
            e.rewrite(&mut |x| {
                if let ExprKind::Param(i) = x.kind {
                    if i >= given && found.is_none() {
                        found = Some(x.pos);
                    }
                }
                true
            });
        }
    }
    found
}

/// Replaces the `?` parameters of `p` by the values they stand for.
pub(super) fn bind(p: &mut Parsed, params: &[Value]) {
    if p.params == 0 {
        return;
    }
    p.params = 0;
    for e in p.statement.exprs_mut() {
        e.rewrite(&mut |x| {
            if let ExprKind::Param(i) = x.kind {
                if let Some(v) = params.get(i) {
                    x.kind = match v {
                        Value::Null => ExprKind::Null,
                        Value::Bool(b) => ExprKind::Bool(*b),
                        Value::Number(n) => ExprKind::Number(*n),
                        Value::Text(s) => ExprKind::Str(s.to_string()),
                        Value::Vector(v) => ExprKind::Numbers(v.clone()),
                    };
                }
                return false;
            }
            true
        });
    }
}
