//! The parser: tokens to statements, by recursive descent with a nesting limit.
//!
//! It pulls tokens from the [`Lexer`] as it goes (two tokens of look-ahead), so a
//! statement is never held as a token vector, and a script is parsed one statement at a
//! time ([`Script`]).

use std::collections::VecDeque;

use crate::ast::*;
use crate::error::{Error, Pos, Result};
use crate::lexer::{Lexer, Tok, Token};
use tensormap_engine::user::ColumnType;

mod ask;
mod copy;
mod expr;
pub mod model;
mod select;

/// How deeply expressions may nest (parentheses, vectors, calls, unary operators).
pub const MAX_DEPTH: usize = 64;

/// The session settings `SET`, `SHOW` and `RESET` name.
pub const SETTINGS: [&str; 2] = ["statement_timeout", "memory_limit"];

/// Words that cannot be bare map, column or alias names (quote them: `"from"`).
const RESERVED: [&str; 59] = [
    "select",
    "from",
    "where",
    "group",
    "by",
    "order",
    "limit",
    "offset",
    "and",
    "or",
    "not",
    "in",
    "as",
    "asc",
    "desc",
    "insert",
    "into",
    "values",
    "update",
    "set",
    "delete",
    "create",
    "drop",
    "show",
    "describe",
    "explain",
    "begin",
    "commit",
    "rollback",
    "with",
    "true",
    "false",
    "voxels",
    "distinct",
    "having",
    "join",
    "inner",
    "left",
    "outer",
    "cross",
    "on",
    "null",
    "is",
    "like",
    "escape",
    "between",
    "case",
    "when",
    "then",
    "else",
    "end",
    "cast",
    "using",
    "to",
    "union",
    "intersect",
    "except",
    "exists",
    "over",
];

/// Room for the longest keyword a statement or an expression starts with, in bytes.
const KEYWORD_BYTES: usize = 16;

/// `word` in lower case, in `buf` (matching keywords without allocating); "" when it is
/// longer than [`KEYWORD_BYTES`] (no keyword is) or not ASCII.
fn lower<'b>(word: &str, buf: &'b mut [u8; KEYWORD_BYTES]) -> &'b str {
    let Some(out) = buf.get_mut(..word.len()) else {
        return "";
    };
    out.copy_from_slice(word.as_bytes());
    out.make_ascii_lowercase();
    std::str::from_utf8(out).unwrap_or("")
}

/// Whether `word` is reserved.
pub fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

/// A statement and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The statement.
    pub statement: Statement,
    /// Where it starts.
    pub pos: Pos,
    /// How many `?` parameters it has.
    pub params: usize,
    /// The index (through the whole script) of its first `?`.
    pub first_param: usize,
}

/// Parses a script: statements separated by `;` (optional after the last).
pub fn parse_script(text: &str) -> Result<Vec<Parsed>> {
    Script::new(text).collect()
}

/// The statements of a script, parsed one at a time: a statement is returned before a
/// later one is looked at, so a script can run up to its first mistake. Ends after the
/// first error.
#[derive(Debug)]
pub struct Script {
    text: String,
    /// Where the next statement starts: byte offset and position.
    offset: usize,
    pos: Pos,
    /// `?` parameters seen so far.
    params: usize,
    done: bool,
}

impl Script {
    /// The statements of `text`.
    pub fn new(text: &str) -> Self {
        Script::starting_at(text.to_string(), Pos { line: 1, col: 1 })
    }

    /// The statements of `text`, which starts at `pos` of a larger text (a file read
    /// statement by statement): positions in errors are the larger text's.
    pub fn starting_at(text: String, pos: Pos) -> Self {
        Script {
            text,
            offset: 0,
            pos,
            params: 0,
            done: false,
        }
    }

    /// The text of the script.
    pub fn text(&self) -> &str {
        &self.text
    }

