//! The synthetic training corpus: (text, map catalog, statement) triples drawn from a
//! seed, so the same seed gives the same corpus on every machine.
//!
//! Each example draws a map — 2 to 14 types from about 600 object words
//! (`data/object_words.txt`), stored in the ways maps name them (`traffic_cone`, `Drone`,
//! `TrafficCone`, `cubes`, ...), 0 to 3 numeric columns and maybe a text column — then what
//! the command asks ([`intent`]), then its words ([`phrases`]): many phrasings per part,
//! modifiers in varied order, numbers as digits or words, percentages, units, politeness,
//! greetings, then typos, capitals and punctuation ([`noise`]). About 9 % are no question
//! about the map ([`decline`]), about 5 % name a type the map lacks.
//!
//! An example is kept only when the lexer and linker read its text as the generator wrote
//! it (the same numbers in order, the same types and columns mentioned), so the statement's
//! slots are exactly what the model will see; and only when its template (the text with
//! numbers, types and columns blanked) is not one of the held-out evaluation set's.

pub mod decline;
pub mod intent;
pub mod noise;
pub mod phrases;
pub mod words;

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use self::intent::MapShape;
use self::phrases::{Names, Piece, Writer};
use super::catalog::Catalog;
use super::eval::{eval_cases, eval_catalog};
use super::grammar::{
    linearize, Center, ColRef, Count, Decoded, Form, FormCond, FormOrder, Parser, Slots, TypeRef,
};
use super::lexer::lex;
use super::linking::{link, Item};
use super::symbols::{COLUMN_SLOTS, NUMBER_SLOTS, TYPE_SLOTS};

/// One training example.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// The command.
    pub text: String,
    /// The map it is asked of.
    pub catalog: Catalog,
    /// Its answer, over the slots the text offers.
    pub answer: Decoded,
}

