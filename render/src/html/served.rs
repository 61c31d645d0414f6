//! The served viewer's data: what `tmap serve` answers on the view's routes, so the server
//! only reads the map and moves bytes (render/viewer/README.md lists the routes).
//!
//! - `GET /view/{map}` — [`served_page`]: the viewer with a manifest naming the map.
//! - `GET /view/{map}/meta` — [`ServedMap::meta_json`]: counts, cells, types, column ranges,
//!   the field's bricks.
//! - `POST /view/{map}/cells` — [`ServedMap::cells`]: prefixes of octree cells as a frame.
//! - `POST /view/{map}/field` — [`ServedMap::bricks`]: bricks of the field's norm as a frame.
//!
//! A frame is `TMV1`, a JSON header and aligned typed-array blocks ([`super::blocks::frame`]);
//! objects in it are described exactly as in a file's manifest.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::blocks::{frame, objects_json, script_safe_json, Blocks};
use super::cells::CellIndex;
use super::error::{HtmlError, Result};
use super::field::PageField;
use super::input::{ColumnValues, ViewField, ViewObjects, BRICK_EDGE};
use super::options::{HtmlOptions, DEFAULT_FIELD_RESOLUTION};
use super::page::VIEWER_JS;
use super::{bbox, FORMAT, FORMAT_VERSION};

/// Most objects one `cells` request may ask for.
pub const MAX_POINTS_PER_REQUEST: usize = 1_000_000;
/// Most bricks one `field` request may ask for.
pub const MAX_BRICKS_PER_REQUEST: usize = 4096;
/// Most cells one `cells` request may name.
const MAX_CELLS_PER_REQUEST: usize = 1 << 16;

/// One map, indexed for the served viewer: build it once per committed state of the map.
#[derive(Debug)]
pub struct ServedMap {
    objects: ViewObjects,
    index: CellIndex,
    cell_of_code: HashMap<u32, usize>,
    field: Option<PageField>,
    brick_of: HashMap<[u32; 3], usize>,
    meta: String,
}

fn bad(message: impl Into<String>) -> HtmlError {
    HtmlError::BadRequest(message.into())
}

/// Reads a request body: a JSON object with an array under `key`, each element an array
/// of `width` whole numbers in `0..=u32::MAX`.
fn rows(body: &[u8], key: &str, width: usize, most: usize) -> Result<Vec<Vec<u32>>> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
    let list = v.get(key).and_then(Value::as_array).ok_or_else(|| {
        bad(format!(
            "the body must be an object with an array \"{key}\""
        ))
    })?;
    if list.len() > most {
        return Err(bad(format!(
            "\"{key}\" has {} entries, more than {most}",
            list.len()
        )));
    }
    list.iter()
        .enumerate()
        .map(|(i, row)| {
            let numbers = row.as_array().filter(|r| r.len() == width);
            numbers
                .and_then(|r| {
                    r.iter()
                        .map(|x| x.as_u64().and_then(|x| u32::try_from(x).ok()))
                        .collect::<Option<Vec<u32>>>()
                })
                .ok_or_else(|| {
                    bad(format!(
                        "\"{key}\"[{i}] must be an array of {width} whole numbers ≥ 0, found {row}"
                    ))
                })
        })
        .collect()
}

impl ServedMap {
    /// Indexes `objects` (all of the map's) and pools `field` to at most `field_resolution`
    /// cells per axis (0: the default, 128).
    pub fn new(
        map: &str,
        objects: ViewObjects,
        field: Option<&ViewField>,
        field_resolution: u32,
    ) -> Result<ServedMap> {
        objects.validate()?;
        let cap = match field_resolution {
            0 => DEFAULT_FIELD_RESOLUTION,
            r => {
                let mut o = HtmlOptions::default();
                o.apply("field_resolution", &super::OptionValue::Number(r as f64))?;
                o.field_resolution
            }
        };
        let field = match field {
            Some(f) => {
                f.validate()?;
                Some(PageField::new(f, cap))
            }
            None => None,
        };
        let index = CellIndex::new(&objects);
        let cell_of_code = index
            .cells
            .iter()
            .enumerate()
            .map(|(k, c)| (c.code, k))
            .collect();
        let brick_of = field
            .iter()
            .flat_map(|f| f.coords.iter().enumerate().map(|(k, c)| (*c, k)))
            .collect();
        let meta = meta(map, &objects, &index, field.as_ref());
        Ok(ServedMap {
            objects,
            index,
            cell_of_code,
            field,
            brick_of,
            meta,
        })
    }

    /// The objects of the map.
    pub fn count(&self) -> usize {
        self.objects.len()
    }

    /// `GET /view/{map}/meta`: a JSON object.
    pub fn meta_json(&self) -> &str {
        &self.meta
    }

