//! Putting an [`Intent`] in words: the pieces of a command's text (words, numbers, type
//! and column mentions) and the statement ([`Form`]) that answers it. Numbers carry an id
//! (the [`Form`] refers to them by it until the text's final order numbers the slots);
//! type and column mentions carry their catalog index.
//!
//! Every part has many phrasings, drawn at random; the parts are then arranged in several
//! orders (modifiers shuffled, one sometimes put first), with greetings, politeness and
//! endings around them.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::intent::{CentreI, ColI, Intent, OrderI, Ty, TypeSel};
use super::words::{digits, pick, plural, spell, ORIGIN, POINT_WORDS, UNITS};
use crate::command::grammar::{Center, ColRef, Count, Form, FormCond, FormOrder, TypeRef};
use crate::command::query::{Op, Projection};

/// One piece of a command's text.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Words or punctuation, as typed.
    Text(String),
    /// A number: its id, value and surface.
    Num {
        /// The id the form refers to it by.
        id: u8,
        /// Its value.
        value: f64,
        /// How it is written.
        text: String,
    },
    /// A mention of the map's type `index`.
    Type {
        /// Index into the map's types.
        index: usize,
        /// How it is written.
        text: String,
    },
    /// A mention of the map's numeric column `index`.
    Col {
        /// Index into the map's columns.
        index: usize,
        /// How it is written.
        text: String,
    },
}

fn t(s: &str) -> Piece {
    Piece::Text(s.to_string())
}

/// Text pieces of a phrase with `{}` holes, filled in order by `holes`.
fn fill(template: &str, holes: Vec<Vec<Piece>>) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut holes = holes.into_iter();
    for (i, part) in template.split("{}").enumerate() {
        if i > 0 {
            out.extend(holes.next().unwrap_or_default());
        }
        if !part.trim().is_empty() {
            out.push(t(part.trim()));
        }
    }
    out
}

/// A generated map's names as the generator writes them.
#[derive(Debug, Clone, PartialEq)]
pub struct Names {
    /// Per type: its word (singular, spaces between words) and its name as stored.
    pub types: Vec<(String, String)>,
    /// The numeric columns' names.
    pub columns: Vec<String>,
}

/// How a number is meant.
#[derive(Debug, Clone, Copy, PartialEq)]
enum NumKind {
    Distance,
    Coordinate,
    Count,
    Confidence,
    Value,
}

/// Writes the pieces of one command.
#[derive(Debug)]
pub struct Writer<'a> {
    /// The random stream.
    pub rng: &'a mut ChaCha8Rng,
    /// The map's names.
    pub names: &'a Names,
    next: u8,
    centre: Option<Center>,
}

