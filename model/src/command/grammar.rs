//! The statement grammar as a token automaton, and [`Form`], the statement it reads: a
//! [`Query`](super::query::Query) whose types, numbers and columns are still slot references.
//!
//! The automaton knows the text's [`Slots`] (how many numbers and their values, how many
//! catalog types and numeric columns it mentions). At every step [`Parser::allowed`] is the
//! set of symbols that keep the statement completable, so a decoder that only ever picks an
//! allowed symbol ends with a statement that is well formed, names only slots that exist,
//! and is a SELECT. The language (canonical order, one symbol per piece):
//! ```text
//! statement := Decline
//!            | proj [Where cond (And cond)*] [order] [Limit count]      -- order, Limit: Rows only
//! proj      := SelectRows | SelectCount | SelectCountByType
//! cond      := TypeEq type | TypeNe type | TypeIn type type+ Close | TypeNotIn type type+ Close
//!            | Within centre radius | NotWithin centre radius | Near type radius
//!            | column op number
//! order     := OrderByDistance centre dir | OrderBy column dir
//! centre    := Origin | Point number number number
//! type      := Type(k) | UnknownType          column := Confidence | X | Y | Z | Col(k)
//! radius    := Num(k) with a value >= 0       count  := One | Num(k) with a whole value >= 1
//! ```
//! Conditions come in the order type, within, not-within, near, comparisons; at most one of
//! each of the first three, two `Near` and four comparisons, which bounds the length. A type
//! list names each type once.

use super::query::{Op, Projection};
use super::symbols::{Sym, SYMBOLS};

/// What a text offers the statement: its numbers (in order), the catalog types and the
/// numeric catalog columns it mentions (in order of first mention, as the catalog spells
/// them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Slots {
    /// The numbers, at most [`NUMBER_SLOTS`](super::symbols::NUMBER_SLOTS).
    pub numbers: Vec<f64>,
    /// The types, at most [`TYPE_SLOTS`](super::symbols::TYPE_SLOTS).
    pub types: Vec<String>,
    /// The columns, at most [`COLUMN_SLOTS`](super::symbols::COLUMN_SLOTS).
    pub columns: Vec<String>,
}

/// A type in a statement: a slot, or one the map does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeRef {
    /// The type in slot `k`.
    Slot(u8),
    /// A type the text names but the map does not have.
    Unknown,
}

/// A centre: the origin or three number slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Center {
    /// `[0, 0, 0]`.
    Origin,
    /// `[N_a, N_b, N_c]`.
    Point([u8; 3]),
}

/// A numeric column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColRef {
    /// `confidence`.
    Confidence,
    /// `x`.
    X,
    /// `y`.
    Y,
    /// `z`.
    Z,
    /// The column in slot `k`.
    Slot(u8),
}

/// A LIMIT count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Count {
    /// 1.
    One,
    /// The number in slot `k`.
    Slot(u8),
}

/// A condition with slot references.
#[derive(Debug, Clone, PartialEq)]
pub enum FormCond {
    /// `type = / != / IN / NOT IN`.
    Type {
        /// `!=` / `NOT IN`.
        negated: bool,
        /// One type, or two or more for a list.
        types: Vec<TypeRef>,
    },
    /// `[NOT] WITHIN(position, centre, radius)`.
    Within {
        /// `NOT`.
        negated: bool,
        /// The centre.
        center: Center,
        /// The radius' number slot.
        radius: u8,
    },
    /// Near another object of a type.
    Near {
        /// The type.
        ty: TypeRef,
        /// The radius' number slot.
        radius: u8,
    },
    /// `column op number`.
    Compare {
        /// The column.
        column: ColRef,
        /// The operator.
        op: Op,
        /// The number slot.
        value: u8,
    },
}

impl FormCond {
    /// Its place in the canonical order of conditions.
    pub fn rank(&self) -> usize {
        match self {
            FormCond::Type { .. } => 0,
            FormCond::Within { negated: false, .. } => 1,
            FormCond::Within { negated: true, .. } => 2,
            FormCond::Near { .. } => 3,
            FormCond::Compare { .. } => 4,
        }
    }
}

/// Most conditions of each rank (type, within, not-within, near, compare).
const QUOTA: [usize; 5] = [1, 1, 1, 2, 4];

/// ORDER BY with slot references.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FormOrder {
    /// By distance to a centre.
    Distance {
        /// The centre.
        center: Center,
        /// Farthest first.
        descending: bool,
    },
    /// By a column.
    Column {
        /// The column.
        column: ColRef,
        /// Largest first.
        descending: bool,
    },
}

