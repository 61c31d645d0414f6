//! The planner: which index answers a query, and the plan EXPLAIN prints.
//!
//! - a top-level `WITHIN(position | center, [x, y, z], r)` conjunct of WHERE is answered by
//!   the map's R*-tree (objects) or octree (voxels), never by a scan;
//! - `ORDER BY DISTANCE(position, p) [ASC] LIMIT k` by the R*-tree's nearest neighbours;
//! - `ORDER BY ATTENTION(q) DESC LIMIT k` with no WHERE or only a WITHIN by the engine's
//!   top-k attention (its softmax runs over the same candidate rows as WHERE);
//! - anything else scans the map.

use crate::ast::{BinOp, Expr, ExprKind, Select, SelectItem, Source};
use crate::error::Result;
use crate::eval::{Env, Row, Scope};

/// How rows are found.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// Every row.
    Scan,
    /// Rows within `radius` of `center`, from the spatial index; `conjunct` is the WHERE
    /// conjunct it answers (not evaluated again).
    Range {
        /// Centre.
        center: [f32; 3],
        /// Radius.
        radius: f32,
    },
    /// The nearest objects to `point`, as many as LIMIT + OFFSET need after WHERE.
    Nearest {
        /// The point.
        point: [f32; 3],
    },
    /// The top `LIMIT + OFFSET` objects by attention weight.
    AttentionTop {
        /// The query vector.
        query: Vec<f32>,
        /// Candidates restricted to a sphere.
        within: Option<([f32; 3], f32)>,
    },
}

/// A query's plan.
#[derive(Debug, Clone)]
pub struct Plan<'q> {
    /// How rows are found.
    pub access: Access,
    /// What of WHERE is left to evaluate on each row.
    pub residual: Option<&'q Expr>,
    /// Whether rows are grouped (GROUP BY or aggregates).
    pub aggregate: bool,
}

/// A constant: an expression that reads no column (evaluated once).
fn constant(env: &Env<'_>, e: &Expr) -> Option<tensormap_engine::Value> {
    if reads_columns(e) {
        return None;
    }
    env.eval(e, Scope::Row(&Row::None)).ok()
}

/// Whether `e` reads a column of the row (ATTENTION counts: it reads the row's weight).
pub fn reads_columns(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Column(_) => true,
        ExprKind::Vector(v) => v.iter().any(reads_columns),
        ExprKind::Neg(x) | ExprKind::Not(x) => reads_columns(x),
        ExprKind::Binary(_, l, r) => reads_columns(l) || reads_columns(r),
        ExprKind::In { expr, list, .. } => reads_columns(expr) || list.iter().any(reads_columns),
        ExprKind::Call { name, args, .. } => name == "attention" || args.iter().any(reads_columns),
        _ => false,
    }
}

fn point_of(v: &tensormap_engine::Value) -> Option<[f32; 3]> {
    match v {
        tensormap_engine::Value::Vector(x) => <[f32; 3]>::try_from(&x[..]).ok(),
        _ => None,
    }
}

/// `WITHIN(<column>, const point, const radius)` → (centre, radius).
fn within(env: &Env<'_>, e: &Expr, column: &str) -> Option<([f32; 3], f32)> {
    let ExprKind::Call { name, args, .. } = &e.kind else {
        return None;
    };
    if name != "within" || args.len() != 3 {
        return None;
    }
    if !matches!(&args[0].kind, ExprKind::Column(c) if c == column) {
        return None;
    }
    let center = point_of(&constant(env, &args[1])?)?;
    let radius = match constant(env, &args[2])? {
        tensormap_engine::Value::Number(r) if r.is_finite() && r >= 0.0 => r as f32,
        _ => return None,
    };
    center
        .iter()
        .all(|c| c.is_finite())
        .then_some((center, radius))
}

/// The conjuncts of an AND tree.
fn conjuncts(e: &Expr) -> Vec<&Expr> {
    match &e.kind {
        ExprKind::Binary(BinOp::And, l, r) => {
            let mut v = conjuncts(l);
            v.extend(conjuncts(r));
            v
        }
        _ => vec![e],
    }
}

/// The sphere of a top-level `WITHIN(<column>, const, const)` conjunct of `filter`, if any.
pub fn range_of(env: &Env<'_>, filter: &Expr, column: &str) -> Option<([f32; 3], f32)> {
    conjuncts(filter)
        .into_iter()
        .find_map(|p| within(env, p, column))
}

