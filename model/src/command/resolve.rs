//! From a [`Form`] (slot references) and the text's [`Slots`] to a [`Query`] (values).
//!
//! A type the map does not have ([`TypeRef::Unknown`]) cannot be written into a statement:
//! it is left out (a list keeps its other types, a condition with no type left goes) and
//! the result says so, so that the caller declines instead of running the rest.
//!
//! [`form_of`] goes the other way, for training on (text, statement) pairs a user keeps:
//! each value of the statement must be one the text offers.

use super::grammar::{Center, ColRef, Count, Form, FormCond, FormOrder, Slots, TypeRef};
use super::query::{Condition, Order, Query};

/// A resolved statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The statement without the unknown types.
    pub query: Query,
    /// The form named a type the map does not have.
    pub unknown_type: bool,
}

/// Fills in the slots of `form` (which the grammar built over `slots`: every slot exists).
pub fn resolve(form: &Form, slots: &Slots) -> Resolved {
    let num = |k: u8| slots.numbers.get(k as usize).copied().unwrap_or(0.0);
    let center = |c: &Center| match c {
        Center::Origin => [0.0; 3],
        Center::Point(p) => [num(p[0]), num(p[1]), num(p[2])],
    };
    let column = |c: &ColRef| match c {
        ColRef::Confidence => "confidence".to_string(),
        ColRef::X => "x".to_string(),
        ColRef::Y => "y".to_string(),
        ColRef::Z => "z".to_string(),
        ColRef::Slot(k) => slots.columns.get(*k as usize).cloned().unwrap_or_default(),
    };
    let mut unknown_type = false;
    let mut ty = |t: &TypeRef| match t {
        TypeRef::Slot(k) => slots.types.get(*k as usize).cloned(),
        TypeRef::Unknown => {
            unknown_type = true;
            None
        }
    };
    let mut conditions = Vec::new();
    for c in &form.conditions {
        match c {
            FormCond::Type { negated, types } => {
                let types: Vec<String> = types.iter().filter_map(&mut ty).collect();
                if !types.is_empty() {
                    conditions.push(Condition::Type {
                        negated: *negated,
                        types,
                    });
                }
            }
            FormCond::Within {
                negated,
                center: c,
                radius,
            } => conditions.push(Condition::Within {
                negated: *negated,
                center: center(c),
                radius: num(*radius),
            }),
            FormCond::Near { ty: t, radius } => {
                if let Some(t) = ty(t) {
                    conditions.push(Condition::Near {
                        ty: t,
                        radius: num(*radius),
                    });
                }
            }
            FormCond::Compare {
                column: c,
                op,
                value,
            } => conditions.push(Condition::Compare {
                column: column(c),
                op: *op,
                value: num(*value),
            }),
        }
    }
    let order = form.order.map(|o| match o {
        FormOrder::Distance {
            center: c,
            descending,
        } => Order::Distance {
            center: center(&c),
            descending,
        },
        FormOrder::Column {
            column: c,
            descending,
        } => Order::Column {
            column: column(&c),
            descending,
        },
    });
    let limit = form.limit.map(|n| match n {
        Count::One => 1,
        Count::Slot(k) => num(k) as u64,
    });
    Resolved {
        query: Query {
            projection: form.projection,
            conditions,
            order,
            limit,
        },
        unknown_type,
    }
}