/// A statement with slot references (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    /// What it returns.
    pub projection: Projection,
    /// The conditions, in canonical order.
    pub conditions: Vec<FormCond>,
    /// ORDER BY.
    pub order: Option<FormOrder>,
    /// LIMIT.
    pub limit: Option<Count>,
}

/// What the automaton read: a refusal or a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// `Decline`: not a question about the map.
    Decline,
    /// A statement.
    Statement(Form),
}

/// The symbols of `decoded`, in order, without the final `EOS`.
pub fn linearize(decoded: &Decoded) -> Vec<Sym> {
    let form = match decoded {
        Decoded::Decline => return vec![Sym::Decline],
        Decoded::Statement(f) => f,
    };
    let ty = |t: &TypeRef| match t {
        TypeRef::Slot(k) => Sym::Type(*k),
        TypeRef::Unknown => Sym::UnknownType,
    };
    let col = |c: &ColRef| match c {
        ColRef::Confidence => Sym::Confidence,
        ColRef::X => Sym::X,
        ColRef::Y => Sym::Y,
        ColRef::Z => Sym::Z,
        ColRef::Slot(k) => Sym::Col(*k),
    };
    let center = |out: &mut Vec<Sym>, c: &Center| match c {
        Center::Origin => out.push(Sym::Origin),
        Center::Point(p) => {
            out.push(Sym::Point);
            out.extend(p.iter().map(|&k| Sym::Num(k)));
        }
    };
    let mut out = vec![match form.projection {
        Projection::Rows => Sym::SelectRows,
        Projection::Count => Sym::SelectCount,
        Projection::CountByType => Sym::SelectCountByType,
    }];
    for (i, c) in form.conditions.iter().enumerate() {
        out.push(if i == 0 { Sym::Where } else { Sym::And });
        match c {
            FormCond::Type { negated, types } if types.len() == 1 => {
                out.push(if *negated { Sym::TypeNe } else { Sym::TypeEq });
                out.push(ty(&types[0]));
            }
            FormCond::Type { negated, types } => {
                out.push(if *negated {
                    Sym::TypeNotIn
                } else {
                    Sym::TypeIn
                });
                out.extend(types.iter().map(ty));
                out.push(Sym::Close);
            }
            FormCond::Within {
                negated,
                center: c,
                radius,
            } => {
                out.push(if *negated {
                    Sym::NotWithin
                } else {
                    Sym::Within
                });
                center(&mut out, c);
                out.push(Sym::Num(*radius));
            }
            FormCond::Near { ty: t, radius } => {
                out.push(Sym::Near);
                out.push(ty(t));
                out.push(Sym::Num(*radius));
            }
            FormCond::Compare { column, op, value } => {
                out.push(col(column));
                out.push(match op {
                    Op::Gt => Sym::Gt,
                    Op::Ge => Sym::Ge,
                    Op::Lt => Sym::Lt,
                    Op::Le => Sym::Le,
                    Op::Eq => Sym::Eq,
                });
                out.push(Sym::Num(*value));
            }
        }
    }
    let dir = |d: bool| if d { Sym::Desc } else { Sym::Asc };
    match &form.order {
        Some(FormOrder::Distance {
            center: c,
            descending,
        }) => {
            out.push(Sym::OrderByDistance);
            center(&mut out, c);
            out.push(dir(*descending));
        }
        Some(FormOrder::Column { column, descending }) => {
            out.push(Sym::OrderBy);
            out.push(col(column));
            out.push(dir(*descending));
        }
        None => {}
    }
    if let Some(n) = form.limit {
        out.push(Sym::Limit);
        out.push(match n {
            Count::One => Sym::One,
            Count::Slot(k) => Sym::Num(k),
        });
    }
    out
}

/// The symbols allowed next: a bit per symbol index, and whether the statement may end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Allowed {
    /// Bit `i`: symbol `i` is allowed.
    pub mask: u64,
    /// The statement may end here (`EOS`).
    pub end: bool,
}

const _: () = assert!(SYMBOLS <= 64, "Allowed::mask holds one bit per symbol");

impl Allowed {
    fn add(&mut self, s: Sym) {
        self.mask |= 1u64 << s.index();
    }

    /// Whether `s` is allowed.
    pub fn contains(&self, s: Sym) -> bool {
        self.mask & (1u64 << s.index()) != 0
    }

