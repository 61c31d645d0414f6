//! The lexer: statement text to tokens with positions, one token at a time.
//!
//! It works on bytes (TensorQL's syntax is ASCII; non-ASCII text is only allowed inside
//! strings, quoted names and comments) and never looks back, so the parser can pull tokens
//! as it goes: a 10k-row INSERT is never held as a token vector. Positions are absolute:
//! a lexer can start in the middle of a text (or of a file) at a given line and column.

use crate::error::{Error, Pos, Result};

/// The longest string or identifier accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 1 << 20;

/// A token kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok<'t> {
    /// A bare word: keyword, function, map or column name (borrowed from the text).
    Ident(&'t str),
    /// A `"quoted"` identifier (never a keyword).
    Quoted(String),
    /// A number literal.
    Number(f64),
    /// A `'string'` literal.
    Str(String),
    /// Punctuation and operators.
    Sym(&'static str),
    /// A `?` parameter.
    Param,
    /// End of input.
    Eof,
}

impl Tok<'_> {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Quoted(s) => format!("\"{s}\""),
            Tok::Number(n) => format!("number {}", tensormap_engine::format_number(*n)),
            Tok::Str(s) => {
                let short: String = s.chars().take(20).collect();
                format!("string '{short}'")
            }
            Tok::Sym(s) => format!("'{s}'"),
            Tok::Param => "'?'".into(),
            Tok::Eof => "end of input".into(),
        }
    }
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Token<'t> {
    /// What it is.
    pub tok: Tok<'t>,
    /// Where it starts.
    pub pos: Pos,
    /// Byte offset of its start in the text.
    pub offset: usize,
    /// Byte offset just past its end.
    pub end: usize,
}

/// The operator or punctuation starting with byte `c` (then `next`), longest first so
/// that `<=` wins over `<`.
fn symbol(c: u8, next: Option<u8>) -> Option<&'static str> {
    Some(match (c, next) {
        (b'<', Some(b'=')) => "<=",
        (b'>', Some(b'=')) => ">=",
        (b'!', Some(b'=')) => "!=",
        (b'<', Some(b'>')) => "<>",
        (b'|', Some(b'|')) => "||",
        (b'(', _) => "(",
        (b')', _) => ")",
        (b'[', _) => "[",
        (b']', _) => "]",
        (b',', _) => ",",
        (b';', _) => ";",
        (b'.', _) => ".",
        (b'*', _) => "*",
        (b'+', _) => "+",
        (b'-', _) => "-",
        (b'/', _) => "/",
        (b'=', _) => "=",
        (b'<', _) => "<",
        (b'>', _) => ">",
        (b'?', _) => "?",
        (b':', _) => ":",
        _ => return None,
    })
}

/// Splits `text` into tokens, ending with `Eof`.
pub fn tokenize(text: &str) -> Result<Vec<Token<'_>>> {
    let mut lexer = Lexer::new(text);
    let mut out = Vec::new();
    loop {
        let t = lexer.next_token()?;
        let eof = t.tok == Tok::Eof;
        out.push(t);
        if eof {
            return Ok(out);
        }
    }
}

/// Whether `text` ends a statement, for a line editor deciding whether to run what was
/// typed: its last token is `;`, or it has a lexical error other than an unterminated
/// string or quoted name (running it shows the error). An unterminated string or quoted
/// name, or text that does not end in `;`, asks for more lines.
pub fn ends_statement(text: &str) -> bool {
    let mut lexer = Lexer::new(text);
    let mut last_is_semicolon = false;
    loop {
        match lexer.next_token() {
            Ok(t) if t.tok == Tok::Eof => return last_is_semicolon,
            Ok(t) => last_is_semicolon = t.tok == Tok::Sym(";"),
            // The lexer stops on the quote that opens an unterminated string (a quote
            // fails only so).
            Err(_) => return !matches!(lexer.bytes().get(lexer.i), Some(b'\'' | b'"')),
        }
    }
}

/// Pulls tokens from a text one at a time.
#[derive(Debug, Clone)]
pub struct Lexer<'t> {
    text: &'t str,
    i: usize,
    line: u32,
    col: u32,
}

impl<'t> Lexer<'t> {
    /// A lexer at the start of `text` (line 1, column 1).
    pub fn new(text: &'t str) -> Self {
        Lexer::starting_at(text, 0, Pos { line: 1, col: 1 })
    }

    /// A lexer at byte `offset` of `text`, which is at position `pos` (of the whole text,
    /// or of the file it came from).
    pub fn starting_at(text: &'t str, offset: usize, pos: Pos) -> Self {
        Lexer {
            text,
            i: offset.min(text.len()),
            line: pos.line,
            col: pos.col,
        }
    }

    /// Where the next token would start (after whitespace not yet skipped).
    pub fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    /// The byte offset the lexer has reached.
    pub fn offset(&self) -> usize {
        self.i
    }

