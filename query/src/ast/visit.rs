//! Walking the tree: an expression's sub-expressions, rewriting in place, searching, and
//! every expression of a query or statement (for binding `?` parameters).

use super::{Expr, ExprKind, Select, SelectItem, Statement, AGGREGATES};

impl Expr {
    /// The direct sub-expressions of this one.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Vector(v) => v.iter().collect(),
            ExprKind::Neg(e) | ExprKind::Not(e) => vec![e],
            ExprKind::IsNull { expr, .. } | ExprKind::Cast { expr, .. } => vec![expr],
            ExprKind::Binary(_, l, r) => vec![l, r],
            ExprKind::In { expr, list, .. } => std::iter::once(&**expr).chain(list).collect(),
            ExprKind::Between {
                expr, low, high, ..
            } => vec![expr, low, high],
            ExprKind::Like {
                expr,
                pattern,
                escape,
                ..
            } => [Some(&**expr), Some(&**pattern), escape.as_deref()]
                .into_iter()
                .flatten()
                .collect(),
            ExprKind::Case {
                operand,
                branches,
                otherwise,
            } => operand
                .as_deref()
                .into_iter()
                .chain(branches.iter().flat_map(|(w, t)| [w, t]))
                .chain(otherwise.as_deref())
                .collect(),
            ExprKind::Call { args, .. } => args.iter().collect(),
            _ => Vec::new(),
        }
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
        pred(self) || self.children().into_iter().any(|c| c.any(pred))
    }

    /// Whether this expression contains an aggregate call.
    pub fn has_aggregate(&self) -> bool {
        self.any(&|e| {
            matches!(&e.kind, ExprKind::Call { name, .. } if AGGREGATES.contains(&name.as_str()))
        })
    }
}

impl Select {
    /// Every expression of the query, mutable (for binding `?` parameters).
    pub fn exprs_mut(&mut self) -> Vec<&mut Expr> {
        let mut v: Vec<&mut Expr> = Vec::new();
        for item in &mut self.items {
            if let SelectItem::Expr(e, _) = item {
                v.push(e);
            }
        }
        for j in &mut self.joins {
            v.extend(j.on.as_mut());
        }
        v.extend(self.filter.as_mut());
        v.extend(self.group_by.iter_mut());
        v.extend(self.having.as_mut());
        v.extend(self.order_by.iter_mut().map(|(e, _)| e));
        v
    }
}

impl Statement {
    /// Every expression of the statement, mutable (for binding `?` parameters).
    pub fn exprs_mut(&mut self) -> Vec<&mut Expr> {
        match self {
            Statement::Insert { rows, .. } => {
                rows.iter_mut().flat_map(|(r, _)| r.iter_mut()).collect()
            }
            Statement::Update { set, filter, .. } => set
                .iter_mut()
                .map(|(_, e, _)| e)
                .chain(filter.as_mut())
                .collect(),
            Statement::Delete { filter, .. } => filter.as_mut().into_iter().collect(),
            Statement::Select(s) | Statement::Render { select: s, .. } => s.exprs_mut(),
            Statement::Explain(inner) => inner.exprs_mut(),
            _ => Vec::new(),
        }
    }
}