impl<'a> Writer<'a> {
    /// A writer over a map's names.
    pub fn new(rng: &'a mut ChaCha8Rng, names: &'a Names) -> Self {
        Writer {
            rng,
            names,
            next: 0,
            centre: None,
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn one<'s>(&mut self, items: &[&'s str]) -> &'s str {
        pick(self.rng, items)
    }

    fn num(&mut self, value: f64, kind: NumKind) -> (Piece, u8) {
        let id = self.next;
        self.next += 1;
        let whole = value.fract() == 0.0 && (0.0..10_000.0).contains(&value);
        let text = match kind {
            NumKind::Confidence if value > 0.0 && value < 1.0 => {
                let pct = (value * 100.0).round();
                let pct_exact = (pct / 100.0 - value).abs() < 1e-12;
                match self.rng.random_range(0..10) {
                    0..=5 => digits(value),
                    6 if value < 1.0 => digits(value).trim_start_matches('0').to_string(),
                    7..=8 if pct_exact => {
                        let suffix = self.one(&["%", "%", " percent", " pct", " %"]);
                        format!("{}{suffix}", digits(pct))
                    }
                    9 if (value * 10.0).fract() == 0.0 => {
                        let d = (value * 10.0) as u32;
                        let lead = if self.chance(0.5) { "zero " } else { "" };
                        format!("{lead}point {}", spell(d, self.rng))
                    }
                    _ => digits(value),
                }
            }
            NumKind::Distance | NumKind::Count | NumKind::Value if whole => {
                match self.rng.random_range(0..10) {
                    0..=6 => digits(value),
                    7..=8 => spell(value as u32, self.rng),
                    _ if kind == NumKind::Distance && value >= 100.0 && value % 100.0 == 0.0 => {
                        format!("{} hundred", value / 100.0)
                    }
                    _ if kind == NumKind::Distance => {
                        format!("{}{}", digits(value), self.one(&["m", "u", "units"]))
                    }
                    _ => digits(value),
                }
            }
            NumKind::Coordinate if value < 0.0 && self.chance(0.08) => {
                format!("{} {}", self.one(&["minus", "negative"]), digits(-value))
            }
            _ => digits(value),
        };
        (Piece::Num { id, value, text }, id)
    }

    /// A type mention (singular or plural), or an unknown word in its place.
    fn ty(&mut self, ty: Ty, many: bool) -> (Piece, TypeRef) {
        match ty {
            Ty::Known(index) => {
                let (word, stored) = &self.names.types[index];
                let text = match self.rng.random_range(0..20) {
                    0 => stored.clone(),
                    1 if word.contains(' ') => word.replace(' ', "_"),
                    _ if many => plural(word),
                    _ => word.clone(),
                };
                (Piece::Type { index, text }, TypeRef::Slot(index as u8))
            }
            Ty::Unknown(word) => {
                let text = if many { plural(word) } else { word.to_string() };
                (Piece::Text(text), TypeRef::Unknown)
            }
        }
    }

    fn column(&mut self, c: ColI) -> (Vec<Piece>, ColRef) {
        match c {
            ColI::Confidence => {
                let w = self.one(&[
                    "confidence",
                    "confidence",
                    "confidence",
                    "conf",
                    "confidence score",
                    "detection confidence",
                    "certainty",
                    "probability",
                    "confidence level",
                ]);
                (vec![t(w)], ColRef::Confidence)
            }
            ColI::Axis(a) => {
                let axis = ["x", "y", "z"][a];
                let form = self.one(&[
                    "{}",
                    "{}",
                    "{}",
                    "{} coordinate",
                    "{} value",
                    "{}-coordinate",
                ]);
                let r = [ColRef::X, ColRef::Y, ColRef::Z][a];
                (vec![t(&form.replace("{}", axis))], r)
            }
            ColI::User(index) => {
                let name = &self.names.columns[index];
                let text = if self.chance(0.5) {
                    name.replace('_', " ")
                } else {
                    name.clone()
                };
                (vec![Piece::Col { index, text }], ColRef::Slot(index as u8))
            }
        }
    }

    /// The centre, in words the first time; later, nothing or a back reference.
    fn centre(&mut self, c: CentreI, again: &[&str]) -> (Vec<Piece>, Center) {
        if let Some(done) = self.centre {
            let back = self.one(again);
            return (fill(back, vec![]), done);
        }
        let (pieces, center) = match c {
            CentreI::Origin => (vec![t(self.one(&ORIGIN))], Center::Origin),
            CentreI::Point(p) => {
                let (a, ia) = self.num(p[0], NumKind::Coordinate);
                let (b, ib) = self.num(p[1], NumKind::Coordinate);
                let (c, ic) = self.num(p[2], NumKind::Coordinate);
                let lead = self.one(&POINT_WORDS);
                let form = self.one(&[
                    "({}, {}, {})",
                    "({}, {}, {})",
                    "({},{},{})",
                    "{}, {}, {}",
                    "{}, {}, {}",
                    "{},{},{}",
                    "[{}, {}, {}]",
                    "{} {} {}",
                    "x={} y={} z={}",
                    "x = {}, y = {}, z = {}",
                    "x:{} y:{} z:{}",
                    "({} ,{} ,{})",
                ]);
                let mut pieces = Vec::new();
                if !lead.is_empty() {
                    pieces.push(t(lead));
                }
                pieces.extend(fill(form, vec![vec![a], vec![b], vec![c]]));
                (pieces, Center::Point([ia, ib, ic]))
            }
        };
        self.centre = Some(center);
        (pieces, center)
    }

    /// A unit word, unless the number `n` already ends in one (`200m`).
    fn units(&mut self, n: &Piece) -> Vec<Piece> {
        if matches!(n, Piece::Num { text, .. } if text.ends_with(|c: char| c.is_alphabetic())) {
            return vec![];
        }
        let u = self.one(&UNITS);
        if u.is_empty() {
            vec![]
        } else {
            vec![t(u)]
        }
    }

    /// "within R units of C" and its kin.
    fn within(&mut self, r: f64, c: CentreI) -> (Vec<Piece>, FormCond) {
        let (n, id) = self.num(r, NumKind::Distance);
        let units = self.units(&n);
        let (centre, center) = self.centre(c, &["of it", "from there", "of that point"]);
        let form = self.one(&[
            "within {} {} of {}",
            "within {} {} of {}",
            "within {} {} from {}",
            "inside {} {} of {}",
            "less than {} {} from {}",
            "less than {} {} away from {}",
            "closer than {} {} to {}",
            "no farther than {} {} from {}",
            "no further than {} {} from {}",
            "at most {} {} from {}",
            "at most {} {} away from {}",
            "within a radius of {} {} around {}",
            "within a radius of {} {} of {}",
            "in a radius of {} {} around {}",
            "within {} {} around {}",
            "{} {} or less from {}",
            "not more than {} {} away from {}",
            "up to {} {} away from {}",
            "in range {} {} of {}",
            "within range {} {} of {}",
            "inside a radius of {} {} around {}",
            "no more than {} {} from {}",
            "within a distance of {} {} from {}",
            "at a distance of at most {} {} from {}",
            "under {} {} from {}",
            "within {} {} distance of {}",
        ]);
        let cond = FormCond::Within {
            negated: false,
            center,
            radius: id,
        };
        if self.chance(0.12) {
            // The centre first: "around C within R".
            let lead = self.one(&[
                "around {}",
                "near {}",
                "close to {}",
                "around {},",
                "near {},",
            ]);
            let tail = self.one(&[
                "within {} {}",
                "within {} {}",
                "(within {} {})",
                "in a {} {} radius",
            ]);
            let mut p = fill(lead, vec![centre]);
            p.extend(fill(tail, vec![vec![n], units]));
            return (p, cond);
        }
        (fill(form, vec![vec![n], units, centre]), cond)
    }

    /// "farther than R units from C" and its kin.
    fn beyond(&mut self, r: f64, c: CentreI) -> (Vec<Piece>, FormCond) {
        let (n, id) = self.num(r, NumKind::Distance);
        let units = self.units(&n);
        let (centre, center) = self.centre(c, &["from it", "from there"]);
        let form = self.one(&[
            "farther than {} {} from {}",
            "further than {} {} from {}",
            "more than {} {} away from {}",
            "more than {} {} from {}",
            "outside {} {} of {}",
            "outside a radius of {} {} around {}",
            "outside of {} {} from {}",
            "beyond {} {} from {}",
            "beyond {} {} of {}",
            "at least {} {} from {}",
            "at least {} {} away from {}",
            "not within {} {} of {}",
            "over {} {} away from {}",
            "{} {} or more from {}",
            "further away than {} {} from {}",
            "at a distance greater than {} {} from {}",
            "not in the {} {} around {}",
            "outside the {} {} radius around {}",
        ]);
        let cond = FormCond::Within {
            negated: true,
            center,
            radius: id,
        };
        (fill(form, vec![vec![n], units, centre]), cond)
    }

    /// "between A and B units from C".
    fn band(&mut self, inner: f64, outer: f64, c: CentreI) -> (Vec<Piece>, [FormCond; 2]) {
        let (a, ia) = self.num(inner, NumKind::Distance);
        let (b, ib) = self.num(outer, NumKind::Distance);
        let units = self.units(&b);
        let (centre, center) = self.centre(c, &["from it"]);
        let form = self.one(&[
            "between {} and {} {} from {}",
            "between {} and {} {} of {}",
            "{} to {} {} from {}",
            "{} to {} {} away from {}",
            "more than {} but less than {} {} from {}",
            "farther than {} and closer than {} {} to {}",
            "from {} to {} {} away from {}",
            "at a distance between {} and {} {} from {}",
            // The inner radius as an exclusion, the outer as the bound.
            "not within {} but within {} {} of {}",
            "not within {} yet within {} {} of {}",
            "outside {} but inside {} {} of {}",
            "beyond {} but within {} {} of {}",
            "no closer than {} and no farther than {} {} from {}",
            "at least {} and at most {} {} from {}",
            "further than {} but not further than {} {} from {}",
        ]);
        let conds = [
            FormCond::Within {
                negated: false,
                center,
                radius: ib,
            },
            FormCond::Within {
                negated: true,
                center,
                radius: ia,
            },
        ];
        (fill(form, vec![vec![a], vec![b], units, centre]), conds)
    }

    /// "within R of a T".
    fn near(&mut self, ty: Ty, r: f64) -> (Vec<Piece>, FormCond) {
        let (n, id) = self.num(r, NumKind::Distance);
        let units = self.units(&n);
        let (tp, tr) = self.ty(ty, false);
        let form = self.one(&[
            "within {} {} of a {}",
            "within {} {} of any {}",
            "within {} {} of some {}",
            "less than {} {} away from a {}",
            "less than {} {} from any {}",
            "no more than {} {} from a {}",
            "at most {} {} from a {}",
            "{} {} or less from a {}",
            "inside {} {} of a {}",
        ]);
        let cond = FormCond::Near { ty: tr, radius: id };
        if self.chance(0.3) {
            let alt = self.one(&[
                "that have a {} within {} {}",
                "with a {} within {} {}",
                "with some {} less than {} {} away",
                "near a {}, within {} {}",
                "close to a {} (within {} {})",
                "next to a {}, at most {} {} away",
            ]);
            return (fill(alt, vec![vec![tp], vec![n], units]), cond);
        }
        (fill(form, vec![vec![n], units, vec![tp]]), cond)
    }

    /// "with confidence above V" and its kin; a pair on one column as a range.
    fn compare(&mut self, c: ColI, op: Op, v: f64) -> (Vec<Piece>, FormCond) {
        let kind = match c {
            ColI::Confidence => NumKind::Confidence,
            ColI::Axis(_) => NumKind::Coordinate,
            ColI::User(_) => NumKind::Value,
        };
        let (col, cr) = self.column(c);
        let (n, id) = self.num(v, kind);
        let cond = FormCond::Compare {
            column: cr,
            op,
            value: id,
        };
        let words: &[&str] = match op {
            Op::Gt => &[
                "above",
                "over",
                "greater than",
                "more than",
                "higher than",
                "exceeding",
                ">",
                "larger than",
                "bigger than",
                "in excess of",
            ],
            Op::Ge => &[
                "at least",
                "no less than",
                ">=",
                "greater than or equal to",
                "not below",
                "of at least",
                "≥",
            ],
            Op::Lt => &[
                "below",
                "under",
                "less than",
                "lower than",
                "<",
                "smaller than",
                "beneath",
            ],
            Op::Le => &[
                "at most",
                "no more than",
                "<=",
                "less than or equal to",
                "not above",
                "of at most",
                "≤",
            ],
            Op::Eq => &["equal to", "exactly", "=", "of exactly", "equals", "=="],
        };
        let op_words = self.one(words);
        let postfix = match op {
            Op::Ge => Some(self.one(&["{} or more", "{} or higher", "{} or above"])),
            Op::Le => Some(self.one(&["{} or less", "{} or lower", "{} or below"])),
            _ => None,
        };
        let value = match postfix {
            Some(p) if self.chance(0.2) => fill(p, vec![vec![n]]),
            _ => {
                let mut v = vec![t(op_words)];
                v.push(n);
                v
            }
        };
        if c == ColI::Confidence && self.chance(0.25) {
            let form = self.one(&[
                "with {} confidence",
                "that we are {} sure about",
                "detected with {} confidence",
                "with a confidence {}",
                "{} confident",
            ]);
            return (fill(form, vec![value]), cond);
        }
        let form = self.one(&[
            "with {} {}",
            "with {} {}",
            "{} {}",
            "whose {} is {}",
            "where {} is {}",
            "having {} {}",
            "with a {} {}",
            "that have {} {}",
            "({} {})",
            "with {} of {}",
        ]);
        (fill(form, vec![col, value]), cond)
    }
}