    fn next_statement(&mut self) -> Option<Result<Parsed>> {
        let mut p = Parser::new(&self.text, self.offset, self.pos);
        p.params = self.params;
        while p.accept_sym(";") {}
        if p.at_eof() {
            return p.lex_error.take().map(Err);
        }
        let pos = p.pos();
        let first_param = p.params;
        let parsed = p.statement().and_then(|statement| {
            let end = p.peek();
            if end.tok == Tok::Sym(";") {
                self.offset = end.end;
                self.pos = Pos {
                    line: end.pos.line,
                    col: end.pos.col + 1,
                };
            } else if end.tok == Tok::Eof && p.lex_error.is_none() {
                self.offset = self.text.len();
                self.pos = end.pos;
            } else {
                return Err(p.unexpected("';' or the end of the statement"));
            }
            Ok(Parsed {
                statement,
                pos,
                params: p.params - first_param,
                first_param,
            })
        });
        self.params = p.params;
        Some(match parsed {
            // Running into the tokens' early end is the lexical error's doing.
            Err(e) if p.at_eof() => Err(p.lex_error.take().unwrap_or(e)),
            other => other,
        })
    }
}

/// Where a statement taken from the shapes ([`Script::next_shaped`]) starts in its
/// script, to parse it again ([`Script::reparse`]).
#[derive(Debug, Clone, Copy)]
pub struct Shaped {
    offset: usize,
    pos: Pos,
    params: usize,
}

impl Script {
    /// The next statement, as [`Iterator::next`]; a SELECT of a shape in `shapes` is made
    /// from the shape instead of parsed (`crate::shapes`), and says where it starts.
    pub fn next_shaped(
        &mut self,
        shapes: &mut crate::shapes::Shapes,
    ) -> Option<(Result<Parsed>, Option<Shaped>)> {
        if self.done {
            return None;
        }
        let scanned = shapes.scan(&self.text, self.offset, self.pos);
        if let Some(scanned) = &scanned {
            if let Some(mut parsed) = shapes.get(scanned) {
                let at = Shaped {
                    offset: self.offset,
                    pos: self.pos,
                    params: self.params,
                };
                parsed.first_param = self.params;
                (self.offset, self.pos) = scanned.end;
                return Some((Ok(parsed), Some(at)));
            }
        }
        let r = self.next()?;
        if let (Some(scanned), Ok(parsed)) = (&scanned, &r) {
            shapes.learn(scanned, parsed);
        }
        Some((r, None))
    }

    /// Parses again the statement that [`Script::next_shaped`] made at `at` (the script
    /// goes on after it as before).
    pub fn reparse(&mut self, at: Shaped) -> Option<Result<Parsed>> {
        let after = (self.offset, self.pos, self.params, self.done);
        (self.offset, self.pos, self.params, self.done) = (at.offset, at.pos, at.params, false);
        let r = self.next();
        (self.offset, self.pos, self.params, self.done) = after;
        r
    }
}

impl Iterator for Script {
    type Item = Result<Parsed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.next_statement();
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }
}

/// Parses exactly one statement.
pub fn parse_statement(text: &str) -> Result<Statement> {
    let mut all = parse_script(text)?;
    match all.len() {
        1 => Ok(all.remove(0).statement),
        0 => Err(Error::syntax(Pos { line: 1, col: 1 }, "empty statement")),
        _ => Err(Error::syntax(
            all[1].pos,
            "expected one statement, found several",
        )),
    }
}

/// Where the first statement of `sql` that reads or writes files is
/// ([`Statement::touches_files`]), if one does. Text that does not parse has none: running
/// it reports its syntax error.
pub fn first_file_statement(sql: &str) -> Option<Pos> {
    parse_script(sql)
        .ok()?
        .into_iter()
        .find(|p| p.statement.touches_files())
        .map(|p| p.pos)
}

/// The strongest [`crate::ast::Access`] the statements of `sql` need, and the position of
/// the first statement that needs it; `None` when the text does not parse (the executor
/// then refuses it with its position).
pub fn script_access(sql: &str) -> Option<(crate::ast::Access, Pos)> {
    let parsed = parse_script(sql).ok()?;
    let mut most: Option<(crate::ast::Access, Pos)> = None;
    for p in parsed {
        let a = p.statement.access();
        if most.is_none_or(|(m, _)| a > m) {
            most = Some((a, p.pos));
        }
    }
    most
}

#[derive(Debug)]
struct Parser<'t> {
    lexer: Lexer<'t>,
    /// The next two tokens (after a lexical error or the end: `Eof` tokens).
    look: VecDeque<Token<'t>>,
    /// The lexical error the tokens stopped at, if any.
    lex_error: Option<Error>,
    depth: usize,
    /// How deeply queries nest (subqueries in FROM, WITH and expressions).
    queries: usize,
    /// `?` parameters numbered so far.
    params: usize,
}

