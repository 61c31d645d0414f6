//! `tmap`, the TensorQL shell (docs/LANGUAGE.md, "The shell").
//!
//! ```text
//! tmap [DB_PATH]                 interactive; DB_PATH defaults to ./tensormap.db
//! tmap DB_PATH -c "SQL; SQL"     run and exit; non-zero exit status on the first error
//! tmap DB_PATH -f script.tql     run a file; likewise
//! tmap DB_PATH --format table|csv|json ...
//! tmap DB_PATH < script.tql      statements from stdin when it is not a terminal
//! tmap serve DB_PATH [--listen 127.0.0.1:8080] [--token-file FILE]   the HTTP API (serve.rs)
//! ```
//!
//! Scripts (`-c`, `-f`, standard input, `.read FILE`) are read one statement at a time
//! ([`tensormap::query::ScriptReader`]), so a script of any size runs in the memory of its
//! longest statement; dot-commands work in them as at the prompt, as in sqlite3.

#[cfg(test)]
mod allocations;

/// mimalloc for the shell: a statement allocates a few dozen small blocks (parse, plan,
/// result rows), and glibc's malloc and free were 12 % of a nearest-10 script's profile;
/// with mimalloc the statement takes 6-8 % less CPU time (BENCHMARKS.md, "The shell
/// against SQLite"). The library keeps the system allocator; the allocation test counts
/// with its own.
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
mod print;
mod progress;
mod serve;

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use print::Format;
use rustyline::error::ReadlineError;
use tensormap::query::{Chunk, Pos, Script, ScriptReader};
use tensormap::{Database, QueryError};

/// The TensorQL shell of tensormap.
#[derive(Debug, Parser)]
#[command(name = "tmap", version, about, args_conflicts_with_subcommands = true)]
struct Args {
    /// `tmap serve ...` (without one, the shell).
    #[command(subcommand)]
    sub: Option<Sub>,
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

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Sub {
    /// Serve the database over HTTP (the tensor routes; TensorQL at /query).
    Serve(serve::ServeArgs),
}

/// How deeply `.read` may nest (a file that reads itself stops here).
const MAX_READ_DEPTH: usize = 16;

/// What running a script came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Ran to its end.
    Done,
    /// Stopped at an error (already reported).
    Failed,
    /// `.quit`.
    Quit,
}

struct Shell {
    db: Database,
    format: Format,
    timer: bool,
    /// Standard output (a test's buffer in `allocations`).
    out: BufWriter<Box<dyn Write>>,
    /// Flush after every statement (a person is watching), or only when full.
    interactive: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Sub::Serve(serve)) = args.sub {
        return serve::main(serve);
    }
    let db = match Database::open(&args.db_path) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    db.set_progress(Some(std::sync::Arc::new(progress::Bar::default())));
    let stdin_is_terminal = std::io::stdin().is_terminal();
    let mut shell = Shell {
        db,
        format: args.format,
        timer: false,
        out: BufWriter::with_capacity(1 << 16, Box::new(std::io::stdout())),
        interactive: std::io::stdout().is_terminal(),
    };
    let outcome = if let Some(sql) = &args.command {
        shell.run(sql.as_bytes(), None, 0)
    } else if let Some(path) = &args.file {
        shell.run_file(path, 0)
    } else if !stdin_is_terminal {
        shell.run(std::io::stdin().lock(), None, 0)
    } else {
        return shell.repl();
    };
    let flushed = shell.out.flush();
    if outcome == Outcome::Failed || flushed.is_err() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `error at L:C: message`, the statement's line and a caret under the column. `text`
