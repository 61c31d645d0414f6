//! Printing the tree back as TensorQL (canonical: keywords upper-case, binary operations
//! parenthesized, identifiers quoted only when they must be).

use std::fmt::{self, Display, Formatter, Write};

use super::{
    CopyDirection, Expr, ExprKind, Frame, FrameBound, JoinKind, ModelStatement, OnConflict, Select,
    SelectItem, Setting, Source, Span, Statement, TableRef, WindowSpec,
};

/// Prints an identifier bare when it can be read back as the same identifier.
pub fn ident(name: &str) -> String {
    let bare = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !crate::parser::is_reserved(name);
    if bare {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn number(n: f64) -> String {
    // `{:?}` round-trips every finite f64 exactly.
    let s = format!("{n:?}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

fn list<T>(
    f: &mut Formatter<'_>,
    items: &[T],
    each: impl Fn(&mut Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        each(f, item)?;
    }
    Ok(())
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Number(n) => f.write_str(&number(*n)),
            ExprKind::Str(s) => f.write_str(&string(s)),
            ExprKind::Bool(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            ExprKind::Null => f.write_str("NULL"),
            ExprKind::Param(_) => f.write_char('?'),
            ExprKind::Vector(v) => {
                f.write_char('[')?;
                list(f, v, |f, e| write!(f, "{e}"))?;
                f.write_char(']')
            }
            ExprKind::Numbers(v) => {
                f.write_char('[')?;
                list(f, v, |f, x| {
                    // `{:?}` round-trips every f32 exactly.
                    let s = format!("{x:?}");
                    f.write_str(s.strip_suffix(".0").unwrap_or(&s))
                })?;
                f.write_char(']')
            }
            ExprKind::Column(c) => f.write_str(&ident(c)),
            ExprKind::QualifiedColumn { table, column } => {
                write!(f, "{}.{}", ident(table), ident(column))
            }
            ExprKind::Neg(e) => write!(f, "(-({e}))"),
            ExprKind::Not(e) => write!(f, "(NOT {e})"),
            ExprKind::Binary(op, l, r) => write!(f, "({l} {} {r})", op.symbol()),
            ExprKind::In {
                expr,
                list: items,
                negated,
            } => {
                write!(f, "({expr} {}IN (", not(*negated))?;
                list(f, items, |f, e| write!(f, "{e}"))?;
                f.write_str("))")
            }
            ExprKind::IsNull { expr, negated } => {
                write!(f, "({expr} IS {}NULL)", not(*negated))
            }
            ExprKind::Between {
                expr,
                low,
                high,
                negated,
            } => write!(f, "({expr} {}BETWEEN {low} AND {high})", not(*negated)),
            ExprKind::Like {
                expr,
                pattern,
                escape,
                negated,
            } => {
                write!(f, "({expr} {}LIKE {pattern}", not(*negated))?;
                if let Some(e) = escape {
                    write!(f, " ESCAPE {e}")?;
                }
                f.write_char(')')
            }
            ExprKind::Case {
                operand,
                branches,
                otherwise,
            } => {
                f.write_str("CASE")?;
                if let Some(o) = operand {
                    write!(f, " {o}")?;
                }
                for (w, t) in branches {
                    write!(f, " WHEN {w} THEN {t}")?;
                }
                if let Some(e) = otherwise {
                    write!(f, " ELSE {e}")?;
                }
                f.write_str(" END")
            }
            ExprKind::Cast { expr, to } => write!(f, "CAST({expr} AS {})", to.name()),
            ExprKind::Subquery(q) => write!(f, "({q})"),
            ExprKind::Exists(q) => write!(f, "EXISTS ({q})"),
            ExprKind::InSelect {
                expr,
                query,
                negated,
            } => write!(f, "({expr} {}IN ({query}))", not(*negated)),
            ExprKind::Window { func, spec } => write!(f, "{func} OVER ({spec})"),
            ExprKind::Index { expr, index } => write!(f, "{expr}[{index}]"),
            ExprKind::Slice { expr, low, high } => {
                write!(f, "{expr}[")?;
                if let Some(l) = low {
                    write!(f, "{l}")?;
                }
                f.write_char(':')?;
                if let Some(h) = high {
                    write!(f, "{h}")?;
                }
                f.write_char(']')
            }
            ExprKind::Call {
                name,
                args,
                star,
                distinct,
            } => {
                write!(f, "{}(", name.to_ascii_uppercase())?;
                if *star {
                    f.write_char('*')?;
                }
                if *distinct {
                    f.write_str("DISTINCT ")?;
                }
                list(f, args, |f, e| write!(f, "{e}"))?;
                f.write_char(')')
            }
        }
    }
}

impl Display for FrameBound {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            FrameBound::UnboundedPreceding => f.write_str("UNBOUNDED PRECEDING"),
            FrameBound::Preceding(n) => write!(f, "{n} PRECEDING"),
            FrameBound::CurrentRow => f.write_str("CURRENT ROW"),
            FrameBound::Following(n) => write!(f, "{n} FOLLOWING"),
            FrameBound::UnboundedFollowing => f.write_str("UNBOUNDED FOLLOWING"),
        }
    }
}

impl Display for Frame {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let unit = if self.rows { "ROWS" } else { "RANGE" };
        write!(f, "{unit} BETWEEN {} AND {}", self.start, self.end)
    }
}

