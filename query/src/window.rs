//! Window functions: `f(...) OVER (PARTITION BY ... ORDER BY ... [frame])`, computed over
//! the rows (or groups) of a query after WHERE, GROUP BY and HAVING and before DISTINCT,
//! ORDER BY and LIMIT, as in SQL.
//!
//! Each call sorts the rows by partition, then window order, then the query's tie order
//! (ids), so that results are repeatable; its value for every row is kept by the call's
//! position, indexed by tuple ([`Env::windows`]). Ranking functions (ROW_NUMBER, RANK,
//! DENSE_RANK, PERCENT_RANK, CUME_DIST, NTILE) and LAG / LEAD read the partition's order;
//! aggregates (COUNT, SUM, AVG, MIN, MAX) and FIRST_VALUE / LAST_VALUE fold over the frame:
//! the whole partition without ORDER BY, from its start to the current row's last peer
//! with one (`RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`), or `ROWS BETWEEN ...`.
//! Every frame's ends only move forward from row to row, so SUM, COUNT and AVG come from
//! prefix sums and MIN / MAX from a monotonic queue: linear in the partition's size.

use std::cmp::Ordering;
use std::collections::VecDeque;

use tensormap_engine::Value;

use crate::ast::{Expr, ExprKind, Frame, FrameBound};
use crate::error::{Error, Pos, Result};
use crate::eval::{as_number, Env, Scope};

/// Collects the window calls of `e` (each position once).
pub fn collect<'q>(e: &'q Expr, out: &mut Vec<&'q Expr>) {
    if let ExprKind::Window { .. } = e.kind {
        if !out.iter().any(|x| x.pos == e.pos) {
            out.push(e);
        }
        return;
    }
    for c in e.children() {
        collect(c, out);
    }
}

/// Compares two key lists, each key ascending or descending.
fn cmp_keys(a: &[Value], b: &[Value], desc: &[bool]) -> Ordering {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let o = x.total_cmp(y);
        let o = if desc.get(i).copied().unwrap_or(false) {
            o.reverse()
        } else {
            o
        };
        if o.is_ne() {
            return o;
        }
    }
    Ordering::Equal
}

/// The values of every window call in `calls` for the units of `scopes` (rows or groups),
/// by the call's position and indexed by the unit's tuple (`slots` of them); `ties[u]` is
/// the unit's tie-order key, compared by `tie`.
pub fn compute(
    env: &Env<'_>,
    calls: &[&Expr],
    scopes: &[Scope<'_, '_>],
    ties: &[u32],
    slots: usize,
    tie: &dyn Fn(u32, u32) -> Ordering,
) -> Result<Vec<(Pos, Vec<Value>)>> {
    let mut out = Vec::with_capacity(calls.len());
    for call in calls {
        let ExprKind::Window { func, spec } = &call.kind else {
            continue;
        };
        let ExprKind::Call {
            name, args, star, ..
        } = &func.kind
        else {
            continue;
        };
        let n = scopes.len();
        let mut part = Vec::with_capacity(n);
        let mut ord = Vec::with_capacity(n);
        for s in scopes {
            let mut p = Vec::with_capacity(spec.partition_by.len());
            for e in &spec.partition_by {
                p.push(env.eval(e, *s)?);
            }
            part.push(p);
            let mut o = Vec::with_capacity(spec.order_by.len());
            for (e, _) in &spec.order_by {
                o.push(env.eval(e, *s)?);
            }
            ord.push(o);
        }
        let desc: Vec<bool> = spec.order_by.iter().map(|(_, d)| *d).collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| {
            cmp_keys(&part[a], &part[b], &[])
                .then_with(|| cmp_keys(&ord[a], &ord[b], &desc))
                .then_with(|| tie(ties[a], ties[b]))
        });
        // Arguments, per unit.
        let mut argv: Vec<Vec<Value>> = Vec::with_capacity(args.len());
        for a in args {
            let mut v = Vec::with_capacity(n);
            for s in scopes {
                v.push(env.eval(a, *s)?);
            }
            argv.push(v);
        }
        let mut values = vec![Value::Null; slots];
        let slot = |u: usize| scopes[u].tuple().map(|(_, i)| i);
        let mut start = 0;
        while start < n {
            let mut end = start + 1;
            while end < n && cmp_keys(&part[order[start]], &part[order[end]], &[]).is_eq() {
                end += 1;
            }
            let rows = &order[start..end];
            let results = partition(
                call,
                name,
                *star,
                &argv,
                &ord,
                rows,
                spec.frame,
                !spec.order_by.is_empty(),
            )?;
            for (k, v) in results.into_iter().enumerate() {
                if let Some(i) = slot(rows[k]) {
                    if let Some(x) = values.get_mut(i) {
                        *x = v;
                    }
                }
            }
            start = end;
        }
        out.push((call.pos, values));
    }
    Ok(out)
}

