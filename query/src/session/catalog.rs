//! The maps' catalog: CREATE MAP (its settings checked one by one), DROP MAP, ALTER MAP ...
//! RENAME TO, SHOW MAPS and DESCRIBE.

use tensormap_engine::{Dtype, MapConfig, Value};

use super::Session;
use crate::ast::{Setting, Span};
use crate::error::{Error, Pos, Result};
use crate::exec::QueryResult;

impl Session {
    /// `CREATE MAP name [WITH (...)]`.
    pub(super) fn create_map(
        &mut self,
        name: &str,
        settings: &[(String, Setting, Span)],
        pos: Pos,
    ) -> Result<QueryResult> {
        let config = map_config(settings)?;
        self.write(pos, |t| {
            t.create_map(name, config)
                .map_err(|e| Error::engine(pos, e))?;
            Ok(QueryResult::status("CREATE MAP"))
        })
    }

    /// `DROP MAP [IF EXISTS] name`.
    pub(super) fn drop_map(
        &mut self,
        name: &str,
        if_exists: bool,
        pos: Pos,
    ) -> Result<QueryResult> {
        self.write(pos, |t| {
            if if_exists && t.map(name).is_err() {
                return Ok(QueryResult::status("DROP MAP"));
            }
            t.drop_map(name).map_err(|e| Error::engine(pos, e))?;
            Ok(QueryResult::status("DROP MAP"))
        })
    }

    /// `ALTER MAP name RENAME TO to`: the map and all in it under its new name.
    pub(super) fn rename_map(&mut self, name: &str, to: &str, pos: Pos) -> Result<QueryResult> {
        self.write(pos, |t| {
            t.rename_map(name, to).map_err(|e| Error::engine(pos, e))?;
            Ok(QueryResult::status("ALTER MAP"))
        })
    }

    /// `SHOW MAPS`: name, resolution, channels, bounds, objects.
    pub(super) fn show_maps(&mut self, pos: Pos) -> Result<QueryResult> {
        let mut rows = Vec::new();
        let maps = match &mut self.txn {
            Some(t) => t
                .map_names()
                .into_iter()
                .map(str::to_string)
                .collect::<Vec<_>>(),
            None => self.db.maps().into_iter().map(|m| m.name).collect(),
        };
        for name in maps {
            let r = self.read_map(&name, pos, |v| {
                let c = v.config();
                Ok(vec![
                    Value::text(v.name()),
                    Value::Number(c.resolution as f64),
                    Value::Number(c.channels as f64),
                    Value::Number(c.bounds),
                    Value::Number(v.len() as f64),
                ])
            })?;
            rows.push(r);
        }
        Ok(QueryResult {
            columns: ["name", "resolution", "channels", "bounds", "objects"]
                .map(String::from)
                .to_vec(),
            status: format!("SHOW MAPS {}", rows.len()),
            rows,
        })
    }

    /// `DESCRIBE name`: its settings and figures.
    pub(super) fn describe(&mut self, name: &str, pos: Pos) -> Result<QueryResult> {
        // Committed bytes (0 for a map this transaction created).
        let bytes = self.db.map_stored_bytes(name).unwrap_or(0);
        let row = self.read_map(name, pos, |v| {
            let c = v.config();
            let s = v.stats().map_err(|e| Error::engine(pos, e))?;
            Ok(vec![
                Value::text(v.name()),
                Value::Number(c.resolution as f64),
                Value::Number(c.channels as f64),
                Value::Number(c.bounds),
                Value::text(c.dtype.name()),
                Value::Number(c.sigma),
                Value::Number(c.splat_radius as f64),
                Value::Number(s.objects as f64),
                Value::Number(s.bricks as f64),
                Value::Number(s.covered_cells as f64),
                Value::Number(bytes as f64),
            ])
        })?;
        Ok(QueryResult {
            columns: [
                "name",
                "resolution",
                "channels",
                "bounds",
                "dtype",
                "sigma",
                "splat_radius",
                "objects",
                "bricks",
                "covered_cells",
                "bytes_on_disk",
            ]
            .map(String::from)
            .to_vec(),
            rows: vec![row],
            status: "DESCRIBE".into(),
        })
    }
}

fn map_config(settings: &[(String, Setting, Span)]) -> Result<MapConfig> {
    let mut c = MapConfig::default();
    for (key, value, at) in settings {
        let pos = at.0;
        let number = || match value {
            Setting::Number(n) => Ok(*n),
            other => Err(Error::invalid(
                pos,
                format!("{key} must be a number, found {other}"),
            )),
        };
        let integer = || {
            let n = number()?;
            if n.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&n) {
                Ok(n as u32)
            } else {
                Err(Error::invalid(
                    pos,
                    format!("{key} must be a non-negative integer, found {n}"),
                ))
            }
        };
        match key.as_str() {
            "resolution" => c.resolution = integer()?,
            "channels" => c.channels = integer()?,
            "splat_radius" => c.splat_radius = integer()?,
            "bounds" => c.bounds = number()?,
            "sigma" => c.sigma = number()?,
            "dtype" => {
                c.dtype = match value {
                    Setting::Str(s) | Setting::Word(s) => {
                        Dtype::parse(s).map_err(|e| Error::invalid(pos, e.to_string()))?
                    }
                    other => {
                        return Err(Error::invalid(
                            pos,
                            format!("dtype must be 'f32', 'f16' or 'i8', found {other}"),
                        ))
                    }
                }
            }
            other => {
                return Err(Error::invalid(
                    pos,
                    format!("unknown map setting '{other}'"),
                ))
            }
        }
        // The defaults are valid and each setting is checked alone: the first failure is
        // this setting's.
        c.validate()
            .map_err(|e| Error::invalid(pos, e.to_string()))?;
    }
    Ok(c)
}