/// starts at `start` of the script; `file` names a script other than the main one.
fn report(text: &str, start: Pos, file: Option<&Path>, e: &QueryError) {
    match file {
        Some(f) => eprintln!("{}: {e}", f.display()),
        None => eprintln!("{e}"),
    }
    let index = e.pos.line.saturating_sub(start.line) as usize;
    if let Some(line) = text.lines().nth(index) {
        // The chunk's first line may start in the middle of a line of the script.
        let first = if index == 0 { start.col } else { 1 };
        let col = e.pos.col.saturating_sub(first) as usize;
        eprintln!("  {line}");
        let pad: String = line
            .chars()
            .take(col)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        eprintln!("  {pad}^");
    }
}

impl Shell {
    fn run_file(&mut self, path: &Path, depth: usize) -> Outcome {
        match File::open(path) {
            Ok(f) => {
                let name = (depth > 0).then_some(path);
                self.run(BufReader::with_capacity(1 << 20, f), name, depth)
            }
            Err(e) => {
                let _ = self.out.flush();
                eprintln!("error: cannot read {}: {e}", path.display());
                Outcome::Failed
            }
        }
    }

    /// Runs a script statement by statement, printing each result as it comes; stops at
    /// the first error.
    fn run(&mut self, input: impl BufRead, file: Option<&Path>, depth: usize) -> Outcome {
        for chunk in ScriptReader::new(input) {
            let outcome = match chunk {
                Ok(Chunk::Statement { text, pos }) => self.statements(text, pos, file),
                Ok(Chunk::Command { line, pos }) => self.dot_command(&line, pos, file, depth),
                Err(e) => {
                    let _ = self.out.flush();
                    let what = file.map_or("the script".to_string(), |f| f.display().to_string());
                    eprintln!("error: cannot read {what}: {e}");
                    Outcome::Failed
                }
            };
            if outcome != Outcome::Done {
                return outcome;
            }
        }
        Outcome::Done
    }

    /// Runs the statements of one chunk of a script.
    fn statements(&mut self, text: String, pos: Pos, file: Option<&Path>) -> Outcome {
        let mut statements = self.db.execute_script(Script::starting_at(text, pos));
        loop {
            // The clock is read for `.timer on` only.
            let start = self.timer.then(Instant::now);
            let Some(result) = statements.next() else {
                return Outcome::Done;
            };
            let elapsed = start.map(|s| s.elapsed());
            match result {
                Ok(r) => {
                    let mut written = print::result(&mut self.out, &r, self.format);
                    if let (Some(elapsed), true) = (elapsed, written.is_ok()) {
                        written =
                            writeln!(self.out, "Run Time: {:.3} ms", elapsed.as_secs_f64() * 1e3);
                    }
                    if self.interactive && written.is_ok() {
                        written = self.out.flush();
                    }
                    if let Err(e) = written {
                        eprintln!("error: cannot write the result: {e}");
                        return Outcome::Failed;
                    }
                }
                Err(e) => {
                    let _ = self.out.flush();
                    report(statements.text(), pos, file, &e);
                    return Outcome::Failed;
                }
            }
        }
    }

