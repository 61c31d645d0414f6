//! What a generated command asks for, before it is put in words: drawn at random with
//! weights that make every statement form common enough to learn, and combinations of them.

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::command::query::{Op, Projection};

/// A type in an intent: one of the map's (index into its types) or a word the map lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// The map's type `k`.
    Known(usize),
    /// An object word that is no type of the map.
    Unknown(&'static str),
}

/// The type filter.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeSel {
    /// Any type.
    Any,
    /// These types (one, or a list).
    Only(Vec<Ty>),
    /// Anything but these.
    Except(Vec<Ty>),
}

/// A centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CentreI {
    /// The origin, in words.
    Origin,
    /// A point, in numbers.
    Point([f64; 3]),
}

/// A numeric column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColI {
    /// `confidence`.
    Confidence,
    /// `x`, `y` or `z` (0, 1, 2).
    Axis(usize),
    /// The map's numeric column `k` (index into its columns).
    User(usize),
}

/// The ordering asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OrderI {
    /// None.
    None,
    /// By distance to the centre.
    Distance {
        /// Farthest first.
        descending: bool,
    },
    /// By a column.
    Column {
        /// The column.
        column: ColI,
        /// Largest first.
        descending: bool,
    },
}

/// One command's meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    /// What it returns.
    pub projection: Projection,
    /// The type filter.
    pub types: TypeSel,
    /// The centre of the spatial conditions and of a distance order.
    pub centre: CentreI,
    /// Within this radius of the centre.
    pub within: Option<f64>,
    /// Farther than this from the centre.
    pub beyond: Option<f64>,
    /// Within a radius of another object of a type.
    pub near: Option<(Ty, f64)>,
    /// Comparisons.
    pub compares: Vec<(ColI, Op, f64)>,
    /// Ordering.
    pub order: OrderI,
    /// How many (with an ordering).
    pub limit: Option<u32>,
}

/// What a map offers the drawing: its type count and its numeric columns.
#[derive(Debug, Clone, Copy)]
pub struct MapShape {
    /// Types in the map.
    pub types: usize,
    /// Numeric columns (indices `0..numeric`) — the catalog lists them first.
    pub numeric: usize,
}

/// `v` rounded to a multiple of `step`, without binary noise in its decimal form (a step
/// below 1 is a fraction `1/k`: 0.5, 0.25, 0.1, ...).
fn round_to(v: f64, step: f64) -> f64 {
    if step >= 1.0 {
        (v / step).round() * step
    } else {
        let k = (1.0 / step).round();
        (v * k).round() / k
    }
}

/// A radius: mostly round numbers.
pub fn radius(rng: &mut ChaCha8Rng) -> f64 {
    match rng.random_range(0..10) {
        0..=4 => round_to(rng.random_range(10.0..500.0), 10.0),
        5..=6 => round_to(rng.random_range(5.0..400.0), 5.0),
        7 => round_to(rng.random_range(50.0..1000.0), 50.0),
        8 => rng.random_range(1..100) as f64,
        _ => round_to(rng.random_range(1.0..300.0), 0.5),
    }
}

/// A coordinate.
pub fn coordinate(rng: &mut ChaCha8Rng) -> f64 {
    match rng.random_range(0..10) {
        0..=5 => round_to(rng.random_range(-500.0..500.0), 10.0),
        6 => 0.0,
        7..=8 => rng.random_range(-500..=500) as f64,
        _ => round_to(rng.random_range(-300.0..300.0), 0.25),
    }
}

/// A confidence threshold in (0, 1).
pub fn confidence(rng: &mut ChaCha8Rng) -> f64 {
    match rng.random_range(0..4) {
        0..=1 => rng.random_range(1..10) as f64 / 10.0,
        2 => rng.random_range(1..20) as f64 / 20.0,
        _ => rng.random_range(1..100) as f64 / 100.0,
    }
}

/// A value of a column.
fn value(column: ColI, rng: &mut ChaCha8Rng) -> f64 {
    match column {
        ColI::Confidence => confidence(rng),
        ColI::Axis(_) => coordinate(rng),
        ColI::User(_) => match rng.random_range(0..4) {
            0 => rng.random_range(0..20) as f64,
            1 => rng.random_range(0..1000) as f64,
            2 => round_to(rng.random_range(0.0..100.0), 0.5),
            _ => round_to(rng.random_range(0.0..10.0), 0.1),
        },
    }
}

/// How many: mostly small.
pub fn count(rng: &mut ChaCha8Rng) -> u32 {
    match rng.random_range(0..10) {
        0..=5 => rng.random_range(2..=10),
        6..=8 => rng.random_range(2..=25),
        _ => rng.random_range(2..=100),
    }
}

fn column(map: MapShape, rng: &mut ChaCha8Rng) -> ColI {
    match rng.random_range(0..10) {
        0..=4 => ColI::Confidence,
        5..=6 => ColI::Axis(rng.random_range(0..3)),
        _ if map.numeric > 0 => ColI::User(rng.random_range(0..map.numeric)),
        _ => ColI::Confidence,
    }
}

fn op(rng: &mut ChaCha8Rng) -> Op {
    *[
        Op::Gt,
        Op::Gt,
        Op::Gt,
        Op::Ge,
        Op::Ge,
        Op::Lt,
        Op::Lt,
        Op::Le,
        Op::Eq,
    ]
    .choose(rng)
    .unwrap_or(&Op::Gt)
}

