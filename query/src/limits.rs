//! A statement's limits: `SET statement_timeout` (wall-clock time) and `SET memory_limit`
//! (the bytes of the rows it holds at once), and how they are read back (`SHOW`).
//!
//! The session arms the limits of the statement it runs on its own thread ([`enter`]); the
//! executor's loops call [`tick`] (every expression evaluated, every row a filter reads) and
//! [`charge`] (every tuple and every output row held), so a statement past a limit ends
//! with an error of kind `limit` at its first position. A write checks its rows, and so meets
//! its limits, before it changes anything, and an auto-commit write is checked once more
//! before its commit: a statement stopped by a limit changes nothing.
//!
//! Memory is counted as the rows a statement materializes (tuples of the maps it joins,
//! the values of the rows it and its subqueries return, the objects a write adds or
//! changes), summed over the statement (nothing is subtracted when an intermediate result
//! is dropped), not as the process's heap: what the statement itself builds, independent of
//! caches and of other sessions, and the same from run to run.

use std::cell::Cell;
use std::time::{Duration, Instant};

use tensormap_engine::Value;

use crate::error::{Error, Pos, Result};

/// A session's limits; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// The longest a statement may run.
    pub statement_timeout: Option<Duration>,
    /// The most bytes of rows a statement may materialize.
    pub memory_limit: Option<u64>,
}

/// How many ticks pass between two readings of the clock (a reading costs ~20 ns).
const TICKS_PER_CLOCK: u32 = 256;

/// The armed limits of the statement running on this thread.
#[derive(Debug, Clone, Copy)]
struct Armed {
    /// When the statement started and when its time is up (with a `statement_timeout`
    /// only: without one the clock is not read).
    deadline: Option<(Instant, Instant)>,
    timeout: Duration,
    budget: u64,
    pos: Pos,
}

thread_local! {
    static ARMED: Cell<Option<Armed>> = const { Cell::new(None) };
    static USED: Cell<u64> = const { Cell::new(0) };
    static TICKS: Cell<u32> = const { Cell::new(0) };
}

/// Disarms the limits when the statement ends (also when it ends by an error or a panic).
#[derive(Debug)]
pub struct Guard {
    previous: Option<Armed>,
    used: u64,
}

impl Drop for Guard {
    fn drop(&mut self) {
        ARMED.with(|a| a.set(self.previous));
        USED.with(|u| u.set(self.used));
    }
}

/// Arms `limits` for the statement at `pos` on this thread until the guard drops. A
/// statement run inside another (none today) keeps the outer one's limits.
pub fn enter(limits: Limits, pos: Pos) -> Guard {
    let previous = ARMED.with(Cell::get);
    let used = USED.with(Cell::get);
    if previous.is_none() {
        let timeout = limits.statement_timeout.unwrap_or_default();
        let deadline = limits.statement_timeout.and_then(|t| {
            let started = Instant::now();
            started.checked_add(t).map(|d| (started, d))
        });
        ARMED.with(|a| {
            a.set(Some(Armed {
                deadline,
                timeout,
                budget: limits.memory_limit.unwrap_or(u64::MAX),
                pos,
            }))
        });
        USED.with(|u| u.set(0));
        TICKS.with(|t| t.set(0));
    }
    Guard { previous, used }
}

/// Counts one step of work; an error once the statement is past a limit.
#[inline]
pub fn tick() -> Result<()> {
    let n = TICKS.with(|t| {
        let n = t.get().wrapping_add(1);
        t.set(n);
        n
    });
    if n.is_multiple_of(TICKS_PER_CLOCK) {
        check()
    } else {
        Ok(())
    }
}

/// Counts `bytes` more held by the statement (checked at the next [`tick`] or [`check`]).
#[inline]
pub fn charge(bytes: usize) {
    USED.with(|u| u.set(u.get().saturating_add(bytes as u64)));
}

/// Counts the bytes of a row of values (see [`charge`]).
pub fn charge_row(values: &[Value]) {
    charge(values.iter().map(value_bytes).sum());
}

/// The bytes a value holds: the value itself and what it points to.
pub fn value_bytes(v: &Value) -> usize {
    std::mem::size_of::<Value>()
        + match v {
            Value::Text(s) => s.len(),
            Value::Vector(x) => x.len() * 4,
            _ => 0,
        }
}

/// An error if the statement running on this thread is past its time or memory limit.
pub fn check() -> Result<()> {
    let Some(a) = ARMED.with(Cell::get) else {
        return Ok(());
    };
    if USED.with(Cell::get) > a.budget {
        return Err(Error::limit(
            a.pos,
            format!(
                "the statement needs more than memory_limit = {}; nothing was changed",
                format_bytes(a.budget)
            ),
        ));
    }
    if let Some((started, d)) = a.deadline {
        let now = Instant::now();
        if now >= d {
            return Err(Error::limit(
                a.pos,
                format!(
                    "the statement ran past statement_timeout = {} ({} ms); nothing was changed",
                    format_duration(a.timeout),
                    now.duration_since(started).as_millis()
                ),
            ));
        }
    }
    Ok(())
}

