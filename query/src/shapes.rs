//! Statement shapes: the SELECTs of a script that differ only in their vectors of number
//! literals (`[x, y, z]`: a script of 20k nearest-neighbour queries) are parsed once.
//!
//! A statement's shape is its tokens with each vector of number literals masked (read by
//! [`Lexer::number_list`], as the parser reads them). The first SELECT of a shape is
//! parsed; the shape is kept only if its masked vectors are exactly the statement's
//! `Numbers` expressions, at the same positions with the same values, so that nothing
//! but those values can differ in the parse of another text of the same shape. A later
//! statement of a kept shape is the kept statement with this text's vectors put in.
//!
//! Positions inside a statement so made are those of the shape's first text (the
//! statement's own start aside): a statement from here that fails with an error that names
//! a place (not found, invalid value) is parsed and run again by the caller
//! ([`crate::Session::run_next`]), so such errors name this text's positions.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use crate::ast::{ExprKind, Statement};
use crate::error::Pos;
use crate::lexer::{Lexer, Tok};
use crate::parser::Parsed;

/// How many shapes are kept (the cache starts over when full).
const SHAPES: usize = 256;

/// The longest shape kept, in bytes of its key.
const KEY_BYTES: usize = 4096;

/// The shapes seen so far.
#[derive(Debug, Default)]
pub struct Shapes {
    /// By key: the statement and where its vectors are, or `None` for a shape that is
    /// not kept (its vectors are not all `Numbers` expressions).
    kept: HashMap<String, Option<Shape>>,
    /// The key being built (kept to save an allocation a statement).
    key: String,
}

#[derive(Debug)]
struct Shape {
    parsed: Parsed,
    /// The positions of the masked vectors in the first text, ascending.
    slots: Vec<Pos>,
}

/// One statement's shape, read from its text.
#[derive(Debug)]
pub struct Scanned {
    /// The masked vectors: where each `[` is, and its numbers.
    vectors: Vec<(Pos, Vec<f32>)>,
    /// Where the statement starts (its first token).
    pub start: Pos,
    /// Byte offset and position just past its `;` (or the end of the text).
    pub end: (usize, Pos),
}

impl Shapes {
    /// Reads the statement of `text` at `offset` (at `pos`) as a shape: `None` unless it
    /// is one SELECT without `?` parameters, short enough, lexed without error.
    pub fn scan(&mut self, text: &str, offset: usize, pos: Pos) -> Option<Scanned> {
        let mut lexer = Lexer::starting_at(text, offset, pos);
        self.key.clear();
        let mut vectors = Vec::new();
        let mut start = None;
        loop {
            let t = lexer.next_token().ok()?;
            if self.key.len() > KEY_BYTES {
                return None;
            }
            let first = start.is_none();
            match &t.tok {
                // Empty statements before this one are skipped, as the parser does.
                Tok::Sym(";") if first => continue,
                Tok::Ident(w) if first => {
                    if !w.eq_ignore_ascii_case("select") {
                        return None;
                    }
                    start = Some(t.pos);
                    self.key.push_str("select ");
                }
                _ if first => return None,
                Tok::Sym(";") => {
                    let after = Pos {
                        line: t.pos.line,
                        col: t.pos.col + 1,
                    };
                    return Some(Scanned {
                        vectors,
                        start: start?,
                        end: (t.end, after),
                    });
                }
                Tok::Eof => {
                    return Some(Scanned {
                        vectors,
                        start: start?,
                        end: (text.len(), t.pos),
                    })
                }
                Tok::Param => return None,
                Tok::Sym("[") => {
                    let mut numbers = Vec::new();
                    if !lexer.number_list(&mut numbers) {
                        // Some elements are not number literals (and those before were
                        // read): left to the parser.
                        return None;
                    }
                    vectors.push((t.pos, numbers));
                    self.key.push_str("[#] ");
                }
                Tok::Sym(s) => {
                    self.key.push_str(s);
                    self.key.push(' ');
                }
                Tok::Ident(w) => {
                    self.key.push_str(w);
                    self.key.push(' ');
                }
                // Lengths keep quoted text from reading as other tokens.
                Tok::Quoted(s) => write!(self.key, "\"{}:{s} ", s.len()).ok()?,
                Tok::Str(s) => write!(self.key, "'{}:{s} ", s.len()).ok()?,
                // The number's bits: what the parser keeps of it.
                Tok::Number(n) => write!(self.key, "#{:x} ", n.to_bits()).ok()?,
            }
        }
    }