impl Display for WindowSpec {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if !self.partition_by.is_empty() {
            f.write_str("PARTITION BY ")?;
            list(f, &self.partition_by, |f, e| write!(f, "{e}"))?;
            sep = " ";
        }
        if !self.order_by.is_empty() {
            write!(f, "{sep}ORDER BY ")?;
            list(f, &self.order_by, |f, (e, desc)| {
                write!(f, "{e} {}", if *desc { "DESC" } else { "ASC" })
            })?;
            sep = " ";
        }
        if let Some(frame) = &self.frame {
            write!(f, "{sep}{frame}")?;
        }
        Ok(())
    }
}

fn not(negated: bool) -> &'static str {
    if negated {
        "NOT "
    } else {
        ""
    }
}

impl Display for TableRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Map(m) => f.write_str(&ident(m))?,
            Source::Voxels(m) => write!(f, "VOXELS({})", ident(m))?,
            Source::Subquery(q) => write!(f, "({q})")?,
        }
        if let Some(a) = &self.alias {
            write!(f, " AS {}", ident(a))?;
        }
        Ok(())
    }
}

impl Display for Setting {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Setting::Number(n) => f.write_str(&number(*n)),
            Setting::Str(s) => f.write_str(&string(s)),
            Setting::Word(w) => f.write_str(w),
            Setting::Vector(v) => {
                f.write_char('[')?;
                list(f, v, |f, n| f.write_str(&number(*n)))?;
                f.write_char(']')
            }
        }
    }
}

impl Display for Select {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if !self.with.is_empty() {
            f.write_str("WITH ")?;
            list(f, &self.with, |f, c| {
                f.write_str(&ident(&c.name))?;
                if !c.columns.is_empty() {
                    f.write_str(" (")?;
                    list(f, &c.columns, |f, n| f.write_str(&ident(n)))?;
                    f.write_char(')')?;
                }
                write!(f, " AS ({})", c.query)
            })?;
            f.write_char(' ')?;
        }
        self.fmt_core(f)?;
        for (op, q) in &self.compound {
            write!(f, " {} ", op.keyword())?;
            q.fmt_core(f)?;
        }
        if !self.order_by.is_empty() {
            f.write_str(" ORDER BY ")?;
            list(f, &self.order_by, |f, (e, desc)| {
                write!(f, "{e} {}", if *desc { "DESC" } else { "ASC" })
            })?;
        }
        if let Some(n) = self.limit {
            write!(f, " LIMIT {n}")?;
        }
        if let Some(n) = self.offset {
            write!(f, " OFFSET {n}")?;
        }
        Ok(())
    }
}

