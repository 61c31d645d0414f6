//! The lexer: statement text to tokens with positions.

use crate::error::{Error, Pos, Result};

/// The longest string or identifier accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 1 << 20;

/// A token kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A bare word: keyword, function, map or column name.
    Ident(String),
    /// A `"quoted"` identifier (never a keyword).
    Quoted(String),
    /// A number literal.
    Number(f64),
    /// A `'string'` literal.
    Str(String),
    /// Punctuation and operators.
    Sym(&'static str),
    /// End of input.
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Quoted(s) => format!("\"{s}\""),
            Tok::Number(n) => format!("number {n}"),
            Tok::Str(s) => {
                let short: String = s.chars().take(20).collect();
                format!("string '{short}'")
            }
            Tok::Sym(s) => format!("'{s}'"),
            Tok::Eof => "end of input".into(),
        }
    }
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What it is.
    pub tok: Tok,
    /// Where it starts.
    pub pos: Pos,
    /// Byte offset of its start in the text.
    pub offset: usize,
}

const SYMBOLS: [&str; 18] = [
    "<=", ">=", "!=", "<>", "(", ")", "[", "]", ",", ";", ".", "*", "+", "-", "/", "=", "<", ">",
];

/// Splits `text` into tokens, ending with `Eof`.
pub fn tokenize(text: &str) -> Result<Vec<Token>> {
    let (tokens, error) = tokenize_partial(text);
    match error {
        Some(e) => Err(e),
        None => Ok(tokens),
    }
}

/// Splits `text` into tokens up to the first lexical error (if any), ending with `Eof` at
/// the error's position, and returns that error: statements before it can still run.
pub fn tokenize_partial(text: &str) -> (Vec<Token>, Option<Error>) {
    let mut out = Vec::new();
    match lex(text, &mut out) {
        Ok(()) => (out, None),
        Err((e, offset)) => {
            out.push(Token {
                tok: Tok::Eof,
                pos: e.pos,
                offset,
            });
            (out, Some(e))
        }
    }
}

fn lex(text: &str, out: &mut Vec<Token>) -> std::result::Result<(), (Error, usize)> {
    let mut chars = text.char_indices().peekable();
    let (mut line, mut col) = (1u32, 1u32);
    let advance = |c: char, line: &mut u32, col: &mut u32| {
        if c == '\n' {
            *line += 1;
            *col = 1;
        } else {
            *col += 1;
        }
    };
    while let Some(&(offset, c)) = chars.peek() {
        let pos = Pos { line, col };
        if c.is_whitespace() {
            chars.next();
            advance(c, &mut line, &mut col);
            continue;
        }
        if c == '-' && text[offset..].starts_with("--") {
            while let Some(&(_, c)) = chars.peek() {
                if c == '\n' {
                    break;
                }
                chars.next();
                col += 1;
            }
            continue;
        }
        let tok = if c.is_ascii_alphabetic() || c == '_' {
            let mut s = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    s.push(c);
                    chars.next();
                    col += 1;
                } else {
                    break;
                }
            }
            if s.len() > MAX_TOKEN_BYTES {
                return Err((Error::new(pos, "identifier too long"), offset));
            }
            Tok::Ident(s)
        } else if c.is_ascii_digit()
            || (c == '.' && text[offset + 1..].starts_with(|d: char| d.is_ascii_digit()))
        {
            let start = offset;
            let mut end = offset;
            let mut seen_e = false;
            while let Some(&(i, c)) = chars.peek() {
                let prev = text[..i].chars().last();
                let ok = c.is_ascii_digit()
                    || c == '.'
                    || (!seen_e && (c == 'e' || c == 'E'))
                    || ((c == '+' || c == '-') && matches!(prev, Some('e') | Some('E')));
                if !ok {
                    break;
                }
                seen_e |= c == 'e' || c == 'E';
                end = i + c.len_utf8();
                chars.next();
                col += 1;
            }
            let s = &text[start..end];
            match s.parse::<f64>() {
                Ok(n) if n.is_finite() => Tok::Number(n),
                _ => return Err((Error::new(pos, format!("invalid number '{s}'")), offset)),
            }
        } else if c == '\'' || c == '"' {
            let quote = c;
            chars.next();
            col += 1;
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => {
                        let what = if quote == '\'' {
                            "string"
                        } else {
                            "quoted identifier"
                        };
                        return Err((Error::new(pos, format!("unterminated {what}")), offset));
                    }
                    Some((_, ch)) if ch == quote => {
                        col += 1;
                        if chars.peek().map(|p| p.1) == Some(quote) {
                            chars.next();
                            col += 1;
                            s.push(quote);
                        } else {
                            break;
                        }
                    }
                    Some((_, ch)) => {
                        advance(ch, &mut line, &mut col);
                        s.push(ch);
                    }
                }
                if s.len() > MAX_TOKEN_BYTES {
                    return Err((
                        Error::new(pos, format!("string longer than {MAX_TOKEN_BYTES} bytes")),
                        offset,
                    ));
                }
            }
            if quote == '\'' {
                Tok::Str(s)
            } else if s.is_empty() {
                return Err((Error::new(pos, "empty quoted identifier"), offset));
            } else {
                Tok::Quoted(s)
            }
        } else if let Some(sym) = SYMBOLS.iter().find(|s| text[offset..].starts_with(**s)) {
            for _ in 0..sym.len() {
                chars.next();
                col += 1;
            }
            Tok::Sym(if *sym == "<>" { "!=" } else { sym })
        } else {
            return Err((
                Error::new(pos, format!("unexpected character '{c}'")),
                offset,
            ));
        };
        out.push(Token { tok, pos, offset });
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: Pos { line, col },
        offset: text.len(),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn tokens_and_positions() {
        assert_eq!(
            toks("SELECT x,'it''s' -- c\n 1e-3 [.5] <> \"Q\""),
            vec![
                Tok::Ident("SELECT".into()),
                Tok::Ident("x".into()),
                Tok::Sym(","),
                Tok::Str("it's".into()),
                Tok::Number(1e-3),
                Tok::Sym("["),
                Tok::Number(0.5),
                Tok::Sym("]"),
                Tok::Sym("!="),
                Tok::Quoted("Q".into()),
                Tok::Eof
            ]
        );
        let t = tokenize("a\n  bc").unwrap();
        assert_eq!(t[1].pos, Pos { line: 2, col: 3 });
    }

    #[test]
    fn bad_input_is_an_error_with_a_position() {
        assert_eq!(tokenize("x 'abc").unwrap_err().pos, Pos { line: 1, col: 3 });
        assert!(tokenize("1e999").is_err());
        assert!(tokenize("a # b").is_err());
        assert!(tokenize("\"\"").is_err());
    }
}
