//! Reading the statements the command model writes back from TensorQL text: the subset
//! [`Query::to_tensorql`](super::query::Query::to_tensorql) writes (module docs of
//! `query.rs`), with keywords in any case and any spacing, type lists in any order and
//! `ASC` spelled out or not. The evaluation set's references are written in it, and the
//! tests read every decoded statement back with it. Errors name the byte offset.

use super::query::{Condition, Op, Order, Projection, Query};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Str(String),
    Num(f64),
    Sym(&'static str),
}

fn tokenize(s: &str) -> Result<Vec<(usize, Tok)>, String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((start, Tok::Word(s[start..i].to_string())));
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_digit()
                    || b[i] == b'.'
                    || b[i] == b'e'
                    || b[i] == b'E'
                    || ((b[i] == b'-' || b[i] == b'+') && matches!(b[i - 1], b'e' | b'E')))
            {
                i += 1;
            }
            let v: f64 = s[start..i]
                .parse()
                .map_err(|_| format!("bad number {:?} at {start}", &s[start..i]))?;
            out.push((start, Tok::Num(v)));
        } else if c == b'\'' || c == b'"' {
            let start = i;
            let mut text = String::new();
            i += 1;
            loop {
                let Some(rest) = s.get(i..) else {
                    return Err(format!("unterminated quote at {start}"));
                };
                let Some(ch) = rest.chars().next() else {
                    return Err(format!("unterminated quote at {start}"));
                };
                i += ch.len_utf8();
                if ch as u32 == c as u32 {
                    if b.get(i) == Some(&c) {
                        text.push(ch);
                        i += 1;
                    } else {
                        break;
                    }
                } else {
                    text.push(ch);
                }
            }
            out.push((
                start,
                if c == b'\'' {
                    Tok::Str(text)
                } else {
                    Tok::Quoted(text)
                },
            ));
        } else {
            let two = s.get(i..i + 2).unwrap_or("");
            let sym = match two {
                "!=" => "!=",
                "<=" => "<=",
                ">=" => ">=",
                _ => match c {
                    b'(' => "(",
                    b')' => ")",
                    b'[' => "[",
                    b']' => "]",
                    b',' => ",",
                    b'*' => "*",
                    b'=' => "=",
                    b'<' => "<",
                    b'>' => ">",
                    b'.' => ".",
                    b'-' => "-",
                    b';' => ";",
                    _ => return Err(format!("unexpected character at {i}")),
                },
            };
            out.push((i, Tok::Sym(sym)));
            i += sym.len();
        }
    }
    Ok(out)
}

struct P {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|t| &t.1)
    }

    fn offset(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |t| t.0)
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("expected {what} at {}", self.offset()))
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn accept_kw(&mut self, kw: &str) -> bool {
        let yes = self.is_kw(kw);
        if yes {
            self.at += 1;
        }
        yes
    }

    fn kw(&mut self, kw: &str) -> Result<(), String> {
        if self.accept_kw(kw) {
            Ok(())
        } else {
            self.err(kw)
        }
    }

    fn accept_sym(&mut self, s: &str) -> bool {
        let yes = matches!(self.peek(), Some(Tok::Sym(t)) if *t == s);
        if yes {
            self.at += 1;
        }
        yes
    }

    fn sym(&mut self, s: &str) -> Result<(), String> {
        if self.accept_sym(s) {
            Ok(())
        } else {
            self.err(&format!("'{s}'"))
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        match self.peek().cloned() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => {
                self.at += 1;
                Ok(w)
            }
            _ => self.err("a name"),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        match self.peek().cloned() {
            Some(Tok::Str(s)) => {
                self.at += 1;
                Ok(s)
            }
            _ => self.err("a string"),
        }
    }

    fn number(&mut self) -> Result<f64, String> {
        let neg = self.accept_sym("-");
        match self.peek() {
            Some(Tok::Num(v)) => {
                let v = *v;
                self.at += 1;
                Ok(if neg { -v } else { v })
            }
            _ => self.err("a number"),
        }
    }

    fn point(&mut self) -> Result<[f64; 3], String> {
        self.sym("[")?;
        let a = self.number()?;
        self.sym(",")?;
        let b = self.number()?;
        self.sym(",")?;
        let c = self.number()?;
        self.sym("]")?;
        Ok([a, b, c])
    }

    /// `a.name`
    fn qualified(&mut self, alias: &str, name: &str) -> Result<(), String> {
        self.kw(alias)?;
        self.sym(".")?;
        self.kw(name)
    }

    fn within(&mut self, negated: bool) -> Result<Condition, String> {
        self.sym("(")?;
        self.kw("position")?;
        self.sym(",")?;
        let center = self.point()?;
        self.sym(",")?;
        let radius = self.number()?;
        self.sym(")")?;
        Ok(Condition::Within {
            negated,
            center,
            radius,
        })
    }

    /// `id IN (SELECT a.id FROM m a JOIN m b ON WITHIN(b.position, a.position, r)
    /// WHERE b.type = 't' AND b.id != a.id)`, after `id IN (`.
    fn near(&mut self, map: &str) -> Result<Condition, String> {
        self.kw("select")?;
        self.qualified("a", "id")?;
        self.kw("from")?;
        for alias in ["a", "b"] {
            if alias == "b" {
                self.kw("join")?;
            }
            if self.ident()? != map {
                return Err(format!("expected the map {map} at {}", self.offset()));
            }
            self.kw(alias)?;
        }
        self.kw("on")?;
        self.kw("within")?;
        self.sym("(")?;
        self.qualified("b", "position")?;
        self.sym(",")?;
        self.qualified("a", "position")?;
        self.sym(",")?;
        let radius = self.number()?;
        self.sym(")")?;
        self.kw("where")?;
        self.qualified("b", "type")?;
        self.sym("=")?;
        let ty = self.string()?;
        self.kw("and")?;
        self.qualified("b", "id")?;
        self.sym("!=")?;
        self.qualified("a", "id")?;
        self.sym(")")?;
        Ok(Condition::Near { ty, radius })
    }

    fn condition(&mut self, map: &str) -> Result<Condition, String> {
        if self.accept_kw("not") {
            self.kw("within")?;
            return self.within(true);
        }
        if self.accept_kw("within") {
            return self.within(false);
        }
        if self.is_kw("id") {
            self.at += 1;
            self.kw("in")?;
            self.sym("(")?;
            return self.near(map);
        }
        if self.accept_kw("type") {
            for (op, negated) in [("=", false), ("!=", true)] {
                if self.accept_sym(op) {
                    return Ok(Condition::Type {
                        negated,
                        types: vec![self.string()?],
                    });
                }
            }
            let negated = self.accept_kw("not");
            self.kw("in")?;
            self.sym("(")?;
            let mut types = vec![self.string()?];
            while self.accept_sym(",") {
                types.push(self.string()?);
            }
            self.sym(")")?;
            return Ok(Condition::Type { negated, types });
        }
        let column = self.ident()?;
        let op = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
            ("=", Op::Eq),
        ]
        .into_iter()
        .find(|(s, _)| self.accept_sym(s))
        .map(|(_, op)| op);
        let Some(op) = op else {
            return self.err("a comparison");
        };
        let value = self.number()?;
        Ok(Condition::Compare { column, op, value })
    }
}