impl Select {
    /// SELECT ... HAVING: the query without WITH, compound operands, ORDER BY and LIMIT.
    fn fmt_core(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(if self.distinct {
            "SELECT DISTINCT "
        } else {
            "SELECT "
        })?;
        list(f, &self.items, |f, item| match item {
            SelectItem::Wildcard(_) => f.write_char('*'),
            SelectItem::TableWildcard(t, _) => write!(f, "{}.*", ident(t)),
            SelectItem::Expr(e, None) => write!(f, "{e}"),
            SelectItem::Expr(e, Some(a)) => write!(f, "{e} AS {}", ident(a)),
        })?;
        if let Some(t) = &self.from {
            write!(f, " FROM {t}")?;
        }
        for j in &self.joins {
            let kw = match j.kind {
                JoinKind::Inner => "JOIN",
                JoinKind::Left => "LEFT JOIN",
                JoinKind::Cross => "CROSS JOIN",
            };
            write!(f, " {kw} {}", j.table)?;
            if let Some(on) = &j.on {
                write!(f, " ON {on}")?;
            }
        }
        if let Some(w) = &self.filter {
            write!(f, " WHERE {w}")?;
        }
        if !self.group_by.is_empty() {
            f.write_str(" GROUP BY ")?;
            list(f, &self.group_by, |f, e| write!(f, "{e}"))?;
        }
        if let Some(h) = &self.having {
            write!(f, " HAVING {h}")?;
        }
        Ok(())
    }
}

/// ` WITH (k = v, ...)`, or nothing when there are no settings.
impl Display for super::ColumnSpec {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", ident(&self.name), self.ty.name())?;
        if self.not_null {
            f.write_str(" NOT NULL")?;
        }
        if let Some(d) = &self.default {
            write!(f, " DEFAULT {d}")?;
        }
        Ok(())
    }
}