/// The form of `query` over a text's `slots`: every type, number and map column of the
/// statement must be one of the text's slots (the first with that value); a centre is the
/// origin when it is `[0, 0, 0]` and the text has no such point, `LIMIT 1` is
/// [`Count::One`]. Conditions are put in canonical order. The error names the value the
/// text does not offer.
pub fn form_of(query: &Query, slots: &Slots) -> Result<Form, String> {
    let ty = |t: &String| -> Result<TypeRef, String> {
        slots
            .types
            .iter()
            .position(|s| s == t)
            .map(|k| TypeRef::Slot(k as u8))
            .ok_or_else(|| format!("the text does not name the type {t:?}"))
    };
    let num = |v: f64| -> Result<u8, String> {
        slots
            .numbers
            .iter()
            .position(|&s| s == v)
            .map(|k| k as u8)
            .ok_or_else(|| format!("the text has no number {v}"))
    };
    let center = |p: &[f64; 3]| -> Result<Center, String> {
        // Three numbers of the text in a row, else the origin in words.
        let run =
            (0..slots.numbers.len().saturating_sub(2)).find(|&k| slots.numbers[k..k + 3] == p[..]);
        match run {
            Some(k) => Ok(Center::Point([k as u8, k as u8 + 1, k as u8 + 2])),
            None if *p == [0.0; 3] => Ok(Center::Origin),
            None => Ok(Center::Point([num(p[0])?, num(p[1])?, num(p[2])?])),
        }
    };
    let column = |c: &str| -> Result<ColRef, String> {
        match c {
            "confidence" => Ok(ColRef::Confidence),
            "x" => Ok(ColRef::X),
            "y" => Ok(ColRef::Y),
            "z" => Ok(ColRef::Z),
            _ => slots
                .columns
                .iter()
                .position(|s| s == c)
                .map(|k| ColRef::Slot(k as u8))
                .ok_or_else(|| format!("the text does not name the column {c:?}")),
        }
    };
    let mut conditions = Vec::new();
    for c in &query.conditions {
        conditions.push(match c {
            Condition::Type { negated, types } => FormCond::Type {
                negated: *negated,
                types: types.iter().map(ty).collect::<Result<_, _>>()?,
            },
            Condition::Within {
                negated,
                center: p,
                radius,
            } => FormCond::Within {
                negated: *negated,
                center: center(p)?,
                radius: num(*radius)?,
            },
            Condition::Near { ty: t, radius } => FormCond::Near {
                ty: ty(t)?,
                radius: num(*radius)?,
            },
            Condition::Compare {
                column: c,
                op,
                value,
            } => FormCond::Compare {
                column: column(c)?,
                op: *op,
                value: num(*value)?,
            },
        });
    }
    conditions.sort_by_key(FormCond::rank);
    let order = match &query.order {
        None => None,
        Some(Order::Distance {
            center: p,
            descending,
        }) => Some(FormOrder::Distance {
            center: center(p)?,
            descending: *descending,
        }),
        Some(Order::Column {
            column: c,
            descending,
        }) => Some(FormOrder::Column {
            column: column(c)?,
            descending: *descending,
        }),
    };
    let limit = match query.limit {
        None => None,
        Some(1) => Some(Count::One),
        Some(n) => Some(Count::Slot(num(n as f64)?)),
    };
    Ok(Form {
        projection: query.projection,
        conditions,
        order,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::query::{Op, Projection};

    #[test]
    fn slots_become_values_and_unknown_types_are_left_out() {
        let slots = Slots {
            numbers: vec![5.0, 10.0, 20.0, 30.0],
            types: vec!["cube".into(), "Drone".into()],
            columns: vec!["mass".into()],
        };
        let form = Form {
            projection: crate::command::query::Projection::Rows,
            conditions: vec![
                FormCond::Type {
                    negated: false,
                    types: vec![TypeRef::Slot(1), TypeRef::Unknown],
                },
                FormCond::Near {
                    ty: TypeRef::Unknown,
                    radius: 0,
                },
                FormCond::Compare {
                    column: ColRef::Slot(0),
                    op: Op::Gt,
                    value: 3,
                },
            ],
            order: Some(FormOrder::Distance {
                center: Center::Point([1, 2, 3]),
                descending: false,
            }),
            limit: Some(Count::Slot(0)),
        };
        let r = resolve(&form, &slots);
        assert!(r.unknown_type);
        assert_eq!(
            r.query.to_tensorql("m"),
            "SELECT * FROM m WHERE type = 'Drone' AND mass > 30 ORDER BY DISTANCE(position, \
             [10, 20, 30]) LIMIT 5"
        );
        assert_eq!(r.query.projection, Projection::Rows);
    }

    #[test]
    fn a_statement_finds_its_values_among_the_slots() {
        let slots = Slots {
            numbers: vec![3.0, 0.0, 0.0, 0.0, 50.0],
            types: vec!["cube".into()],
            columns: vec!["mass".into()],
        };
        let (_, q) = crate::command::tql::parse(
            "SELECT * FROM m WHERE mass > 3 AND WITHIN(position, [0, 0, 0], 50) AND type = 'cube' \
             ORDER BY DISTANCE(position, [0, 0, 0]) LIMIT 3",
        )
        .unwrap();
        let form = form_of(&q, &slots).unwrap();
        // Canonical order; the centre is the text's three zeros.
        assert!(matches!(form.conditions[0], FormCond::Type { .. }));
        assert_eq!(
            form.conditions[1],
            FormCond::Within {
                negated: false,
                center: Center::Point([1, 2, 3]),
                radius: 4
            }
        );
        assert_eq!(resolve(&form, &slots).query.to_tensorql("m"), {
            "SELECT * FROM m WHERE type = 'cube' AND WITHIN(position, [0, 0, 0], 50) AND mass > 3 \
             ORDER BY DISTANCE(position, [0, 0, 0]) LIMIT 3"
        });
        let (_, q) = crate::command::tql::parse("SELECT * FROM m WHERE type = 'sphere'").unwrap();
        assert!(form_of(&q, &slots).unwrap_err().contains("sphere"));
        let (_, q) = crate::command::tql::parse("SELECT * FROM m LIMIT 7").unwrap();
        assert!(form_of(&q, &slots).unwrap_err().contains('7'));
    }
}