/// A text's template: its lexed items with numbers, types and columns blanked
/// (`<N>`, `<T>`, `<C>`), space-separated.
pub fn template(text: &str, catalog: &Catalog) -> String {
    link(&lex(text), catalog)
        .iter()
        .map(|i| match i {
            Item::Word(w) => w.clone(),
            Item::Punct(c) => c.to_string(),
            Item::Number(_) => "<N>".into(),
            Item::Type { .. } => "<T>".into(),
            Item::Column(_) => "<C>".into(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The evaluation set's templates: the generator never produces one.
pub fn eval_templates() -> &'static HashSet<String> {
    static T: OnceLock<HashSet<String>> = OnceLock::new();
    T.get_or_init(|| {
        let catalog = eval_catalog();
        eval_cases()
            .unwrap_or_default()
            .iter()
            .map(|c| template(&c.text, &catalog))
            .collect()
    })
}

/// How a map stores a type named by `word`.
fn stored_name(word: &str, rng: &mut ChaCha8Rng) -> String {
    let cap = |w: &str| {
        let mut c = w.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect::<String>())
            .unwrap_or_default()
    };
    match rng.random_range(0..100) {
        0..=59 => word.replace(' ', "_"),
        60..=67 => word.to_string(),
        68..=77 => cap(&word.replace(' ', "_")),
        78..=83 => word.split(' ').map(cap).collect(),
        84..=89 => words::plural(word).replace(' ', "_"),
        90..=93 => word.to_uppercase().replace(' ', "_"),
        _ => word.replace(' ', "-"),
    }
}

/// The generator (module docs).
#[derive(Debug)]
pub struct Generator {
    rng: ChaCha8Rng,
    /// Drafts thrown away so far (read differently by the lexer, or an evaluation
    /// template).
    pub rejected: usize,
}

impl Generator {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Generator {
            rng: ChaCha8Rng::seed_from_u64(seed),
            rejected: 0,
        }
    }

    /// The next example.
    pub fn pair(&mut self) -> Pair {
        loop {
            if let Some(p) = self.draft() {
                return p;
            }
            self.rejected += 1;
        }
    }

    fn map(&mut self) -> (Names, Catalog) {
        let rng = &mut self.rng;
        let k = rng.random_range(2..=14);
        let mut picked: Vec<&str> = Vec::new();
        while picked.len() < k {
            let w = *words::object_words().choose(rng).unwrap_or(&"cube");
            if !picked.contains(&w) {
                picked.push(w);
            }
        }
        let types: Vec<(String, String)> = picked
            .iter()
            .map(|w| (w.to_string(), stored_name(w, rng)))
            .collect();
        let n_numeric = [0, 0, 1, 1, 2, 3].choose(rng).copied().unwrap_or(0);
        let numeric: Vec<String> =
            rand::seq::index::sample(rng, words::NUMERIC_COLUMNS.len(), n_numeric)
                .into_iter()
                .map(|i| words::NUMERIC_COLUMNS[i].to_string())
                .collect();
        let mut catalog = Catalog::new("map", types.iter().map(|(_, s)| s.clone()));
        for c in &numeric {
            catalog = catalog.with_column(c.clone(), true);
        }
        if rng.random_bool(0.3) {
            catalog = catalog.with_column(words::pick(rng, &words::TEXT_COLUMNS), false);
        }
        (
            Names {
                types,
                columns: numeric,
            },
            catalog,
        )
    }

    fn draft(&mut self) -> Option<Pair> {
        let (names, catalog) = self.map();
        if catalog.validate().is_err() {
            return None;
        }
        let declines = self.rng.random_bool(0.09);
        let unknown = if !declines && self.rng.random_bool(0.05) {
            let w = *words::object_words().choose(&mut self.rng)?;
            let clash = link(&lex(w), &catalog)
                .iter()
                .any(|i| matches!(i, Item::Type { .. }));
            if clash || names.types.iter().any(|(t, _)| t == w) {
                return None;
            }
            Some(w)
        } else {
            None
        };
        let shape = MapShape {
            types: names.types.len(),
            numeric: names.columns.len(),
        };
        let (mut pieces, form) = if declines {
            (decline::decline(&names, &mut self.rng), None)
        } else {
            let it = intent::draw(shape, unknown, &mut self.rng);
            let mut w = Writer::new(&mut self.rng, &names);
            let r = phrases::realize(&mut w, &it);
            (r.pieces, Some(r.form))
        };
        let rate = if self.rng.random_bool(0.5) {
            0.0
        } else {
            self.rng.random_range(0.02..0.12)
        };
        let type_rate = if self.rng.random_bool(0.15) { 0.5 } else { 0.0 };
        noise::typos(&mut pieces, rate, type_rate, &mut self.rng);
        let text = noise::case(&noise::join(&pieces), &mut self.rng);
        if text.trim().is_empty() || eval_templates().contains(&template(&text, &catalog)) {
            return None;
        }
        let answer = match form {
            None => Decoded::Decline,
            Some(form) => Decoded::Statement(align(&pieces, &text, &catalog, &form)?),
        };
        Some(Pair {
            text,
            catalog,
            answer,
        })
    }
}

/// The form with its number ids and catalog indices replaced by the slots the lexer and
/// linker give the text; `None` when they read the text differently from how it was
/// written, or it has more mentions than slots.
fn align(pieces: &[Piece], text: &str, catalog: &Catalog, form: &Form) -> Option<Form> {
    let items = link(&lex(text), catalog);
    let mut slots = Slots::default();
    let mut seen_types = Vec::new();
    let mut seen_cols = Vec::new();
    for i in &items {
        match i {
            Item::Number(v) => slots.numbers.push(*v),
            Item::Type { index, .. } if !seen_types.contains(index) => seen_types.push(*index),
            Item::Column(index) if !seen_cols.contains(index) => seen_cols.push(*index),
            _ => {}
        }
    }
    // What the generator wrote, in order.
    let mut num_slot: HashMap<u8, u8> = HashMap::new();
    let mut values = Vec::new();
    let mut types = Vec::new();
    let mut cols = Vec::new();
    for p in pieces {
        match p {
            Piece::Num { id, value, .. } => {
                num_slot.insert(*id, values.len() as u8);
                values.push(*value);
            }
            Piece::Type { index, .. } if !types.contains(index) => types.push(*index),
            Piece::Col { index, .. } if !cols.contains(index) => cols.push(*index),
            _ => {}
        }
    }
    if values != slots.numbers
        || types != seen_types
        || cols != seen_cols
        || values.len() > NUMBER_SLOTS
        || types.len() > TYPE_SLOTS
        || cols.len() > COLUMN_SLOTS
    {
        return None;
    }
    let ty = |t: &TypeRef| -> Option<TypeRef> {
        match t {
            TypeRef::Slot(i) => types
                .iter()
                .position(|&x| x == *i as usize)
                .map(|k| TypeRef::Slot(k as u8)),
            TypeRef::Unknown => Some(TypeRef::Unknown),
        }
    };
    let num = |id: &u8| num_slot.get(id).copied();
    let col = |c: &ColRef| -> Option<ColRef> {
        match c {
            ColRef::Slot(i) => cols
                .iter()
                .position(|&x| x == *i as usize)
                .map(|k| ColRef::Slot(k as u8)),
            other => Some(*other),
        }
    };
    let center = |c: &Center| -> Option<Center> {
        match c {
            Center::Origin => Some(Center::Origin),
            Center::Point(p) => Some(Center::Point([num(&p[0])?, num(&p[1])?, num(&p[2])?])),
        }
    };
    let mut conditions = Vec::new();
    for c in &form.conditions {
        conditions.push(match c {
            FormCond::Type { negated, types } => FormCond::Type {
                negated: *negated,
                types: types.iter().map(ty).collect::<Option<_>>()?,
            },
            FormCond::Within {
                negated,
                center: c,
                radius,
            } => FormCond::Within {
                negated: *negated,
                center: center(c)?,
                radius: num(radius)?,
            },
            FormCond::Near { ty: t, radius } => FormCond::Near {
                ty: ty(t)?,
                radius: num(radius)?,
            },
            FormCond::Compare { column, op, value } => FormCond::Compare {
                column: col(column)?,
                op: *op,
                value: num(value)?,
            },
        });
    }
    let order = match &form.order {
        None => None,
        Some(FormOrder::Distance {
            center: c,
            descending,
        }) => Some(FormOrder::Distance {
            center: center(c)?,
            descending: *descending,
        }),
        Some(FormOrder::Column { column, descending }) => Some(FormOrder::Column {
            column: col(column)?,
            descending: *descending,
        }),
    };
    let limit = match form.limit {
        None => None,
        Some(Count::One) => Some(Count::One),
        Some(Count::Slot(id)) => Some(Count::Slot(num(&id)?)),
    };
    let out = Form {
        projection: form.projection,
        conditions,
        order,
        limit,
    };
    slots.types = types.iter().map(|&i| catalog.types[i].clone()).collect();
    slots.columns = cols
        .iter()
        .map(|&i| catalog.columns[i].name.clone())
        .collect();
    let decoded = Decoded::Statement(out.clone());
    (Parser::parse(&slots, &linearize(&decoded)).ok() == Some(decoded)).then_some(out)
}

/// `n` examples from `seed`.
pub fn corpus(seed: u64, n: usize) -> Vec<Pair> {
    let mut g = Generator::new(seed);
    (0..n).map(|_| g.pair()).collect()
}