/// Words for "objects" when no type is named.
const ANY: [&str; 24] = [
    "objects",
    "objects",
    "things",
    "items",
    "entities",
    "everything",
    "anything",
    "all objects",
    "all the objects",
    "every object",
    "all things",
    "all items",
    "stuff",
    "the objects",
    "every item",
    "all entities",
    "all the things",
    "any objects",
    "detections",
    "all detections",
    "the detections",
    "results",
    "hits",
    "objects only",
];

impl Writer<'_> {
    /// The subject: the types asked for (plural unless `one`), and its type condition;
    /// `bare`: without a quantifier (the head has its own: "the 5 nearest …", "how many …").
    fn subject(&mut self, sel: &TypeSel, one: bool, bare: bool) -> (Vec<Piece>, Option<FormCond>) {
        match sel {
            TypeSel::Any => {
                let w = match (one, bare) {
                    (true, _) => self.one(&["object", "thing", "item", "entity", "one"]),
                    (false, true) => {
                        self.one(&["objects", "objects", "things", "items", "entities"])
                    }
                    (false, false) => self.one(&ANY),
                };
                // "one" is a number: the nearest one.
                if w == "one" {
                    let (p, _) = self.num(1.0, NumKind::Count);
                    return (vec![p], None);
                }
                (vec![t(w)], None)
            }
            TypeSel::Only(types) | TypeSel::Except(types) => {
                let negated = matches!(sel, TypeSel::Except(_));
                let many = !one || types.len() > 1 || negated;
                let mut mentions = Vec::new();
                let mut refs = Vec::new();
                for &ty in types {
                    let (p, r) = self.ty(ty, many);
                    mentions.push(vec![p]);
                    refs.push(r);
                }
                let list = self.list(mentions, negated);
                let cond = FormCond::Type {
                    negated,
                    types: refs,
                };
                if negated {
                    let form = self.one(&[
                        "everything except {}",
                        "everything but {}",
                        "all but {}",
                        "anything except {}",
                        "objects that are not {}",
                        "things other than {}",
                        "everything other than {}",
                        "all objects excluding {}",
                        "everything apart from {}",
                        "objects except {}",
                        "all except {}",
                        "items that aren't {}",
                        "non-{} objects",
                    ]);
                    return (fill(form, vec![list]), Some(cond));
                }
                let quant: &[&str] = match (one, bare) {
                    (_, true) => &[""],
                    (true, false) => &["the", "the", "a", ""],
                    (false, false) => &[
                        "",
                        "",
                        "",
                        "all",
                        "all the",
                        "all of the",
                        "the",
                        "any",
                        "all my",
                        "those",
                    ],
                };
                let q = self.one(quant);
                let generic = if self.chance(0.1) {
                    self.one(&[
                        "{} objects",
                        "objects of type {}",
                        "{} items",
                        "things that are {}",
                    ])
                } else {
                    "{}"
                };
                let mut p = if q.is_empty() { vec![] } else { vec![t(q)] };
                p.extend(fill(generic, vec![list]));
                (p, Some(cond))
            }
        }
    }

    /// Joins type mentions: "a, b and c", "a or b", ...
    fn list(&mut self, mut items: Vec<Vec<Piece>>, negated: bool) -> Vec<Piece> {
        if items.len() == 1 {
            return items.pop().unwrap_or_default();
        }
        let last = items.pop().unwrap_or_default();
        let joiner = if negated {
            self.one(&["and", "or", "nor", ","])
        } else {
            self.one(&["and", "and", "or", "as well as", "plus", "&", "/", ","])
        };
        let mut out = Vec::new();
        let pair_form = !negated && items.len() == 1 && self.chance(0.15);
        if pair_form {
            out.push(t(self.one(&["both", "either"])));
        }
        for (i, it) in items.into_iter().enumerate() {
            if i > 0 {
                out.push(t(","));
            }
            out.extend(it);
        }
        out.push(t(joiner));
        out.extend(last);
        out
    }
}

