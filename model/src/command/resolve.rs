//! From a [`Form`] (slot references) and the text's [`Slots`] to a [`Query`] (values).
//!
//! A type the map does not have ([`TypeRef::Unknown`]) cannot be written into a statement:
//! it is left out (a list keeps its other types, a condition with no type left goes) and
//! the result says so, so that the caller declines instead of running the rest.

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
}
