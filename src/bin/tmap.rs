//! `tmap`, the TensorQL shell (LANGUAGE.md, "Shell").
//!
//! ```text
//! tmap [DB_PATH]                 interactive; DB_PATH defaults to ./tensormap.db
//! tmap DB_PATH -c "SQL; SQL"     run and exit; non-zero exit status on the first error
//! tmap DB_PATH -f script.tql     run a file; likewise
//! tmap DB_PATH --format table|csv|json ...
//! tmap DB_PATH < script.tql      statements from stdin when it is not a terminal
//! ```

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use comfy_table::{presets, CellAlignment, Table};
use rustyline::error::ReadlineError;
use tensormap::{format_number, Database, QueryError, QueryResult, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

/// The TensorQL shell of tensormap.
#[derive(Debug, Parser)]
#[command(name = "tmap", version, about)]
struct Args {
    /// The database directory (created if missing).
    #[arg(default_value = "tensormap.db")]
    db_path: PathBuf,
    /// Run these statements and exit.
    #[arg(short = 'c', value_name = "SQL", conflicts_with = "file")]
    command: Option<String>,
    /// Run the statements of this file and exit.
    #[arg(short = 'f', value_name = "FILE")]
    file: Option<PathBuf>,
    /// How results are printed.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

struct Shell {
    db: Database,
    format: Format,
    timer: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let db = match Database::open(&args.db_path) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("error: cannot open {}: {e}", args.db_path.display());
            return ExitCode::from(2);
        }
    };
    let mut shell = Shell {
        db,
        format: args.format,
        timer: false,
    };
    let script = if let Some(sql) = args.command {
        Some(sql)
    } else if let Some(path) = &args.file {
        match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(s) => Some(s),
                Err(e) => {
                    eprintln!(
                        "error: {} is not UTF-8 (byte {})",
                        path.display(),
                        e.utf8_error().valid_up_to()
                    );
                    return ExitCode::from(2);
                }
            },
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    } else if !std::io::stdin().is_terminal() {
        let mut bytes = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut bytes) {
            eprintln!("error: cannot read standard input: {e}");
            return ExitCode::from(2);
        }
        match String::from_utf8(bytes) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!(
                    "error: standard input is not UTF-8 (byte {})",
                    e.utf8_error().valid_up_to()
                );
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    match script {
        Some(sql) => {
            if shell.run_script(&sql) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        None => shell.repl(),
    }
}

impl Shell {
    /// Runs a script, printing each result as it comes; false at the first error.
    fn run_script(&mut self, sql: &str) -> bool {
        let mut out = std::io::stdout().lock();
        let mut statements = self.db.execute_iter(sql);
        loop {
            let start = Instant::now();
            let Some(result) = statements.next() else {
                break;
            };
            let elapsed = start.elapsed();
            match result {
                Ok(r) => {
                    print_result(&mut out, &r, self.format);
                    if self.timer {
                        let _ = writeln!(out, "Run Time: {:.3} ms", elapsed.as_secs_f64() * 1e3);
                    }
                }
                Err(e) => {
                    let _ = out.flush();
                    report(sql, &e);
                    return false;
                }
            }
        }
        let _ = out.flush();
        true
    }

    fn repl(&mut self) -> ExitCode {
        let mut editor = match rustyline::DefaultEditor::new() {
            Ok(e) => e,
            Err(e) => {
                eprintln!("error: cannot start the line editor: {e}");
                return ExitCode::from(2);
            }
        };
        let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".tmap_history"));
        if let Some(h) = &history {
            let _ = editor.load_history(h);
        }
        println!(
            "tmap {} — TensorQL shell. Statements end with ';'. Type .help for help.",
            env!("CARGO_PKG_VERSION")
        );
        let mut buffer = String::new();
        loop {
            let prompt = if buffer.is_empty() {
                "tmap> "
            } else {
                "  ..> "
            };
            match editor.readline(prompt) {
                Ok(line) => {
                    if buffer.is_empty() && line.trim_start().starts_with('.') {
                        let _ = editor.add_history_entry(line.as_str());
                        if !self.dot_command(line.trim()) {
                            break;
                        }
                        continue;
                    }
                    buffer.push_str(&line);
                    buffer.push('\n');
                    if complete(&buffer) {
                        let _ = editor.add_history_entry(buffer.trim_end());
                        let sql = std::mem::take(&mut buffer);
                        self.run_script(&sql);
                    }
                }
                Err(ReadlineError::Interrupted) => buffer.clear(),
                Err(ReadlineError::Eof) => break,
                Err(e) => {
                    eprintln!("error: {e}");
                    break;
                }
            }
        }
        if let Some(h) = &history {
            let _ = editor.save_history(h);
        }
        ExitCode::SUCCESS
    }

    /// Handles a `.command`; false to quit.
    fn dot_command(&mut self, line: &str) -> bool {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some(".quit" | ".exit"), _) => return false,
            (Some(".help"), _) => println!("{HELP}"),
            (Some(".maps"), _) => {
                self.run_script("SHOW MAPS");
            }
            (Some(".timer"), Some("on")) => self.timer = true,
            (Some(".timer"), Some("off")) => self.timer = false,
            (Some(".mode"), Some(m)) => match Format::from_str(m, true) {
                Ok(f) => self.format = f,
                Err(_) => eprintln!("error: .mode takes table, csv or json"),
            },
            _ => eprintln!("error: unknown command '{line}' (try .help)"),
        }
        true
    }
}