    /// The allowed symbols, in symbol order.
    pub fn symbols(&self) -> impl Iterator<Item = Sym> + '_ {
        Sym::all().filter(|s| self.contains(*s))
    }

    /// Whether nothing at all is allowed (after the end).
    pub fn is_empty(&self) -> bool {
        self.mask == 0 && !self.end
    }
}

/// Where the automaton is.
#[derive(Debug, Clone, PartialEq)]
enum Pending {
    /// Before the projection.
    Start,
    /// After `Decline`: only the end.
    Declined,
    /// Between clauses.
    Clause,
    /// After `Where` or `And`.
    CondStart,
    /// One type of `TypeEq` / `TypeNe`.
    OneType { negated: bool },
    /// The types of a list.
    TypeList { negated: bool, types: Vec<TypeRef> },
    /// The centre of a within condition (`Some(negated)`) or of the ORDER BY (`None`).
    Center { within: Option<bool> },
    /// The coordinates of a `Point`.
    Coords { within: Option<bool>, got: Vec<u8> },
    /// The radius of a within condition.
    Radius { negated: bool, center: Center },
    /// The type of `Near`.
    NearType,
    /// The radius of `Near`.
    NearRadius { ty: TypeRef },
    /// The operator after a column.
    CompareOp { column: ColRef },
    /// The number after an operator.
    CompareValue { column: ColRef, op: Op },
    /// The column of `OrderBy`.
    OrderColumn,
    /// The direction of the ORDER BY.
    Direction { order: OrderKey },
    /// The count of `Limit`.
    LimitCount,
    /// After the end.
    Done,
}

/// An ORDER BY waiting for its direction.
#[derive(Debug, Clone, Copy, PartialEq)]
enum OrderKey {
    Distance(Center),
    Column(ColRef),
}

/// A symbol the automaton does not allow where it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAllowed {
    /// The symbol's position in the statement (0-based).
    pub at: usize,
    /// The symbol (`None`: the end).
    pub symbol: Option<Sym>,
}

impl std::fmt::Display for NotAllowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.symbol {
            Some(s) => write!(f, "symbol {} is not allowed at {}", s.name(), self.at),
            None => write!(f, "the statement cannot end at {}", self.at),
        }
    }
}

/// The automaton: feed it symbols with [`Parser::push`], ask [`Parser::allowed`], finish with
/// [`Parser::finish`].
#[derive(Debug, Clone)]
pub struct Parser<'a> {
    slots: &'a Slots,
    pending: Pending,
    steps: usize,
    declined: bool,
    projection: Projection,
    conditions: Vec<FormCond>,
    order: Option<FormOrder>,
    limit: Option<Count>,
}

impl<'a> Parser<'a> {
    /// A parser at the start of a statement over a text with `slots`.
    pub fn new(slots: &'a Slots) -> Self {
        Parser {
            slots,
            pending: Pending::Start,
            steps: 0,
            declined: false,
            projection: Projection::Rows,
            conditions: Vec::new(),
            order: None,
            limit: None,
        }
    }

    fn radius_ok(&self, k: usize) -> bool {
        self.slots
            .numbers
            .get(k)
            .is_some_and(|v| v.is_finite() && *v >= 0.0)
    }

    fn count_ok(&self, k: usize) -> bool {
        self.slots
            .numbers
            .get(k)
            .is_some_and(|v| v.fract() == 0.0 && (1.0..=1e9).contains(v))
    }

    fn any_radius(&self) -> bool {
        (0..self.slots.numbers.len()).any(|k| self.radius_ok(k))
    }

    fn types(&self, a: &mut Allowed, used: &[TypeRef]) {
        for k in 0..self.slots.types.len() {
            if !used.contains(&TypeRef::Slot(k as u8)) {
                a.add(Sym::Type(k as u8));
            }
        }
        if !used.contains(&TypeRef::Unknown) {
            a.add(Sym::UnknownType);
        }
    }

    fn columns(&self, a: &mut Allowed) {
        for s in [Sym::Confidence, Sym::X, Sym::Y, Sym::Z] {
            a.add(s);
        }
        for k in 0..self.slots.columns.len() {
            a.add(Sym::Col(k as u8));
        }
    }

    /// How many conditions of `rank` there are, and whether one of `rank` may follow.
    fn rank_open(&self, rank: usize) -> bool {
        let last = self.conditions.last().map_or(0, FormCond::rank);
        let used = self.conditions.iter().filter(|c| c.rank() == rank).count();
        rank >= last && used < QUOTA[rank]
    }