/// Plans `sel`.
pub fn plan<'q>(env: &Env<'_>, sel: &'q Select) -> Result<Plan<'q>> {
    let aggregate = !sel.group_by.is_empty()
        || sel
            .items
            .iter()
            .any(|i| matches!(i, SelectItem::Expr(e, _) if e.has_aggregate()))
        || sel.order_by.iter().any(|(e, _)| e.has_aggregate());
    let column = match sel.from {
        Source::Map(_) => "position",
        Source::Voxels(_) => "center",
    };
    let mut access = Access::Scan;
    let mut residual = sel.filter.as_ref();
    if let Some(filter) = &sel.filter {
        let parts = conjuncts(filter);
        if parts.len() == 1 {
            if let Some((center, radius)) = within(env, filter, column) {
                access = Access::Range { center, radius };
                residual = None;
            }
        } else if let Some((center, radius)) = parts.iter().find_map(|p| within(env, p, column)) {
            // The rest of WHERE is evaluated on the range's rows (the WITHIN again too:
            // it agrees with the index, computed the same way).
            access = Access::Range { center, radius };
        }
    }
    if matches!(sel.from, Source::Map(_))
        && !aggregate
        && sel.limit.is_some()
        && sel.order_by.len() == 1
    {
        let (key, desc) = &sel.order_by[0];
        if let ExprKind::Call { name, args, .. } = &key.kind {
            if name == "distance"
                && !desc
                && args.len() == 2
                && matches!(access, Access::Scan | Access::Range { .. })
            {
                let (a, b) = (&args[0], &args[1]);
                let p = match (&a.kind, &b.kind) {
                    (ExprKind::Column(c), _) if c == "position" => {
                        constant(env, b).as_ref().and_then(point_of)
                    }
                    (_, ExprKind::Column(c)) if c == "position" => {
                        constant(env, a).as_ref().and_then(point_of)
                    }
                    _ => None,
                };
                if let Some(point) = p.filter(|p| p.iter().all(|c| c.is_finite())) {
                    return Ok(Plan {
                        access: Access::Nearest { point },
                        residual: sel.filter.as_ref(),
                        aggregate,
                    });
                }
            }
            if name == "attention" && *desc && args.len() == 1 && residual.is_none() {
                if let Some(tensormap_engine::Value::Vector(q)) = constant(env, &args[0]) {
                    let within = match access {
                        Access::Range { center, radius } => Some((center, radius)),
                        _ => None,
                    };
                    return Ok(Plan {
                        access: Access::AttentionTop {
                            query: q.to_vec(),
                            within,
                        },
                        residual: None,
                        aggregate,
                    });
                }
            }
        }
    }
    Ok(Plan {
        access,
        residual,
        aggregate,
    })
}

fn vec3(p: &[f32; 3]) -> String {
    tensormap_engine::Value::vector(p).to_string()
}

/// The plan as EXPLAIN prints it: one line per operator, the first one runs last.
pub fn explain(plan: &Plan<'_>, sel: &Select) -> Vec<String> {
    let source = match &sel.from {
        Source::Map(m) => m.clone(),
        Source::Voxels(m) => format!("VOXELS({m})"),
    };
    let index = match sel.from {
        Source::Map(_) => "R*-tree",
        Source::Voxels(_) => "octree",
    };
    let mut lines = Vec::new();
    let items: Vec<String> = sel
        .items
        .iter()
        .map(|i| match i {
            SelectItem::Wildcard(_) => "*".to_string(),
            SelectItem::Expr(e, Some(a)) => format!("{e} AS {a}"),
            SelectItem::Expr(e, None) => e.to_string(),
        })
        .collect();
    lines.push(format!("Project {}", items.join(", ")));
    if sel.limit.is_some() || sel.offset.is_some() {
        lines.push(format!(
            "Limit {} offset {}",
            sel.limit.map_or("all".to_string(), |l| l.to_string()),
            sel.offset.unwrap_or(0)
        ));
    }
    let tie = match sel.from {
        Source::Map(_) => "id",
        Source::Voxels(_) => "i, j, k",
    };
    match &plan.access {
        Access::Nearest { .. } | Access::AttentionTop { .. } => {}
        _ => {
            let keys: Vec<String> = sel
                .order_by
                .iter()
                .map(|(e, d)| format!("{e} {}", if *d { "DESC" } else { "ASC" }))
                .chain([format!("{tie} ASC")])
                .collect();
            lines.push(format!("Sort {}", keys.join(", ")));
        }
    }
    if plan.aggregate {
        let keys: Vec<String> = sel.group_by.iter().map(|e| e.to_string()).collect();
        lines.push(if keys.is_empty() {
            "Aggregate (one group)".to_string()
        } else {
            format!("Aggregate group by {}", keys.join(", "))
        });
    }
    if let Some(r) = plan.residual {
        lines.push(format!("Filter {r}"));
    }
    let fetch = sel.limit.map_or(0, |l| l + sel.offset.unwrap_or(0));
    lines.push(match &plan.access {
        Access::Scan => format!("Scan {source}"),
        Access::Range { center, radius } => {
            format!(
                "{index} range search {source} within {} of {}",
                tensormap_engine::format_number(*radius as f64),
                vec3(center)
            )
        }
        Access::Nearest { point } => {
            format!(
                "R*-tree nearest neighbours {source} to {} (first {fetch} passing WHERE)",
                vec3(point)
            )
        }
        Access::AttentionTop { within, .. } => match within {
            None => format!("Attention top-{fetch} heap over all of {source}"),
            Some((c, r)) => format!(
                "Attention top-{fetch} heap over R*-tree range search {source} within {} of {}",
                tensormap_engine::format_number(*r as f64),
                vec3(c)
            ),
        },
    });
    lines
}