    fn repl(&mut self) -> ExitCode {
        let mut editor = match rustyline::DefaultEditor::new() {
            Ok(e) => e,
            Err(e) => {
                eprintln!("error: cannot start the line editor: {e}");
                return ExitCode::FAILURE;
            }
        };
        self.interactive = true;
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
                    buffer.push_str(&line);
                    buffer.push('\n');
                    if complete(&buffer) {
                        let _ = editor.add_history_entry(buffer.trim_end());
                        let sql = std::mem::take(&mut buffer);
                        if self.run(sql.as_bytes(), None, 0) == Outcome::Quit {
                            break;
                        }
                        let _ = self.out.flush();
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
        let _ = self.out.flush();
        if let Some(h) = &history {
            let _ = editor.save_history(h);
        }
        ExitCode::SUCCESS
    }

    /// Runs a `.command` line.
    fn dot_command(&mut self, line: &str, pos: Pos, file: Option<&Path>, depth: usize) -> Outcome {
        let mut words = line.split_whitespace();
        let command = words.next().unwrap_or("");
        let arg = words.next();
        let fail = |shell: &mut Shell, message: String| {
            let _ = shell.out.flush();
            match file {
                Some(f) => eprintln!("{}: error at {pos}: {message}", f.display()),
                None => eprintln!("error at {pos}: {message}"),
            }
            Outcome::Failed
        };
        match (command, arg) {
            (".quit" | ".exit", _) => return Outcome::Quit,
            (".help", _) => {
                if writeln!(self.out, "{HELP}").is_err() {
                    return Outcome::Failed;
                }
            }
            (".maps", _) => {
                return self.statements("SHOW MAPS".into(), Pos { line: 1, col: 1 }, None)
            }
            (".timer", Some("on")) => self.timer = true,
            (".timer", Some("off")) => self.timer = false,
            (".mode", Some(m)) => match Format::from_str(m, true) {
                Ok(f) => self.format = f,
                Err(_) => return fail(self, format!(".mode takes table, csv or json, not '{m}'")),
            },
            (".read", Some(_)) => {
                if depth >= MAX_READ_DEPTH {
                    return fail(
                        self,
                        format!(".read nested deeper than {MAX_READ_DEPTH} files"),
                    );
                }
                // The rest of the line is the file name (it may hold spaces).
                let name = line[".read".len()..].trim();
                let name = name.trim_matches(|c| c == '\'' || c == '"');
                return self.run_file(Path::new(name), depth + 1);
            }
            _ => {
                return fail(
                    self,
                    format!("unknown command or arguments: '{line}' (try .help)"),
                )
            }
        }
        if self.interactive {
            let _ = self.out.flush();
        }
        Outcome::Done
    }
}

const HELP: &str = "\
Statements (end each with ';'):
  CREATE MAP m [WITH (resolution = 64, channels = 32, bounds = 500, dtype = 'f32', sigma = 2, splat_radius = 3)]
  DROP MAP m;  SHOW MAPS;  DESCRIBE m;
  INSERT INTO m (id, type, position, embedding, confidence) VALUES ('a', 'cube', [1, 2, 3], [...], 0.9);
  UPDATE m SET confidence = 0.5 WHERE id = 'a';  DELETE FROM m WHERE type = 'cube';
  SELECT [DISTINCT] ... [FROM m [AS a] | VOXELS(m) [[LEFT] JOIN m2 b ON ...]] [WHERE ...]
    [GROUP BY ... [HAVING ...]] [ORDER BY ... [ASC|DESC]] [LIMIT n [OFFSET k]];
  EXPLAIN SELECT ...;  RENDER SELECT ... [TO 'file.svg'];  BEGIN; ... COMMIT; | ROLLBACK;
Operators: = != < <= > >= AND OR NOT + - * / ||, IN (...), LIKE, BETWEEN, IS [NOT] NULL,
  CASE WHEN ... THEN ... ELSE ... END, CAST(e AS REAL|INTEGER|TEXT)
Functions: DISTANCE(p, q), WITHIN(p, c, r), ATTENTION(q), COSINE(a, b), NORM(v),
  COUNT/SUM/AVG/MIN/MAX ([DISTINCT] e), ABS, ROUND, SQRT, LOWER, UPPER, LENGTH, SUBSTR,
  COALESCE, IFNULL, NULLIF
Commands (at the prompt, in scripts and on standard input):
  .help               this text
  .maps               the maps
  .timer on|off       print each statement's run time
  .mode table|csv|json
  .read FILE          run the statements and commands of FILE
  .quit               leave (or Ctrl-D)
The whole language, every statement with an example: docs/LANGUAGE.md.";

/// Whether `buffer` is a dot-command or ends a statement: its last token is ';' (strings
/// and comments aside), or it cannot be tokenized any further (the error is shown when it
/// runs); an unterminated string or quoted name keeps reading lines.
fn complete(buffer: &str) -> bool {
    buffer.trim_start().starts_with('.') || tensormap::query::lexer::ends_statement(buffer)
}
