//! The maps' catalog: CREATE MAP (its user columns and its settings checked one by one),
//! DROP MAP, ALTER MAP ... RENAME TO and its column changes, SHOW MAPS and DESCRIBE.

use tensormap_engine::user::{self, Cell, ColumnDef};
use tensormap_engine::{Dtype, MapConfig, Registry, Value};

use super::Session;
use crate::ast::{AlterColumn, ColumnSpec, Setting, Span};
use crate::error::{Error, Pos, Result};
use crate::eval::{Env, Scope};
use crate::exec::QueryResult;

impl Session {
    /// `CREATE MAP name [(columns)] [WITH (...)]`.
    pub(super) fn create_map(
        &mut self,
        name: &str,
        columns: &[ColumnSpec],
        settings: &[(String, Setting, Span)],
        pos: Pos,
    ) -> Result<QueryResult> {
        let config = map_config(settings)?;
        let mut defs = Vec::with_capacity(columns.len());
        for c in columns {
            defs.push(column_def(self.db.functions(), c)?);
        }
        self.write(pos, |t| {
            if defs.is_empty() {
                t.create_map(name, config)
            } else {
                t.create_map_with_columns(name, config, defs)
            }
            .map_err(|e| Error::engine(pos, e))?;
            Ok(QueryResult::status("CREATE MAP"))
        })
    }

    /// `ALTER MAP name ADD COLUMN ... | DROP COLUMN c | RENAME COLUMN a TO b`.
    pub(super) fn alter_columns(
        &mut self,
        name: &str,
        change: &AlterColumn,
        pos: Pos,
    ) -> Result<QueryResult> {
        let added = match change {
            AlterColumn::Add(c) => Some(column_def(self.db.functions(), c)?),
            _ => None,
        };
        self.write(pos, |t| {
            match (change, added) {
                (_, Some(def)) => t.add_column(name, def),
                (AlterColumn::Drop(c), _) => t.drop_column(name, c),
                (AlterColumn::Rename { from, to }, _) => t.rename_column(name, from, to),
                (AlterColumn::Add(_), None) => Ok(()),
            }
            .map_err(|e| Error::engine(pos, e))?;
            Ok(QueryResult::status("ALTER MAP"))
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
                Value::Text(describe_columns(v.columns()).into()),
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
                "columns",
            ]
            .map(String::from)
            .to_vec(),
            rows: vec![row],
            status: "DESCRIBE".into(),
        })
    }
}

/// The user columns as CREATE MAP declares them, in order and comma-separated:
/// `label TEXT NOT NULL DEFAULT 'none', speed REAL` (empty for a map without any).
fn describe_columns(columns: &[ColumnDef]) -> String {
    let mut out = String::new();
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&crate::ast::ident(&c.name));
        out.push(' ');
        out.push_str(c.ty.name());
        if c.not_null {
            out.push_str(" NOT NULL");
        }
        let default = match user::cell_value(&c.default) {
            Value::Null => continue,
            Value::Bool(b) => (if b { "TRUE" } else { "FALSE" }).to_string(),
            Value::Number(x) => x.to_string(),
            Value::Text(t) => format!("'{}'", t.replace('\'', "''")),
            other => other.to_string(),
        };
        out.push_str(" DEFAULT ");
        out.push_str(&default);
    }
    out
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

/// A declared column as the engine stores it, its DEFAULT evaluated and of its type.
fn column_def(functions: &Registry, c: &ColumnSpec) -> Result<ColumnDef> {
    let default = match &c.default {
        None => Cell::Null,
        Some(e) => {
            let env = Env::new(functions, Vec::new());
            env.check(e, &[], Some("DEFAULT"))?;
            let v = env.eval(e, Scope::Row(&[], 0))?;
            user::to_cell(&v, c.ty).map_err(|m| {
                Error::invalid(e.pos, format!("DEFAULT of column '{}': {m}", c.name))
            })?
        }
    };
    if c.not_null && default == Cell::Null && c.default.is_some() {
        return Err(Error::invalid(
            c.at.0,
            format!("column '{}' is NOT NULL with a NULL DEFAULT", c.name),
        ));
    }
    Ok(ColumnDef {
        id: 0,
        name: c.name.clone(),
        ty: c.ty,
        not_null: c.not_null,
        default,
    })
}
