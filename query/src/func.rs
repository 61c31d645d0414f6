//! The built-in scalar functions, arithmetic, `LIKE` and `CAST`, each as SQLite does them
//! where TensorQL has the same types (a NULL argument gives NULL unless said otherwise).

use std::ops::RangeInclusive;
use std::sync::Arc;

use tensormap_engine::{format_number, Value};

use crate::ast::{BinOp, CastType, Expr};
use crate::error::{Error, Pos, Result};
use crate::eval::{as_number, as_vector};

/// Built-in scalar functions and how many arguments each takes.
const BUILTINS: [(&str, usize, usize); 15] = [
    ("distance", 2, 2),
    ("within", 3, 3),
    ("attention", 1, 1),
    ("cosine", 2, 2),
    ("norm", 1, 1),
    ("abs", 1, 1),
    ("sqrt", 1, 1),
    ("round", 1, 2),
    ("lower", 1, 1),
    ("upper", 1, 1),
    ("length", 1, 1),
    ("substr", 2, 3),
    ("coalesce", 1, 64),
    ("ifnull", 2, 2),
    ("nullif", 2, 2),
];

/// How many arguments the built-in `name` takes, if it is one.
pub fn arity(name: &str) -> Option<RangeInclusive<usize>> {
    BUILTINS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, lo, hi)| *lo..=*hi)
}

/// `2`, or `1 or 2`, or `1 to 64`.
pub fn arity_text(r: &RangeInclusive<usize>) -> String {
    match r.end() - r.start() {
        0 => r.start().to_string(),
        1 => format!("{} or {}", r.start(), r.end()),
        _ => format!("{} to {}", r.start(), r.end()),
    }
}

/// The L2 norm of an f32 vector, in f64.
pub fn norm(v: &[f32]) -> f64 {
    v.iter()
        .map(|x| (*x as f64) * (*x as f64))
        .sum::<f64>()
        .sqrt()
}

/// Squared distance in f32, computed exactly as the R-tree computes it.
pub fn dist2(a: [f32; 3], b: [f32; 3]) -> f32 {
    let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
}

/// A 3-vector argument.
pub fn point(v: &Value, pos: Pos, what: &str) -> Result<[f32; 3]> {
    let x = as_vector(v, pos, what)?;
    <[f32; 3]>::try_from(&x[..]).map_err(|_| {
        Error::invalid(
            pos,
            format!("{what} expects a 3-vector, found {} values", x.len()),
        )
    })
}

/// A WITHIN radius: a finite number ≥ 0.
pub fn radius(v: &Value, pos: Pos) -> Result<f32> {
    let r = as_number(v, pos, "WITHIN")? as f32;
    if r.is_finite() && r >= 0.0 {
        Ok(r)
    } else {
        Err(Error::invalid(
            pos,
            format!("WITHIN radius must be a finite number >= 0, found {r}"),
        ))
    }
}

/// Text of a value as `||`, LIKE and the text functions see it.
fn text_of(v: &Value) -> Arc<str> {
    match v {
        Value::Text(s) => s.clone(),
        other => Arc::from(other.to_string()),
    }
}

/// Calls the built-in `name` on `vals`; `None` if there is no such built-in.
pub fn builtin(name: &str, vals: &[Value], pos: Pos, args: &[Expr]) -> Option<Result<Value>> {
    let range = arity(name)?;
    Some(call(name, vals, pos, args, range))
}

