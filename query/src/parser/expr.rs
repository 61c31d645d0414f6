//! Expressions: precedence climbing from OR down to primaries, every level counted
//! against [`MAX_DEPTH`](super::MAX_DEPTH).

use super::{is_reserved, Parser, MAX_DEPTH};
use crate::ast::{BinOp, Expr, ExprKind};
use crate::error::{Error, Result};
use crate::lexer::Tok;

impl Parser {
    pub(super) fn expr(&mut self) -> Result<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::new(
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
                return Err(Error::new(
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

    fn comparison(&mut self) -> Result<Expr> {
        let l = self.additive()?;
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
        let negated = self.is_kw("not")
            && matches!(self.peek_at(1), Tok::Ident(w) if w.eq_ignore_ascii_case("in"));
        if negated {
            self.bump();
        }
        if self.accept_kw("in") {
            self.expect_sym("(")?;
            let mut list = Vec::new();
            loop {
                list.push(self.expr()?);
                if !self.accept_sym(",") {
                    break;
                }
            }
            self.expect_sym(")")?;
            let pos = l.pos;
            return Ok(Expr {
                kind: ExprKind::In {
                    expr: Box::new(l),
                    list,
                    negated,
                },
                pos,
            });
        }
        Ok(l)
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
        let mut l = self.unary()?;
        loop {
            let op = if self.accept_sym("*") {
                BinOp::Mul
            } else if self.accept_sym("/") {
                BinOp::Div
            } else {
                return Ok(l);
            };
            let r = self.unary()?;
            l = self.binary(op, l, r);
        }
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
                return Err(Error::new(
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
        let kind = match self.peek().tok.clone() {
            Tok::Number(n) => {
                self.bump();
                ExprKind::Number(n)
            }
            Tok::Str(s) => {
                self.bump();
                ExprKind::Str(s)
            }
            Tok::Quoted(q) => {
                self.bump();
                ExprKind::Column(q)
            }
            Tok::Sym("(") => {
                self.bump();
                let e = self.expr()?;
                self.expect_sym(")")?;
                return Ok(Expr { kind: e.kind, pos });
            }
            Tok::Sym("[") => {
                self.bump();
                let mut items = Vec::new();
                if !self.accept_sym("]") {
                    loop {
                        items.push(self.expr()?);
                        if !self.accept_sym(",") {
                            break;
                        }
                    }
                    self.expect_sym("]")?;
                }
                ExprKind::Vector(items)
            }
            Tok::Ident(w) => {
                if *self.peek_at(1) == Tok::Sym("(") {
                    self.bump();
                    self.bump();
                    let name = w.to_ascii_lowercase();
                    if self.accept_sym("*") {
                        self.expect_sym(")")?;
                        ExprKind::Call {
                            name,
                            args: Vec::new(),
                            star: true,
                        }
                    } else {
                        let mut args = Vec::new();
                        if !self.accept_sym(")") {
                            loop {
                                args.push(self.expr()?);
                                if !self.accept_sym(",") {
                                    break;
                                }
                            }
                            self.expect_sym(")")?;
                        }
                        ExprKind::Call {
                            name,
                            args,
                            star: false,
                        }
                    }
                } else if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") {
                    self.bump();
                    ExprKind::Bool(w.eq_ignore_ascii_case("true"))
                } else if is_reserved(&w) {
                    return Err(self.unexpected("an expression"));
                } else {
                    self.bump();
                    ExprKind::Column(w)
                }
            }
            _ => return Err(self.unexpected("an expression")),
        };
        Ok(Expr { kind, pos })
    }
}
