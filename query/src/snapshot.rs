//! `SNAPSHOT map TO 'file' [WITH (...)]` and `RESTORE name FROM 'file'` (docs/LANGUAGE.md
//! "Snapshots and rendering"): the settings, and the calls into the engine with progress.

use std::sync::Arc;

use tensormap_engine::{Compression, Dtype, Format, MapView, SnapshotOptions, WriteTransaction};

use crate::ast::{Setting, Span};
use crate::error::{Error, Pos, Result};
use crate::exec::QueryResult;
use crate::progress::{Progress, ProgressSink, Unit};

/// Writes `view` to `to` with the statement's settings.
pub(crate) fn snapshot(
    view: &MapView<'_>,
    to: &str,
    settings: &[(String, Setting, Span)],
    sink: Option<Arc<dyn ProgressSink>>,
    pos: Pos,
) -> Result<QueryResult> {
    let options = options(settings, to, view.config().dtype)?;
    let progress = Progress::start(sink, &format!("snapshot {}", view.name()), 0, Unit::Bytes);
    let info = view
        .snapshot(to, &options, &mut |done, total| {
            progress.set_total(done, total)
        })
        .map_err(|e| Error::engine(pos, e))?;
    Ok(QueryResult::status(format!(
        "SNAPSHOT {} objects, {} bricks, {} bytes to '{to}'",
        info.objects, info.bricks, info.file_bytes
    )))
}

/// Makes map `name` from the snapshot at `from`, in `txn`.
pub(crate) fn restore(
    txn: &mut WriteTransaction,
    name: &str,
    from: &str,
    sink: Option<Arc<dyn ProgressSink>>,
    pos: Pos,
) -> Result<QueryResult> {
    let progress = Progress::start(sink, &format!("restore {name}"), 0, Unit::Items);
    let info = txn
        .restore_with_progress(name, from, &mut |done, total| {
            progress.set_total(done, total)
        })
        .map_err(|e| Error::engine(pos, e))?;
    Ok(QueryResult::status(format!(
        "RESTORE {} objects, {} bricks from '{from}'",
        info.objects, info.bricks
    )))
}

/// The snapshot settings: `format` ('binary' or 'json'; by default JSON when the file name
/// ends in `.json`), `compression` ('zstd', the default, or 'none'), `dtype` ('f32', 'f16',
/// 'i8'; by default the map's own), `threads` (compressing threads; 0: automatic).
fn options(
    settings: &[(String, Setting, Span)],
    to: &str,
    map_dtype: Dtype,
) -> Result<SnapshotOptions> {
    let mut o = SnapshotOptions {
        dtype: map_dtype,
        ..SnapshotOptions::default()
    };
    if to.to_ascii_lowercase().ends_with(".json") {
        o.format = Format::Json;
    }
    for (key, value, at) in settings {
        let pos = at.0;
        let text = || match value {
            Setting::Str(s) | Setting::Word(s) => Ok(s.to_ascii_lowercase()),
            other => Err(Error::invalid(
                pos,
                format!("{key} must be a string, found {other}"),
            )),
        };
        match key.to_ascii_lowercase().as_str() {
            "format" => {
                let s = text()?;
                o.format = Format::parse(&s).ok_or_else(|| {
                    Error::invalid(pos, format!("format must be 'binary' or 'json', found '{s}'"))
                })?;
            }
            "compression" => {
                let s = text()?;
                o.compression = Compression::parse(&s).ok_or_else(|| {
                    Error::invalid(
                        pos,
                        format!("compression must be 'zstd' or 'none', found '{s}'"),
                    )
                })?;
            }
            "dtype" => {
                let s = text()?;
                o.dtype = match s.as_str() {
                    "f32" => Dtype::F32,
                    "f16" => Dtype::F16,
                    "i8" => Dtype::I8,
                    _ => {
                        return Err(Error::invalid(
                            pos,
                            format!("dtype must be 'f32', 'f16' or 'i8', found '{s}'"),
                        ))
                    }
                };
            }
            "threads" => match value {
                Setting::Number(n) if n.fract() == 0.0 && (0.0..=256.0).contains(n) => {
                    o.threads = *n as usize
                }
                other => {
                    return Err(Error::invalid(
                        pos,
                        format!("threads must be an integer from 0 to 256, found {other}"),
                    ))
                }
            },
            other => {
                return Err(Error::invalid(
                    pos,
                    format!(
                        "unknown snapshot setting '{other}' (expected format, compression, dtype or threads)"
                    ),
                ))
            }
        }
    }
    Ok(o)
}