fn call(
    name: &str,
    vals: &[Value],
    pos: Pos,
    args: &[Expr],
    range: RangeInclusive<usize>,
) -> Result<Value> {
    let arg_pos = |i: usize| args.get(i).map_or(pos, |a| a.pos);
    let upper = name.to_ascii_uppercase();
    if !range.contains(&vals.len()) {
        return Err(Error::syntax(
            pos,
            format!(
                "{upper} takes {} arguments, found {}",
                arity_text(&range),
                vals.len()
            ),
        ));
    }
    match name {
        "coalesce" => {
            return Ok(vals
                .iter()
                .find(|v| **v != Value::Null)
                .cloned()
                .unwrap_or(Value::Null))
        }
        "ifnull" => {
            return Ok(if vals[0] == Value::Null {
                vals[1].clone()
            } else {
                vals[0].clone()
            })
        }
        "nullif" => {
            let same =
                crate::eval::compare(&vals[0], &vals[1], pos)? == Some(std::cmp::Ordering::Equal);
            return Ok(if same { Value::Null } else { vals[0].clone() });
        }
        _ => {}
    }
    if vals.contains(&Value::Null) {
        return Ok(Value::Null);
    }
    Ok(match name {
        "distance" => {
            let a = point(&vals[0], arg_pos(0), &upper)?;
            let b = point(&vals[1], arg_pos(1), &upper)?;
            Value::Number((dist2(a, b) as f64).sqrt())
        }
        "within" => {
            let a = point(&vals[0], arg_pos(0), &upper)?;
            let b = point(&vals[1], arg_pos(1), &upper)?;
            let r = radius(&vals[2], arg_pos(2))?;
            Value::Bool(dist2(a, b) <= r * r)
        }
        "cosine" => {
            let a = as_vector(&vals[0], arg_pos(0), &upper)?;
            let b = as_vector(&vals[1], arg_pos(1), &upper)?;
            if a.len() != b.len() {
                return Err(Error::invalid(
                    pos,
                    format!("COSINE of vectors of {} and {} values", a.len(), b.len()),
                ));
            }
            let dot: f64 = a
                .iter()
                .zip(b.iter())
                .map(|(x, y)| *x as f64 * *y as f64)
                .sum();
            let n = norm(&a) * norm(&b);
            if n == 0.0 {
                Value::Null
            } else {
                Value::Number(dot / n)
            }
        }
        "norm" => Value::Number(norm(&as_vector(&vals[0], arg_pos(0), &upper)?)),
        "abs" => Value::Number(as_number(&vals[0], arg_pos(0), &upper)?.abs()),
        "sqrt" => {
            let x = as_number(&vals[0], arg_pos(0), &upper)?;
            if x < 0.0 {
                return Err(Error::invalid(
                    arg_pos(0),
                    format!("SQRT of a negative number ({})", format_number(x)),
                ));
            }
            Value::Number(x.sqrt())
        }
        "round" => {
            let x = as_number(&vals[0], arg_pos(0), &upper)?;
            let digits = match vals.get(1) {
                Some(d) => as_number(d, arg_pos(1), &upper)?.trunc().clamp(0.0, 30.0) as i32,
                None => 0,
            };
            Value::Number(round(x, digits))
        }
        "lower" => Value::text(&text_of(&vals[0]).to_ascii_lowercase()),
        "upper" => Value::text(&text_of(&vals[0]).to_ascii_uppercase()),
        "length" => Value::Number(match &vals[0] {
            Value::Vector(v) => v.len(),
            other => text_of(other).chars().count(),
        } as f64),
        "substr" => {
            let s: Vec<char> = text_of(&vals[0]).chars().collect();
            let start = as_number(&vals[1], arg_pos(1), &upper)?.trunc();
            let len = match vals.get(2) {
                Some(l) => Some(as_number(l, arg_pos(2), &upper)?.trunc()),
                None => None,
            };
            Value::text(&substr(&s, start, len))
        }
        _ => return Err(Error::not_found(pos, format!("unknown function '{name}'"))),
    })
}

/// ROUND as SQLite: half away from zero, at `digits` decimals.
fn round(x: f64, digits: i32) -> f64 {
    if digits == 0 {
        return x.round();
    }
    // Through the decimal text, so that 0.15 (stored as 0.1499999...) rounds as written.
    format!("{:.*}", digits as usize, x)
        .parse::<f64>()
        .map(|r| {
            // `{:.N}` rounds half to even on exact ties; SQLite rounds them away from zero.
            let scale = 10f64.powi(digits);
            let exact = (x * scale).round() / scale;
            if (x * scale).fract().abs() == 0.5 {
                exact
            } else {
                r
            }
        })
        .unwrap_or(x)
}