/// A whole-number argument (LAG's offset, NTILE's count).
fn whole(v: &Value, pos: Pos, what: &str, min: f64) -> Result<Option<usize>> {
    match v {
        Value::Null => Ok(None),
        Value::Number(x) if x.fract() == 0.0 && *x >= min && *x < 1e15 => Ok(Some(*x as usize)),
        other => Err(Error::invalid(
            pos,
            format!("{what} must be a whole number of at least {min}, found {other}"),
        )),
    }
}

/// The values of one window call over one partition (`rows`: units in window order).
#[allow(clippy::too_many_arguments)]
fn partition(
    call: &Expr,
    name: &str,
    star: bool,
    argv: &[Vec<Value>],
    ord: &[Vec<Value>],
    rows: &[usize],
    frame: Option<Frame>,
    ordered: bool,
) -> Result<Vec<Value>> {
    let m = rows.len();
    // Peer groups: rows with equal ORDER BY keys (all rows without ORDER BY).
    let mut peer_start = vec![0usize; m];
    let mut peer_end = vec![m; m];
    let mut dense = vec![1usize; m];
    let mut g = 0;
    for k in 0..m {
        if k > 0 && cmp_keys(&ord[rows[k - 1]], &ord[rows[k]], &[]).is_ne() {
            g = k;
            dense[k] = dense[k - 1] + 1;
        } else if k > 0 {
            dense[k] = dense[k - 1];
        }
        peer_start[k] = g;
    }
    let mut e = m;
    for k in (0..m).rev() {
        peer_end[k] = e;
        if peer_start[k] == k {
            e = k;
        }
    }
    let arg = |i: usize, k: usize| -> &Value { &argv[i][rows[k]] };
    let pos = call.pos;
    let num = |x: usize| Value::Number(x as f64);
    let mut out = Vec::with_capacity(m);
    match name {
        "row_number" => out.extend((0..m).map(|k| num(k + 1))),
        "rank" => out.extend((0..m).map(|k| num(peer_start[k] + 1))),
        "dense_rank" => out.extend((0..m).map(|k| num(dense[k]))),
        "percent_rank" => out.extend((0..m).map(|k| {
            Value::Number(if m > 1 {
                peer_start[k] as f64 / (m - 1) as f64
            } else {
                0.0
            })
        })),
        "cume_dist" => out.extend((0..m).map(|k| Value::Number(peer_end[k] as f64 / m as f64))),
        "ntile" => {
            for k in 0..m {
                let Some(buckets) = whole(arg(0, k), pos, "NTILE's argument", 1.0)? else {
                    out.push(Value::Null);
                    continue;
                };
                let (q, r) = (m / buckets, m % buckets);
                let big = r * (q + 1);
                let t = if k < big {
                    k / (q + 1) + 1
                } else {
                    (k - big) / q.max(1) + r + 1
                };
                out.push(num(t));
            }
        }
        "lag" | "lead" => {
            for k in 0..m {
                let off = match argv.get(1) {
                    Some(_) => whole(arg(1, k), pos, "the offset", 0.0)?,
                    None => Some(1),
                };
                let Some(off) = off else {
                    out.push(Value::Null);
                    continue;
                };
                let at = if name == "lag" {
                    k.checked_sub(off)
                } else {
                    k.checked_add(off).filter(|&j| j < m)
                };
                out.push(match at {
                    Some(j) => arg(0, j).clone(),
                    None if argv.len() > 2 => arg(2, k).clone(),
                    None => Value::Null,
                });
            }
        }
        _ => {
            // Frame bounds [fs, fe) of each row.
            let bounds: Vec<(usize, usize)> = (0..m)
                .map(|k| frame_of(frame, ordered, k, m, peer_start[k], peer_end[k]))
                .collect();
            out = aggregate(name, star, argv.first(), rows, &bounds, call)?;
        }
    }
    Ok(out)
}

