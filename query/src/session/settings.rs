//! The session's settings and maintenance: `SET`, `SHOW`, `RESET` of `statement_timeout`
//! and `memory_limit` (`crate::limits` enforces them), their setters for programs (the
//! server's flags), and `CHECKPOINT` / `VACUUM`.

use std::time::Duration;

use tensormap_engine::Value;

use super::Session;
use crate::ast::Setting;
use crate::error::{Error, Pos, Result};
use crate::exec::QueryResult;
use crate::limits::{format_bytes, format_duration, parse_bytes, parse_duration};

use crate::parser::SETTINGS;

impl Session {
    /// Limits how long each statement of this session may run (`SET statement_timeout`);
    /// `None` (the default) is no limit. A statement past it ends with an error of kind
    /// `limit` and changes nothing.
    pub fn set_statement_timeout(&mut self, timeout: Option<Duration>) {
        self.limits.statement_timeout = timeout.filter(|d| !d.is_zero());
    }

    /// The limit on each statement's time, if any.
    pub fn statement_timeout(&self) -> Option<Duration> {
        self.limits.statement_timeout
    }

    /// Limits the bytes of rows each statement of this session may materialize (`SET
    /// memory_limit`; see `docs/LANGUAGE.md`); `None` (the default) is no limit. A statement needing more ends
    /// with an error of kind `limit` and changes nothing.
    pub fn set_memory_limit(&mut self, bytes: Option<u64>) {
        self.limits.memory_limit = bytes.filter(|&b| b > 0);
    }

    /// The limit on each statement's memory, in bytes, if any.
    pub fn memory_limit(&self) -> Option<u64> {
        self.limits.memory_limit
    }

    /// `SET name = value`.
    pub(super) fn set_setting(
        &mut self,
        name: &str,
        value: &Setting,
        pos: Pos,
    ) -> Result<QueryResult> {
        let v = match value {
            Setting::Word(w) if w == "default" => None,
            Setting::Number(n) => Some(Value::Number(*n)),
            Setting::Str(s) => Some(Value::text(s)),
            other => {
                return Err(Error::invalid(
                    pos,
                    format!("SET {name} expects a number or text, found {other}"),
                ))
            }
        };
        match name {
            "statement_timeout" => {
                let t = match &v {
                    None => None,
                    Some(v) => parse_duration(v).map_err(|m| Error::invalid(pos, m))?,
                };
                self.set_statement_timeout(t);
            }
            "memory_limit" => {
                let b = match &v {
                    None => None,
                    Some(v) => parse_bytes(v).map_err(|m| Error::invalid(pos, m))?,
                };
                self.set_memory_limit(b);
            }
            other => return Err(unknown(other, pos)),
        }
        Ok(QueryResult::status("SET"))
    }

    /// `RESET name` / `RESET ALL`.
    pub(super) fn reset_setting(&mut self, name: &str, pos: Pos) -> Result<QueryResult> {
        match name {
            "all" => {
                self.set_statement_timeout(None);
                self.set_memory_limit(None);
            }
            "statement_timeout" => self.set_statement_timeout(None),
            "memory_limit" => self.set_memory_limit(None),
            other => return Err(unknown(other, pos)),
        }
        Ok(QueryResult::status("RESET"))
    }

    /// `SHOW name` / `SHOW ALL`: one row per setting, its value as `SET` takes it (`0`
    /// for no limit).
    pub(super) fn show_setting(&self, name: &str, pos: Pos) -> Result<QueryResult> {
        let value = |n: &str| match n {
            "statement_timeout" => self
                .limits
                .statement_timeout
                .map_or_else(|| "0".to_string(), format_duration),
            _ => self
                .limits
                .memory_limit
                .map_or_else(|| "0".to_string(), format_bytes),
        };
        if name == "all" {
            return Ok(QueryResult {
                columns: vec!["name".into(), "setting".into()],
                rows: SETTINGS
                    .iter()
                    .map(|n| vec![Value::text(n), Value::text(&value(n))])
                    .collect(),
                status: format!("SHOW {}", SETTINGS.len()),
            });
        }
        if !SETTINGS.contains(&name) {
            return Err(unknown(name, pos));
        }
        Ok(QueryResult {
            columns: vec![name.to_string()],
            rows: vec![vec![Value::text(&value(name))]],
            status: "SHOW 1".into(),
        })
    }

    /// `CHECKPOINT` / `VACUUM`: every map's field journal folded into stored bricks and its
    /// objects merged into one segment file, now (outside a transaction: it commits).
    pub(super) fn checkpoint(&mut self, vacuum: bool, pos: Pos) -> Result<QueryResult> {
        let word = if vacuum { "VACUUM" } else { "CHECKPOINT" };
        if self.txn.is_some() {
            return Err(Error::conflict(
                pos,
                format!("{word} cannot run inside a transaction"),
            ));
        }
        self.db.checkpoint().map_err(|e| Error::engine(pos, e))?;
        Ok(QueryResult::status(word))
    }
}

fn unknown(name: &str, pos: Pos) -> Error {
    Error::not_found(
        pos,
        format!(
            "unknown setting '{name}' (the settings are {})",
            SETTINGS.join(", ")
        ),
    )
}
