//! Expressions: precedence climbing from OR down to primaries, every level counted
//! against [`MAX_DEPTH`](super::MAX_DEPTH).

use std::sync::Arc;

use super::{is_reserved, Parser, MAX_DEPTH};
use crate::ast::{BinOp, CastType, Expr, ExprKind, Frame, FrameBound, WindowSpec};
use crate::error::{Error, Result};
use crate::lexer::Tok;

impl Parser<'_> {
    pub(super) fn expr(&mut self) -> Result<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::limit(
                self.pos(),
                format!("expression nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        let e = self.or();
        self.depth -= 1;
        e
    }

    fn binary(&mut self, op: BinOp, l: Expr, r: Expr) -> Expr {
        let pos = l.pos;
        Expr {
            kind: ExprKind::Binary(op, Box::new(l), Box::new(r)),
            pos,
        }
    }

    fn or(&mut self) -> Result<Expr> {
        let mut l = self.and()?;
        while self.accept_kw("or") {
            let r = self.and()?;
            l = self.binary(BinOp::Or, l, r);
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr> {
        let mut l = self.not()?;
        while self.accept_kw("and") {
            let r = self.not()?;
            l = self.binary(BinOp::And, l, r);
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Expr> {
        let pos = self.pos();
        if self.accept_kw("not") {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(Error::limit(
                    pos,
                    format!("expression nested deeper than {MAX_DEPTH} levels"),
                ));
            }
            let e = self.not();
            self.depth -= 1;
            return Ok(Expr {
                kind: ExprKind::Not(Box::new(e?)),
                pos,
            });
        }
        self.comparison()
    }

    /// Comparisons and the other predicates: `= != < <= > >=`, `[NOT] IN (...)`,
    /// `[NOT] LIKE p [ESCAPE c]`, `[NOT] BETWEEN a AND b`, `IS [NOT] NULL`. They do not
    /// chain (`a < b < c` is an error).
    fn comparison(&mut self) -> Result<Expr> {
        let l = self.additive()?;
        let pos = l.pos;
        let op = match &self.peek().tok {
            Tok::Sym("=") => Some(BinOp::Eq),
            Tok::Sym("!=") => Some(BinOp::Ne),
            Tok::Sym("<") => Some(BinOp::Lt),
            Tok::Sym("<=") => Some(BinOp::Le),
            Tok::Sym(">") => Some(BinOp::Gt),
            Tok::Sym(">=") => Some(BinOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.bump();
            let r = self.additive()?;
            return Ok(self.binary(op, l, r));
        }
        if self.accept_kw("is") {
            let negated = self.accept_kw("not");
            self.expect_kw("null")?;
            return Ok(Expr {
                kind: ExprKind::IsNull {
                    expr: Box::new(l),
                    negated,
                },
                pos,
            });
        }
        let negated = self.is_kw("not")
            && matches!(self.peek_at(1), Tok::Ident(w)
                if ["in", "like", "between"].iter().any(|k| w.eq_ignore_ascii_case(k)));
        if negated {
            self.bump();
        }
        let kind = if self.accept_kw("in") {
            return self.in_rest(l, negated);
        } else if self.accept_kw("like") {
            let pattern = Box::new(self.additive()?);
            let escape = if self.accept_kw("escape") {
                Some(Box::new(self.additive()?))
            } else {
                None
            };
            ExprKind::Like {
                expr: Box::new(l),
                pattern,
                escape,
                negated,
            }
        } else if self.accept_kw("between") {
            let low = Box::new(self.additive()?);
            self.expect_kw("and")?;
            let high = Box::new(self.additive()?);
            ExprKind::Between {
                expr: Box::new(l),
                low,
                high,
                negated,
            }
        } else {
            return Ok(l);
        };
        Ok(Expr { kind, pos })
    }

    /// After `IN`: `(a, b, ...)` or `(SELECT ...)` (kept out of `comparison`, which every
    /// level of nesting passes through, to keep its stack frame small).
    fn in_rest(&mut self, l: Expr, negated: bool) -> Result<Expr> {
        let pos = l.pos;
        self.expect_sym("(")?;
        if self.at_query() {
            let query = Box::new(self.query()?);
            self.expect_sym(")")?;
            return Ok(Expr {
                kind: ExprKind::InSelect {
                    expr: Box::new(l),
                    query,
                    negated,
                },
                pos,
            });
        }
        let mut list = Vec::new();
        loop {
            list.push(self.expr()?);
            if !self.accept_sym(",") {
                break;
            }
        }
        self.expect_sym(")")?;
        Ok(Expr {
            kind: ExprKind::In {
                expr: Box::new(l),
                list,
                negated,
            },
            pos,
        })
    }

    fn additive(&mut self) -> Result<Expr> {
        let mut l = self.multiplicative()?;
        loop {
            let op = if self.accept_sym("+") {
                BinOp::Add
            } else if self.accept_sym("-") {
                BinOp::Sub
            } else {
                return Ok(l);
            };
            let r = self.multiplicative()?;
            l = self.binary(op, l, r);
        }
    }

    fn multiplicative(&mut self) -> Result<Expr> {
        let mut l = self.concat()?;
        loop {
            let op = if self.accept_sym("*") {
                BinOp::Mul
            } else if self.accept_sym("/") {
                BinOp::Div
            } else {
                return Ok(l);
            };
            let r = self.concat()?;
            l = self.binary(op, l, r);
        }
    }

    /// `||` binds tighter than `*` and `/`, as in SQLite.
    fn concat(&mut self) -> Result<Expr> {
        let mut l = self.unary()?;
        while self.accept_sym("||") {
            let r = self.unary()?;
            l = self.binary(BinOp::Concat, l, r);
        }
        Ok(l)
    }

    pub(super) fn unary(&mut self) -> Result<Expr> {
        let pos = self.pos();
        if self.accept_sym("-") {
            // `-` before a number literal makes a negative literal (`-2 * 3` is `(-2) * 3`).
            if let Tok::Number(n) = self.peek().tok {
                self.bump();
                return Ok(Expr {
                    kind: ExprKind::Number(-n),
                    pos,
                });
            }
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(Error::limit(
                    pos,
                    format!("expression nested deeper than {MAX_DEPTH} levels"),
                ));
            }
            let e = self.unary();
            self.depth -= 1;
            return Ok(Expr {
                kind: ExprKind::Neg(Box::new(e?)),
                pos,
            });
        }
        self.primary()
    }

    /// The postfix subscripts after a primary expression: `v[i]`, `v[a:b]`.
    fn subscripts(&mut self, mut e: Expr) -> Result<Expr> {
        while self.peek().tok == Tok::Sym("[") {
            let pos = e.pos;
            self.bump();
            let low = if self.peek().tok == Tok::Sym(":") {
                None
            } else {
                Some(Box::new(self.expr()?))
            };
            let kind = if self.accept_sym(":") {
                let high = if self.peek().tok == Tok::Sym("]") {
                    None
                } else {
                    Some(Box::new(self.expr()?))
                };
                ExprKind::Slice {
                    expr: Box::new(e),
                    low,
                    high,
                }
            } else {
                match low {
                    Some(index) => ExprKind::Index {
                        expr: Box::new(e),
                        index,
                    },
                    None => return Err(self.unexpected("an index")),
                }
            };
            self.expect_sym("]")?;
            e = Expr { kind, pos };
        }
        Ok(e)
    }

    /// `(SELECT ...)` after its `(`.
    fn paren_query(&mut self, pos: crate::error::Pos) -> Result<Expr> {
        let q = self.query()?;
        self.expect_sym(")")?;
        Ok(Expr {
            kind: ExprKind::Subquery(Box::new(q)),
            pos,
        })
    }

    /// `EXISTS (SELECT ...)`.
    fn exists(&mut self, pos: crate::error::Pos) -> Result<Expr> {
        self.bump();
        self.expect_sym("(")?;
        if !self.at_query() {
            return Err(self.unexpected("SELECT"));
        }
        let q = self.query()?;
        self.expect_sym(")")?;
        Ok(Expr {
            kind: ExprKind::Exists(Box::new(q)),
            pos,
        })
    }

    /// A call, and its window if `OVER` follows.
    fn call_or_window(&mut self, name: String, pos: crate::error::Pos) -> Result<Expr> {
        let call = self.call(name, pos)?;
        if !self.accept_kw("over") {
            return self.subscripts(call);
        }
        let spec = self.window_spec()?;
        Ok(Expr {
            kind: ExprKind::Window {
                func: Box::new(call),
                spec: Box::new(spec),
            },
            pos,
        })
    }

    /// `(e)` or `(SELECT ...)`.
    fn paren(&mut self, pos: crate::error::Pos) -> Result<Expr> {
        self.bump();
        if self.at_query() {
            return self.paren_query(pos);
        }
        let e = self.expr()?;
        self.expect_sym(")")?;
        Ok(Expr { kind: e.kind, pos })
    }

    /// A primary expression that starts with a word: a call, a literal word, CASE, CAST,
    /// EXISTS or a column.
    fn word(&mut self, pos: crate::error::Pos) -> Result<Expr> {
        let w = match &self.peek().tok {
            Tok::Ident(w) => *w,
            _ => return Err(self.unexpected("an expression")),
        };
        let mut buf = [0; super::KEYWORD_BYTES];
        let lw = super::lower(w, &mut buf);
        if lw == "exists" {
            return self.exists(pos);
        }
        if *self.peek_at(1) == Tok::Sym("(") && !matches!(lw, "case" | "cast") {
            return self.call_or_window(w.to_ascii_lowercase(), pos);
        }
        let kind = match lw {
            "true" | "false" => {
                self.bump();
                ExprKind::Bool(lw == "true")
            }
            "null" => {
                self.bump();
                ExprKind::Null
            }
            "case" => {
                self.bump();
                self.case()?
            }
            "cast" => {
                self.bump();
                self.cast()?
            }
            _ if is_reserved(w) => return Err(self.unexpected("an expression")),
            _ => {
                self.bump();
                ExprKind::Column(w.to_string())
            }
        };
        self.subscripts(Expr { kind, pos })
    }

    fn primary(&mut self) -> Result<Expr> {
        let pos = self.pos();
        let kind = match &self.peek().tok {
            Tok::Number(n) => {
                let n = *n;
                self.bump();
                ExprKind::Number(n)
            }
            Tok::Str(_) => match self.bump().tok {
                Tok::Str(s) => ExprKind::Str(s),
                _ => ExprKind::Null,
            },
            Tok::Param => {
                self.bump();
                self.params += 1;
                ExprKind::Param(self.params - 1)
            }
            Tok::Quoted(_) | Tok::Ident(_) if *self.peek_at(1) == Tok::Sym(".") => {
                let table = self.name("a map name")?;
                self.bump();
                let column = self.name("a column name")?;
                ExprKind::QualifiedColumn { table, column }
            }
            Tok::Quoted(_) => match self.bump().tok {
                Tok::Quoted(q) => ExprKind::Column(q),
                _ => ExprKind::Null,
            },
            Tok::Sym("(") => return self.paren(pos),
            Tok::Sym("[") => {
                self.bump();
                self.vector()?
            }
            Tok::Ident(_) => return self.word(pos),
            _ => return Err(self.unexpected("an expression")),
        };
        Ok(Expr { kind, pos })
    }

    /// After `[`: a vector. Number literals (with a sign) are read straight from the text
    /// into f32s ([`Lexer::number_list`](crate::lexer::Lexer::number_list)); only a
    /// vector with some other element becomes a list of expressions.
    fn vector(&mut self) -> Result<ExprKind> {
        let mut numbers: Vec<f32> = Vec::new();
        if self.lex_error.is_none() {
            // Re-read from the first look-ahead token, past the tokens.
            let (offset, pos) = (self.peek().offset, self.peek().pos);
            self.lexer.reseat(offset, pos);
            self.look.clear();
            let whole = self.lexer.number_list(&mut numbers);
            self.fill();
            if whole {
                return Ok(ExprKind::Numbers(Arc::from(numbers)));
            }
        }
        // A general vector: the numbers read so far, then expressions.
        let mut items: Vec<Expr> = numbers
            .into_iter()
            .map(|n| Expr {
                kind: ExprKind::Number(n as f64),
                pos: self.pos(),
            })
            .collect();
        if items.is_empty() && self.accept_sym("]") {
            return Ok(ExprKind::Numbers(Arc::from(Vec::new())));
        }
        loop {
            items.push(self.expr()?);
            if !self.accept_sym(",") {
                break;
            }
        }
        self.expect_sym("]")?;
        Ok(ExprKind::Vector(items))
    }

    /// `name(` ... `)`, with `*` or `DISTINCT` for aggregates.
    fn call(&mut self, name: String, pos: crate::error::Pos) -> Result<Expr> {
        self.bump();
        self.bump();
        let mut args = Vec::new();
        let (mut star, mut distinct) = (false, false);
        if self.accept_sym("*") {
            star = true;
            self.expect_sym(")")?;
        } else {
            distinct = self.accept_kw("distinct");
            if distinct || !self.accept_sym(")") {
                loop {
                    args.push(self.expr()?);
                    if !self.accept_sym(",") {
                        break;
                    }
                }
                self.expect_sym(")")?;
            }
        }
        Ok(Expr {
            kind: ExprKind::Call {
                name,
                args,
                star,
                distinct,
            },
            pos,
        })
    }

    /// After `OVER`: `([PARTITION BY e, ...] [ORDER BY e [ASC|DESC], ...] [frame])`.
    fn window_spec(&mut self) -> Result<WindowSpec> {
        self.expect_sym("(")?;
        let mut spec = WindowSpec {
            partition_by: Vec::new(),
            order_by: Vec::new(),
            frame: None,
        };
        if self.accept_kw("partition") {
            self.expect_kw("by")?;
            loop {
                spec.partition_by.push(self.expr()?);
                if !self.accept_sym(",") {
                    break;
                }
            }
        }
        if self.accept_kw("order") {
            self.expect_kw("by")?;
            spec.order_by = self.order_list()?;
        }
        let rows = self.is_kw("rows");
        if rows || self.is_kw("range") {
            let at = self.pos();
            self.bump();
            let (start, end) = if self.accept_kw("between") {
                let start = self.frame_bound()?;
                self.expect_kw("and")?;
                (start, self.frame_bound()?)
            } else {
                (self.frame_bound()?, FrameBound::CurrentRow)
            };
            let rank = |b: FrameBound| match b {
                FrameBound::UnboundedPreceding => 0,
                FrameBound::Preceding(_) => 1,
                FrameBound::CurrentRow => 2,
                FrameBound::Following(_) => 3,
                FrameBound::UnboundedFollowing => 4,
            };
            if start == FrameBound::UnboundedFollowing
                || end == FrameBound::UnboundedPreceding
                || rank(start) > rank(end)
            {
                return Err(Error::syntax(
                    at,
                    format!("the frame cannot start at {start} and end at {end}"),
                ));
            }
            let offset =
                |b: FrameBound| matches!(b, FrameBound::Preceding(_) | FrameBound::Following(_));
            if !rows && (offset(start) || offset(end)) {
                return Err(Error::syntax(
                    at,
                    "RANGE frames take UNBOUNDED or CURRENT ROW bounds; use ROWS for n PRECEDING / FOLLOWING",
                ));
            }
            spec.frame = Some(Frame { rows, start, end });
        }
        self.expect_sym(")")?;
        Ok(spec)
    }

    /// A frame bound: `UNBOUNDED PRECEDING | n PRECEDING | CURRENT ROW | n FOLLOWING |
    /// UNBOUNDED FOLLOWING`.
    fn frame_bound(&mut self) -> Result<FrameBound> {
        if self.accept_kw("unbounded") {
            if self.accept_kw("preceding") {
                return Ok(FrameBound::UnboundedPreceding);
            }
            self.expect_kw("following")?;
            return Ok(FrameBound::UnboundedFollowing);
        }
        if self.accept_kw("current") {
            self.expect_kw("row")?;
            return Ok(FrameBound::CurrentRow);
        }
        let n = self.count("a frame bound")?;
        if self.accept_kw("preceding") {
            return Ok(FrameBound::Preceding(n));
        }
        self.expect_kw("following")?;
        Ok(FrameBound::Following(n))
    }

    /// After `CASE`: `[operand] WHEN w THEN t ... [ELSE e] END`.
    fn case(&mut self) -> Result<ExprKind> {
        let operand = if self.is_kw("when") {
            None
        } else {
            Some(Box::new(self.expr()?))
        };
        let mut branches = Vec::new();
        while self.accept_kw("when") {
            let w = self.expr()?;
            self.expect_kw("then")?;
            branches.push((w, self.expr()?));
        }
        if branches.is_empty() {
            return Err(self.unexpected("WHEN"));
        }
        let otherwise = if self.accept_kw("else") {
            Some(Box::new(self.expr()?))
        } else {
            None
        };
        self.expect_kw("end")?;
        Ok(ExprKind::Case {
            operand,
            branches,
            otherwise,
        })
    }

    /// After `CAST`: `(e AS REAL | INTEGER | TEXT)`.
    fn cast(&mut self) -> Result<ExprKind> {
        self.expect_sym("(")?;
        let expr = Box::new(self.expr()?);
        self.expect_kw("as")?;
        let to = match &self.peek().tok {
            Tok::Ident(w) => match w.to_ascii_lowercase().as_str() {
                "real" | "float" | "double" => Some(CastType::Real),
                "integer" | "int" => Some(CastType::Integer),
                "text" => Some(CastType::Text),
                _ => None,
            },
            _ => None,
        };
        let Some(to) = to else {
            return Err(self.unexpected("REAL, INTEGER or TEXT"));
        };
        self.bump();
        self.expect_sym(")")?;
        Ok(ExprKind::Cast { expr, to })
    }
}