impl<'t> Parser<'t> {
    fn new(text: &'t str, offset: usize, pos: Pos) -> Self {
        let mut p = Parser {
            lexer: Lexer::starting_at(text, offset, pos),
            look: VecDeque::with_capacity(3),
            lex_error: None,
            depth: 0,
            queries: 0,
            params: 0,
        };
        p.fill();
        p
    }

    /// Keeps two tokens of look-ahead.
    fn fill(&mut self) {
        while self.look.len() < 2 {
            let t = if self.lex_error.is_some() {
                None
            } else {
                match self.lexer.next_token() {
                    Ok(t) => Some(t),
                    Err(e) => {
                        self.lex_error = Some(e);
                        None
                    }
                }
            };
            let t = t.unwrap_or_else(|| {
                // A lexical error ends the tokens where it is.
                let pos = self.lex_error.as_ref().map_or(self.lexer.pos(), |e| e.pos);
                let offset = self.lexer.offset();
                Token {
                    tok: Tok::Eof,
                    pos,
                    offset,
                    end: offset,
                }
            });
            self.look.push_back(t);
        }
    }

    fn peek(&self) -> &Token<'t> {
        &self.look[0]
    }

    fn peek_at(&self, n: usize) -> &Tok<'t> {
        &self.look[n.min(1)].tok
    }

    fn pos(&self) -> Pos {
        self.peek().pos
    }

    fn at_eof(&self) -> bool {
        self.peek().tok == Tok::Eof
    }

    fn bump(&mut self) -> Token<'t> {
        if self.at_eof() {
            return self.peek().clone();
        }
        let t = self.look.pop_front();
        self.fill();
        // `look` always holds two tokens, so there was one to take.
        t.unwrap_or_else(|| self.peek().clone())
    }

    fn unexpected(&self, what: &str) -> Error {
        Error::syntax(
            self.pos(),
            format!("expected {what}, found {}", self.peek().tok.describe()),
        )
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(w) if w.eq_ignore_ascii_case(kw))
    }

    fn accept_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<()> {
        if self.accept_kw(kw) {
            Ok(())
        } else {
            Err(self.unexpected(&kw.to_ascii_uppercase()))
        }
    }

    fn accept_sym(&mut self, sym: &str) -> bool {
        if self.peek().tok == Tok::Sym(sym_static(sym)) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, sym: &str) -> Result<()> {
        if self.accept_sym(sym) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{sym}'")))
        }
    }

    /// A map, column or alias name.
    fn name(&mut self, what: &str) -> Result<String> {
        match &self.peek().tok {
            Tok::Ident(w) if !is_reserved(w) => {
                let w = w.to_string();
                self.bump();
                Ok(w)
            }
            Tok::Quoted(w) => {
                let w = w.clone();
                self.bump();
                Ok(w)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    fn statement(&mut self) -> Result<Statement> {
        let (mut a, mut b) = ([0; KEYWORD_BYTES], [0; KEYWORD_BYTES]);
        let word = match &self.peek().tok {
            Tok::Ident(w) => lower(w, &mut a),
            _ => return Err(self.unexpected("a statement")),
        };
        let second = match self.peek_at(1) {
            Tok::Ident(w) => lower(w, &mut b),
            _ => "",
        };
        match (word, second) {
            ("select" | "with", _) => Ok(Statement::Select(Box::new(self.query()?))),
            ("insert", _) => self.insert(),
            ("ask", _) => self.ask(false),
            ("copy", _) => self.copy(),
            ("update", _) => self.update(),
            ("delete", _) => self.delete(),
            ("create", "map") => self.create_map(),
            ("drop", "map") => {
                self.bump();
                self.bump();
                let if_exists = self.is_kw("if")
                    && matches!(self.peek_at(1), Tok::Ident(w) if w.eq_ignore_ascii_case("exists"));
                if if_exists {
                    self.bump();
                    self.bump();
                }
                Ok(Statement::DropMap {
                    name: self.name("a map name")?,
                    if_exists,
                })
            }
            ("alter", "map") => {
                self.bump();
                self.bump();
                let name = self.name("a map name")?;
                if self.accept_kw("add") {
                    self.accept_kw("column");
                    let change = AlterColumn::Add(self.column_spec()?);
                    return Ok(Statement::AlterColumns { name, change });
                }
                if self.accept_kw("drop") {
                    self.accept_kw("column");
                    let change = AlterColumn::Drop(self.name("a column name")?);
                    return Ok(Statement::AlterColumns { name, change });
                }
                self.expect_kw("rename")?;
                if self.accept_kw("column") {
                    let from = self.name("a column name")?;
                    self.expect_kw("to")?;
                    let to = self.name("the column's new name")?;
                    let change = AlterColumn::Rename { from, to };
                    return Ok(Statement::AlterColumns { name, change });
                }
                self.expect_kw("to")?;
                let to = self.name("the map's new name")?;
                Ok(Statement::RenameMap { name, to })
            }
            ("create" | "drop", "model")
            | ("show", "models" | "model")
            | ("load" | "train" | "save", _) => self.model_statement(),
            ("show", "maps") => {
                self.bump();
                self.bump();
                Ok(Statement::ShowMaps)
            }
            ("describe", _) => {
                self.bump();
                Ok(Statement::Describe {
                    name: self.name("a map name")?,
                })
            }
            ("render", _) => {
                self.bump();
                if !self.at_query() {
                    return Err(self.unexpected("SELECT after RENDER"));
                }
                let select = Box::new(self.query()?);
                let to = if self.accept_kw("to") {
                    Some(self.file_name("TO")?)
                } else {
                    None
                };
                let settings = if self.accept_kw("with") {
                    self.settings()?
                } else {
                    Vec::new()
                };
                Ok(Statement::Render {
                    select,
                    to,
                    settings,
                })
            }
            ("snapshot", _) => {
                self.bump();
                let map = self.name("a map name")?;
                self.expect_kw("to")?;
                let to = self.file_name("TO")?;
                let settings = if self.accept_kw("with") {
                    self.settings()?
                } else {
                    Vec::new()
                };
                Ok(Statement::Snapshot { map, to, settings })
            }
            ("restore", _) => {
                self.bump();
                let name = self.name("a map name")?;
                self.expect_kw("from")?;
                let from = self.file_name("FROM")?;
                Ok(Statement::Restore { name, from })
            }
            ("explain", _) => {
                self.bump();
                let analyze = self.accept_kw("analyze");
                if !analyze && self.is_kw("ask") {
                    return self.ask(true);
                }
                if !self.at_query() {
                    return Err(self.unexpected("SELECT after EXPLAIN"));
                }
                let inner = Box::new(self.statement()?);
                Ok(if analyze {
                    Statement::ExplainAnalyze(inner)
                } else {
                    Statement::Explain(inner)
                })
            }
            ("begin", _) => {
                self.bump();
                self.accept_kw("transaction");
                Ok(Statement::Begin)
            }
            ("commit", _) => {
                self.bump();
                Ok(Statement::Commit)
            }
            ("rollback", _) => {
                self.bump();
                Ok(Statement::Rollback)
            }
            ("create" | "drop" | "alter", _) => {
                self.bump();
                Err(self.unexpected("MAP"))
            }
            ("show", _) => {
                self.bump();
                let name = if self.accept_kw("all") {
                    "all".to_string()
                } else {
                    let known = matches!(&self.peek().tok, Tok::Ident(w)
                        if SETTINGS.iter().any(|s| w.eq_ignore_ascii_case(s)));
                    if !known {
                        return Err(self.unexpected(
                            "MAPS, MODELS, ALL or a setting (statement_timeout, memory_limit)",
                        ));
                    }
                    self.name("a setting name")?.to_ascii_lowercase()
                };
                Ok(Statement::Show { name })
            }
            ("set", _) => {
                self.bump();
                let name = self.name("a setting name")?.to_ascii_lowercase();
                if !self.accept_kw("to") {
                    self.expect_sym("=")?;
                }
                let value = self.setting()?;
                Ok(Statement::Set { name, value })
            }
            ("reset", _) => {
                self.bump();
                let name = if self.accept_kw("all") {
                    "all".to_string()
                } else {
                    self.name("a setting name")?.to_ascii_lowercase()
                };
                Ok(Statement::Reset { name })
            }
            ("checkpoint" | "vacuum", _) => {
                self.bump();
                Ok(Statement::Checkpoint {
                    vacuum: word == "vacuum",
                })
            }
            _ => Err(self.unexpected("a statement")),
        }
    }

    /// A file name: a string literal, after the keyword `after`.
    fn file_name(&mut self, after: &str) -> Result<String> {
        match &self.peek().tok {
            Tok::Str(s) => {
                let s = s.clone();
                self.bump();
                Ok(s)
            }
            _ => Err(self.unexpected(&format!("a file name string after {after}"))),
        }
    }

    fn create_map(&mut self) -> Result<Statement> {
        self.bump();
        self.bump();
        let name = self.name("a map name")?;
        let mut columns = Vec::new();
        if self.accept_sym("(") {
            loop {
                columns.push(self.column_spec()?);
                if !self.accept_sym(",") {
                    break;
                }
            }
            self.expect_sym(")")?;
        }
        let settings = if self.accept_kw("with") {
            self.settings()?
        } else {
            Vec::new()
        };
        Ok(Statement::CreateMap {
            name,
            columns,
            settings,
        })
    }

    /// `name TYPE [NOT NULL] [DEFAULT e]` (the two clauses in either order).
    fn column_spec(&mut self) -> Result<ColumnSpec> {
        let at = Span(self.pos());
        let name = self.name("a column name")?;
        let ty = match &self.peek().tok {
            Tok::Ident(w) => ColumnType::from_name(w),
            _ => None,
        }
        .ok_or_else(|| {
            self.unexpected("a column type (TEXT, REAL, INTEGER, BOOLEAN, TIMESTAMP or BLOB)")
        })?;
        self.bump();
        let mut spec = ColumnSpec {
            name,
            ty,
            not_null: false,
            default: None,
            at,
        };
        loop {
            if !spec.not_null && self.is_kw("not") {
                self.bump();
                self.expect_kw("null")?;
                spec.not_null = true;
            } else if spec.default.is_none() && self.accept_kw("default") {
                spec.default = Some(self.unary()?);
            } else {
                return Ok(spec);
            }
        }
    }

    /// `(key = value, ...)` after WITH.
    fn settings(&mut self) -> Result<Vec<(String, Setting, Span)>> {
        let mut settings = Vec::new();
        self.expect_sym("(")?;
        loop {
            let pos = self.pos();
            let key = self.name("a setting name")?;
            self.expect_sym("=")?;
            settings.push((key.to_ascii_lowercase(), self.setting()?, Span(pos)));
            if !self.accept_sym(",") {
                break;
            }
        }
        self.expect_sym(")")?;
        Ok(settings)
    }

    fn signed_number(&mut self) -> Result<f64> {
        let neg = self.accept_sym("-");
        match self.peek().tok {
            Tok::Number(n) => {
                self.bump();
                Ok(if neg { -n } else { n })
            }
            _ => Err(self.unexpected("a number")),
        }
    }

    fn setting(&mut self) -> Result<Setting> {
        match &self.peek().tok {
            Tok::Str(s) => {
                let s = s.clone();
                self.bump();
                Ok(Setting::Str(s))
            }
            Tok::Ident(w) => {
                let w = w.to_ascii_lowercase();
                self.bump();
                Ok(Setting::Word(w))
            }
            Tok::Sym("[") => {
                self.bump();
                let mut v = Vec::new();
                if !self.accept_sym("]") {
                    loop {
                        v.push(self.signed_number()?);
                        if !self.accept_sym(",") {
                            break;
                        }
                    }
                    self.expect_sym("]")?;
                }
                Ok(Setting::Vector(v))
            }
            _ => Ok(Setting::Number(self.signed_number()?)),
        }
    }

    fn insert(&mut self) -> Result<Statement> {
        self.bump();
        self.expect_kw("into")?;
        let map = self.name("a map name")?;
        let mut columns = Vec::new();
        if self.accept_sym("(") {
            loop {
                let pos = self.pos();
                columns.push((self.name("a column name")?, Span(pos)));
                if !self.accept_sym(",") {
                    break;
                }
            }
            self.expect_sym(")")?;
        }
        let mut rows = Vec::new();
        let mut query = None;
        if self.at_query() {
            query = Some(Box::new(self.query()?));
        } else {
            self.expect_kw("values")?;
            loop {
                let pos = self.pos();
                self.expect_sym("(")?;
                let mut row = Vec::new();
                loop {
                    row.push(self.expr()?);
                    if !self.accept_sym(",") {
                        break;
                    }
                }
                self.expect_sym(")")?;
                rows.push((row, Span(pos)));
                if !self.accept_sym(",") {
                    break;
                }
            }
        }
        let on_conflict = if self.is_kw("on") {
            self.bump();
            Some(self.on_conflict()?)
        } else {
            None
        };
        Ok(Statement::Insert {
            map,
            columns,
            rows,
            query,
            on_conflict,
        })
    }

    /// After `INSERT ... ON`: `CONFLICT (id) DO NOTHING | DO UPDATE SET ... [WHERE ...]`.
    fn on_conflict(&mut self) -> Result<OnConflict> {
        self.expect_kw("conflict")?;
        self.expect_sym("(")?;
        let pos = self.pos();
        let target = self.name("a column name")?;
        if target != "id" {
            return Err(Error::syntax(
                pos,
                format!("ON CONFLICT takes (id), the one unique column; found '{target}'"),
            ));
        }
        self.expect_sym(")")?;
        self.expect_kw("do")?;
        if self.accept_kw("nothing") {
            return Ok(OnConflict::Nothing);
        }
        if !self.is_kw("update") {
            return Err(self.unexpected("NOTHING or UPDATE"));
        }
        self.bump();
        self.expect_kw("set")?;
        let set = self.assignments()?;
        let filter = if self.accept_kw("where") {
            Some(self.expr()?)
        } else {
            None
        };
        Ok(OnConflict::Update { set, filter })
    }

    /// `col = e, ...`
    fn assignments(&mut self) -> Result<Vec<(String, Expr, Span)>> {
        let mut set = Vec::new();
        loop {
            let pos = self.pos();
            let col = self.name("a column name")?;
            self.expect_sym("=")?;
            set.push((col, self.expr()?, Span(pos)));
            if !self.accept_sym(",") {
                return Ok(set);
            }
        }
    }

    fn update(&mut self) -> Result<Statement> {
        self.bump();
        let map = self.name("a map name")?;
        self.expect_kw("set")?;
        let mut set = Vec::new();
        loop {
            let pos = self.pos();
            let col = self.name("a column name")?;
            self.expect_sym("=")?;
            set.push((col, self.expr()?, Span(pos)));
            if !self.accept_sym(",") {
                break;
            }
        }
        let filter = if self.accept_kw("where") {
            Some(self.expr()?)
        } else {
            None
        };
        Ok(Statement::Update { map, set, filter })
    }

    fn delete(&mut self) -> Result<Statement> {
        self.bump();
        self.expect_kw("from")?;
        let map = self.name("a map name")?;
        let filter = if self.accept_kw("where") {
            Some(self.expr()?)
        } else {
            None
        };
        Ok(Statement::Delete { map, filter })
    }

    fn count(&mut self, what: &str) -> Result<u64> {
        let pos = self.pos();
        match self.peek().tok {
            Tok::Number(n) if n >= 0.0 && n.fract() == 0.0 && n <= u64::MAX as f64 => {
                self.bump();
                Ok(n as u64)
            }
            Tok::Number(_) | Tok::Sym("-") => Err(Error::syntax(
                pos,
                format!("{what} must be a non-negative integer"),
            )),
            _ => Err(self.unexpected(&format!("a number after {what}"))),
        }
    }
}

fn sym_static(s: &str) -> &'static str {
    match s {
        "(" => "(",
        ")" => ")",
        "[" => "[",
        "]" => "]",
        "," => ",",
        ";" => ";",
        "." => ".",
        "*" => "*",
        "+" => "+",
        "-" => "-",
        "/" => "/",
        "=" => "=",
        "<" => "<",
        ">" => ">",
        "<=" => "<=",
        ">=" => ">=",
        "||" => "||",
        ":" => ":",
        _ => "!=",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_that_touch_files_are_found() {
        assert_eq!(
            first_file_statement("SELECT 1; RENDER SELECT * FROM m"),
            None
        );
        for (sql, at) in [
            ("SELECT 1;\n  SAVE MODEL m TO 'x.vllm'", (2, 3)),
            ("LOAD MODEL m FROM 'x'", (1, 1)),
            ("COPY m TO 'x.csv'", (1, 1)),
            ("SELECT 1; SNAPSHOT m TO 'x'", (1, 11)),
            ("RESTORE m FROM 'x'", (1, 1)),
            ("RENDER SELECT * FROM m TO 'x.svg'", (1, 1)),
        ] {
            let pos = first_file_statement(sql).unwrap_or_else(|| panic!("{sql}"));
            assert_eq!((pos.line, pos.col), at, "{sql}");
        }
        // Text that does not parse is left to the executor's error.
        assert_eq!(first_file_statement("SELEC; COPY m TO 'x.csv'"), None);
    }

    fn round_trip(sql: &str) {
        let a = parse_statement(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let printed = a.to_string();
        let b = parse_statement(&printed).unwrap_or_else(|e| panic!("{printed}: {e}"));
        assert_eq!(a, b, "{sql} → {printed}");
        assert_eq!(printed, b.to_string());
    }

    #[test]
    fn every_form_round_trips() {
        for sql in [
            "CREATE MAP scene",
            "CREATE MAP scene WITH (resolution = 64, channels = 32, bounds = 500, dtype = 'f32', sigma = 2.0, splat_radius = 3)",
            "DROP MAP scene",
            "DROP MAP IF EXISTS scene",
            "SHOW MAPS",
            "SET statement_timeout = '2s'",
            "SET memory_limit = 0",
            "SET statement_timeout = DEFAULT",
            "SHOW statement_timeout",
            "SHOW ALL",
            "RESET memory_limit",
            "CHECKPOINT",
            "ALTER MAP scene RENAME TO scene2",
            "CREATE MAP m (label TEXT, speed REAL NOT NULL DEFAULT -1.5, n INTEGER DEFAULT 0 NOT NULL, ok BOOLEAN DEFAULT TRUE, seen_at TIMESTAMP, raw BLOB) WITH (channels = 4)",
            "create map \"a b\" (\"odd col\" text)",
            "ALTER MAP m ADD COLUMN c TEXT DEFAULT 'x'",
            "ALTER MAP m ADD c INTEGER NOT NULL DEFAULT 3",
            "ALTER MAP m DROP COLUMN c",
            "ALTER MAP m RENAME COLUMN a TO b",
            "alter map \"a b\" rename to c",
            "VACUUM",
            "describe scene",
            "INSERT INTO scene (id, type, position, embedding, confidence) VALUES ('cube_1', 'cube', [100, 50, -30], [0.23, -0.45], 0.98), ('b', 'sphere', [-1e2, 3, 5], [1, 2], 1)",
            "UPDATE scene SET position = [0, 0, 0], confidence = 0.5 WHERE id = 'cube_1'",
            "DELETE FROM scene WHERE type = 'cube' AND WITHIN(position, [0, 0, 0], 50)",
            "SELECT * FROM scene",
            "SELECT id, x + y * 2 - -z AS s, DISTANCE(position, [1, 2, 3]) d FROM scene WHERE NOT (x < 3 OR y >= 4) AND type NOT IN ('a', 'b') ORDER BY d DESC, id LIMIT 10 OFFSET 5",
            "SELECT type, COUNT(*), AVG(confidence) FROM scene GROUP BY type ORDER BY COUNT(*) DESC",
            "SELECT i, j, k, norm FROM VOXELS(scene) WHERE WITHIN(center, [0, 0, 0], 100) ORDER BY ATTENTION([0.1, 0.2]) DESC LIMIT 10",
            "EXPLAIN SELECT id FROM scene WHERE WITHIN(position, [0, 0, 0], 5)",
            "RENDER SELECT * FROM scene WHERE WITHIN(position, [0, 0, 0], 300) TO 'view.svg' WITH (width = 800, height = 600, camera = [0, 0, -500], rotation = [30, 45, 0], fov = 60, perspective = 1200, heatmap = true)",
            "RENDER SELECT id FROM scene LIMIT 3",
            "SNAPSHOT scene TO 'scene.tensor3d'",
            "SNAPSHOT \"my map\" TO 'a b.json' WITH (format = 'json', compression = 'none', dtype = 'f16')",
            "RESTORE scene2 FROM 'scene.tensor3d'",
            "COPY scene TO 'scene.parquet'",
            "copy \"my map\" to 'it''s.csv' with (format = 'csv')",
            "COPY scene TO 'out/' WITH (format = 'parquet', partition_by = 'octree', depth = 2)",
            "COPY scene FROM 'objects.parquet'",
            "BEGIN", "COMMIT", "ROLLBACK",
            "SELECT \"select\", \"odd name\" FROM \"my map\"",
            "SELECT 'it''s', TRUE, FALSE, [] FROM m",
            "SELECT -(x - 3), - 2 * 3, 0.1, 1e300, -0.0 FROM m",
            "SELECT [1e300, 2], [-1.5, 2e-3, 0.1], [x, -y] FROM m",
            "SELECT 1 + 1, NULL, 'a' || 'b' || c",
            "SELECT DISTINCT type, COUNT(DISTINCT id) FROM m GROUP BY type HAVING COUNT(*) > 1 ORDER BY 2 DESC",
            "SELECT x FROM m WHERE x IS NOT NULL AND y IS NULL AND z NOT BETWEEN -1 AND 1 + 1 AND type NOT LIKE 'c%' AND id LIKE 'a!_%' ESCAPE '!'",
            "SELECT CASE WHEN x > 0 THEN 'p' WHEN x < 0 THEN 'n' ELSE 'z' END, CASE type WHEN 'a' THEN 1 END, CAST(x AS INTEGER), CAST('1' AS REAL), CAST(x AS TEXT) FROM m",
            "SELECT a.id, b.*, DISTANCE(a.position, b.position) AS d FROM m AS a JOIN n b ON WITHIN(b.position, a.position, 5) LEFT JOIN VOXELS(m) v ON v.i = 1 CROSS JOIN o, p WHERE a.x > ? ORDER BY d LIMIT 3",
        ] {
            round_trip(sql);
        }
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse_statement("SELECT * FORM scene").unwrap_err();
        assert_eq!(e.to_string(), "error at 1:10: expected FROM, found 'FORM'");
        let e = parse_statement("SELECT id\nFROM m WHERE x >").unwrap_err();
        assert_eq!(e.pos, Pos { line: 2, col: 17 });
        let e = parse_statement("SNAPSHOT scene TO x").unwrap_err();
        assert!(e.message.contains("a file name string after TO"), "{e}");
        let e = parse_statement("RESTORE scene 'x'").unwrap_err();
        assert!(e.message.contains("FROM"), "{e}");
        let e = parse_statement("RENDER SHOW MAPS").unwrap_err();
        assert!(e.message.contains("SELECT after RENDER"), "{e}");
        let e = parse_statement("COPY m INTO 'x.csv'").unwrap_err();
        assert_eq!(
            e.to_string(),
            "error at 1:8: expected TO or FROM, found 'INTO'"
        );
        let e = parse_statement("COPY m TO x").unwrap_err();
        assert!(e.message.contains("a file name string"), "{e}");
        assert!(parse_statement("SELECT * FROM m LIMIT -1").is_err());
        assert!(parse_statement("SELECT * FROM m LIMIT 1.5").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!(
            "SELECT {}1{} FROM m",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        assert!(parse_statement(&deep)
            .unwrap_err()
            .message
            .contains("nested"));
        let nots = format!("SELECT * FROM m WHERE {} x", "NOT ".repeat(100_000));
        assert!(parse_statement(&nots).is_err());
        let negs = format!("SELECT {} x FROM m", "- ".repeat(100_000));
        assert!(parse_statement(&negs).is_err());
        let vecs = format!(
            "SELECT {}1{} FROM m",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(parse_statement(&vecs).is_err());
    }

    #[test]
    fn scripts_split_on_semicolons() {
        let s = parse_script("SHOW MAPS;;\n SELECT 1 FROM m; BEGIN").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[1].pos, Pos { line: 2, col: 2 });
        assert!(parse_script("SHOW MAPS SHOW MAPS").is_err());
    }
}