    /// The condition openers allowed now.
    fn cond_starts(&self) -> Allowed {
        let mut a = Allowed::default();
        if self.rank_open(0) {
            a.add(Sym::TypeEq);
            a.add(Sym::TypeNe);
            // A list needs two distinct types: a slot and `UnknownType` at least.
            if !self.slots.types.is_empty() {
                a.add(Sym::TypeIn);
                a.add(Sym::TypeNotIn);
            }
        }
        let radius = self.any_radius();
        if radius && self.rank_open(1) {
            a.add(Sym::Within);
        }
        if radius && self.rank_open(2) {
            a.add(Sym::NotWithin);
        }
        if radius && self.rank_open(3) {
            a.add(Sym::Near);
        }
        if !self.slots.numbers.is_empty() && self.rank_open(4) {
            self.columns(&mut a);
        }
        a
    }

    /// The symbols allowed next.
    pub fn allowed(&self) -> Allowed {
        let mut a = Allowed::default();
        let n = self.slots.numbers.len();
        match &self.pending {
            Pending::Start => {
                for s in [
                    Sym::Decline,
                    Sym::SelectRows,
                    Sym::SelectCount,
                    Sym::SelectCountByType,
                ] {
                    a.add(s);
                }
            }
            Pending::Declined => a.end = true,
            Pending::Clause => {
                let rows = self.projection == Projection::Rows;
                let after_where = self.order.is_none() && self.limit.is_none();
                if after_where && self.cond_starts().mask != 0 {
                    a.add(if self.conditions.is_empty() {
                        Sym::Where
                    } else {
                        Sym::And
                    });
                }
                if rows && after_where {
                    a.add(Sym::OrderByDistance);
                    a.add(Sym::OrderBy);
                }
                if rows && self.limit.is_none() {
                    a.add(Sym::Limit);
                }
                a.end = true;
            }
            Pending::CondStart => a = self.cond_starts(),
            Pending::OneType { .. } | Pending::NearType => self.types(&mut a, &[]),
            Pending::TypeList { types, .. } => {
                self.types(&mut a, types);
                if types.len() >= 2 {
                    a.add(Sym::Close);
                }
            }
            Pending::Center { .. } => {
                a.add(Sym::Origin);
                if n > 0 {
                    a.add(Sym::Point);
                }
            }
            Pending::Coords { .. } | Pending::CompareValue { .. } => {
                for k in 0..n {
                    a.add(Sym::Num(k as u8));
                }
            }
            Pending::Radius { .. } | Pending::NearRadius { .. } => {
                for k in (0..n).filter(|&k| self.radius_ok(k)) {
                    a.add(Sym::Num(k as u8));
                }
            }
            Pending::CompareOp { .. } => {
                for s in [Sym::Gt, Sym::Ge, Sym::Lt, Sym::Le, Sym::Eq] {
                    a.add(s);
                }
            }
            Pending::OrderColumn => self.columns(&mut a),
            Pending::Direction { .. } => {
                a.add(Sym::Asc);
                a.add(Sym::Desc);
            }
            Pending::LimitCount => {
                a.add(Sym::One);
                for k in (0..n).filter(|&k| self.count_ok(k)) {
                    a.add(Sym::Num(k as u8));
                }
            }
            Pending::Done => {}
        }
        a
    }

