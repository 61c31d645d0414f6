//! Expressions: precedence climbing from OR down to primaries, every level counted
//! against [`MAX_DEPTH`](super::MAX_DEPTH).

use std::sync::Arc;

use super::{is_reserved, Parser, MAX_DEPTH};
use crate::ast::{BinOp, CastType, Expr, ExprKind};
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
            self.expect_sym("(")?;
            let mut list = Vec::new();
            loop {
                list.push(self.expr()?);
                if !self.accept_sym(",") {
                    break;
                }
            }
            self.expect_sym(")")?;
            ExprKind::In {
                expr: Box::new(l),
                list,
                negated,
            }
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

    fn unary(&mut self) -> Result<Expr> {
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
            Tok::Sym("(") => {
                self.bump();
                let e = self.expr()?;
                self.expect_sym(")")?;
                return Ok(Expr { kind: e.kind, pos });
            }
            Tok::Sym("[") => {
                self.bump();
                self.vector()?
            }
            Tok::Ident(w) => {
                let w = w.to_ascii_lowercase();
                if *self.peek_at(1) == Tok::Sym("(") && !matches!(w.as_str(), "case" | "cast") {
                    return self.call(w, pos);
                }
                match w.as_str() {
                    "true" | "false" => {
                        self.bump();
                        ExprKind::Bool(w == "true")
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
                    _ if is_reserved(&w) => return Err(self.unexpected("an expression")),
                    _ => match self.bump().tok {
                        Tok::Ident(w) => ExprKind::Column(w),
                        _ => ExprKind::Null,
                    },
                }
            }
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
