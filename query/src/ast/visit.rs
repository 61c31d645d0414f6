//! Walking the tree: an expression's sub-expressions, rewriting in place, searching, and
//! every expression of a query or statement (for binding `?` parameters).

use super::{Expr, ExprKind, Select, SelectItem, Source, Statement, AGGREGATES};

/// The direct sub-expressions of an expression, in order ([`Expr::children`]): up to
/// three held inline, then a slice of them (a call's arguments, a vector's elements), then
/// any gathered in a vector (CASE, window calls).
#[derive(Debug, Clone, Default)]
pub struct Children<'a> {
    few: [Option<&'a Expr>; 3],
    /// How many of `few` have been looked at.
    next: usize,
    rest: std::slice::Iter<'a, Expr>,
    more: std::vec::IntoIter<&'a Expr>,
}

impl<'a> Children<'a> {
    fn few(a: Option<&'a Expr>, b: Option<&'a Expr>, c: Option<&'a Expr>) -> Self {
        Children {
            few: [a, b, c],
            ..Children::default()
        }
    }

    fn slice(first: Option<&'a Expr>, rest: &'a [Expr]) -> Self {
        Children {
            few: [first, None, None],
            rest: rest.iter(),
            ..Children::default()
        }
    }

    fn many(all: Vec<&'a Expr>) -> Self {
        Children {
            more: all.into_iter(),
            ..Children::default()
        }
    }
}

impl<'a> Iterator for Children<'a> {
    type Item = &'a Expr;

    fn next(&mut self) -> Option<&'a Expr> {
        while let Some(slot) = self.few.get(self.next) {
            self.next += 1;
            if let Some(e) = slot {
                return Some(e);
            }
        }
        self.rest.next().or_else(|| self.more.next())
    }
}