/// The frame of row `k` of a partition of `m` rows, as `[start, end)`.
fn frame_of(
    frame: Option<Frame>,
    ordered: bool,
    k: usize,
    m: usize,
    peer_start: usize,
    peer_end: usize,
) -> (usize, usize) {
    let Some(f) = frame else {
        return if ordered { (0, peer_end) } else { (0, m) };
    };
    let start = match f.start {
        FrameBound::UnboundedPreceding => 0,
        FrameBound::Preceding(x) => k.saturating_sub(x.min(usize::MAX as u64) as usize),
        FrameBound::CurrentRow if f.rows => k,
        FrameBound::CurrentRow => peer_start,
        FrameBound::Following(x) => k.saturating_add(x.min(usize::MAX as u64) as usize).min(m),
        FrameBound::UnboundedFollowing => m,
    };
    let end = match f.end {
        FrameBound::UnboundedPreceding => 0,
        FrameBound::Preceding(x) => (k + 1).saturating_sub(x.min(usize::MAX as u64) as usize),
        FrameBound::CurrentRow if f.rows => k + 1,
        FrameBound::CurrentRow => peer_end,
        FrameBound::Following(x) => k
            .saturating_add(x.min(usize::MAX as u64) as usize)
            .saturating_add(1)
            .min(m),
        FrameBound::UnboundedFollowing => m,
    };
    (start, end.max(start))
}

/// An aggregate (or FIRST_VALUE / LAST_VALUE) over each row's frame.
fn aggregate(
    name: &str,
    star: bool,
    arg: Option<&Vec<Value>>,
    rows: &[usize],
    bounds: &[(usize, usize)],
    call: &Expr,
) -> Result<Vec<Value>> {
    let m = rows.len();
    let val = |k: usize| -> &Value { arg.map_or(&Value::Null, |a| &a[rows[k]]) };
    let upper = name.to_ascii_uppercase();
    Ok(match name {
        "count" if star => bounds
            .iter()
            .map(|&(s, e)| Value::Number((e - s) as f64))
            .collect(),
        "first_value" => bounds
            .iter()
            .map(|&(s, e)| if s < e { val(s).clone() } else { Value::Null })
            .collect(),
        "last_value" => bounds
            .iter()
            .map(|&(s, e)| {
                if s < e {
                    val(e - 1).clone()
                } else {
                    Value::Null
                }
            })
            .collect(),
        "count" | "sum" | "avg" => {
            // Prefix counts and sums of the non-NULL values.
            let mut count = vec![0usize; m + 1];
            let mut sum = vec![0f64; m + 1];
            for k in 0..m {
                let v = val(k);
                let (c, x) = match v {
                    Value::Null => (0, 0.0),
                    _ if name == "count" => (1, 0.0),
                    _ => (1, as_number(v, call.pos, &upper)?),
                };
                count[k + 1] = count[k] + c;
                sum[k + 1] = sum[k] + x;
            }
            bounds
                .iter()
                .map(|&(s, e)| {
                    let c = count[e] - count[s];
                    match name {
                        "count" => Value::Number(c as f64),
                        _ if c == 0 => Value::Null,
                        "sum" => Value::Number(sum[e] - sum[s]),
                        _ => Value::Number((sum[e] - sum[s]) / c as f64),
                    }
                })
                .collect()
        }
        "min" | "max" => {
            // A monotonic queue of candidates over the moving frame.
            let better = |a: &Value, b: &Value| {
                let o = a.total_cmp(b);
                if name == "min" {
                    o == Ordering::Less
                } else {
                    o == Ordering::Greater
                }
            };
            let mut queue: VecDeque<usize> = VecDeque::new();
            let mut next = 0;
            let mut out = Vec::with_capacity(m);
            for &(s, e) in bounds {
                while next < e {
                    let v = val(next);
                    if *v != Value::Null {
                        while queue.back().is_some_and(|&b| !better(val(b), v)) {
                            queue.pop_back();
                        }
                        queue.push_back(next);
                    }
                    next += 1;
                }
                while queue.front().is_some_and(|&f| f < s) {
                    queue.pop_front();
                }
                out.push(queue.front().map_or(Value::Null, |&f| val(f).clone()));
            }
            out
        }
        _ => {
            return Err(Error::syntax(
                call.pos,
                format!("{upper} is not a window function"),
            ))
        }
    })
}
