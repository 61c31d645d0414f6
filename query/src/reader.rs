//! Reading a script one statement at a time from any reader (a file, standard input), in
//! memory bounded by its longest statement: a 250 MB script of INSERTs is never held
//! whole, as text or as values.
//!
//! The splitter knows just enough of the lexer to find the `;` that ends a statement:
//! `'strings'` (a doubled quote inside one closes and reopens it, which splits the same),
//! `"quoted names"` and `--` comments. As in sqlite3, a line whose first non-blank
//! character is `.` while no statement has begun is a dot-command for the shell. Each
//! chunk carries the line and column where it starts, so the parser's positions are those
//! of the whole input.

use std::io::BufRead;

use crate::error::Pos;

/// One piece of a script.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    /// The text of one statement, with its `;` and the blanks and comments before it.
    Statement {
        /// The text.
        text: String,
        /// Where the text starts in the input.
        pos: Pos,
    },
    /// A dot-command line (without its line end).
    Command {
        /// The line, trimmed.
        line: String,
        /// Where the `.` is.
        pos: Pos,
    },
}

/// Why a script could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The reader failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The input is not UTF-8 at this byte offset.
    #[error("not UTF-8 text (at byte {0})")]
    NotUtf8(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Normal,
    /// A `-` that may start a comment.
    Dash,
    Comment,
    Str,
    Quoted,
    Command,
}

/// The splitter's state between bytes.
#[derive(Debug, Clone, Copy)]
struct Scan {
    state: State,
    /// Whether the chunk holds only blanks and comments so far.
    blank: bool,
    /// Whether only blanks precede, on this line.
    line_start: bool,
    /// Where the dot-command being read starts, in the chunk's bytes.
    command: Option<usize>,
}

impl Scan {
    /// Reads `block` (which follows `buffered` bytes of the chunk) up to the end of a
    /// chunk: the index of its last byte (a `;`, or a dot-command's line end), or `None`
    /// if the chunk goes on past the block. Strings and comments are skipped with memchr.
    fn scan(&mut self, block: &[u8], buffered: usize) -> Option<usize> {
        let mut i = 0;
        while i < block.len() {
            let b = block[i];
            match self.state {
                State::Normal => {}
                State::Dash => {
                    if b == b'-' {
                        self.state = State::Comment;
                        i += 1;
                        continue;
                    }
                    // The `-` was part of a statement; this byte is read as usual.
                    self.blank = false;
                    self.line_start = false;
                    self.state = State::Normal;
                }
                State::Comment => match memchr::memchr(b'\n', &block[i..]) {
                    Some(n) => {
                        i += n + 1;
                        self.state = State::Normal;
                        self.line_start = true;
                        continue;
                    }
                    None => return None,
                },
                State::Str | State::Quoted => {
                    let q = if self.state == State::Str {
                        b'\''
                    } else {
                        b'"'
                    };
                    // A doubled quote closes and reopens: it splits the same.
                    match memchr::memchr(q, &block[i..]) {
                        Some(n) => {
                            i += n + 1;
                            self.state = State::Normal;
                            continue;
                        }
                        None => return None,
                    }
                }
                State::Command => return memchr::memchr(b'\n', &block[i..]).map(|n| i + n),
            }
            match b {
                b'.' if self.blank && self.line_start => {
                    self.command = Some(buffered + i);
                    self.state = State::Command;
                }
                b'\'' | b'"' => {
                    self.state = if b == b'\'' {
                        State::Str
                    } else {
                        State::Quoted
                    };
                    self.blank = false;
                    self.line_start = false;
                }
                b'-' => self.state = State::Dash,
                b';' => return Some(i),
                b'\n' => self.line_start = true,
                b' ' | b'\t' | b'\r' => {}
                _ => {
                    self.blank = false;
                    self.line_start = false;
                }
            }
            i += 1;
        }
        None
    }
}

/// `pos` moved over `bytes`: lines by their `\n`, columns by characters.
fn advance(pos: Pos, bytes: &[u8]) -> Pos {
    let chars = |b: &[u8]| b.iter().filter(|&&c| c & 0xC0 != 0x80).count() as u32;
    match memchr::memrchr(b'\n', bytes) {
        Some(last) => Pos {
            line: pos.line + memchr::memchr_iter(b'\n', bytes).count() as u32,
            col: 1 + chars(&bytes[last + 1..]),
        },
        None => Pos {
            line: pos.line,
            col: pos.col + chars(bytes),
        },
    }
}

/// The chunks of a script read from `R`.
#[derive(Debug)]
pub struct ScriptReader<R> {
    reader: R,
    /// The bytes of the chunk being read.
    buf: Vec<u8>,
    /// Where `buf` starts: position and byte offset in the input.
    start: Pos,
    start_offset: u64,
    scan: Scan,
    done: bool,
}