fn with_settings(f: &mut Formatter<'_>, settings: &[(String, Setting, Span)]) -> fmt::Result {
    if !settings.is_empty() {
        f.write_str(" WITH (")?;
        list(f, settings, |f, (k, v, _)| write!(f, "{} = {v}", ident(k)))?;
        f.write_char(')')?;
    }
    Ok(())
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Statement::CreateMap {
                name,
                columns,
                settings,
            } => {
                write!(f, "CREATE MAP {}", ident(name))?;
                if !columns.is_empty() {
                    f.write_str(" (")?;
                    for (i, c) in columns.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{c}")?;
                    }
                    f.write_str(")")?;
                }
                with_settings(f, settings)
            }
            Statement::AlterColumns { name, change } => {
                write!(f, "ALTER MAP {} ", ident(name))?;
                match change {
                    super::AlterColumn::Add(c) => write!(f, "ADD COLUMN {c}"),
                    super::AlterColumn::Drop(c) => write!(f, "DROP COLUMN {}", ident(c)),
                    super::AlterColumn::Rename { from, to } => {
                        write!(f, "RENAME COLUMN {} TO {}", ident(from), ident(to))
                    }
                }
            }
            Statement::DropMap { name, if_exists } => {
                write!(
                    f,
                    "DROP MAP {}{}",
                    if *if_exists { "IF EXISTS " } else { "" },
                    ident(name)
                )
            }
            Statement::ShowMaps => f.write_str("SHOW MAPS"),
            Statement::Describe { name } => write!(f, "DESCRIBE {}", ident(name)),
            Statement::Insert {
                map,
                columns,
                rows,
                query,
                on_conflict,
            } => {
                write!(f, "INSERT INTO {}", ident(map))?;
                if !columns.is_empty() {
                    f.write_str(" (")?;
                    list(f, columns, |f, (c, _)| f.write_str(&ident(c)))?;
                    f.write_char(')')?;
                }
                match query {
                    Some(q) => write!(f, " {q}")?,
                    None => {
                        f.write_str(" VALUES ")?;
                        list(f, rows, |f, (row, _)| {
                            f.write_char('(')?;
                            list(f, row, |f, e| write!(f, "{e}"))?;
                            f.write_char(')')
                        })?;
                    }
                }
                match on_conflict {
                    None => Ok(()),
                    Some(OnConflict::Nothing) => f.write_str(" ON CONFLICT (id) DO NOTHING"),
                    Some(OnConflict::Update { set, filter }) => {
                        f.write_str(" ON CONFLICT (id) DO UPDATE SET ")?;
                        list(f, set, |f, (c, e, _)| write!(f, "{} = {e}", ident(c)))?;
                        if let Some(w) = filter {
                            write!(f, " WHERE {w}")?;
                        }
                        Ok(())
                    }
                }
            }
            Statement::Update { map, set, filter } => {
                write!(f, "UPDATE {} SET ", ident(map))?;
                list(f, set, |f, (c, e, _)| write!(f, "{} = {e}", ident(c)))?;
                if let Some(w) = filter {
                    write!(f, " WHERE {w}")?;
                }
                Ok(())
            }
            Statement::Delete { map, filter } => {
                write!(f, "DELETE FROM {}", ident(map))?;
                if let Some(w) = filter {
                    write!(f, " WHERE {w}")?;
                }
                Ok(())
            }
            Statement::Select(s) => write!(f, "{s}"),
            Statement::Explain(s) => write!(f, "EXPLAIN {s}"),
            Statement::ExplainAnalyze(s) => write!(f, "EXPLAIN ANALYZE {s}"),
            Statement::Render {
                select,
                to,
                settings,
            } => {
                write!(f, "RENDER {select}")?;
                if let Some(path) = to {
                    write!(f, " TO {}", string(path))?;
                }
                with_settings(f, settings)
            }
            Statement::Snapshot { map, to, settings } => {
                write!(f, "SNAPSHOT {} TO {}", ident(map), string(to))?;
                with_settings(f, settings)
            }
            Statement::Restore { name, from } => {
                write!(f, "RESTORE {} FROM {}", ident(name), string(from))
            }
            Statement::Model(m) => write!(f, "{m}"),
            Statement::Copy {
                map,
                direction,
                path,
                settings,
            } => {
                let way = match direction {
                    CopyDirection::To => "TO",
                    CopyDirection::From => "FROM",
                };
                write!(f, "COPY {} {way} {}", ident(map), string(path))?;
                with_settings(f, settings)
            }
            Statement::Ask(a) => {
                let explain = if a.explain { "EXPLAIN " } else { "" };
                write!(f, "{explain}ASK {}", ident(&a.map))?;
                if let Some(m) = &a.model {
                    write!(f, " USING {}", ident(m))?;
                }
                write!(f, " {}", string(&a.text))
            }
            Statement::Set { name, value } => write!(f, "SET {} = {value}", ident(name)),
            Statement::Show { name } | Statement::Reset { name } => {
                let verb = if matches!(self, Statement::Show { .. }) {
                    "SHOW"
                } else {
                    "RESET"
                };
                match name.as_str() {
                    "all" => write!(f, "{verb} ALL"),
                    _ => write!(f, "{verb} {}", ident(name)),
                }
            }
            Statement::RenameMap { name, to } => {
                write!(f, "ALTER MAP {} RENAME TO {}", ident(name), ident(to))
            }
            Statement::Checkpoint { vacuum } => {
                f.write_str(if *vacuum { "VACUUM" } else { "CHECKPOINT" })
            }
            Statement::Begin => f.write_str("BEGIN"),
            Statement::Commit => f.write_str("COMMIT"),
            Statement::Rollback => f.write_str("ROLLBACK"),
        }
    }
}

impl Display for ModelStatement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ModelStatement::Create { name, settings: s } => {
                write!(f, "CREATE MODEL {}", ident(name))?;
                with_settings(f, s)
            }
            ModelStatement::Load { name, path } => {
                write!(f, "LOAD MODEL {} FROM {}", ident(name), string(path))
            }
            ModelStatement::Train {
                name,
                map,
                settings: s,
            } => {
                write!(f, "TRAIN MODEL {} ON {}", ident(name), ident(map))?;
                with_settings(f, s)
            }
            ModelStatement::Save { name, path } => {
                write!(f, "SAVE MODEL {} TO {}", ident(name), string(path))
            }
            ModelStatement::Show => f.write_str("SHOW MODELS"),
            ModelStatement::Drop { name, if_exists } => write!(
                f,
                "DROP MODEL {}{}",
                if *if_exists { "IF EXISTS " } else { "" },
                ident(name)
            ),
        }
    }
}