/// SUBSTR(s, start[, len]) as SQLite: 1-based; a negative start counts from the end; a
/// negative length takes the characters before start.
fn substr(s: &[char], start: f64, len: Option<f64>) -> String {
    let n = s.len() as f64;
    let mut p1 = start;
    let mut p2 = len.unwrap_or(f64::MAX / 4.0);
    let negative = p2 < 0.0;
    if negative {
        p2 = -p2;
    }
    if p1 < 0.0 {
        p1 += n;
        if p1 < 0.0 {
            p2 += p1;
            if p2 < 0.0 {
                p2 = 0.0;
            }
            p1 = 0.0;
        }
    } else if p1 > 0.0 {
        p1 -= 1.0;
    } else if p2 > 0.0 {
        p2 -= 1.0;
    }
    if negative {
        p1 -= p2;
        if p1 < 0.0 {
            p2 += p1;
            p1 = 0.0;
        }
    }
    let from = p1.min(n) as usize;
    let to = (p1 + p2).min(n).max(p1.min(n)) as usize;
    s[from..to].iter().collect()
}

/// `v LIKE pattern [ESCAPE c]` as SQLite: `%` any run, `_` one character, ASCII letters
/// case-insensitive. `None` when an operand is NULL.
pub fn like(v: &Value, pattern: &Value, escape: Option<(&Value, Pos)>) -> Result<Option<bool>> {
    if *v == Value::Null || *pattern == Value::Null {
        return Ok(None);
    }
    let esc = match escape {
        None => None,
        Some((Value::Null, _)) => return Ok(None),
        Some((e, epos)) => {
            let t = text_of(e);
            let mut chars = t.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Some(c),
                _ => return Err(Error::invalid(epos, "ESCAPE expects a single character")),
            }
        }
    };
    let text: Vec<char> = text_of(v).chars().collect();
    let pat: Vec<char> = text_of(pattern).chars().collect();
    Ok(Some(like_match(&text, &pat, esc)))
}