impl<R: BufRead> ScriptReader<R> {
    /// A reader of the script `reader` holds.
    pub fn new(reader: R) -> Self {
        ScriptReader {
            reader,
            buf: Vec::new(),
            start: Pos { line: 1, col: 1 },
            start_offset: 0,
            scan: Scan {
                state: State::Normal,
                blank: true,
                line_start: true,
                command: None,
            },
            done: false,
        }
    }

    /// The chunk `buf` holds, ending with its last byte.
    fn finish(&mut self) -> Result<Chunk, ReadError> {
        let bytes = std::mem::take(&mut self.buf);
        let pos = self.start;
        let command = match self.scan.state {
            State::Command => self.scan.command.take(),
            _ => None,
        };
        self.start = advance(pos, &bytes);
        let len = bytes.len() as u64;
        let text = String::from_utf8(bytes).map_err(|e| {
            ReadError::NotUtf8(self.start_offset + e.utf8_error().valid_up_to() as u64)
        })?;
        self.start_offset += len;
        self.scan.blank = true;
        if self.scan.state == State::Command {
            self.scan.state = State::Normal;
            self.scan.line_start = true;
            let at = command.unwrap_or(0).min(text.len());
            return Ok(Chunk::Command {
                line: text.get(at..).unwrap_or("").trim().to_string(),
                pos: advance(pos, &text.as_bytes()[..at]),
            });
        }
        self.scan.state = State::Normal;
        self.scan.line_start = false;
        Ok(Chunk::Statement { text, pos })
    }

    /// The next chunk, or `None` at the end.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, ReadError> {
        if self.done {
            return Ok(None);
        }
        loop {
            let block = self.reader.fill_buf()?;
            if block.is_empty() {
                self.done = true;
                if self.scan.state == State::Dash {
                    self.scan.blank = false;
                }
                if self.scan.state != State::Command && self.scan.blank {
                    return Ok(None);
                }
                return self.finish().map(Some);
            }
            let end = self.scan.scan(block, self.buf.len());
            let taken = end.map_or(block.len(), |e| e + 1);
            self.buf.extend_from_slice(&block[..taken]);
            self.reader.consume(taken);
            if end.is_some() {
                return self.finish().map(Some);
            }
        }
    }
}

impl<R: BufRead> Iterator for ScriptReader<R> {
    type Item = Result<Chunk, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_chunk() {
            Ok(Some(c)) => Some(Ok(c)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(s: &str) -> Vec<Chunk> {
        // A tiny buffer, so that chunks straddle the reader's blocks.
        let r = std::io::BufReader::with_capacity(3, s.as_bytes());
        ScriptReader::new(r).map(|c| c.unwrap()).collect()
    }

    fn stmt(text: &str, line: u32, col: u32) -> Chunk {
        Chunk::Statement {
            text: text.into(),
            pos: Pos { line, col },
        }
    }

    #[test]
    fn statements_end_at_semicolons_outside_strings_and_comments() {
        assert_eq!(
            chunks("SELECT 'a;''b'; -- x; y\nSELECT \"c;d\" FROM m;\n  SELECT 1 - -2"),
            vec![
                stmt("SELECT 'a;''b';", 1, 1),
                stmt(" -- x; y\nSELECT \"c;d\" FROM m;", 1, 16),
                stmt("\n  SELECT 1 - -2", 2, 21),
            ]
        );
        assert_eq!(chunks("  -- only a comment\n\n"), vec![]);
        assert_eq!(chunks("SELECT 'open;"), vec![stmt("SELECT 'open;", 1, 1)]);
    }

    #[test]
    fn dot_commands_start_lines_between_statements() {
        assert_eq!(
            chunks(".mode csv\nSELECT 1;\n  .timer on  \r\nSELECT 0.5\n, .5;\n.quit"),
            vec![
                Chunk::Command {
                    line: ".mode csv".into(),
                    pos: Pos { line: 1, col: 1 }
                },
                stmt("SELECT 1;", 2, 1),
                Chunk::Command {
                    line: ".timer on".into(),
                    pos: Pos { line: 3, col: 3 }
                },
                stmt("SELECT 0.5\n, .5;", 4, 1),
                Chunk::Command {
                    line: ".quit".into(),
                    pos: Pos { line: 6, col: 1 }
                },
            ]
        );
    }

    #[test]
    fn positions_count_characters_and_bad_bytes_are_errors() {
        assert_eq!(
            chunks("SELECT 'é';SELECT 2"),
            vec![stmt("SELECT 'é';", 1, 1), stmt("SELECT 2", 1, 12)]
        );
        let r = std::io::BufReader::new(&b"SELECT 1;\nSELECT '\xff'"[..]);
        let got: Vec<_> = ScriptReader::new(r).collect();
        assert!(matches!(got[1], Err(ReadError::NotUtf8(18))), "{got:?}");
    }
}
