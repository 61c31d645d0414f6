//! The statements that read: SELECT, EXPLAIN (the plan, names checked as for running it)
//! and RENDER (the objects a SELECT chooses, drawn as SVG, returned as a row or written to
//! a file).

use tensormap_engine::Value;
use tensormap_render::RenderOptions;

use super::Session;
use crate::ast::{Select, Setting, Span, Statement};
use crate::error::{Error, Pos, Result};
use crate::exec::{explain, select, QueryResult};

impl Session {
    /// `SELECT ...`.
    pub(super) fn select(&mut self, sel: &Select, pos: Pos) -> Result<QueryResult> {
        self.read(sel, pos, |views, sel, db| {
            select(views, sel, db.functions())
        })
    }

    /// `EXPLAIN SELECT ...`.
    pub(super) fn explain(&mut self, inner: &Statement, pos: Pos) -> Result<QueryResult> {
        match inner {
            Statement::Select(sel) => {
                // Names are checked as for running it, so EXPLAIN reports the same errors.
                self.read(sel, pos, |views, sel, db| {
                    explain(views, sel, db.functions())
                })
            }
            _ => Err(Error::syntax(pos, "EXPLAIN applies to SELECT")),
        }
    }

    /// `RENDER SELECT ... [TO 'file'] [WITH (...)]`.
    pub(super) fn render_statement(
        &mut self,
        sel: &Select,
        to: Option<&str>,
        settings: &[(String, Setting, Span)],
        pos: Pos,
    ) -> Result<QueryResult> {
        let svg3d = to.is_some_and(|p| p.to_ascii_lowercase().ends_with(".svg3d"));
        let opts = crate::render::options(settings, svg3d)?;
        let svg = self.read(sel, pos, |views, sel, db| {
            let svg = crate::render::render_select(views, sel, &opts, db.functions())?;
            Ok(QueryResult {
                columns: vec!["svg".into()],
                rows: vec![vec![Value::text(&svg)]],
                status: "RENDER".into(),
            })
        })?;
        match to {
            None => Ok(svg),
            Some(path) => {
                let text = svg.rows[0][0].to_string();
                write_atomically(path, &text).map_err(|e| {
                    Error::io(pos, format!("cannot write '{path}': {e}")).with_source(e)
                })?;
                Ok(QueryResult::status(format!(
                    "RENDER {} bytes to '{path}'",
                    text.len()
                )))
            }
        }
    }

    /// Renders the objects the SELECT `sql` selects with `opts` (see `RENDER`).
    pub fn render(&mut self, sql: &str, opts: &RenderOptions) -> Result<String> {
        let parsed = crate::parser::parse_statement(sql)?;
        let Statement::Select(sel) = parsed else {
            return Err(Error::syntax(
                Pos { line: 1, col: 1 },
                "render expects a SELECT statement",
            ));
        };
        let r = self.read(&sel, Pos { line: 1, col: 1 }, |views, sel, db| {
            let svg = crate::render::render_select(views, sel, opts, db.functions())?;
            Ok(QueryResult {
                columns: vec!["svg".into()],
                rows: vec![vec![Value::text(&svg)]],
                status: String::new(),
            })
        })?;
        Ok(r.rows[0][0].to_string())
    }
}

/// Writes `text` to `path` through a temporary file and a rename, so a reader never sees
/// half a file.
fn write_atomically(path: &str, text: &str) -> std::io::Result<()> {
    let target = std::path::Path::new(path);
    let tmp = target.with_extension("tmp-render");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, target)
}