    /// Feeds one symbol; an error (nothing changed) when it is not allowed.
    pub fn push(&mut self, s: Sym) -> Result<(), NotAllowed> {
        if !self.allowed().contains(s) {
            return Err(NotAllowed {
                at: self.steps,
                symbol: Some(s),
            });
        }
        self.steps += 1;
        let pending = std::mem::replace(&mut self.pending, Pending::Done);
        self.pending = match (pending, s) {
            (Pending::Start, Sym::Decline) => {
                self.declined = true;
                Pending::Declined
            }
            (Pending::Start, proj) => {
                self.projection = match proj {
                    Sym::SelectCount => Projection::Count,
                    Sym::SelectCountByType => Projection::CountByType,
                    _ => Projection::Rows,
                };
                Pending::Clause
            }
            (Pending::Clause, Sym::Where | Sym::And) => Pending::CondStart,
            (Pending::Clause, Sym::OrderByDistance) => Pending::Center { within: None },
            (Pending::Clause, Sym::OrderBy) => Pending::OrderColumn,
            (Pending::Clause, _) => Pending::LimitCount,
            (Pending::CondStart, Sym::TypeEq) => Pending::OneType { negated: false },
            (Pending::CondStart, Sym::TypeNe) => Pending::OneType { negated: true },
            (Pending::CondStart, Sym::TypeIn) => Pending::TypeList {
                negated: false,
                types: Vec::new(),
            },
            (Pending::CondStart, Sym::TypeNotIn) => Pending::TypeList {
                negated: true,
                types: Vec::new(),
            },
            (Pending::CondStart, Sym::Within) => Pending::Center {
                within: Some(false),
            },
            (Pending::CondStart, Sym::NotWithin) => Pending::Center { within: Some(true) },
            (Pending::CondStart, Sym::Near) => Pending::NearType,
            (Pending::CondStart, col) => Pending::CompareOp {
                column: column_of(col),
            },
            (Pending::OneType { negated }, t) => {
                self.conditions.push(FormCond::Type {
                    negated,
                    types: vec![type_of(t)],
                });
                Pending::Clause
            }
            (Pending::TypeList { negated, types }, Sym::Close) => {
                self.conditions.push(FormCond::Type { negated, types });
                Pending::Clause
            }
            (Pending::TypeList { negated, mut types }, t) => {
                types.push(type_of(t));
                Pending::TypeList { negated, types }
            }
            (Pending::Center { within }, Sym::Point) => Pending::Coords {
                within,
                got: Vec::new(),
            },
            (Pending::Center { within }, _) => self.centered(within, Center::Origin),
            (Pending::Coords { within, mut got }, s) => {
                got.push(num_of(s));
                if got.len() == 3 {
                    self.centered(within, Center::Point([got[0], got[1], got[2]]))
                } else {
                    Pending::Coords { within, got }
                }
            }
            (Pending::Radius { negated, center }, s) => {
                self.conditions.push(FormCond::Within {
                    negated,
                    center,
                    radius: num_of(s),
                });
                Pending::Clause
            }
            (Pending::NearType, t) => Pending::NearRadius { ty: type_of(t) },
            (Pending::NearRadius { ty }, s) => {
                self.conditions.push(FormCond::Near {
                    ty,
                    radius: num_of(s),
                });
                Pending::Clause
            }
            (Pending::CompareOp { column }, s) => Pending::CompareValue {
                column,
                op: op_of(s),
            },
            (Pending::CompareValue { column, op }, s) => {
                self.conditions.push(FormCond::Compare {
                    column,
                    op,
                    value: num_of(s),
                });
                Pending::Clause
            }
            (Pending::OrderColumn, s) => Pending::Direction {
                order: OrderKey::Column(column_of(s)),
            },
            (Pending::Direction { order }, s) => {
                let descending = s == Sym::Desc;
                self.order = Some(match order {
                    OrderKey::Distance(center) => FormOrder::Distance { center, descending },
                    OrderKey::Column(column) => FormOrder::Column { column, descending },
                });
                Pending::Clause
            }
            (Pending::LimitCount, s) => {
                self.limit = Some(match s {
                    Sym::Num(k) => Count::Slot(k),
                    _ => Count::One,
                });
                Pending::Clause
            }
            (Pending::Declined | Pending::Done, _) => Pending::Done,
        };
        Ok(())
    }

    fn centered(&self, within: Option<bool>, center: Center) -> Pending {
        match within {
            Some(negated) => Pending::Radius { negated, center },
            None => Pending::Direction {
                order: OrderKey::Distance(center),
            },
        }
    }

    /// Symbols read so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Ends the statement; an error when it may not end here.
    pub fn finish(self) -> Result<Decoded, NotAllowed> {
        if !self.allowed().end {
            return Err(NotAllowed {
                at: self.steps,
                symbol: None,
            });
        }
        if self.declined {
            return Ok(Decoded::Decline);
        }
        Ok(Decoded::Statement(Form {
            projection: self.projection,
            conditions: self.conditions,
            order: self.order,
            limit: self.limit,
        }))
    }

    /// Reads a whole statement (without its `EOS`).
    pub fn parse(slots: &Slots, symbols: &[Sym]) -> Result<Decoded, NotAllowed> {
        let mut p = Parser::new(slots);
        for &s in symbols {
            p.push(s)?;
        }
        p.finish()
    }
}

// The helpers below are only called on symbols `allowed` has admitted for the state.

