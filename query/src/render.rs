//! `RENDER SELECT ...`: the objects a query selects, drawn by tensormap-render, with the
//! map's field as a heatmap read from the octree's coarse levels.

use tensormap_engine::{MapView, Value};
use tensormap_render::{render, OptionValue, RenderOptions, Scene, SceneObject, VoxelSample};

use crate::ast::{Expr, ExprKind, Select, SelectItem, Setting, Source, Span};
use crate::error::{Error, Pos, Result};
use crate::run::Ctx;

/// Most octree nodes the heatmap draws (the deepest level with no more nodes).
pub const HEATMAP_REGIONS: usize = 4096;

/// Render options from `WITH (...)` settings, each checked by the render crate's table
/// ([`RenderOptions::set`]) and refused where it is written.
pub fn options(settings: &[(String, Setting, Span)], svg3d: bool) -> Result<RenderOptions> {
    let mut o = RenderOptions {
        svg3d,
        ..RenderOptions::default()
    };
    for (key, value, at) in settings {
        let value = match value {
            Setting::Number(n) => OptionValue::Number(*n),
            Setting::Word(w) if w == "true" => OptionValue::Bool(true),
            Setting::Word(w) if w == "false" => OptionValue::Bool(false),
            Setting::Word(w) => OptionValue::Word(w),
            Setting::Str(s) => OptionValue::Text(s),
            Setting::Vector(v) => OptionValue::Vector(v),
        };
        o.set(key, value)
            .map_err(|e| Error::invalid(at.0, e.to_string()))?;
    }
    Ok(o)
}

fn column(name: &str, pos: Pos) -> SelectItem {
    SelectItem::Expr(
        Expr {
            kind: ExprKind::Column(name.into()),
            pos,
        },
        None,
    )
}

/// The one map `sel` draws from, and where its FROM is: RENDER takes exactly one map
/// (no join, no compound query, not VOXELS). `field_note` says, for the VOXELS error,
/// where the output shows the field instead.
pub(crate) fn one_map<'a>(
    ctx: &Ctx<'_, 'a>,
    sel: &Select,
    field_note: &str,
) -> Result<(MapView<'a>, Pos)> {
    let view = sel
        .from
        .as_ref()
        .and_then(|f| f.source.map())
        .and_then(|m| ctx.view(m));
    let (Some(from), Some(view), true, true) = (
        &sel.from,
        view,
        sel.joins.is_empty(),
        sel.compound.is_empty(),
    ) else {
        let pos = sel
            .tables()
            .nth(1)
            .map_or(Pos { line: 1, col: 1 }, |t| t.pos.0);
        return Err(Error::syntax(
            pos,
            "RENDER draws the objects of one map: use FROM map",
        ));
    };
    if let Source::Voxels(_) = from.source {
        return Err(Error::syntax(
            from.pos.0,
            format!("RENDER draws a map's objects ({field_note}): use FROM map"),
        ));
    }
    Ok((view, from.pos.0))
}

/// Draws the objects `sel` selects (its select list aside) from its one map.
pub fn render_select(ctx: &Ctx<'_, '_>, sel: &Select, opts: &RenderOptions) -> Result<String> {
    let (view, pos) = one_map(ctx, sel, "its heatmap shows the field")?;
    let mut query = sel.clone();
    // The built-in columns the drawing needs, then the map's user columns for the
    // tooltips.
    let user: Vec<String> = view.columns().iter().map(|c| c.name.clone()).collect();
    query.items = ["id", "type", "position", "confidence", "embedding"]
        .iter()
        .copied()
        .chain(user.iter().map(String::as_str))
        .map(|c| column(c, pos))
        .collect();
    query.distinct = false;
    let rows = ctx.query(&query, &[], &[])?.rows;
    let mut objects = Vec::with_capacity(rows.len());
    for row in rows {
        let (
            Value::Text(id),
            Value::Text(kind),
            Value::Vector(p),
            Value::Number(c),
            Value::Vector(e),
        ) = (&row[0], &row[1], &row[2], &row[3], &row[4])
        else {
            continue;
        };
        let activation = if e.is_empty() {
            0.0
        } else {
            e.iter().map(|x| x.abs()).sum::<f32>() / e.len() as f32
        };
        // As the shell prints them (NULL as `NULL`).
        let properties = user
            .iter()
            .zip(row.iter().skip(5))
            .map(|(name, v)| (name.clone(), v.to_string()))
            .collect();
        objects.push(SceneObject {
            id: id.to_string(),
            kind: kind.to_string(),
            position: [p[0], p[1], p[2]],
            confidence: *c as f32,
            activation: activation.min(1.0),
            properties,
        });
    }
    let voxels = if opts.heatmap {
        view.field()
            .map_err(|e| Error::engine(pos, e))?
            .coarse(HEATMAP_REGIONS)
            .into_iter()
            .map(|c| VoxelSample {
                center: c.center,
                half_size: c.half_size,
                magnitude: c.max_norm,
            })
            .collect()
    } else {
        Vec::new()
    };
    let scene = Scene {
        objects,
        voxels,
        bounds: view.config().bounds as f32,
        map_name: view.name().to_string(),
    };
    Ok(render(&scene, opts))
}