    /// The statement of `scanned`'s shape with its vectors, if the shape is kept.
    pub fn get(&self, scanned: &Scanned) -> Option<Parsed> {
        let shape = self.kept.get(&self.key)?.as_ref()?;
        if shape.slots.len() != scanned.vectors.len() {
            return None;
        }
        let mut parsed = shape.parsed.clone();
        parsed.pos = scanned.start;
        let mut put = 0;
        for e in parsed.statement.exprs_mut() {
            e.rewrite_deep(&mut |x| {
                if let ExprKind::Numbers(_) = x.kind {
                    if let Ok(i) = shape.slots.binary_search(&x.pos) {
                        x.kind = ExprKind::Numbers(Arc::from(scanned.vectors[i].1.as_slice()));
                        put += 1;
                    }
                }
                true
            });
        }
        (put == shape.slots.len()).then_some(parsed)
    }

    /// Keeps the shape of `scanned` (the key [`Shapes::scan`] built last), parsed as
    /// `parsed`, if its vectors are exactly the statement's `Numbers` expressions.
    pub fn learn(&mut self, scanned: &Scanned, parsed: &Parsed) {
        if self.kept.len() >= SHAPES {
            self.kept.clear();
        }
        let mut found: Vec<(Pos, Arc<[f32]>)> = Vec::new();
        let mut copy = parsed.clone();
        for e in copy.statement.exprs_mut() {
            e.rewrite_deep(&mut |x| {
                if let ExprKind::Numbers(v) = &x.kind {
                    found.push((x.pos, v.clone()));
                }
                true
            });
        }
        found.sort_by_key(|(p, _)| *p);
        let same = matches!(copy.statement, Statement::Select(_))
            && copy.params == 0
            && found.len() == scanned.vectors.len()
            && found
                .iter()
                .zip(&scanned.vectors)
                .all(|((p, v), (q, w))| p == q && v[..] == w[..]);
        let shape = same.then(|| Shape {
            slots: found.iter().map(|(p, _)| *p).collect(),
            parsed: copy,
        });
        self.kept.insert(self.key.clone(), shape);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::Script;

    /// Every statement of `text` through the shapes (twice, so the second pass takes
    /// them from there) and parsed plainly: the same statements, positions of the
    /// statements and of the vectors included.
    fn same_as_parsed(text: &str) -> usize {
        let mut shapes = Shapes::default();
        let plain: Vec<Parsed> = Script::new(text).map(|r| r.unwrap()).collect();
        let mut made = 0;
        for _ in 0..2 {
            let mut script = Script::new(text);
            let mut i = 0;
            while let Some((r, shaped)) = script.next_shaped(&mut shapes) {
                let p = r.unwrap();
                made += usize::from(shaped.is_some());
                // Positions inside a shaped statement are its first text's: compare the
                // printed statement, its start and its vectors.
                assert_eq!(
                    p.statement.to_string(),
                    plain[i].statement.to_string(),
                    "{i}"
                );
                assert_eq!((p.pos, p.params), (plain[i].pos, plain[i].params), "{i}");
                i += 1;
            }
            assert_eq!(i, plain.len());
        }
        made
    }

    #[test]
    fn statements_of_a_shape_are_those_a_parse_gives() {
        let text = "SELECT id FROM big ORDER BY DISTANCE(position, [1.5, -2, 3e2]) LIMIT 10;\n\
                    SELECT id FROM big ORDER BY DISTANCE(position, [4, 5, -6.25]) LIMIT 10;\n\
                    ;; select COUNT(*) from big where WITHIN(position, [0, 0, 0], 28.80);\
                    select COUNT(*) from big where WITHIN(position, [7, 8, 9], 28.80);\n\
                    SELECT COUNT(*) FROM big WHERE WITHIN(position, [7, 8, 9], 28.81);\n\
                    SELECT [1, 2], [] FROM m WHERE x = 'a;b' AND \"q\" > 1;\
                    SELECT [3, 4], [] FROM m WHERE x = 'a;b' AND \"q\" > 1";
        // The first pass makes the second statement of each of the three shapes seen
        // twice; the second pass makes every one.
        assert_eq!(same_as_parsed(text), 3 + 7);
    }

    #[test]
    fn vectors_that_are_not_number_literals_are_parsed() {
        // A subscript, an expression element, a number beyond f32, a parameter, not a
        // SELECT: never made from a shape.
        for text in [
            "SELECT embedding[1] FROM m; SELECT embedding[2] FROM m",
            "SELECT [x, 1] FROM m; SELECT [x, 2] FROM m",
            "SELECT [1e39] FROM m; SELECT [1e39] FROM m",
            "DELETE FROM m WHERE WITHIN(position, [1, 2, 3], 4); DELETE FROM m WHERE WITHIN(position, [1, 2, 3], 4)",
        ] {
            assert_eq!(same_as_parsed(text), 0, "{text}");
        }
        let mut shapes = Shapes::default();
        let mut script = Script::new("SELECT ? FROM m; SELECT ? FROM m");
        while let Some((r, shaped)) = script.next_shaped(&mut shapes) {
            assert!(r.is_ok() && shaped.is_none());
        }
    }

    #[test]
    fn a_statement_made_from_a_shape_can_be_parsed_again() {
        let mut shapes = Shapes::default();
        let text = "SELECT nope FROM m WHERE WITHIN(position, [1, 2, 3], 4);\n  SELECT nope FROM m WHERE WITHIN(position, [5, 6, 7], 4); SELECT 1";
        let mut script = Script::new(text);
        let first = script.next_shaped(&mut shapes).unwrap();
        assert!(first.1.is_none());
        let (second, at) = script.next_shaped(&mut shapes).unwrap();
        let again = script.reparse(at.unwrap()).unwrap().unwrap();
        assert_eq!(
            second.unwrap().statement.to_string(),
            again.statement.to_string()
        );
        assert_eq!(again.pos, Pos { line: 2, col: 3 });
        // The script goes on after it.
        let (third, _) = script.next_shaped(&mut shapes).unwrap();
        assert_eq!(third.unwrap().statement.to_string(), "SELECT 1");
        assert!(script.next_shaped(&mut shapes).is_none());
    }

    /// Runs every statement of `text` in `s` through [`crate::Session::run_next`].
    fn run_all(s: &mut crate::Session, text: &str) -> Vec<crate::Result<crate::QueryResult>> {
        let mut script = Script::new(text);
        std::iter::from_fn(|| s.run_next(&mut script)).collect()
    }

    #[test]
    fn a_session_answers_and_fails_as_without_shapes() {
        let db = tensormap_engine::Database::open_in_memory().unwrap();
        let mut s = crate::Session::new(db);
        let mut load = String::from("CREATE MAP m WITH (channels = 2, bounds = 100);");
        for i in 0..40 {
            let p = |k: i32| (i * 37 + k * 11) % 100 - 50;
            load.push_str(&format!(
                "INSERT INTO m (id, type, position, embedding) VALUES ('o{i}', 't', [{}, {}, {}], [1, 0]);",
                p(0),
                p(1),
                p(2)
            ));
        }
        s.execute(&load).unwrap();
        let mut text = String::new();
        for i in 0..20 {
            text.push_str(&format!(
                "SELECT id FROM m ORDER BY DISTANCE(position, [{i}, -{i}.5, 3]) LIMIT 3;\n\
                 SELECT COUNT(*) FROM m WHERE WITHIN(position, [{i}, 2, -{i}], 30);\n"
            ));
        }
        let shaped = run_all(&mut s, &text);
        let plain = s.execute(&text).unwrap();
        assert_eq!(shaped.len(), plain.len());
        for (a, b) in shaped.into_iter().zip(plain) {
            assert_eq!(a.unwrap(), b);
        }
        // A statement of a known shape that fails names its own line.
        let bad = "SELECT nope FROM m ORDER BY DISTANCE(position, [1, 2, 3]) LIMIT 3;\n";
        let e = run_all(&mut s, &format!("{bad}{bad}"));
        let again = run_all(&mut s, &format!("{bad}\n   {}", bad.replace("[1,", "[4,")));
        let e2 = again[1].as_ref().unwrap_err();
        assert_eq!(e[0].as_ref().unwrap_err().pos.line, 1);
        assert_eq!((e2.pos.line, e2.pos.col), (3, 11));
        assert_eq!(e2.message, e[0].as_ref().unwrap_err().message);
    }
}
