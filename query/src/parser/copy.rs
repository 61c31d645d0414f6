//! `COPY map TO 'path' [WITH (...)]` and `COPY map FROM 'path' [WITH (...)]`: bulk data in
//! and out (docs/LANGUAGE.md, "Bulk data: COPY"). The settings are checked when the
//! statement runs (`crate::copy`), as CREATE MAP's are.

use super::Parser;
use crate::ast::{CopyDirection, Statement};
use crate::error::Result;
use crate::lexer::Tok;

impl Parser<'_> {
    pub(super) fn copy(&mut self) -> Result<Statement> {
        self.bump();
        let map = self.name("a map name")?;
        let direction = if self.accept_kw("to") {
            CopyDirection::To
        } else if self.accept_kw("from") {
            CopyDirection::From
        } else {
            return Err(self.unexpected("TO or FROM"));
        };
        let path = match &self.peek().tok {
            Tok::Str(s) => {
                let s = s.clone();
                self.bump();
                s
            }
            _ => return Err(self.unexpected("a file name string")),
        };
        let settings = if self.accept_kw("with") {
            self.settings()?
        } else {
            Vec::new()
        };
        Ok(Statement::Copy {
            map,
            direction,
            path,
            settings,
        })
    }
}