/// Reads a statement in the subset, returning it with the map it is over.
pub fn parse(text: &str) -> Result<(String, Query), String> {
    let toks = tokenize(text)?;
    let mut p = P {
        toks,
        at: 0,
        end: text.len(),
    };
    p.kw("select")?;
    let projection = if p.accept_sym("*") {
        Projection::Rows
    } else if p.accept_kw("count") {
        p.sym("(")?;
        p.sym("*")?;
        p.sym(")")?;
        Projection::Count
    } else {
        p.kw("type")?;
        p.sym(",")?;
        p.kw("count")?;
        p.sym("(")?;
        p.sym("*")?;
        p.sym(")")?;
        Projection::CountByType
    };
    p.kw("from")?;
    let map = p.ident()?;
    let mut conditions = Vec::new();
    if p.accept_kw("where") {
        loop {
            conditions.push(p.condition(&map)?);
            if !p.accept_kw("and") {
                break;
            }
        }
    }
    if projection == Projection::CountByType {
        p.kw("group")?;
        p.kw("by")?;
        p.kw("type")?;
    }
    let mut order = None;
    if p.accept_kw("order") {
        p.kw("by")?;
        let key = if p.accept_kw("distance") {
            p.sym("(")?;
            p.kw("position")?;
            p.sym(",")?;
            let center = p.point()?;
            p.sym(")")?;
            Ok(center)
        } else {
            Err(p.ident()?)
        };
        let descending = if p.accept_kw("desc") {
            true
        } else {
            p.accept_kw("asc");
            false
        };
        order = Some(match key {
            Ok(center) => Order::Distance { center, descending },
            Err(column) => Order::Column { column, descending },
        });
    }
    let mut limit = None;
    if p.accept_kw("limit") {
        let at = p.offset();
        let n = p.number()?;
        if !(n.fract() == 0.0 && (0.0..=1e15).contains(&n)) {
            return Err(format!("expected a whole LIMIT at {at}"));
        }
        limit = Some(n as u64);
    }
    p.accept_sym(";");
    if p.at != p.toks.len() {
        return p.err("the end of the statement");
    }
    Ok((
        map,
        Query {
            projection,
            conditions,
            order,
            limit,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_statements_read_back() {
        let texts = [
            "SELECT * FROM scene",
            "SELECT COUNT(*) FROM \"my map\" WHERE type NOT IN ('a''b', 'c') AND \
             NOT WITHIN(position, [1, -2.5, 300], 10) AND confidence >= 0.5",
            "SELECT type, COUNT(*) FROM m WHERE x < -3 GROUP BY type",
            "SELECT * FROM m WHERE type = 'cube' AND id IN (SELECT a.id FROM m a JOIN m b ON \
             WITHIN(b.position, a.position, 50) WHERE b.type = 'sphere' AND b.id != a.id) \
             ORDER BY DISTANCE(position, [0, 0, 0]) DESC LIMIT 3",
            "SELECT * FROM m ORDER BY speed LIMIT 1",
        ];
        for t in texts {
            let (map, q) = parse(t).unwrap_or_else(|e| panic!("{t}: {e}"));
            assert_eq!(q.to_tensorql(&map), t);
        }
        let (_, q) = parse("select * from m where type != 'x' order by mass asc;").unwrap();
        assert_eq!(
            q.to_tensorql("m"),
            "SELECT * FROM m WHERE type != 'x' ORDER BY mass"
        );
    }

    #[test]
    fn other_statements_are_refused_with_an_offset() {
        for (t, at) in [
            ("DELETE FROM m", "at 0"),
            ("SELECT * FROM m WHERE", "at 21"),
            ("SELECT * FROM m LIMIT 2.5", "at 22"),
            ("SELECT * FROM m; DROP MAP m", "at 17"),
            (
                "SELECT * FROM m WHERE id IN (SELECT a.id FROM n a",
                "the map m",
            ),
        ] {
            let e = parse(t).unwrap_err();
            assert!(e.contains(at), "{t}: {e}");
        }
    }
}