fn type_of(s: Sym) -> TypeRef {
    match s {
        Sym::Type(k) => TypeRef::Slot(k),
        _ => TypeRef::Unknown,
    }
}

fn num_of(s: Sym) -> u8 {
    match s {
        Sym::Num(k) => k,
        _ => 0,
    }
}

fn column_of(s: Sym) -> ColRef {
    match s {
        Sym::X => ColRef::X,
        Sym::Y => ColRef::Y,
        Sym::Z => ColRef::Z,
        Sym::Col(k) => ColRef::Slot(k),
        _ => ColRef::Confidence,
    }
}

fn op_of(s: Sym) -> Op {
    match s {
        Sym::Ge => Op::Ge,
        Sym::Lt => Op::Lt,
        Sym::Le => Op::Le,
        Sym::Eq => Op::Eq,
        _ => Op::Gt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(numbers: &[f64], types: usize) -> Slots {
        Slots {
            numbers: numbers.to_vec(),
            types: (0..types).map(|i| format!("t{i}")).collect(),
            columns: vec!["mass".into()],
        }
    }

    #[test]
    fn a_statement_round_trips_through_its_symbols() {
        let s = slots(&[200.0, 1.0, -2.0, 3.0, 5.0], 2);
        let form = Decoded::Statement(Form {
            projection: Projection::Rows,
            conditions: vec![
                FormCond::Type {
                    negated: false,
                    types: vec![TypeRef::Slot(1), TypeRef::Slot(0)],
                },
                FormCond::Within {
                    negated: false,
                    center: Center::Point([1, 2, 3]),
                    radius: 0,
                },
                FormCond::Near {
                    ty: TypeRef::Unknown,
                    radius: 0,
                },
                FormCond::Compare {
                    column: ColRef::Slot(0),
                    op: Op::Le,
                    value: 2,
                },
            ],
            order: Some(FormOrder::Distance {
                center: Center::Origin,
                descending: true,
            }),
            limit: Some(Count::Slot(4)),
        });
        let syms = linearize(&form);
        assert_eq!(Parser::parse(&s, &syms), Ok(form));
        assert_eq!(Parser::parse(&s, &[Sym::Decline]), Ok(Decoded::Decline));
    }

    #[test]
    fn slots_and_values_bound_what_may_follow() {
        // Negative numbers are no radius and no count; there is one type slot.
        let s = slots(&[-2.0, -2.5], 1);
        let mut p = Parser::new(&s);
        p.push(Sym::SelectRows).unwrap();
        p.push(Sym::Where).unwrap();
        let a = p.allowed();
        assert!(!a.contains(Sym::Within) && !a.contains(Sym::Near));
        assert!(a.contains(Sym::TypeIn) && a.contains(Sym::Confidence));
        p.push(Sym::TypeEq).unwrap();
        assert!(p.push(Sym::Type(1)).is_err());
        p.push(Sym::Type(0)).unwrap();
        // Only one type condition.
        p.push(Sym::And).unwrap();
        assert!(!p.allowed().contains(Sym::TypeNe));
        p.push(Sym::X).unwrap();
        p.push(Sym::Lt).unwrap();
        p.push(Sym::Num(0)).unwrap();
        p.push(Sym::Limit).unwrap();
        let a = p.allowed();
        assert!(a.contains(Sym::One) && !a.contains(Sym::Num(1)));
        p.push(Sym::One).unwrap();
        // LIMIT is last.
        assert_eq!(p.allowed().mask, 0);
        assert!(p.allowed().end);
        assert!(p.finish().is_ok());
    }

    #[test]
    fn counts_take_no_order_and_lists_no_repeats() {
        let s = slots(&[3.0], 2);
        let mut p = Parser::new(&s);
        p.push(Sym::SelectCount).unwrap();
        assert!(!p.allowed().contains(Sym::Limit) && !p.allowed().contains(Sym::OrderBy));
        p.push(Sym::Where).unwrap();
        p.push(Sym::TypeIn).unwrap();
        p.push(Sym::Type(0)).unwrap();
        assert!(!p.allowed().contains(Sym::Close) && !p.allowed().contains(Sym::Type(0)));
        p.push(Sym::UnknownType).unwrap();
        assert!(!p.allowed().contains(Sym::UnknownType));
        assert!(p.clone().finish().is_err());
        p.push(Sym::Close).unwrap();
        assert!(p.finish().is_ok());
    }
}
