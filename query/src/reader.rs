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

/// The chunks of a script read from `R`.
#[derive(Debug)]
pub struct ScriptReader<R> {
    reader: R,
    /// The bytes of the chunk being read.
    buf: Vec<u8>,
    /// Where `buf` starts: position and byte offset in the input.
    start: Pos,
    start_offset: u64,
    /// The position after the last byte read.
    line: u32,
    col: u32,
    state: State,
    /// Whether `buf` holds only blanks and comments so far.
    blank: bool,
    /// Whether only blanks precede, on this line.
    line_start: bool,
    /// Where the dot-command being read starts (in `buf`, and its position).
    command: Option<(usize, Pos)>,
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
            line: 1,
            col: 1,
            state: State::Normal,
            blank: true,
            line_start: true,
            command: None,
            done: false,
        }
    }

    /// Takes `buf` as the text of a chunk that ends here.
    fn take(&mut self) -> Result<String, ReadError> {
        let bytes = std::mem::take(&mut self.buf);
        let len = bytes.len() as u64;
        let text = String::from_utf8(bytes).map_err(|e| {
            ReadError::NotUtf8(self.start_offset + e.utf8_error().valid_up_to() as u64)
        })?;
        self.start_offset += len;
        self.start = Pos {
            line: self.line,
            col: self.col,
        };
        self.blank = true;
        Ok(text)
    }

    /// Feeds one byte; a chunk when it ends one.
    fn byte(&mut self, b: u8) -> Result<Option<Chunk>, ReadError> {
        let here = Pos {
            line: self.line,
            col: self.col,
        };
        self.buf.push(b);
        if b == b'\n' {
            self.line += 1;
            self.col = 1;
        } else if b & 0xC0 != 0x80 {
            self.col += 1;
        }
        let mut state = self.state;
        if state == State::Dash {
            state = if b == b'-' {
                State::Comment
            } else {
                // The `-` was part of a statement; this byte is read as usual.
                self.blank = false;
                State::Normal
            };
            if state == State::Comment {
                self.state = state;
                return Ok(None);
            }
        }
        match state {
            State::Normal => match b {
                b'.' if self.blank && self.line_start => {
                    self.command = Some((self.buf.len() - 1, here));
                    state = State::Command;
                }
                b'\'' => state = State::Str,
                b'"' => state = State::Quoted,
                b'-' => state = State::Dash,
                b';' => {
                    self.state = State::Normal;
                    self.line_start = false;
                    let pos = self.start;
                    let text = self.take()?;
                    return Ok(Some(Chunk::Statement { text, pos }));
                }
                b'\n' => self.line_start = true,
                b' ' | b'\t' | b'\r' => {}
                _ => {
                    self.blank = false;
                    self.line_start = false;
                }
            },
            State::Comment if b == b'\n' => {
                state = State::Normal;
                self.line_start = true;
            }
            State::Str if b == b'\'' => state = State::Normal,
            State::Quoted if b == b'"' => state = State::Normal,
            State::Str | State::Quoted => self.blank = false,
            State::Command if b == b'\n' => {
                self.state = State::Normal;
                self.line_start = true;
                return self.command().map(Some);
            }
            _ => {}
        }
        if matches!(state, State::Str | State::Quoted) {
            self.blank = false;
            self.line_start = false;
        }
        self.state = state;
        Ok(None)
    }

    /// The dot-command that `buf` ends with.
    fn command(&mut self) -> Result<Chunk, ReadError> {
        let (at, pos) = self.command.take().unwrap_or((0, self.start));
        let text = self.take()?;
        let line = text.get(at..).unwrap_or("").trim().to_string();
        Ok(Chunk::Command { line, pos })
    }

    /// The next chunk, or `None` at the end.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, ReadError> {
        if self.done {
            return Ok(None);
        }
        loop {
            let data = self.reader.fill_buf()?;
            if data.is_empty() {
                self.done = true;
                if self.state == State::Command {
                    return self.command().map(Some);
                }
                if self.state == State::Dash {
                    self.blank = false;
                }
                if self.blank {
                    return Ok(None);
                }
                let pos = self.start;
                return Ok(Some(Chunk::Statement {
                    text: self.take()?,
                    pos,
                }));
            }
            // Copy the block so that the reader can be consumed while bytes are fed.
            let block = data.to_vec();
            for (i, &b) in block.iter().enumerate() {
                if let Some(chunk) = self.byte(b)? {
                    self.reader.consume(i + 1);
                    return Ok(Some(chunk));
                }
            }
            self.reader.consume(block.len());
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
