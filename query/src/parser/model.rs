//! Parsing the model statements (docs/LANGUAGE.md, "Models"); their syntax tree is
//! [`crate::ast::ModelStatement`].
//!
//! ```text
//! CREATE MODEL m [WITH (k = v, ...)]
//! LOAD MODEL m FROM 'x.vllm'
//! TRAIN MODEL m ON map [WITH (k = v, ...)]
//! SAVE MODEL m TO 'x.vllm'
//! SHOW MODELS
//! DROP MODEL [IF EXISTS] m
//! ```

use super::Parser;
use crate::ast::{ModelStatement, Setting, Span, Statement};
use crate::error::Result;
use crate::lexer::Tok;

impl Parser<'_> {
    /// A model statement; the first word (CREATE, DROP, SHOW, LOAD, TRAIN or SAVE) is next.
    pub(super) fn model_statement(&mut self) -> Result<Statement> {
        let word = match &self.peek().tok {
            Tok::Ident(w) => w.to_ascii_lowercase(),
            _ => return Err(self.unexpected("a statement")),
        };
        self.bump();
        if word == "show" {
            self.expect_kw("models")?;
            return Ok(Statement::Model(ModelStatement::Show));
        }
        self.expect_kw("model")?;
        let statement = match word.as_str() {
            "create" => {
                let name = self.name("a model name")?;
                let settings = self.with_settings()?;
                ModelStatement::Create { name, settings }
            }
            "drop" => {
                let if_exists = self.is_kw("if")
                    && matches!(self.peek_at(1), Tok::Ident(w) if w.eq_ignore_ascii_case("exists"));
                if if_exists {
                    self.bump();
                    self.bump();
                }
                ModelStatement::Drop {
                    name: self.name("a model name")?,
                    if_exists,
                }
            }
            "load" => {
                let name = self.name("a model name")?;
                self.expect_kw("from")?;
                let path = self.path("FROM")?;
                ModelStatement::Load { name, path }
            }
            "save" => {
                let name = self.name("a model name")?;
                self.expect_kw("to")?;
                let path = self.path("TO")?;
                ModelStatement::Save { name, path }
            }
            _ => {
                let name = self.name("a model name")?;
                self.expect_kw("on")?;
                let map = self.name("a map name")?;
                let settings = self.with_settings()?;
                ModelStatement::Train {
                    name,
                    map,
                    settings,
                }
            }
        };
        Ok(Statement::Model(statement))
    }

    fn with_settings(&mut self) -> Result<Vec<(String, Setting, Span)>> {
        if self.accept_kw("with") {
            self.settings()
        } else {
            Ok(Vec::new())
        }
    }

    /// A file name string after `after`.
    fn path(&mut self, after: &str) -> Result<String> {
        match &self.peek().tok {
            Tok::Str(s) => {
                let s = s.clone();
                self.bump();
                Ok(s)
            }
            _ => Err(self.unexpected(&format!("a file name string after {after}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::parser::parse_statement;

    #[test]
    fn model_statements_round_trip() {
        for sql in [
            "CREATE MODEL tiny WITH (layers = 2, dim = 64, heads = 4, channels = 32, seed = 7)",
            "CREATE MODEL tiny",
            "LOAD MODEL vllm FROM 'weights.vllm'",
            "LOAD MODEL minilm FROM 'models/all-MiniLM-L6-v2'",
            "TRAIN MODEL tiny ON scene",
            "TRAIN MODEL tiny ON scene WITH (epochs = 20, learning_rate = 3e-4, batch_size = 32, seed = 1)",
            "SAVE MODEL tiny TO 'it''s.vllm'",
            "SHOW MODELS",
            "show models",
            "DROP MODEL tiny",
            "DROP MODEL IF EXISTS tiny",
            "train model \"odd name\" on \"my map\"",
        ] {
            let a = parse_statement(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            let printed = a.to_string();
            let b = parse_statement(&printed).unwrap_or_else(|e| panic!("{printed}: {e}"));
            assert_eq!(a, b, "{sql} → {printed}");
            assert_eq!(printed, b.to_string());
        }
    }

    #[test]
    fn model_statement_errors_name_the_place() {
        let cases = [
            (
                "LOAD MODEL m 'x.vllm'",
                "error at 1:14: expected FROM, found string 'x.vllm'",
            ),
            (
                "LOAD MODEL m FROM x",
                "error at 1:19: expected a file name string after FROM, found 'x'",
            ),
            (
                "TRAIN MODEL m scene",
                "error at 1:15: expected ON, found 'scene'",
            ),
            (
                "TRAIN m ON scene",
                "error at 1:7: expected MODEL, found 'm'",
            ),
            (
                "SAVE MODEL m TO",
                "error at 1:16: expected a file name string after TO, found end of input",
            ),
            (
                "CREATE MODEL m WITH (layers 2)",
                "error at 1:29: expected '=', found number 2",
            ),
            ("SHOW MODEL", "error at 1:6: expected MODELS, found 'MODEL'"),
        ];
        for (sql, want) in cases {
            let e = parse_statement(sql).unwrap_err();
            assert_eq!(e.to_string(), want, "{sql}");
        }
    }
}