    fn bytes(&self) -> &'t [u8] {
        self.text.as_bytes()
    }

    fn error(&self, pos: Pos, message: impl Into<String>) -> Error {
        Error::syntax(pos, message)
    }

    /// The next token (`Eof` at the end, again and again).
    pub fn next_token(&mut self) -> Result<Token<'t>> {
        self.skip_blank()?;
        let b = self.bytes();
        let pos = self.pos();
        let start = self.i;
        let Some(&c) = b.get(start) else {
            return Ok(Token {
                tok: Tok::Eof,
                pos,
                offset: start,
                end: start,
            });
        };
        let tok = if c.is_ascii_alphabetic() || c == b'_' {
            let mut j = start + 1;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            if j - start > MAX_TOKEN_BYTES {
                return Err(self.error(pos, "identifier too long"));
            }
            self.advance_ascii(j);
            Tok::Ident(&self.text[start..j])
        } else if c.is_ascii_digit()
            || (c == b'.' && b.get(start + 1).is_some_and(u8::is_ascii_digit))
        {
            self.number(pos)?
        } else if c == b'\'' || c == b'"' {
            self.quoted(c, pos)?
        } else if let Some(sym) = symbol(c, b.get(start + 1).copied()) {
            self.advance_ascii(start + sym.len());
            match sym {
                "<>" => Tok::Sym("!="),
                "?" => Tok::Param,
                s => Tok::Sym(s),
            }
        } else {
            let ch = self.text[start..].chars().next().unwrap_or('?');
            return Err(self.error(pos, format!("unexpected character '{ch}'")));
        };
        Ok(Token {
            tok,
            pos,
            offset: start,
            end: self.i,
        })
    }

    /// Puts the lexer back at byte `offset`, which is at `pos`.
    pub fn reseat(&mut self, offset: usize, pos: Pos) {
        self.i = offset.min(self.text.len());
        self.line = pos.line;
        self.col = pos.col;
    }

    /// Reads the elements of a vector of number literals straight from the text (the
    /// fast path of a 10k-row INSERT of embeddings): `-`? number, then `,` or `]`, each
    /// number as an f32, until the `]`, which it consumes: true. At anything else (an
    /// expression element, a number beyond f32, an error) it stops before that element
    /// and returns false, leaving it to the tokens.
    pub fn number_list(&mut self, out: &mut Vec<f32>) -> bool {
        let b = self.bytes();
        loop {
            let element = self.clone();
            if self.skip_blank().is_err() {
                *self = element;
                return false;
            }
            if out.is_empty() && b.get(self.i) == Some(&b']') {
                self.advance_ascii(self.i + 1);
                return true;
            }
            let neg = b.get(self.i) == Some(&b'-') && b.get(self.i + 1) != Some(&b'-');
            if neg {
                self.advance_ascii(self.i + 1);
                if self.skip_blank().is_err() {
                    *self = element;
                    return false;
                }
            }
            let starts_number = match b.get(self.i) {
                Some(c) if c.is_ascii_digit() => true,
                Some(b'.') => b.get(self.i + 1).is_some_and(u8::is_ascii_digit),
                _ => false,
            };
            let pos = self.pos();
            let n = match starts_number.then(|| self.number(pos)) {
                Some(Ok(Tok::Number(n))) if (n as f32).is_finite() => n,
                _ => {
                    *self = element;
                    return false;
                }
            };
            if self.skip_blank().is_err() {
                *self = element;
                return false;
            }
            match b.get(self.i) {
                Some(b',') | Some(b']') => {
                    out.push(if neg { -n } else { n } as f32);
                    let close = b[self.i] == b']';
                    self.advance_ascii(self.i + 1);
                    if close {
                        return true;
                    }
                }
                _ => {
                    *self = element;
                    return false;
                }
            }
        }
    }

    /// Moves to byte `j` over ASCII text without newlines.
    fn advance_ascii(&mut self, j: usize) {
        self.col += (j - self.i) as u32;
        self.i = j;
    }

    /// Skips whitespace and `--` comments.
    fn skip_blank(&mut self) -> Result<()> {
        let b = self.bytes();
        while let Some(&c) = b.get(self.i) {
            match c {
                b'\n' => {
                    self.i += 1;
                    self.line += 1;
                    self.col = 1;
                }
                b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c' => {
                    self.i += 1;
                    self.col += 1;
                }
                b'-' if b.get(self.i + 1) == Some(&b'-') => {
                    while let Some(&c) = b.get(self.i) {
                        if c == b'\n' {
                            break;
                        }
                        self.i += 1;
                        // Columns count characters, not UTF-8 continuation bytes.
                        if c & 0xC0 != 0x80 {
                            self.col += 1;
                        }
                    }
                }
                c if c >= 0x80 => {
                    let ch = self.text[self.i..].chars().next().unwrap_or('?');
                    if !ch.is_whitespace() {
                        return Ok(());
                    }
                    self.i += ch.len_utf8();
                    self.col += 1;
                }
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    /// A number: digits, one `.`, an exponent (`1e-3`); what `f64` parses.
    fn number(&mut self, pos: Pos) -> Result<Tok<'t>> {
        let b = self.bytes();
        let start = self.i;
        let mut j = start;
        let mut seen_e = false;
        while let Some(&c) = b.get(j) {
            let ok = c.is_ascii_digit()
                || c == b'.'
                || (!seen_e && (c == b'e' || c == b'E'))
                || ((c == b'+' || c == b'-') && j > start && matches!(b[j - 1], b'e' | b'E'));
            if !ok {
                break;
            }
            seen_e |= c == b'e' || c == b'E';
            j += 1;
        }
        let s = &self.text[start..j];
        self.advance_ascii(j);
        match s.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Tok::Number(n)),
            _ => Err(self.error(pos, format!("invalid number '{s}'"))),
        }
    }

    /// A `'string'` or a `"quoted name"`; a doubled quote stands for one.
    fn quoted(&mut self, quote: u8, pos: Pos) -> Result<Tok<'t>> {
        let b = self.bytes();
        let mut s = String::new();
        let mut j = self.i + 1;
        let mut piece = j;
        let (mut line, mut col) = (self.line, self.col + 1);
        loop {
            let Some(&c) = b.get(j) else {
                let what = if quote == b'\'' {
                    "string"
                } else {
                    "quoted identifier"
                };
                return Err(self.error(pos, format!("unterminated {what}")));
            };
            if c == quote {
                s.push_str(&self.text[piece..j]);
                if b.get(j + 1) == Some(&quote) {
                    s.push(quote as char);
                    j += 2;
                    col += 2;
                    piece = j;
                    continue;
                }
                j += 1;
                col += 1;
                break;
            }
            if c == b'\n' {
                line += 1;
                col = 1;
            } else if c & 0xC0 != 0x80 {
                col += 1;
            }
            j += 1;
            if j - piece + s.len() > MAX_TOKEN_BYTES {
                return Err(self.error(pos, format!("string longer than {MAX_TOKEN_BYTES} bytes")));
            }
        }
        self.i = j;
        self.line = line;
        self.col = col;
        if quote == b'\'' {
            Ok(Tok::Str(s))
        } else if s.is_empty() {
            Err(self.error(pos, "empty quoted identifier"))
        } else {
            Ok(Tok::Quoted(s))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_ends_at_its_semicolon_or_at_an_error() {
        assert!(ends_statement("SELECT 1;"));
        assert!(ends_statement("SELECT 1; -- done\n"));
        assert!(!ends_statement("SELECT 1"));
        assert!(!ends_statement("SELECT ';'"));
        // An unterminated string or quoted name asks for more lines.
        assert!(!ends_statement("SELECT 'a;\n"));
        assert!(!ends_statement("SELECT \"a;"));
        // Another lexical error runs (and is reported) at once.
        assert!(ends_statement("SELECT 1 # 2"));
    }

    fn toks(s: &str) -> Vec<Tok<'_>> {
        tokenize(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn tokens_and_positions() {
        assert_eq!(
            toks("SELECT x,'it''s' -- c\n 1e-3 [.5] <> \"Q\" ? || 2E+2"),
            vec![
                Tok::Ident("SELECT"),
                Tok::Ident("x"),
                Tok::Sym(","),
                Tok::Str("it's".into()),
                Tok::Number(1e-3),
                Tok::Sym("["),
                Tok::Number(0.5),
                Tok::Sym("]"),
                Tok::Sym("!="),
                Tok::Quoted("Q".into()),
                Tok::Param,
                Tok::Sym("||"),
                Tok::Number(200.0),
                Tok::Eof
            ]
        );
        let t = tokenize("a\n  bc").unwrap();
        assert_eq!(t[1].pos, Pos { line: 2, col: 3 });
        assert_eq!((t[1].offset, t[1].end), (4, 6));
        // Columns count characters: 'é' is one column.
        let t = tokenize("'é\nx' é_no").unwrap_err();
        assert_eq!(t.pos, Pos { line: 2, col: 4 });
        let t = tokenize("'é' -- ü\n x").unwrap();
        assert_eq!(t[1].pos, Pos { line: 2, col: 2 });
        let t = tokenize("'é' x").unwrap();
        assert_eq!(t[1].pos, Pos { line: 1, col: 5 });
    }

    #[test]
    fn a_lexer_can_start_inside_a_text() {
        let text = "SELECT 1;\nSELECT 'x'";
        let mut l = Lexer::starting_at(text, 10, Pos { line: 2, col: 1 });
        l.next_token().unwrap();
        let t = l.next_token().unwrap();
        assert_eq!(
            (t.tok, t.pos),
            (Tok::Str("x".into()), Pos { line: 2, col: 8 })
        );
    }

    #[test]
    fn bad_input_is_an_error_with_a_position() {
        assert_eq!(tokenize("x 'abc").unwrap_err().pos, Pos { line: 1, col: 3 });
        assert!(tokenize("1e999").is_err());
        assert!(tokenize("1.2.3").is_err());
        assert!(tokenize("a # b").is_err());
        assert!(tokenize("\"\"").is_err());
        assert_eq!(
            tokenize("a\n  § b").unwrap_err().to_string(),
            "error at 2:3: unexpected character '§'"
        );
    }
}