/// Draws `k` distinct known types, one of them (rarely) replaced by an unknown word.
fn some_types(
    map: MapShape,
    k: usize,
    unknown: Option<&'static str>,
    rng: &mut ChaCha8Rng,
) -> Vec<Ty> {
    let picked = rand::seq::index::sample(rng, map.types, k.min(map.types));
    let mut out: Vec<Ty> = picked.into_iter().map(Ty::Known).collect();
    if let Some(w) = unknown {
        let at = rng.random_range(0..out.len().max(1));
        if at < out.len() {
            out[at] = Ty::Unknown(w);
        } else {
            out.push(Ty::Unknown(w));
        }
    }
    out
}

/// Draws an intent over a map of `map`'s shape; `unknown` (a word the map lacks) is used
/// as one of its types when given.
pub fn draw(map: MapShape, unknown: Option<&'static str>, rng: &mut ChaCha8Rng) -> Intent {
    let projection = match rng.random_range(0..100) {
        0..=67 => Projection::Rows,
        68..=91 => Projection::Count,
        _ => Projection::CountByType,
    };
    // The unknown word goes in the type filter, or (less often) names the other object of
    // a relation.
    let unknown_near = unknown.filter(|_| rng.random_bool(0.3));
    let unknown = if unknown_near.is_some() {
        None
    } else {
        unknown
    };
    // The type filter.
    let types = match rng.random_range(0..100) {
        _ if unknown.is_some() && rng.random_bool(0.8) => {
            TypeSel::Only(some_types(map, 0, unknown, rng))
        }
        0..=21 if unknown.is_none() => TypeSel::Any,
        22..=79 => TypeSel::Only(some_types(map, 1, unknown, rng)),
        80..=91 => {
            let k = rng.random_range(2..=3.min(map.types.max(2)));
            TypeSel::Only(some_types(map, k, unknown, rng))
        }
        92..=96 => TypeSel::Except(some_types(map, 1, unknown, rng)),
        _ => TypeSel::Except(some_types(map, 2, unknown, rng)),
    };
    let types = match types {
        TypeSel::Only(t) | TypeSel::Except(t) if t.is_empty() => TypeSel::Any,
        t => t,
    };
    let centre = if rng.random_bool(0.55) {
        CentreI::Origin
    } else {
        CentreI::Point([coordinate(rng), coordinate(rng), coordinate(rng)])
    };
    // Ordering first: it decides whether a radius is likely.
    let rows = projection == Projection::Rows;
    let (order, limit) = if !rows {
        (OrderI::None, None)
    } else {
        match rng.random_range(0..100) {
            0..=21 => (
                OrderI::Distance { descending: false },
                Some(count_or_one(rng)),
            ),
            22..=27 => (
                OrderI::Distance { descending: true },
                Some(count_or_one(rng)),
            ),
            28..=34 => (
                OrderI::Distance {
                    descending: rng.random_bool(0.2),
                },
                None,
            ),
            35..=43 => {
                let column = column(map, rng);
                let limit = rng.random_bool(0.6).then(|| count_or_one(rng));
                (
                    OrderI::Column {
                        column,
                        descending: rng.random_bool(0.7),
                    },
                    limit,
                )
            }
            _ => (OrderI::None, None),
        }
    };
    let ordered_by_distance = matches!(order, OrderI::Distance { .. });
    let p_within = if ordered_by_distance { 0.15 } else { 0.5 };
    let within = rng.random_bool(p_within).then(|| radius(rng));
    let beyond = match within {
        Some(r) if rng.random_bool(0.1) => {
            let inner = round_to(r * rng.random_range(0.2..0.8), 5.0);
            (inner > 0.0 && inner < r).then_some(inner)
        }
        None if !ordered_by_distance && rng.random_bool(0.12) => Some(radius(rng)),
        _ => None,
    };
    let near = if let Some(w) = unknown_near {
        Some((Ty::Unknown(w), round_to(rng.random_range(5.0..200.0), 5.0)))
    } else {
        (map.types >= 2 && rng.random_bool(0.07)).then(|| {
            let t = Ty::Known(rng.random_range(0..map.types));
            (t, round_to(rng.random_range(5.0..200.0), 5.0))
        })
    };
    let mut compares = Vec::new();
    let n_cmp = match rng.random_range(0..100) {
        0..=71 => 0,
        72..=93 => 1,
        _ => 2,
    };
    for _ in 0..n_cmp {
        let c = column(map, rng);
        if rng.random_bool(0.12) {
            // A range: two comparisons on one column.
            let (a, b) = (value(c, rng), value(c, rng));
            if a < b {
                compares.push((c, Op::Ge, a));
                compares.push((c, Op::Le, b));
            }
        } else {
            compares.push((c, op(rng), value(c, rng)));
        }
    }
    compares.truncate(4);
    Intent {
        projection,
        types,
        centre,
        within,
        beyond,
        near,
        compares,
        order,
        limit,
    }
}

/// A LIMIT: 1 a third of the time ("the nearest cube").
fn count_or_one(rng: &mut ChaCha8Rng) -> u32 {
    if rng.random_bool(0.33) {
        1
    } else {
        count(rng)
    }
}