/// Parses a `statement_timeout` value: a number of milliseconds, or text with a unit
/// (`'2s'`, `'500ms'`, `'1min'`, `'1h'`, `'250us'`); 0 is no limit.
pub fn parse_duration(v: &Value) -> std::result::Result<Option<Duration>, String> {
    let ms = |x: f64| -> std::result::Result<Option<Duration>, String> {
        if !(0.0..=1e15).contains(&x) {
            return Err(format!("statement_timeout must be 0 or more, found {x}"));
        }
        Ok((x > 0.0).then(|| Duration::from_secs_f64(x / 1e3)))
    };
    match v {
        Value::Number(n) => ms(*n),
        Value::Text(s) => {
            let (num, unit) = split_unit(s);
            let x: f64 = num.parse().map_err(|_| {
                format!("statement_timeout '{s}' is not a duration such as '2s', '500ms' or '1min'")
            })?;
            let scale = match unit.to_ascii_lowercase().as_str() {
                "" | "ms" => 1.0,
                "us" => 1e-3,
                "s" | "sec" | "secs" | "second" | "seconds" => 1e3,
                "min" | "mins" | "minute" | "minutes" => 60e3,
                "h" | "hour" | "hours" => 3600e3,
                other => {
                    return Err(format!(
                        "statement_timeout: unknown unit '{other}' (use us, ms, s, min or h)"
                    ))
                }
            };
            ms(x * scale)
        }
        other => Err(format!(
            "statement_timeout must be a number of milliseconds or text such as '2s', found a {}",
            other.type_name()
        )),
    }
}

/// Parses a `memory_limit` value: a number of bytes, or text with a unit (`'512MB'`,
/// `'1GB'`, `'64kB'`; units are powers of 1024, as in PostgreSQL); 0 is no limit.
pub fn parse_bytes(v: &Value) -> std::result::Result<Option<u64>, String> {
    let bytes = |x: f64| -> std::result::Result<Option<u64>, String> {
        if !x.is_finite() || x < 0.0 || x >= u64::MAX as f64 {
            return Err(format!("memory_limit must be 0 or more bytes, found {x}"));
        }
        Ok((x >= 1.0).then_some(x as u64))
    };
    match v {
        Value::Number(n) => bytes(*n),
        Value::Text(s) => {
            let (num, unit) = split_unit(s);
            let x: f64 = num.parse().map_err(|_| {
                format!("memory_limit '{s}' is not a size such as '512MB' or '1GB'")
            })?;
            let scale = match unit.to_ascii_lowercase().as_str() {
                "" | "b" => 1.0,
                "kb" | "k" | "kib" => 1024.0,
                "mb" | "m" | "mib" => 1024.0 * 1024.0,
                "gb" | "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
                "tb" | "t" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
                other => {
                    return Err(format!(
                        "memory_limit: unknown unit '{other}' (use B, kB, MB, GB or TB)"
                    ))
                }
            };
            bytes(x * scale)
        }
        other => Err(format!(
            "memory_limit must be a number of bytes or text such as '512MB', found a {}",
            other.type_name()
        )),
    }
}

fn split_unit(s: &str) -> (&str, &str) {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e'))
        .unwrap_or(s.len());
    (s[..end].trim(), s[end..].trim())
}

/// A duration as `SHOW` prints it (`2s`, `500ms`, `0` for none).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 && d.is_zero() {
        "0".into()
    } else if ms == 0 {
        format!("{}us", d.as_micros())
    } else if ms.is_multiple_of(60_000) {
        format!("{}min", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// A size as `SHOW` prints it (`512MB`, `0` for none).
pub fn format_bytes(b: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TB", 1 << 40),
        ("GB", 1 << 30),
        ("MB", 1 << 20),
        ("kB", 1 << 10),
    ];
    if b == 0 {
        return "0".into();
    }
    for (name, size) in UNITS {
        if b.is_multiple_of(size) {
            return format!("{}{name}", b / size);
        }
    }
    format!("{b}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        let d = |s: &str| parse_duration(&Value::text(s));
        assert_eq!(d("2s"), Ok(Some(Duration::from_secs(2))));
        assert_eq!(d("500ms"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(d("1min"), Ok(Some(Duration::from_secs(60))));
        assert_eq!(d(" 1.5 s "), Ok(Some(Duration::from_millis(1500))));
        assert_eq!(d("0"), Ok(None));
        assert_eq!(
            parse_duration(&Value::Number(250.0)),
            Ok(Some(Duration::from_millis(250)))
        );
        assert!(d("2 fortnights").is_err());
        assert!(d("-1s").is_err());
        assert!(d("soon").is_err());
        assert_eq!(format_duration(Duration::from_secs(2)), "2s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(120)), "2min");
    }

    #[test]
    fn sizes_parse_and_print() {
        let b = |s: &str| parse_bytes(&Value::text(s));
        assert_eq!(b("512MB"), Ok(Some(512 << 20)));
        assert_eq!(b("1GB"), Ok(Some(1 << 30)));
        assert_eq!(b("64kB"), Ok(Some(64 << 10)));
        assert_eq!(b("0"), Ok(None));
        assert_eq!(parse_bytes(&Value::Number(1000.0)), Ok(Some(1000)));
        assert!(b("12 parsecs").is_err());
        assert!(b("-5MB").is_err());
        assert_eq!(format_bytes(512 << 20), "512MB");
        assert_eq!(format_bytes(1000), "1000B");
    }

    #[test]
    fn an_armed_limit_stops_work_and_disarms() {
        let pos = Pos { line: 1, col: 1 };
        {
            let _g = enter(
                Limits {
                    statement_timeout: None,
                    memory_limit: Some(100),
                },
                pos,
            );
            charge(50);
            assert!(check().is_ok());
            charge(51);
            let e = check().unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::Limit);
            assert!(e.message.contains("memory_limit = 100B"), "{}", e.message);
        }
        charge(1_000_000);
        assert!(check().is_ok(), "no limit once the statement ended");
        {
            let _g = enter(
                Limits {
                    statement_timeout: Some(Duration::from_millis(1)),
                    memory_limit: None,
                },
                pos,
            );
            std::thread::sleep(Duration::from_millis(5));
            let e = check().unwrap_err();
            assert!(
                e.message.contains("statement_timeout = 1ms"),
                "{}",
                e.message
            );
        }
    }
}
