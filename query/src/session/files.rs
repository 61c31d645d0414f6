//! The statements that read or write files: COPY (the formats behind
//! [`crate::CopyFormats`]), SNAPSHOT and RESTORE (`crate::snapshot`).

use tensormap_engine::MapView;

use super::Session;
use crate::ast::{CopyDirection, Setting, Span};
use crate::error::{Error, Pos, Result};
use crate::exec::QueryResult;
use crate::progress::{Progress, Unit};

impl Session {
    /// `COPY map TO|FROM path`: see [`crate::copy`]. An export reads the map as a query
    /// does (inside BEGIN: as the transaction has changed it); an import reads the file
    /// first, then adds its rows as one write (inside BEGIN: to the open transaction).
    pub(super) fn copy(
        &mut self,
        map: &str,
        direction: CopyDirection,
        path: &str,
        settings: &[(String, Setting, Span)],
        pos: Pos,
    ) -> Result<QueryResult> {
        let Some(formats) = self.copy.clone() else {
            return Err(Error::internal(
                pos,
                "COPY needs the file formats of tensormap-interop, which this session does not have (tensormap::Database installs them)",
            ));
        };
        let options = crate::copy::options(direction, path, settings, pos)?;
        let sink = self.progress.clone();
        let label = match direction {
            CopyDirection::To => format!("copy {map} to '{path}'"),
            CopyDirection::From => format!("copy {map} from '{path}'"),
        };
        let start = move |total| Progress::start(sink.clone(), &label, total, Unit::Rows);
        match direction {
            CopyDirection::To => self.read_map(map, pos, |view| {
                crate::copy::export(&*formats, view, path, &options, &start, pos)
            }),
            CopyDirection::From => {
                let (config, columns) = self.read_map(map, pos, |view| {
                    Ok((view.config().clone(), view.columns().to_vec()))
                })?;
                let imported =
                    crate::copy::read(&*formats, path, &options, &config, &columns, &start, pos)?;
                self.write(pos, |t| crate::copy::insert(t, map, &imported, pos))
            }
        }
    }

    /// `SNAPSHOT map TO 'file' [WITH (...)]`: the map as this session sees it.
    pub(super) fn snapshot(
        &mut self,
        map: &str,
        to: &str,
        settings: &[(String, Setting, Span)],
        pos: Pos,
    ) -> Result<QueryResult> {
        let sink = self.progress.clone();
        let run = |view: &MapView<'_>| crate::snapshot::snapshot(view, to, settings, sink, pos);
        match &mut self.txn {
            Some(t) => run(&t.map(map).map_err(|e| Error::engine(pos, e))?),
            None => {
                let r = self.db.begin_read().map_err(|e| Error::engine(pos, e))?;
                run(&r.map(map).map_err(|e| Error::engine(pos, e))?)
            }
        }
    }

    /// `RESTORE name FROM 'file'`: a new map.
    pub(super) fn restore(&mut self, name: &str, from: &str, pos: Pos) -> Result<QueryResult> {
        let sink = self.progress.clone();
        self.write(pos, |t| crate::snapshot::restore(t, name, from, sink, pos))
    }
}