    /// `POST /view/{map}/cells` with `{"cells": [[code, from, to], ...]}`: objects `from..to`
    /// of each cell's order (clipped to the cell; an unknown cell has none). The frame's
    /// header has `"cells": [[code, total, from, n], ...]` and `"objects"`, the cells'
    /// objects one after the other.
    pub fn cells(&self, body: &[u8]) -> Result<Vec<u8>> {
        let asked = rows(body, "cells", 3, MAX_CELLS_PER_REQUEST)?;
        let mut order = Vec::new();
        let mut answered = Vec::with_capacity(asked.len());
        for (i, r) in asked.iter().enumerate() {
            let (code, from, to) = (r[0], r[1], r[2]);
            if from > to {
                return Err(bad(format!("\"cells\"[{i}]: from {from} is past to {to}")));
            }
            let Some(&k) = self.cell_of_code.get(&code) else {
                answered.push(json!([code, 0, from, 0]));
                continue;
            };
            let c = self.index.cells[k];
            let (from, to) = (from.min(c.count), to.min(c.count));
            if order.len() + (to - from) as usize > MAX_POINTS_PER_REQUEST {
                return Err(bad(format!(
                    "the request asks for more than {MAX_POINTS_PER_REQUEST} objects: ask in parts"
                )));
            }
            let s = (c.start + from) as usize;
            order.extend_from_slice(&self.index.order[s..s + (to - from) as usize]);
            answered.push(json!([code, c.count, from, to - from]));
        }
        let mut blocks = Blocks::default();
        let objects = objects_json(&mut blocks, &self.objects, &order)
            .ok_or_else(|| bad("the answer would pass 4 GiB: ask for fewer objects"))?;
        let mut header = Map::new();
        header.insert("cells".into(), Value::Array(answered));
        header.insert("objects".into(), objects);
        Ok(frame(header, &blocks))
    }

    /// `POST /view/{map}/field` with `{"bricks": [[x, y, z], ...]}` (coordinates at the
    /// resolution `meta` gives): the stored ones among them, as a frame with `"resolution"`,
    /// `"coords"` (u16 triples), `"norms"` (u16, 512 per brick) and `"normScale"` (a norm is
    /// `norms[i] · normScale`).
    pub fn bricks(&self, body: &[u8]) -> Result<Vec<u8>> {
        let field = self
            .field
            .as_ref()
            .ok_or_else(|| bad("the map has no voxel field"))?;
        let asked = rows(body, "bricks", 3, MAX_BRICKS_PER_REQUEST)?;
        let found: Vec<usize> = asked
            .iter()
            .filter_map(|r| self.brick_of.get(&[r[0], r[1], r[2]]).copied())
            .collect();
        let mut blocks = Blocks::default();
        let coords = blocks.u16s(
            found
                .iter()
                .flat_map(|&k| field.coords[k])
                .map(|c| c as u16),
        );
        let norms = blocks.u16s(
            found
                .iter()
                .flat_map(|&k| field.brick(k))
                .map(|&v| field.quantize(v)),
        );
        let mut header = Map::new();
        header.insert("resolution".into(), field.resolution.into());
        header.insert("coords".into(), coords);
        header.insert("norms".into(), norms);
        header.insert("normScale".into(), field.quantum().into());
        Ok(frame(header, &blocks))
    }
}

fn meta(map: &str, objects: &ViewObjects, index: &CellIndex, field: Option<&PageField>) -> String {
    let list: Vec<Value> = index
        .cells
        .iter()
        .map(|c| json!([c.code, c.count]))
        .collect();
    let mut types: Vec<&str> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for &i in &index.order {
        let k = objects.kinds[i as usize].as_str();
        if seen.insert(k) {
            types.push(k);
        }
    }
    let range = |values: &mut dyn Iterator<Item = f64>| {
        let (lo, hi) = values
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if lo <= hi {
            json!({"min": lo, "max": hi})
        } else {
            Value::Null
        }
    };
    let columns: Vec<Value> = objects
        .columns
        .iter()
        .map(|c| match &c.values {
            ColumnValues::Number(v) => {
                json!({"name": c.name, "kind": "number", "range": range(&mut v.iter().copied())})
            }
            ColumnValues::Text(_) => json!({"name": c.name, "kind": "text"}),
        })
        .collect();
    let field = field.map(|f| {
        let bricks: Vec<Value> = f
            .coords
            .iter()
            .enumerate()
            .map(|(k, c)| {
                let m = f.brick(k).iter().fold(0.0f32, |m, v| m.max(*v));
                json!([c[0], c[1], c[2], m])
            })
            .collect();
        json!({
            "resolution": f.resolution,
            "sourceResolution": f.source_resolution,
            "bounds": f.bounds,
            "maxNorm": f.max_norm,
            "brickEdge": BRICK_EDGE,
            "bricks": bricks,
        })
    });
    json!({
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "map": map,
        "count": objects.len(),
        "bbox": bbox(objects),
        "cells": {
            "origin": index.origin,
            "size": index.size,
            "depth": index.depth,
            "list": list,
        },
        "types": types,
        "confidence": range(&mut objects.confidence.iter().map(|&c| c as f64)),
        "columns": columns,
        "field": field,
        "limits": {
            "pointsPerRequest": MAX_POINTS_PER_REQUEST,
            "bricksPerRequest": MAX_BRICKS_PER_REQUEST,
        },
    })
    .to_string()
}