/// A realized command: its pieces and the statement answering it.
#[derive(Debug)]
pub struct Realized {
    /// The text's pieces, in order.
    pub pieces: Vec<Piece>,
    /// The statement; slots are still ids (numbers) and catalog indices (types, columns).
    pub form: Form,
}

/// Puts `it` in words (module docs).
pub fn realize(w: &mut Writer, it: &Intent) -> Realized {
    let one = it.limit == Some(1);
    let mut conditions: Vec<FormCond> = Vec::new();
    let mut mods: Vec<Vec<Piece>> = Vec::new();
    // The heads that carry their own quantifier take a bare subject.
    let bare = it.projection != Projection::Rows || it.limit.is_some();
    let (subject, type_cond) = w.subject(&it.types, one, bare);
    conditions.extend(type_cond);
    // Spatial conditions.
    match (it.within, it.beyond) {
        (Some(outer), Some(inner)) => {
            let (p, [a, b]) = w.band(inner, outer, it.centre);
            mods.push(p);
            conditions.push(a);
            conditions.push(b);
        }
        (Some(r), None) => {
            let (p, c) = w.within(r, it.centre);
            mods.push(p);
            conditions.push(c);
        }
        (None, Some(r)) => {
            let (p, c) = w.beyond(r, it.centre);
            mods.push(p);
            conditions.push(c);
        }
        (None, None) => {}
    }
    if let Some((ty, r)) = it.near {
        let (p, c) = w.near(ty, r);
        mods.push(p);
        conditions.push(c);
    }
    let mut k = 0;
    while k < it.compares.len() {
        let (c, op, v) = it.compares[k];
        let range = it
            .compares
            .get(k + 1)
            .filter(|n| n.0 == c && op == Op::Ge && n.1 == Op::Le);
        if let Some(&(_, _, hi)) = range.filter(|_| w.chance(0.7)) {
            let (col, cr) = w.column(c);
            let kind = if c == ColI::Confidence {
                NumKind::Confidence
            } else {
                NumKind::Value
            };
            let (a, ia) = w.num(v, kind);
            let (b, ib) = w.num(hi, kind);
            let form = w.one(&[
                "with {} between {} and {}",
                "{} between {} and {}",
                "with {} from {} to {}",
                "whose {} is between {} and {}",
            ]);
            mods.push(fill(form, vec![col, vec![a], vec![b]]));
            conditions.push(FormCond::Compare {
                column: cr,
                op: Op::Ge,
                value: ia,
            });
            conditions.push(FormCond::Compare {
                column: cr,
                op: Op::Le,
                value: ib,
            });
            k += 2;
        } else {
            let (p, c) = w.compare(c, op, v);
            mods.push(p);
            conditions.push(c);
            k += 1;
        }
    }
    // The head is written after the conditions, so that the centre they name is not named
    // again.
    let (head, order, limit) = head(w, it, subject, &mut mods);
    conditions.sort_by_key(FormCond::rank);
    let mut pieces = arrange(w, head, mods, it.projection);
    decorate(w, &mut pieces, it.projection);
    Realized {
        pieces,
        form: Form {
            projection: it.projection,
            conditions,
            order,
            limit,
        },
    }
}

