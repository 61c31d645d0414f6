//! Parsing `[EXPLAIN] ASK map [USING model] 'text'` (docs/LANGUAGE.md, "Plain language");
//! its syntax tree is [`crate::ast::Ask`], its meaning `crate::ask`.

use super::Parser;
use crate::ast::{Ask, Statement};
use crate::error::Result;
use crate::lexer::Tok;

impl Parser<'_> {
    /// `ASK map [USING model] 'text'`; the word ASK is next (an EXPLAIN before it is
    /// already read: `explain` says whether there was one).
    pub(super) fn ask(&mut self, explain: bool) -> Result<Statement> {
        self.expect_kw("ask")?;
        let map = self.name("a map name after ASK")?;
        let model = if self.accept_kw("using") {
            Some(self.name("a model name after USING")?)
        } else {
            None
        };
        let text = match &self.peek().tok {
            Tok::Str(s) => {
                let s = s.clone();
                self.bump();
                s
            }
            _ => return Err(self.unexpected("the question as a string ('...')")),
        };
        Ok(Statement::Ask(Box::new(Ask {
            explain,
            map,
            model,
            text,
        })))
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::{Ask, Statement};
    use crate::parser::parse_statement;

    fn ask(s: &str) -> Ask {
        match parse_statement(s).unwrap() {
            Statement::Ask(a) => *a,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn the_three_forms_parse_and_print_back() {
        let a = ask("ASK demo 'find all cubes within 200 units of center'");
        assert_eq!(
            a,
            Ask {
                explain: false,
                map: "demo".into(),
                model: None,
                text: "find all cubes within 200 units of center".into(),
            }
        );
        let e = ask("explain ask demo 'the 5 objects nearest to 0,0,0'");
        assert!(e.explain && e.model.is_none());
        let u = ask("ASK demo USING mine 'show me the tori near the origin'");
        assert_eq!(u.model.as_deref(), Some("mine"));
        for s in [
            "ASK demo 'it''s a cube'",
            "EXPLAIN ASK \"my map\" USING m 'x'",
            "ASK demo USING mine 'show me the tori near the origin'",
        ] {
            let printed = parse_statement(s).unwrap().to_string();
            assert_eq!(
                parse_statement(&printed).unwrap(),
                parse_statement(s).unwrap()
            );
        }
        assert_eq!(ask("ASK demo 'it''s a cube'").text, "it's a cube");
    }

    #[test]
    fn malformed_asks_say_what_is_missing() {
        for (s, want) in [
            ("ASK 'cubes'", "a map name after ASK"),
            ("ASK demo", "the question as a string"),
            ("ASK demo cubes", "the question as a string"),
            ("ASK demo USING 'cubes'", "a model name after USING"),
            ("ASK demo 'cubes' 'spheres'", "expected"),
        ] {
            let e = parse_statement(s).unwrap_err();
            assert!(e.message.contains(want), "{s}: {e}");
        }
    }
}
