//! docs/LANGUAGE.md cannot drift from the language: every example in it runs here, through
//! the built `tmap` shell, and every output it shows is compared with what `tmap` prints.
//!
//! The conventions (docs/LANGUAGE.md, "How to read the examples", says them to a reader):
//! - A ` ```sql fixture ` block is the fixture: it runs first on a fresh database at the
//!   start of every `## ` section.
//! - Every other ` ```sql ` block runs, in order, on its section's database, as a script:
//!   `tmap DB --format csv -f block.tql` in a fresh folder (files the examples write land
//!   there). It must succeed, unless an ` ```error ` block follows it.
//! - A ` ```output ` block right after a ` ```sql ` block (blank lines between are allowed)
//!   is what `tmap` prints for it on standard output, exactly (csv unless the block changes
//!   the mode with `.mode`).
//! - An ` ```error ` block right after a ` ```sql ` block is the first line `tmap` prints on
//!   standard error, exactly; the block must then fail (exit status 1).
//! - Other blocks (` ```text `, ` ```sh `) are not run.
//!
//! A block that reads `target/test-models/` needs the test model (scripts/fetch-test-models);
//! without it the rest of that section is skipped, unless `TENSORMAP_REQUIRE_TEST_MODELS=1`
//! (CI), where it fails. `LANGUAGE_DOC_PRINT=1` prints what each block gave (for writing new
//! examples).
//!
//! To add a section: write it in docs/LANGUAGE.md with these blocks; nothing changes here.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One fenced block of the document.
#[derive(Debug)]
struct Block {
    /// The info string after the fence (`sql`, `sql fixture`, `output`, ...).
    info: String,
    /// Its text (each line ends with `\n`).
    text: String,
    /// The document line of its opening fence.
    line: usize,
}

/// A runnable example: its SQL and what it must give.
#[derive(Debug)]
struct Example {
    sql: String,
    line: usize,
    output: Option<String>,
    error: Option<String>,
}

/// A `## ` section and its examples.
#[derive(Debug)]
struct Section {
    title: String,
    examples: Vec<Example>,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The fenced blocks of `doc`, each with the `## ` section it is in.
fn blocks(doc: &str) -> Vec<(String, Block)> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut open: Option<Block> = None;
    for (i, line) in doc.lines().enumerate() {
        match &mut open {
            Some(b) => {
                if line.trim_end() == "```" {
                    out.push((section.clone(), open.take().unwrap()));
                } else {
                    b.text.push_str(line);
                    b.text.push('\n');
                }
            }
            None => {
                if let Some(title) = line.strip_prefix("## ") {
                    section = title.trim().to_string();
                } else if let Some(info) = line.strip_prefix("```") {
                    open = Some(Block {
                        info: info.trim().to_string(),
                        text: String::new(),
                        line: i + 1,
                    });
                }
            }
        }
    }
    assert!(open.is_none(), "docs/LANGUAGE.md: a block is not closed");
    out
}

/// The fixture and the sections' examples of `doc`.
fn examples(doc: &str) -> (String, Vec<Section>) {
    let mut fixture = None;
    let mut sections: Vec<Section> = Vec::new();
    for (title, b) in blocks(doc) {
        match b.info.as_str() {
            "sql fixture" => {
                assert!(fixture.is_none(), "line {}: a second fixture", b.line);
                fixture = Some(b.text);
            }
            "sql" => {
                if sections.last().is_none_or(|s| s.title != title) {
                    sections.push(Section {
                        title,
                        examples: Vec::new(),
                    });
                }
                sections.last_mut().unwrap().examples.push(Example {
                    sql: b.text,
                    line: b.line,
                    output: None,
                    error: None,
                });
            }
            "output" | "error" => {
                let last = sections
                    .last_mut()
                    .filter(|s| s.title == title)
                    .and_then(|s| s.examples.last_mut())
                    .filter(|e| e.output.is_none() && e.error.is_none())
                    .unwrap_or_else(|| {
                        panic!("line {}: an {} block follows no sql block", b.line, b.info)
                    });
                if b.info == "output" {
                    last.output = Some(b.text);
                } else {
                    last.error = Some(b.text.trim_end().to_string());
                }
            }
            _ => {}
        }
    }
    let fixture = fixture.expect("docs/LANGUAGE.md has no ```sql fixture block");
    (fixture, sections)
}