/// The head of the command (verb and subject, with an ordering and count worked in) and
/// the ordering and limit it states; an ordering that is not worked in becomes a modifier.
fn head(
    w: &mut Writer,
    it: &Intent,
    subject: Vec<Piece>,
    mods: &mut Vec<Vec<Piece>>,
) -> (Vec<Piece>, Option<FormOrder>, Option<Count>) {
    let limit_piece = |w: &mut Writer| -> (Vec<Piece>, Count) {
        match it.limit {
            Some(1) | None => (vec![], Count::One),
            Some(k) => {
                let (p, id) = w.num(k as f64, NumKind::Count);
                (vec![p], Count::Slot(id))
            }
        }
    };
    match it.projection {
        Projection::Count => {
            let form = w.one(&[
                "how many {}",
                "how many {}",
                "how many {} are there",
                "how many {} do we have",
                "how many {} exist",
                "count {}",
                "count the {}",
                "count all {}",
                "count of {}",
                "number of {}",
                "the number of {}",
                "give me the number of {}",
                "what is the number of {}",
                "tell me the count of {}",
                "total count of {}",
                "how many {} in total",
                "get a count of {}",
                "{} count",
                "tally the {}",
                "how many {} are present",
                "how many {} can you find",
                "count how many {} there are",
                "what's the number of {}",
                "the total number of {}",
                // Shorthand people type: "cnt", "num", "#", "no." for the number of.
                "cnt {}",
                "cnt of {}",
                "{} cnt",
                "num of {}",
                "num {}",
                "# of {}",
                "no. of {}",
                "qty of {}",
                "headcount of {}",
                "tally of {}",
                "tally up the {}",
            ]);
            (fill(form, vec![subject]), None, None)
        }
        Projection::CountByType => {
            let typed = !matches!(it.types, TypeSel::Any);
            let form = if typed {
                w.one(&[
                    "count {} by type",
                    "how many {} of each type",
                    "{} counted per type",
                    "count {} grouped by type",
                    "per-type count of {}",
                    "breakdown of {} by type",
                    "how many {} of every kind",
                    "{} by category with counts",
                    "distribution of {} over types",
                    "tally {} by kind",
                ])
            } else {
                w.one(&[
                    "how many of each type",
                    "count by type",
                    "count per type",
                    "counts per type",
                    "number of objects per type",
                    "objects per type",
                    "count objects grouped by type",
                    "group by type and count",
                    "type counts",
                    "how many objects of each type",
                    "how many things of each kind",
                    "count each type",
                    "a count for every type",
                    "how many are there of each type",
                    "number of items by type",
                    "break the objects down by type",
                    "how many objects per kind",
                    "counts grouped by type",
                    // Wordings of a per-type breakdown: "breakdown", "every kind",
                    // "distribution", "category", "sort".
                    "breakdown by type",
                    "a breakdown of the types",
                    "give me a breakdown of types",
                    "type breakdown",
                    "breakdown of the objects by kind",
                    "how many of every type",
                    "how many things of every type",
                    "how many items of every kind",
                    "count of every kind",
                    "number of every type of object",
                    "distribution of types",
                    "the type distribution",
                    "how are the objects distributed over types",
                    "how many per category",
                    "count per category",
                    "objects by category with counts",
                    "how many of each sort",
                    "tally by type",
                    "a tally of each kind",
                    "histogram of types",
                    "type histogram",
                    "what types are there and how many of each",
                    "list the types with their counts",
                    "cnt by type",
                    "cnt per type",
                ])
            };
            let holes = if typed { vec![subject] } else { vec![] };
            (fill(form, holes), None, None)
        }
        Projection::Rows => match it.order {
            OrderI::Distance { descending } if it.limit.is_some() => {
                let (k, count) = limit_piece(w);
                // A radius condition names the centre already: "the 5 nearest cubes within 50
                // of (1, 2, 3)".
                let (centre, center) = w.centre(it.centre, &[""]);
                let named = !centre.is_empty();
                let sup = if descending {
                    w.one(&["farthest", "furthest", "most distant", "farthest away"])
                } else {
                    w.one(&["nearest", "closest", "nearest", "closest"])
                };
                // "the 5 nearest neighbours of (1, 2, 3)": k-nearest-neighbour wording.
                let neighbours = !descending
                    && it.limit != Some(1)
                    && it.types == TypeSel::Any
                    && w.chance(0.25);
                let subject = if neighbours {
                    vec![t(w.one(&[
                        "neighbours",
                        "neighbors",
                        "neighbouring objects",
                    ]))]
                } else {
                    subject
                };
                let prep = match (named, descending, sup) {
                    (false, _, _) => "",
                    (true, false, _) if neighbours => w.one(&["of", "to", "around"]),
                    (true, true, _) => w.one(&["from", "from", "away from"]),
                    (true, false, "nearest") => w.one(&["to", "to", "from", ""]),
                    (true, false, _) => w.one(&["to", "to", "from"]),
                };
                let forms: &[&str] = if it.limit == Some(1) {
                    &[
                        "the {sup} {s} {prep} {c}",
                        "{sup} {s} {prep} {c}",
                        "which {s} is {sup} {prep} {c}",
                        "what is the {sup} {s} {prep} {c}",
                        "the {s} {sup} {prep} {c}",
                        "the {s} that is {sup} {prep} {c}",
                        "the single {sup} {s} {prep} {c}",
                        "find the {sup} {s} {prep} {c}",
                        "show the {s} {sup} {prep} {c}",
                        "get the {sup} {s} {prep} {c}",
                    ]
                } else {
                    &[
                        "the {k} {sup} {s} {prep} {c}",
                        "{k} {sup} {s} {prep} {c}",
                        "{sup} {k} {s} {prep} {c}",
                        "the {k} {s} {sup} {prep} {c}",
                        "{k} {s} {sup} {prep} {c}",
                        "top {k} {sup} {s} {prep} {c}",
                        "the {k} {s} that are {sup} {prep} {c}",
                        "the {sup} {k} {s} {prep} {c}",
                        "show the {k} {sup} {s} {prep} {c}",
                        "find the {k} {s} {sup} {prep} {c}",
                        "list the {sup} {k} {s} {prep} {c}",
                        "get {k} {sup} {s} {prep} {c}",
                    ]
                };
                // Terse: "nearest 5 to the origin", "closest 3 from (1, 2, 3)", when no type
                // is named.
                let terse: &[&str] = &[
                    "{sup} {k} {prep} {c}",
                    "the {sup} {k} {prep} {c}",
                    "{k} {sup} {prep} {c}",
                    "show the {sup} {k} {prep} {c}",
                    "{sup} {k} please {prep} {c}",
                ];
                let forms = if it.limit != Some(1)
                    && !neighbours
                    && it.types == TypeSel::Any
                    && named
                    && w.chance(0.2)
                {
                    terse
                } else {
                    forms
                };
                let form = w.one(forms);
                let text = form
                    .replace("{sup}", sup)
                    .replace("{prep}", prep)
                    .replace("{k}", "{}")
                    .replace("{s}", "{}")
                    .replace("{c}", "{}");
                let holes = if it.limit == Some(1) {
                    vec![subject, centre]
                } else {
                    // {k} comes before or after {s} as the template says (a terse form has
                    // no {s}).
                    let k_first = form.find("{k}") < form.find("{s}");
                    if !form.contains("{s}") {
                        vec![k, centre]
                    } else if k_first {
                        vec![k, subject, centre]
                    } else {
                        vec![subject, k, centre]
                    }
                };
                let order = FormOrder::Distance { center, descending };
                (fill(&text, holes), Some(order), Some(count))
            }
            OrderI::Column { column, descending } if it.limit.is_some() => {
                let (k, count) = limit_piece(w);
                let (col, cr) = w.column(column);
                let conf = column == ColI::Confidence && w.chance(0.5);
                let text: &str = match (conf, descending, it.limit == Some(1)) {
                    (true, true, true) => w.one(&[
                        "the most confident {s}",
                        "which {s} is the most confident",
                        "the {s} we are most sure about",
                    ]),
                    (true, false, true) => w.one(&[
                        "the least confident {s}",
                        "which {s} is the least confident",
                        "the {s} we are least sure about",
                    ]),
                    (true, true, false) => w.one(&[
                        "the {k} most confident {s}",
                        "{k} most confident {s}",
                        "top {k} most confident {s}",
                        "the {k} {s} we are most sure about",
                    ]),
                    (true, false, false) => w.one(&[
                        "the {k} least confident {s}",
                        "{k} least confident {s}",
                        "bottom {k} {s} by confidence",
                    ]),
                    (false, true, true) => w.one(&[
                        "the {s} with the highest {c}",
                        "which {s} has the highest {c}",
                        "the {s} with the largest {c}",
                        "the {s} with the most {c}",
                    ]),
                    (false, false, true) => w.one(&[
                        "the {s} with the lowest {c}",
                        "which {s} has the lowest {c}",
                        "the {s} with the smallest {c}",
                        "the {s} with the least {c}",
                    ]),
                    (false, true, false) => w.one(&[
                        "the {k} {s} with the highest {c}",
                        "top {k} {s} by {c}",
                        "{k} {s} with the largest {c}",
                        "the {k} {s} with the most {c}",
                        "the top {k} {s} ranked by {c}",
                    ]),
                    (false, false, false) => w.one(&[
                        "the {k} {s} with the lowest {c}",
                        "bottom {k} {s} by {c}",
                        "{k} {s} with the smallest {c}",
                        "the {k} {s} with the least {c}",
                    ]),
                };
                let mut order_of_holes: Vec<(usize, Vec<Piece>)> = Vec::new();
                for (name, piece) in [("{k}", k), ("{s}", subject), ("{c}", col)] {
                    if let Some(at) = text.find(name) {
                        order_of_holes.push((at, piece));
                    }
                }
                order_of_holes.sort_by_key(|(at, _)| *at);
                let template = text
                    .replace("{k}", "{}")
                    .replace("{s}", "{}")
                    .replace("{c}", "{}");
                let lead = w.one(&["", "", "", "show", "list", "find", "give me", "get"]);
                let mut p = if lead.is_empty() {
                    vec![]
                } else {
                    vec![t(lead)]
                };
                p.extend(fill(
                    &template,
                    order_of_holes.into_iter().map(|(_, p)| p).collect(),
                ));
                let order = FormOrder::Column {
                    column: cr,
                    descending,
                };
                (p, Some(order), Some(count))
            }
            order => {
                let lead = w.one(&[
                    "",
                    "",
                    "",
                    "",
                    "show",
                    "show me",
                    "list",
                    "list all",
                    "find",
                    "find me",
                    "get",
                    "get me",
                    "give me",
                    "display",
                    "fetch",
                    "return",
                    "select",
                    "bring up",
                    "look up",
                    "search for",
                    "locate",
                    "retrieve",
                    "i need",
                    "i want",
                    "i'd like",
                    "i would like to see",
                    "can you show me",
                    "can you find",
                    "could you list",
                    "could you show",
                    "would you find",
                    "please show",
                    "please list",
                    "please find",
                    "help me find",
                    "let me see",
                    "i'm looking for",
                    "we need",
                    "what are",
                    "which are",
                    "where are",
                    "are there any",
                    "is there any",
                    "do we have any",
                    "tell me about",
                    "output",
                    "print",
                    "enumerate",
                    "highlight",
                    "mark",
                    "query",
                ]);
                let mut p = if lead.is_empty() {
                    vec![]
                } else {
                    vec![t(lead)]
                };
                p.extend(subject);
                let form_order = match order {
                    OrderI::Distance { descending } => {
                        let (centre, center) = w.centre(it.centre, &["", ""]);
                        let mention = !centre.is_empty();
                        let form = match (descending, mention) {
                            (false, true) => w.one(&[
                                "sorted by distance from {}",
                                "ordered by distance to {}",
                                "by distance from {}",
                                "sorted by how close they are to {}",
                                "in order of distance from {}",
                                "ranked by distance to {}",
                                "sorted by their distance to {}",
                                "near {}",
                                "near {}",
                                "around {}",
                                "close to {}",
                                "in the vicinity of {}",
                                "next to {}",
                                "nearest to {} first",
                                "closest to {} first",
                            ]),
                            (true, true) => w.one(&[
                                "sorted by distance from {}, descending",
                                "farthest from {} first",
                                "ordered by distance to {} descending",
                                "in descending order of distance from {}",
                                "from farthest to nearest to {}",
                                "furthest from {} first",
                            ]),
                            (false, false) => w.one(&[
                                "nearest first",
                                "closest first",
                                "sorted by distance",
                                "ordered by distance",
                                "from nearest to farthest",
                            ]),
                            (true, false) => w.one(&[
                                "farthest first",
                                "furthest first",
                                "sorted by distance descending",
                                "from farthest to nearest",
                            ]),
                        };
                        mods.push(fill(form, vec![centre]));
                        Some(FormOrder::Distance { center, descending })
                    }
                    OrderI::Column { column, descending } => {
                        let (col, cr) = w.column(column);
                        let form = if descending {
                            w.one(&[
                                "sorted by {} descending",
                                "by {}, highest first",
                                "ordered by {} desc",
                                "highest {} first",
                                "with the highest {} first",
                                "in decreasing order of {}",
                                "descending by {}",
                                "sorted by {}, largest first",
                            ])
                        } else {
                            w.one(&[
                                "sorted by {}",
                                "ordered by {}",
                                "sorted by {} ascending",
                                "by {}, lowest first",
                                "in increasing order of {}",
                                "lowest {} first",
                                "with the lowest {} first",
                                "ascending by {}",
                            ])
                        };
                        mods.push(fill(form, vec![col]));
                        Some(FormOrder::Column {
                            column: cr,
                            descending,
                        })
                    }
                    OrderI::None => None,
                };
                (p, form_order, None)
            }
        },
    }
}

