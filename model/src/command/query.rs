//! [`Query`]: a statement the command model can write, with its values (types, numbers,
//! columns) filled in, and its TensorQL text.
//!
//! Every `Query` is one read-only `SELECT` over one map; [`Query::to_tensorql`] writes it in
//! the forms of docs/LANGUAGE.md:
//! ```text
//! SELECT * | COUNT(*) | type, COUNT(*)  FROM map
//!   [WHERE c AND c ...]  [GROUP BY type]  [ORDER BY DISTANCE(position, [a, b, c]) | column [DESC]]
//!   [LIMIT n]
//! c := type = 't' | type != 't' | type [NOT] IN ('t', 'u', ...)
//!    | [NOT] WITHIN(position, [a, b, c], r)
//!    | id IN (SELECT a.id FROM map a JOIN map b ON WITHIN(b.position, a.position, r)
//!              WHERE b.type = 't' AND b.id != a.id)            -- near another object of type t
//!    | column op number                                         -- op: > >= < <= =
//! ```
//! Strings are quoted with `''` escaping, identifiers that are not plain words with `""`,
//! numbers in Rust's shortest round-trip form (always a TensorQL number).

use std::fmt::Write as _;

/// What the statement returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Projection {
    /// `SELECT *`: the objects.
    Rows,
    /// `SELECT COUNT(*)`: how many.
    Count,
    /// `SELECT type, COUNT(*) … GROUP BY type`: how many of each type.
    CountByType,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `=`.
    Eq,
}

impl Op {
    /// Its TensorQL spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "=",
        }
    }

    /// Whether `a op b`.
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Eq => a == b,
        }
    }
}

/// One conjunct of the WHERE clause.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `type = t` (one type), `type IN (...)` (several); `negated`: `!=`, `NOT IN`.
    Type {
        /// `!=` / `NOT IN`.
        negated: bool,
        /// The types, as the catalog spells them.
        types: Vec<String>,
    },
    /// `WITHIN(position, center, radius)`; `negated`: `NOT WITHIN`.
    Within {
        /// `NOT WITHIN`.
        negated: bool,
        /// The centre, world units.
        center: [f64; 3],
        /// The radius, world units.
        radius: f64,
    },
    /// Within `radius` of another object of type `ty`.
    Near {
        /// The other object's type.
        ty: String,
        /// The radius, world units.
        radius: f64,
    },
    /// `column op value`.
    Compare {
        /// A numeric column: `confidence`, `x`, `y`, `z` or one of the map's own.
        column: String,
        /// The operator.
        op: Op,
        /// The number.
        value: f64,
    },
}

/// The ORDER BY clause.
#[derive(Debug, Clone, PartialEq)]
pub enum Order {
    /// `ORDER BY DISTANCE(position, center) [DESC]`.
    Distance {
        /// The centre.
        center: [f64; 3],
        /// `DESC`: farthest first.
        descending: bool,
    },
    /// `ORDER BY column [DESC]`.
    Column {
        /// The column.
        column: String,
        /// `DESC`: largest first.
        descending: bool,
    },
}

/// A read-only statement over one map.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// What it returns.
    pub projection: Projection,
    /// The WHERE conjuncts (none: every object).
    pub conditions: Vec<Condition>,
    /// ORDER BY, if any (only with [`Projection::Rows`]).
    pub order: Option<Order>,
    /// LIMIT, if any (only with [`Projection::Rows`]).
    pub limit: Option<u64>,
}

/// Words TensorQL reads as keywords: an identifier spelled like one is quoted.
const KEYWORDS: &[&str] = &[
    "all",
    "and",
    "as",
    "asc",
    "between",
    "by",
    "case",
    "cast",
    "count",
    "create",
    "delete",
    "desc",
    "distinct",
    "drop",
    "else",
    "end",
    "except",
    "exists",
    "false",
    "from",
    "group",
    "having",
    "in",
    "insert",
    "intersect",
    "is",
    "join",
    "left",
    "like",
    "limit",
    "not",
    "null",
    "offset",
    "on",
    "or",
    "order",
    "select",
    "set",
    "table",
    "then",
    "true",
    "union",
    "update",
    "values",
    "when",
    "where",
    "with",
];