/// Wildcard matching with backtracking to the last `%` (linear in practice, O(n·m) worst).
fn like_match(text: &[char], pat: &[char], esc: Option<char>) -> bool {
    let eq = |a: char, b: char| a == b || (a.is_ascii() && a.eq_ignore_ascii_case(&b));
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pat.len() {
            let c = pat[p];
            if Some(c) == esc && p + 1 < pat.len() {
                if eq(pat[p + 1], text[t]) {
                    t += 1;
                    p += 2;
                    continue;
                }
            } else if c == '%' {
                star = Some((p, t));
                p += 1;
                continue;
            } else if c == '_' || eq(c, text[t]) {
                t += 1;
                p += 1;
                continue;
            }
        }
        match star {
            Some((sp, st)) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    while p < pat.len() && pat[p] == '%' {
        p += 1;
    }
    p == pat.len()
}

/// The longest prefix of `s` that reads as a number (SQLite's CAST of text), else 0.
fn number_prefix(s: &str) -> f64 {
    let s = s.trim_start();
    let b = s.as_bytes();
    let mut best = 0.0;
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    while i <= b.len() {
        if let Ok(x) = s[..i].parse::<f64>() {
            if x.is_finite() {
                best = x;
            }
        }
        if i == b.len()
            || !(b[i].is_ascii_digit() || matches!(b[i], b'.' | b'e' | b'E' | b'+' | b'-'))
        {
            break;
        }
        i += 1;
    }
    best
}

/// `CAST(v AS to)`.
pub fn cast(v: Value, to: CastType, pos: Pos) -> Result<Value> {
    let number = |v: &Value| -> Result<f64> {
        match v {
            Value::Number(n) => Ok(*n),
            Value::Text(s) => Ok(number_prefix(s)),
            Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
            other => Err(Error::invalid(
                pos,
                format!("cannot CAST a {} AS {}", other.type_name(), to.name()),
            )),
        }
    };
    Ok(match (&v, to) {
        (Value::Null, _) => Value::Null,
        (_, CastType::Text) => Value::Text(text_of(&v)),
        (_, CastType::Real) => Value::Number(number(&v)?),
        (_, CastType::Integer) => Value::Number(number(&v)?.trunc()),
    })
}

/// `+ - * /` on numbers, and on vectors where it means something.
pub fn arithmetic(op: BinOp, a: &Value, b: &Value, pos: Pos) -> Result<Value> {
    let f = |x: f64, y: f64| -> Result<f64> {
        match op {
            BinOp::Add => Ok(x + y),
            BinOp::Sub => Ok(x - y),
            BinOp::Mul => Ok(x * y),
            _ if y == 0.0 => Err(Error::invalid(pos, "division by zero")),
            _ => Ok(x / y),
        }
    };
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => Ok(Value::Null),
        (Value::Number(x), Value::Number(y)) => Ok(Value::Number(f(*x, *y)?)),
        (Value::Vector(x), Value::Vector(y)) if matches!(op, BinOp::Add | BinOp::Sub) => {
            if x.len() != y.len() {
                return Err(Error::invalid(
                    pos,
                    format!(
                        "{} of vectors of {} and {} values",
                        op.symbol(),
                        x.len(),
                        y.len()
                    ),
                ));
            }
            let v: Result<Vec<f32>> = x
                .iter()
                .zip(y.iter())
                .map(|(p, q)| f(*p as f64, *q as f64).map(|r| r as f32))
                .collect();
            Ok(Value::Vector(Arc::from(v?)))
        }
        (Value::Vector(x), Value::Number(y)) if matches!(op, BinOp::Mul | BinOp::Div) => {
            let v: Result<Vec<f32>> = x
                .iter()
                .map(|p| f(*p as f64, *y).map(|r| r as f32))
                .collect();
            Ok(Value::Vector(Arc::from(v?)))
        }
        (Value::Number(x), Value::Vector(y)) if op == BinOp::Mul => Ok(Value::Vector(
            y.iter().map(|q| (*x * *q as f64) as f32).collect(),
        )),
        _ => Err(Error::invalid(
            pos,
            format!(
                "cannot apply {} to a {} and a {}",
                op.symbol(),
                a.type_name(),
                b.type_name()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_as_sqlite() {
        let m = |t: &str, p: &str| {
            like_match(
                &t.chars().collect::<Vec<_>>(),
                &p.chars().collect::<Vec<_>>(),
                Some('\\'),
            )
        };
        assert!(m("cube", "c%"));
        assert!(m("Cube", "c%E"));
        assert!(m("cube", "_u_e"));
        assert!(!m("cube", "_u_"));
        assert!(m("", "%"));
        assert!(!m("", "_"));
        assert!(m("a%b", "a\\%b"));
        assert!(!m("axb", "a\\%b"));
        assert!(m("mississippi", "%iss%ppi"));
        assert!(!m("mississippi", "%iss%ppx"));
    }

    #[test]
    fn substr_and_round_and_cast_as_sqlite() {
        let s: Vec<char> = "abcdef".chars().collect();
        assert_eq!(substr(&s, 2.0, Some(3.0)), "bcd");
        assert_eq!(substr(&s, -2.0, None), "ef");
        assert_eq!(substr(&s, 0.0, Some(2.0)), "a");
        assert_eq!(substr(&s, 3.0, Some(-2.0)), "ab");
        assert_eq!(substr(&s, 10.0, None), "");
        assert_eq!(round(2.5, 0), 3.0);
        assert_eq!(round(-2.5, 0), -3.0);
        assert_eq!(round(0.125, 2), 0.13);
        assert_eq!(round(1.2345, 2), 1.23);
        assert_eq!(number_prefix("  12.5abc"), 12.5);
        assert_eq!(number_prefix("abc"), 0.0);
        assert_eq!(number_prefix("-3e2x"), -300.0);
        assert_eq!(number_prefix("1e"), 1.0);
    }
}