/// Runs `sql` as a script with `tmap` on `dir/db`, in `dir`.
fn tmap(dir: &Path, sql: &str) -> std::process::Output {
    let script = dir.join("block.tql");
    std::fs::write(&script, sql).unwrap();
    Command::new(env!("CARGO_BIN_EXE_tmap"))
        .current_dir(dir)
        .arg(dir.join("db"))
        .args(["--format", "csv", "-f"])
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Gives a section's folder the test models (scripts/fetch-test-models), if there are any.
fn link_test_models(dir: &Path) -> bool {
    let models = repo().join("target/test-models");
    if !models.is_dir() {
        return false;
    }
    std::fs::create_dir_all(dir.join("target")).unwrap();
    std::os::unix::fs::symlink(&models, dir.join("target/test-models")).unwrap();
    true
}

#[test]
fn every_example_of_the_language_reference_runs_as_shown() {
    let doc = std::fs::read_to_string(repo().join("docs/LANGUAGE.md")).unwrap();
    let (fixture, sections) = examples(&doc);
    let print = std::env::var_os("LANGUAGE_DOC_PRINT").is_some();
    let require_models = std::env::var("TENSORMAP_REQUIRE_TEST_MODELS").as_deref() == Ok("1");
    let mut failures = Vec::new();
    let (mut ran, mut compared, mut skipped) = (0, 0, 0);
    for section in &sections {
        let dir = tempfile::tempdir().unwrap();
        let has_models = link_test_models(dir.path());
        let out = tmap(dir.path(), &fixture);
        assert!(
            out.status.success(),
            "the fixture fails: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for (i, e) in section.examples.iter().enumerate() {
            if e.sql.contains("target/test-models/") && !has_models {
                assert!(
                    !require_models,
                    "line {}: the test model is missing (scripts/fetch-test-models)",
                    e.line
                );
                eprintln!(
                    "docs/LANGUAGE.md line {}: no test model, the rest of \"{}\" is skipped",
                    e.line, section.title
                );
                skipped += section.examples.len() - i;
                break;
            }
            let out = tmap(dir.path(), &e.sql);
            ran += 1;
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            let stderr = String::from_utf8_lossy(&out.stderr).to_string();
            if print {
                println!(
                    "--- line {} ({}):\n{}--- stdout:\n{stdout}--- stderr:\n{stderr}",
                    e.line, section.title, e.sql
                );
            }
            let at = format!("docs/LANGUAGE.md line {} ({})", e.line, section.title);
            match &e.error {
                Some(want) => {
                    let got = stderr.lines().next().unwrap_or("");
                    if out.status.success() || got != want {
                        failures.push(format!(
                            "{at}: expected the error\n  {want}\ngot (exit {}):\n  {stderr}",
                            out.status
                        ));
                    }
                    compared += 1;
                }
                None if !out.status.success() => {
                    failures.push(format!("{at}: failed:\n  {stderr}"));
                }
                None => {}
            }
            if let Some(want) = &e.output {
                if &stdout != want {
                    failures.push(format!("{at}: expected the output\n{want}got\n{stdout}"));
                }
                compared += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} examples differ from docs/LANGUAGE.md:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // The reference is complete only if it is exercised: most examples show what they give.
    assert!(ran >= 60, "only {ran} examples ran ({skipped} skipped)");
    assert!(
        compared * 2 >= ran,
        "only {compared} of {ran} examples show their result"
    );
}