impl Expr {
    /// The direct sub-expressions of this one (without allocating, but for CASE and
    /// window calls).
    pub fn children(&self) -> Children<'_> {
        let (few, slice, many) = (Children::few, Children::slice, Children::many);
        match &self.kind {
            ExprKind::Vector(v) => slice(None, v),
            ExprKind::Neg(e) | ExprKind::Not(e) => few(Some(e), None, None),
            ExprKind::IsNull { expr, .. } | ExprKind::Cast { expr, .. } => {
                few(Some(expr), None, None)
            }
            ExprKind::Binary(_, l, r) => few(Some(l), Some(r), None),
            ExprKind::In { expr, list, .. } => slice(Some(expr), list),
            ExprKind::Between {
                expr, low, high, ..
            } => few(Some(expr), Some(low), Some(high)),
            ExprKind::Like {
                expr,
                pattern,
                escape,
                ..
            } => few(Some(expr), Some(pattern), escape.as_deref()),
            ExprKind::Case {
                operand,
                branches,
                otherwise,
            } => many(
                operand
                    .as_deref()
                    .into_iter()
                    .chain(branches.iter().flat_map(|(w, t)| [w, t]))
                    .chain(otherwise.as_deref())
                    .collect(),
            ),
            ExprKind::Call { args, .. } => slice(None, args),
            // A subquery's expressions are in its own scope: not children.
            ExprKind::InSelect { expr, .. } => few(Some(expr), None, None),
            // The window function's arguments and its window, not the call itself (an
            // aggregate in OVER is not an aggregate of the query).
            ExprKind::Window { func, spec } => {
                let args: Vec<&Expr> = match &func.kind {
                    ExprKind::Call { args, .. } => args.iter().collect(),
                    _ => vec![&**func],
                };
                many(
                    args.into_iter()
                        .chain(&spec.partition_by)
                        .chain(spec.order_by.iter().map(|(e, _)| e))
                        .collect(),
                )
            }
            ExprKind::Index { expr, index } => few(Some(expr), Some(index), None),
            ExprKind::Slice { expr, low, high } => few(Some(expr), low.as_deref(), high.as_deref()),
            _ => Children::default(),
        }
    }

    /// The query of a subquery expression (scalar, EXISTS, IN), if this is one.
    pub fn query(&self) -> Option<&Select> {
        match &self.kind {
            ExprKind::Subquery(q) | ExprKind::Exists(q) | ExprKind::InSelect { query: q, .. } => {
                Some(q)
            }
            _ => None,
        }
    }

    fn query_mut(&mut self) -> Option<&mut Select> {
        match &mut self.kind {
            ExprKind::Subquery(q) | ExprKind::Exists(q) | ExprKind::InSelect { query: q, .. } => {
                Some(q)
            }
            _ => None,
        }
    }

    /// Like [`Expr::rewrite`], and also into the queries of subqueries (binding `?`).
    pub fn rewrite_deep(&mut self, f: &mut dyn FnMut(&mut Expr) -> bool) {
        if f(self) {
            if let Some(q) = self.query_mut() {
                for e in q.exprs_mut() {
                    e.rewrite_deep(f);
                }
            }
            for c in self.children_mut() {
                c.rewrite_deep(f);
            }
        }
    }

    /// Whether this expression holds a window function (`OVER`), outside subqueries.
    pub fn has_window(&self) -> bool {
        self.any(&|e| matches!(e.kind, ExprKind::Window { .. }))
    }

    /// Whether this expression holds a subquery (outside nested ones).
    pub fn has_subquery(&self) -> bool {
        self.any(&|e| e.query().is_some())
    }

    /// The direct sub-expressions, mutable, in [`Expr::children`]'s order.
    pub fn children_mut(&mut self) -> Vec<&mut Expr> {
        match &mut self.kind {
            ExprKind::Vector(v) => v.iter_mut().collect(),
            ExprKind::Neg(e)
            | ExprKind::Not(e)
            | ExprKind::IsNull { expr: e, .. }
            | ExprKind::Cast { expr: e, .. } => vec![&mut **e],
            ExprKind::Binary(_, l, r) => vec![&mut **l, &mut **r],
            ExprKind::In { expr, list, .. } => std::iter::once(&mut **expr)
                .chain(list.iter_mut())
                .collect(),
            ExprKind::Between {
                expr, low, high, ..
            } => vec![&mut **expr, &mut **low, &mut **high],
            ExprKind::Like {
                expr,
                pattern,
                escape,
                ..
            } => [
                Some(&mut **expr),
                Some(&mut **pattern),
                escape.as_deref_mut(),
            ]
            .into_iter()
            .flatten()
            .collect(),
            ExprKind::Case {
                operand,
                branches,
                otherwise,
            } => operand
                .as_deref_mut()
                .into_iter()
                .chain(branches.iter_mut().flat_map(|(w, t)| [w, t]))
                .chain(otherwise.as_deref_mut())
                .collect(),
            ExprKind::Call { args, .. } => args.iter_mut().collect(),
            ExprKind::InSelect { expr, .. } => vec![&mut **expr],
            ExprKind::Window { func, spec } => {
                let args: Vec<&mut Expr> = match &mut func.kind {
                    ExprKind::Call { args, .. } => args.iter_mut().collect(),
                    _ => Vec::new(),
                };
                args.into_iter()
                    .chain(spec.partition_by.iter_mut())
                    .chain(spec.order_by.iter_mut().map(|(e, _)| e))
                    .collect()
            }
            ExprKind::Index { expr, index } => vec![&mut **expr, &mut **index],
            ExprKind::Slice { expr, low, high } => std::iter::once(&mut **expr)
                .chain(low.as_deref_mut())
                .chain(high.as_deref_mut())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Calls `f` on this expression and, where `f` returns true, on those inside it.
    pub fn rewrite(&mut self, f: &mut dyn FnMut(&mut Expr) -> bool) {
        if f(self) {
            for c in self.children_mut() {
                c.rewrite(f);
            }
        }
    }

    /// Whether `pred` holds for this expression or any inside it.
    pub fn any(&self, pred: &dyn Fn(&Expr) -> bool) -> bool {
        pred(self) || self.children().any(|c| c.any(pred))
    }

    /// Whether this expression contains an aggregate call.
    pub fn has_aggregate(&self) -> bool {
        self.any(&|e| {
            matches!(&e.kind, ExprKind::Call { name, .. } if AGGREGATES.contains(&name.as_str()))
        })
    }
}

impl Select {
    /// The expressions of this query's own clauses (select list, ON, WHERE, GROUP BY,
    /// HAVING, ORDER BY), not those of its WITH queries, operands or FROM subqueries.
    pub fn exprs(&self) -> Vec<&Expr> {
        let mut v: Vec<&Expr> = Vec::new();
        for item in &self.items {
            if let SelectItem::Expr(e, _) = item {
                v.push(e);
            }
        }
        for j in &self.joins {
            v.extend(j.on.as_ref());
        }
        v.extend(self.filter.as_ref());
        v.extend(self.group_by.iter());
        v.extend(self.having.as_ref());
        v.extend(self.order_by.iter().map(|(e, _)| e));
        v
    }

    /// Every expression of the query, mutable (for binding `?` parameters), also those of
    /// its WITH queries, compound operands and FROM subqueries (not those inside
    /// subquery expressions: [`Expr::rewrite_deep`] reaches them).
    pub fn exprs_mut(&mut self) -> Vec<&mut Expr> {
        let mut v: Vec<&mut Expr> = Vec::new();
        for c in &mut self.with {
            v.extend(c.query.exprs_mut());
        }
        if let Some(Source::Subquery(q)) = self.from.as_mut().map(|t| &mut t.source) {
            v.extend(q.exprs_mut());
        }
        for item in &mut self.items {
            if let SelectItem::Expr(e, _) = item {
                v.push(e);
            }
        }
        for j in &mut self.joins {
            if let Source::Subquery(q) = &mut j.table.source {
                v.extend(q.exprs_mut());
            }
            v.extend(j.on.as_mut());
        }
        v.extend(self.filter.as_mut());
        v.extend(self.group_by.iter_mut());
        v.extend(self.having.as_mut());
        v.extend(self.order_by.iter_mut().map(|(e, _)| e));
        for (_, q) in &mut self.compound {
            v.extend(q.exprs_mut());
        }
        v
    }
}

impl Statement {
    /// Every expression of the statement, mutable (for binding `?` parameters).
    pub fn exprs_mut(&mut self) -> Vec<&mut Expr> {
        match self {
            Statement::Insert {
                rows,
                query,
                on_conflict,
                ..
            } => {
                let mut v: Vec<&mut Expr> =
                    rows.iter_mut().flat_map(|(r, _)| r.iter_mut()).collect();
                if let Some(q) = query {
                    v.extend(q.exprs_mut());
                }
                if let Some(super::OnConflict::Update { set, filter }) = on_conflict {
                    v.extend(set.iter_mut().map(|(_, e, _)| e));
                    v.extend(filter.as_mut());
                }
                v
            }
            Statement::Update { set, filter, .. } => set
                .iter_mut()
                .map(|(_, e, _)| e)
                .chain(filter.as_mut())
                .collect(),
            Statement::Delete { filter, .. } => filter.as_mut().into_iter().collect(),
            Statement::Select(s) | Statement::Render { select: s, .. } => s.exprs_mut(),
            Statement::Explain(inner) | Statement::ExplainAnalyze(inner) => inner.exprs_mut(),
            Statement::CreateMap { columns, .. } => columns
                .iter_mut()
                .filter_map(|c| c.default.as_mut())
                .collect(),
            Statement::AlterColumns {
                change: super::AlterColumn::Add(c),
                ..
            } => c.default.as_mut().into_iter().collect(),
            _ => Vec::new(),
        }
    }
}