const HELP: &str = "\
Statements (end each with ';'):
  CREATE MAP m [WITH (resolution = 64, channels = 32, bounds = 500, dtype = 'f32', sigma = 2, splat_radius = 3)]
  DROP MAP m;  SHOW MAPS;  DESCRIBE m;
  INSERT INTO m (id, type, position, embedding, confidence) VALUES ('a', 'cube', [1, 2, 3], [...], 0.9);
  UPDATE m SET confidence = 0.5 WHERE id = 'a';  DELETE FROM m WHERE type = 'cube';
  SELECT ... FROM m | VOXELS(m) [WHERE ...] [GROUP BY ...] [ORDER BY ... [ASC|DESC]] [LIMIT n [OFFSET k]];
  EXPLAIN SELECT ...;  BEGIN; ... COMMIT; | ROLLBACK;
Functions: DISTANCE(p, q), WITHIN(p, c, r), ATTENTION(q), COSINE(a, b), COUNT/SUM/AVG/MIN/MAX, ABS, SQRT, NORM
Commands:
  .help               this text
  .maps               the maps
  .timer on|off       print each statement's run time
  .mode table|csv|json
  .quit               leave (or Ctrl-D)";

/// Whether `buffer` ends a statement: its last token is ';' (strings and comments aside),
/// or it cannot be tokenized any further (the error is shown when it runs).
fn complete(buffer: &str) -> bool {
    match tensormap::query::lexer::tokenize(buffer) {
        Ok(tokens) => {
            let n = tokens.len();
            n >= 2 && tokens[n - 2].tok == tensormap::query::lexer::Tok::Sym(";")
        }
        // An unterminated string or quoted name: keep reading lines.
        Err(e) => !e.message.starts_with("unterminated"),
    }
}

/// Prints `error at L:C: message`, the statement's line and a caret under the column.
fn report(sql: &str, e: &QueryError) {
    eprintln!("{e}");
    if let Some(line) = sql.lines().nth(e.pos.line.saturating_sub(1) as usize) {
        eprintln!("  {line}");
        let pad: String = line
            .chars()
            .take(e.pos.col.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        eprintln!("  {pad}^");
    }
}

fn print_result(out: &mut impl Write, r: &QueryResult, format: Format) {
    match format {
        Format::Table => {
            if !r.has_rows() {
                let _ = writeln!(out, "{}", r.status);
                return;
            }
            let mut table = Table::new();
            table.load_preset(presets::ASCII_MARKDOWN);
            table.set_header(r.columns.clone());
            for row in &r.rows {
                table.add_row(row.iter().map(|v| {
                    let cell = comfy_table::Cell::new(v.to_string());
                    if matches!(v, Value::Number(_)) {
                        cell.set_alignment(CellAlignment::Right)
                    } else {
                        cell
                    }
                }));
            }
            let _ = writeln!(out, "{table}");
            let n = r.rows.len();
            let _ = writeln!(out, "({n} row{})", if n == 1 { "" } else { "s" });
        }
        Format::Csv => {
            if !r.has_rows() {
                return;
            }
            let _ = writeln!(
                out,
                "{}",
                r.columns
                    .iter()
                    .map(|c| csv_field(c))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            for row in &r.rows {
                let fields: Vec<String> = row
                    .iter()
                    .map(|v| match v {
                        Value::Vector(_) => format!("\"{v}\""),
                        Value::Null => String::new(),
                        other => csv_field(&other.to_string()),
                    })
                    .collect();
                let _ = writeln!(out, "{}", fields.join(","));
            }
        }
        Format::Json => {
            if !r.has_rows() {
                return;
            }
            let rows: Vec<serde_json::Value> = r
                .rows
                .iter()
                .map(|row| {
                    let mut obj = serde_json::Map::new();
                    for (c, v) in r.columns.iter().zip(row) {
                        obj.insert(c.clone(), json(v));
                    }
                    serde_json::Value::Object(obj)
                })
                .collect();
            let _ = writeln!(out, "{}", serde_json::Value::Array(rows));
        }
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn json_number(x: f64) -> serde_json::Value {
    format_number(x)
        .parse::<serde_json::Number>()
        .map_or(serde_json::Value::Null, serde_json::Value::Number)
}

fn json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => json_number(*n),
        Value::Text(s) => serde_json::Value::String(s.to_string()),
        Value::Vector(x) => {
            serde_json::Value::Array(x.iter().map(|f| json_number(*f as f64)).collect())
        }
    }
}