/// `GET /view` (`map = None`: the list of maps) or `GET /view/{map}`: the viewer in served
/// mode. The page holds no data; it asks the routes under `base` (`/view`) for it, with
/// the bearer token the reader enters (kept in the tab's sessionStorage only).
pub fn served_page(map: Option<&str>, base: &str) -> String {
    let manifest = json!({
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "mode": "served",
        "map": map,
        "base": base,
        "query": "/query",
        "options": {
            "colorBy": "type",
            "colorColumn": null,
            "distanceFrom": [0.0, 0.0, 0.0],
            "liquid": false,
            "pointBudget": super::DEFAULT_POINT_BUDGET,
            "slice": {"axis": "z", "at": 0.0},
            "glow": true,
            "fieldLines": true,
        },
    });
    let title = match map {
        Some(m) => format!("tensormap · {m}"),
        None => "tensormap · maps".to_string(),
    };
    let mut out = Vec::with_capacity(VIEWER_JS.len() + 4096);
    // Writing to a Vec cannot fail.
    let _ = super::page::write_document(&mut out, &title, &script_safe_json(&manifest), &[], true);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::input::{FieldBrick, ViewColumn, BRICK_CELLS};

    fn map(n: usize) -> ServedMap {
        let mut o = ViewObjects::default();
        for i in 0..n {
            let t = i as f32;
            o.push(
                format!("o{i}"),
                ["a", "b", "c"][i % 3],
                [t.sin() * 50.0, t.cos() * 50.0, (t * 0.37).sin() * 50.0],
                (i % 10) as f32 / 10.0,
            );
        }
        o.columns.push(ViewColumn {
            name: "score".into(),
            values: ColumnValues::Number((0..n).map(|i| i as f64 * 0.5).collect()),
        });
        let field = ViewField {
            resolution: 16,
            bounds: 50.0,
            bricks: vec![FieldBrick {
                coords: [1, 0, 1],
                norms: (0..BRICK_CELLS).map(|i| i as f32).collect(),
            }],
        };
        ServedMap::new("m", o, Some(&field), 0).unwrap()
    }

    fn header(frame: &[u8]) -> Value {
        let len = u32::from_le_bytes(frame[4..8].try_into().unwrap()) as usize;
        serde_json::from_slice(&frame[8..8 + len]).unwrap()
    }

    #[test]
    fn cells_answer_prefixes_and_errors_are_bad_requests() {
        let m = map(5000);
        let meta: Value = serde_json::from_str(m.meta_json()).unwrap();
        assert_eq!(meta["count"], 5000);
        let list = meta["cells"]["list"].as_array().unwrap();
        let total: u64 = list.iter().map(|c| c[1].as_u64().unwrap()).sum();
        assert_eq!(total, 5000);
        assert_eq!(meta["columns"][0]["range"]["max"], 2499.5);
        assert_eq!(meta["field"]["bricks"][0], json!([1, 0, 1, 511.0]));
        let (c0, n0) = (list[0][0].as_u64().unwrap(), list[0][1].as_u64().unwrap());
        let body = format!(r#"{{"cells": [[{c0}, 0, 3], [{c0}, 3, 99999], [123456789, 0, 5]]}}"#);
        let f = m.cells(body.as_bytes()).unwrap();
        let h = header(&f);
        assert_eq!(h["cells"][0], json!([c0, n0, 0, 3]));
        assert_eq!(h["cells"][1], json!([c0, n0, 3, n0 - 3]));
        assert_eq!(h["cells"][2], json!([123456789, 0, 0, 0]));
        assert_eq!(h["objects"]["n"], n0);

        for body in [
            "nope",
            "{}",
            r#"{"cells": [[1, 2]]}"#,
            r#"{"cells": [[1, -2, 3]]}"#,
            r#"{"cells": [[1, 5, 3]]}"#,
        ] {
            let e = m.cells(body.as_bytes()).unwrap_err();
            assert!(matches!(e, HtmlError::BadRequest(_)), "{body}: {e}");
        }
        let b = m.bricks(br#"{"bricks": [[1, 0, 1], [0, 0, 0]]}"#).unwrap();
        let h = header(&b);
        assert_eq!(h["coords"]["len"], 3);
        assert_eq!(h["norms"]["len"], 512);
        assert!(m.bricks(br#"{"bricks": [[1, 0]]}"#).is_err());
    }

    #[test]
    fn the_served_page_names_its_map_safely() {
        let p = served_page(Some("a</script>"), "/view");
        assert!(p.contains(r#""map":"a\u003c/script>""#));
        assert!(p.contains("connect-src 'self'"));
        assert!(p.contains("<title>tensormap · a&lt;/script&gt;</title>"));
    }
}