/// An identifier as TensorQL reads it back: bare when it is a plain word, else `"quoted"`.
pub fn identifier(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&name.to_ascii_lowercase().as_str());
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A string literal: `'…'` with `''` for a quote.
pub fn string_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A number as TensorQL reads it: Rust's shortest round-trip form (`200`, `0.75`, `-12.5`,
/// `1e-7`); `-0` is written `0`.
pub fn number(v: f64) -> String {
    if v == 0.0 {
        "0".to_string()
    } else {
        format!("{v}")
    }
}

fn point(p: &[f64; 3]) -> String {
    format!("[{}, {}, {}]", number(p[0]), number(p[1]), number(p[2]))
}

impl Query {
    /// The statement's TensorQL text over the map `map`.
    pub fn to_tensorql(&self, map: &str) -> String {
        let m = identifier(map);
        let mut s = String::from(match self.projection {
            Projection::Rows => "SELECT *",
            Projection::Count => "SELECT COUNT(*)",
            Projection::CountByType => "SELECT type, COUNT(*)",
        });
        let _ = write!(s, " FROM {m}");
        for (i, c) in self.conditions.iter().enumerate() {
            s.push_str(if i == 0 { " WHERE " } else { " AND " });
            match c {
                Condition::Type { negated, types } if types.len() == 1 => {
                    let op = if *negated { "!=" } else { "=" };
                    let _ = write!(s, "type {op} {}", string_literal(&types[0]));
                }
                Condition::Type { negated, types } => {
                    let list: Vec<String> = types.iter().map(|t| string_literal(t)).collect();
                    let not = if *negated { "NOT " } else { "" };
                    let _ = write!(s, "type {not}IN ({})", list.join(", "));
                }
                Condition::Within {
                    negated,
                    center,
                    radius,
                } => {
                    let not = if *negated { "NOT " } else { "" };
                    let _ = write!(
                        s,
                        "{not}WITHIN(position, {}, {})",
                        point(center),
                        number(*radius)
                    );
                }
                Condition::Near { ty, radius } => {
                    let _ = write!(
                        s,
                        "id IN (SELECT a.id FROM {m} a JOIN {m} b ON WITHIN(b.position, \
                         a.position, {}) WHERE b.type = {} AND b.id != a.id)",
                        number(*radius),
                        string_literal(ty)
                    );
                }
                Condition::Compare { column, op, value } => {
                    let _ = write!(
                        s,
                        "{} {} {}",
                        identifier(column),
                        op.as_str(),
                        number(*value)
                    );
                }
            }
        }
        if self.projection == Projection::CountByType {
            s.push_str(" GROUP BY type");
        }
        match &self.order {
            Some(Order::Distance { center, descending }) => {
                let _ = write!(s, " ORDER BY DISTANCE(position, {})", point(center));
                if *descending {
                    s.push_str(" DESC");
                }
            }
            Some(Order::Column { column, descending }) => {
                let _ = write!(s, " ORDER BY {}", identifier(column));
                if *descending {
                    s.push_str(" DESC");
                }
            }
            None => {}
        }
        if let Some(n) = self.limit {
            let _ = write!(s, " LIMIT {n}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_written_in_the_language_forms() {
        let q = Query {
            projection: Projection::Rows,
            conditions: vec![
                Condition::Type {
                    negated: false,
                    types: vec!["cube".into()],
                },
                Condition::Within {
                    negated: false,
                    center: [0.0, -0.0, 12.5],
                    radius: 200.0,
                },
            ],
            order: Some(Order::Distance {
                center: [0.0; 3],
                descending: true,
            }),
            limit: Some(3),
        };
        assert_eq!(
            q.to_tensorql("demo"),
            "SELECT * FROM demo WHERE type = 'cube' AND WITHIN(position, [0, 0, 12.5], 200) \
             ORDER BY DISTANCE(position, [0, 0, 0]) DESC LIMIT 3"
        );
        let q = Query {
            projection: Projection::CountByType,
            conditions: vec![
                Condition::Type {
                    negated: true,
                    types: vec!["it's".into(), "b".into()],
                },
                Condition::Compare {
                    column: "top speed".into(),
                    op: Op::Ge,
                    value: 0.5,
                },
            ],
            order: None,
            limit: None,
        };
        assert_eq!(
            q.to_tensorql("select"),
            "SELECT type, COUNT(*) FROM \"select\" WHERE type NOT IN ('it''s', 'b') AND \
             \"top speed\" >= 0.5 GROUP BY type"
        );
    }
}
