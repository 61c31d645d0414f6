//! A brute-force executor of [`Query`] over objects in memory: the oracle the evaluation
//! compares statements with ("the generated statement returns the same rows as the
//! reference"). It follows docs/LANGUAGE.md: `WITHIN` is distance ≤ radius, ORDER BY ties
//! go to `id` ascending, a near-condition needs another object (`b.id != a.id`), a column
//! an object lacks compares false and sorts first, as NULL does.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::query::{Condition, Order, Projection, Query};

/// One object of a map.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// `id`.
    pub id: String,
    /// `type`.
    pub ty: String,
    /// `position` (world units).
    pub position: [f64; 3],
    /// `confidence`.
    pub confidence: f64,
    /// The map's own numeric columns (name, value).
    pub columns: Vec<(String, f64)>,
}

impl Object {
    /// The value of a numeric column (`None`: the object has none).
    pub fn column(&self, name: &str) -> Option<f64> {
        match name {
            "confidence" => Some(self.confidence),
            "x" => Some(self.position[0]),
            "y" => Some(self.position[1]),
            "z" => Some(self.position[2]),
            _ => self
                .columns
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| *v),
        }
    }
}

/// What a statement returns, in a form two statements can be compared by.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Object ids: in the statement's order when it has an ORDER BY, else sorted.
    Rows(Vec<String>),
    /// `COUNT(*)`.
    Count(u64),
    /// `(type, count)` sorted by type.
    Groups(Vec<(String, u64)>),
}

fn distance(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

fn holds(c: &Condition, o: &Object, all: &[Object]) -> bool {
    match c {
        Condition::Type { negated, types } => types.contains(&o.ty) != *negated,
        Condition::Within {
            negated,
            center,
            radius,
        } => (distance(&o.position, center) <= *radius) != *negated,
        Condition::Near { ty, radius } => all
            .iter()
            .any(|b| b.ty == *ty && b.id != o.id && distance(&b.position, &o.position) <= *radius),
        Condition::Compare { column, op, value } => {
            o.column(column).is_some_and(|v| op.holds(v, *value))
        }
    }
}

/// Runs `q` over `objects`.
pub fn run(q: &Query, objects: &[Object]) -> Answer {
    let mut rows: Vec<&Object> = objects
        .iter()
        .filter(|o| q.conditions.iter().all(|c| holds(c, o, objects)))
        .collect();
    match q.projection {
        Projection::Count => return Answer::Count(rows.len() as u64),
        Projection::CountByType => {
            let mut groups: BTreeMap<&str, u64> = BTreeMap::new();
            for o in &rows {
                *groups.entry(&o.ty).or_default() += 1;
            }
            return Answer::Groups(
                groups
                    .into_iter()
                    .map(|(t, n)| (t.to_string(), n))
                    .collect(),
            );
        }
        Projection::Rows => {}
    }
    let key = |o: &Object| -> Option<f64> {
        match &q.order {
            Some(Order::Distance { center, .. }) => Some(distance(&o.position, center)),
            Some(Order::Column { column, .. }) => o.column(column),
            None => None,
        }
    };
    let descending = matches!(
        q.order,
        Some(Order::Distance {
            descending: true,
            ..
        }) | Some(Order::Column {
            descending: true,
            ..
        })
    );
    rows.sort_by(|a, b| {
        let by_key = match (key(a), key(b)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        let by_key = if descending { by_key.reverse() } else { by_key };
        by_key.then_with(|| a.id.cmp(&b.id))
    });
    if let Some(n) = q.limit {
        rows.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    }
    Answer::Rows(rows.into_iter().map(|o| o.id.clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::tql::parse;

    fn obj(id: &str, ty: &str, p: [f64; 3], c: f64) -> Object {
        Object {
            id: id.into(),
            ty: ty.into(),
            position: p,
            confidence: c,
            columns: vec![("mass".into(), c * 10.0)],
        }
    }

    fn answer(sql: &str, objects: &[Object]) -> Answer {
        run(&parse(sql).unwrap().1, objects)
    }

    #[test]
    fn statements_run_as_the_language_says() {
        let objects = [
            obj("a", "cube", [0.0, 0.0, 0.0], 0.9),
            obj("b", "cube", [10.0, 0.0, 0.0], 0.5),
            obj("c", "sphere", [12.0, 0.0, 0.0], 0.7),
            obj("d", "sphere", [100.0, 0.0, 0.0], 0.7),
        ];
        let rows = |v: &[&str]| Answer::Rows(v.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            answer(
                "SELECT * FROM m WHERE WITHIN(position, [0, 0, 0], 10)",
                &objects
            ),
            rows(&["a", "b"])
        );
        assert_eq!(
            answer(
                "SELECT * FROM m ORDER BY DISTANCE(position, [11, 0, 0]) DESC LIMIT 2",
                &objects
            ),
            rows(&["d", "a"])
        );
        // Ties by id.
        assert_eq!(
            answer("SELECT * FROM m ORDER BY confidence DESC", &objects),
            rows(&["a", "c", "d", "b"])
        );
        assert_eq!(
            answer(
                "SELECT * FROM m WHERE id IN (SELECT a.id FROM m a JOIN m b ON \
                 WITHIN(b.position, a.position, 3) WHERE b.type = 'cube' AND b.id != a.id)",
                &objects
            ),
            rows(&["c"])
        );
        assert_eq!(
            answer("SELECT COUNT(*) FROM m WHERE mass >= 7", &objects),
            Answer::Count(3)
        );
        assert_eq!(
            answer(
                "SELECT type, COUNT(*) FROM m WHERE type != 'x' GROUP BY type",
                &objects
            ),
            Answer::Groups(vec![("cube".into(), 2), ("sphere".into(), 2)])
        );
        assert_eq!(
            answer("SELECT * FROM m WHERE nothing > 0", &objects),
            rows(&[])
        );
    }
}
