//! The interactive HTML view from a session: `RENDER SELECT ... TO 'x.html'`, and the calls
//! behind `db.render(sql, format="html")` and the served viewer (the view of a SELECT, as
//! a checked document or as the scene the server indexes).

use tensormap_render::html::{HtmlDocument, HtmlOptions, ViewScene};

use super::Session;
use crate::ast::{Select, Setting, Span, Statement};
use crate::error::{Error, Pos, Result};
use crate::exec::QueryResult;
use crate::render_html;

impl Session {
    /// `RENDER SELECT ... TO 'x.html' [WITH (...)]`: checked and encoded in full, then
    /// written beside its target and renamed, so an error leaves no file.
    pub(super) fn render_html_statement(
        &mut self,
        sel: &Select,
        path: &str,
        settings: &[(String, Setting, Span)],
        pos: Pos,
    ) -> Result<QueryResult> {
        let opts = render_html::options(settings)?;
        let scene = self.select_scene(sel, pos)?;
        let at = |keys: &[&str]| render_html::setting_pos(settings, keys);
        let doc = render_html::document(&scene, &opts, pos, &at)?;
        let bytes = render_html::write_file(path, &doc)
            .map_err(|e| Error::io(pos, format!("cannot write '{path}': {e}")).with_source(e))?;
        Ok(QueryResult::status(format!(
            "RENDER {bytes} bytes to '{path}' ({} objects)",
            scene.objects.len()
        )))
    }

    /// The objects the SELECT `sql` selects, with its other columns and the map's field,
    /// as the HTML view draws them (see `RENDER ... TO 'x.html'`).
    pub fn view_scene(&mut self, sql: &str) -> Result<ViewScene> {
        let sel = parse_select(sql)?;
        self.select_scene(&sel, Pos { line: 1, col: 1 })
    }

    /// The HTML view of the SELECT `sql` with `opts`, checked and encoded, ready to write.
    pub fn render_html(&mut self, sql: &str, opts: &HtmlOptions) -> Result<HtmlDocument> {
        let pos = Pos { line: 1, col: 1 };
        let scene = self.view_scene(sql)?;
        render_html::document(&scene, opts, pos, &|_| None)
    }

    fn select_scene(&mut self, sel: &Select, pos: Pos) -> Result<ViewScene> {
        let mut scene = None;
        self.read(sel, pos, |ctx, sel| {
            scene = Some(render_html::view_scene(ctx, sel)?);
            Ok(QueryResult::status(String::new()))
        })?;
        scene.ok_or_else(|| Error::internal(pos, "RENDER: the view was not built"))
    }
}

fn parse_select(sql: &str) -> Result<Select> {
    match crate::parser::parse_statement(sql)? {
        Statement::Select(sel) => Ok(*sel),
        _ => Err(Error::syntax(
            Pos { line: 1, col: 1 },
            "render expects a SELECT statement",
        )),
    }
}