/// Head and modifiers in one of several orders, with connectors.
fn arrange(
    w: &mut Writer,
    head: Vec<Piece>,
    mut mods: Vec<Vec<Piece>>,
    projection: Projection,
) -> Vec<Piece> {
    mods.shuffle(w.rng);
    let mut out = Vec::new();
    if !mods.is_empty() && w.chance(0.15) {
        // One modifier first: "within 200 of the origin, show the cubes".
        out.extend(mods.remove(0));
        out.push(t(w.one(&[",", ",", ":", ""])));
    }
    out.extend(head);
    for (i, m) in mods.into_iter().enumerate() {
        let connector = if i == 0 {
            match projection {
                Projection::Count => {
                    w.one(&["", "", "", "that are", "are", "which are", "located"])
                }
                _ => w.one(&[
                    "",
                    "",
                    "",
                    "",
                    "that are",
                    "which are",
                    "located",
                    "lying",
                    "that lie",
                    "sitting",
                ]),
            }
        } else {
            w.one(&["", "", "and", "and", ",", ", and", "also", "that are also"])
        };
        if !connector.is_empty() {
            out.push(t(connector));
        }
        out.extend(m);
    }
    out
}

/// Greetings, politeness and the final mark.
fn decorate(w: &mut Writer, pieces: &mut Vec<Piece>, projection: Projection) {
    if w.chance(0.1) {
        let g = w.one(&[
            "hey",
            "hi",
            "hello",
            "ok",
            "okay",
            "so",
            "um",
            "quick question:",
            "hey there,",
            "alright,",
            "hmm",
        ]);
        pieces.insert(0, t(g));
    }
    // "could you" only before a verb.
    const VERBS: [&str; 14] = [
        "show", "list", "find", "get", "give", "display", "fetch", "return", "count", "tally",
        "locate", "retrieve", "print", "search",
    ];
    let verb_first = matches!(pieces.first(), Some(Piece::Text(s))
        if VERBS.contains(&s.split(' ').next().unwrap_or("")));
    if w.chance(0.12) {
        let p = if verb_first {
            w.one(&[
                "please",
                "kindly",
                "could you",
                "can you",
                "would you",
                "pls",
                "please,",
            ])
        } else {
            w.one(&["please", "pls", "please,"])
        };
        pieces.insert(0, t(p));
    }
    if w.chance(0.12) {
        let s = w.one(&[
            "please",
            "pls",
            "thanks",
            "thank you",
            "for me",
            "right now",
            "now",
            "if possible",
            "asap",
            "in the map",
            "in the scene",
            "on the map",
            "here",
            "thx",
        ]);
        pieces.push(t(s));
    }
    let question = projection == Projection::Count || w.chance(0.1);
    let mark = if question {
        w.one(&["?", "?", "", "", "?!"])
    } else {
        w.one(&["", "", "", "", ".", "!", "?"])
    };
    if !mark.is_empty() {
        pieces.push(t(mark));
    }
}
