//! The command lexer: a text becomes words, punctuation and numbers, before anything is
//! learned. It is deliberately small and exact — what it recognises is listed here, and
//! everything else is left to the model as words.
//!
//! - The text is lowercased; `−` (U+2212), `–` and `—` read as `-`, `’` and `‘` as `'`.
//! - A word is a run of letters, digits, `_` and inner apostrophes that starts with a letter
//!   (`what's`, `traffic_cone`, `r2d2`); everything else but white space is one punctuation
//!   mark per character.
//! - Numbers in digits: `200`, `-3.5`, `.75`, `1e2`, `2.5e-3`, and `2k` (2000). A `-` or
//!   `+` is a sign when a digit follows it and it starts the text or follows white space or
//!   one of `( [ { , ; : = < > /`; so `100-200` is two numbers. A unit glued to a number
//!   (`300m`) is a number and a word. There are no thousands separators: `1,000` is two
//!   numbers, as a coordinate list needs.
//! - Numbers in words: `zero` … `nineteen`, the tens, `hundred`, `thousand`, `million`,
//!   `dozen`, joined as people write them (`two hundred and fifty`, `twenty-five`,
//!   `a hundred`, `a dozen`), with a decimal tail of digit words after `point`
//!   (`zero point nine`, `point five`). Digits before a scale word multiply
//!   (`2 hundred`, `1.5 thousand`).
//! - `minus` or `negative` before a number negates it; `%`, `percent`, `pct` or `per cent`
//!   after one divides it by 100.

/// One lexical item.
#[derive(Debug, Clone, PartialEq)]
pub enum Lex {
    /// A word, lowercased.
    Word(String),
    /// One punctuation character.
    Punct(char),
    /// A number (finite).
    Number(f64),
}

fn unit(w: &str) -> Option<u32> {
    const UNITS: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    UNITS.iter().position(|&u| u == w).map(|i| i as u32)
}

fn tens(w: &str) -> Option<u32> {
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    TENS.iter()
        .position(|&t| t == w)
        .map(|i| (i as u32 + 2) * 10)
}

fn scale(w: &str) -> Option<f64> {
    match w {
        "hundred" => Some(100.0),
        "thousand" => Some(1e3),
        "million" => Some(1e6),
        "dozen" => Some(12.0),
        _ => None,
    }
}

fn normalize(c: char) -> char {
    match c {
        '\u{2212}' | '\u{2013}' | '\u{2014}' => '-',
        '\u{2019}' | '\u{2018}' => '\'',
        c => c,
    }
}

/// First pass: words, punctuation and numbers in digits.
fn scan(text: &str) -> Vec<Lex> {
    let chars: Vec<char> = text.to_lowercase().chars().map(normalize).collect();
    let n = chars.len();
    let digit = |i: usize| i < n && chars[i].is_ascii_digit();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let sign_context = i == 0 || {
            let p = chars[i - 1];
            p.is_whitespace() || "([{,;:=<>/".contains(p)
        };
        let starts_number = c.is_ascii_digit()
            || (c == '.' && digit(i + 1) && !(i > 0 && chars[i - 1].is_ascii_digit()))
            || ((c == '-' || c == '+')
                && sign_context
                && (digit(i + 1) || (i + 2 < n && chars[i + 1] == '.' && digit(i + 2))));
        if starts_number {
            let start = i;
            if c == '-' || c == '+' {
                i += 1;
            }
            while digit(i) {
                i += 1;
            }
            if i < n && chars[i] == '.' && digit(i + 1) {
                i += 1;
                while digit(i) {
                    i += 1;
                }
            }
            // An exponent only when digits follow the `e` (and its sign).
            if i < n && chars[i] == 'e' {
                let mut j = i + 1;
                if j < n && (chars[j] == '-' || chars[j] == '+') {
                    j += 1;
                }
                if digit(j) {
                    i = j;
                    while digit(i) {
                        i += 1;
                    }
                }
            }
            let literal: String = chars[start..i].iter().collect();
            let mut value = literal.parse::<f64>().unwrap_or(f64::NAN);
            // `2k`: thousands, when the `k` ends the word.
            if i < n && chars[i] == 'k' && !(i + 1 < n && chars[i + 1].is_alphanumeric()) {
                value *= 1e3;
                i += 1;
            }
            if value.is_finite() {
                out.push(Lex::Number(value));
            } else {
                out.push(Lex::Word(literal));
            }
        } else if c.is_alphabetic() {
            let start = i;
            while i < n
                && (chars[i].is_alphanumeric()
                    || chars[i] == '_'
                    || (chars[i] == '\'' && i + 1 < n && chars[i + 1].is_alphabetic()))
            {
                i += 1;
            }
            out.push(Lex::Word(chars[start..i].iter().collect()));
        } else {
            out.push(Lex::Punct(c));
            i += 1;
        }
    }
    out
}

fn word(items: &[Lex], i: usize) -> Option<&str> {
    match items.get(i) {
        Some(Lex::Word(w)) => Some(w),
        _ => None,
    }
}

/// A number spelled in words starting at `i`: its value and how many items it took.
fn number_words(items: &[Lex], i: usize) -> Option<(f64, usize)> {
    #[derive(PartialEq, Clone, Copy)]
    enum Last {
        Nothing,
        Unit,
        Tens,
        Hundred,
        Scale,
    }
    let is_unit = |j: usize| word(items, j).and_then(unit).is_some();
    let is_number_word =
        |j: usize| word(items, j).is_some_and(|w| unit(w).is_some() || tens(w).is_some());
    let (mut total, mut current) = (0f64, 0f64);
    let mut last = Last::Nothing;
    let mut j = i;
    if matches!(word(items, j), Some("a" | "an")) && word(items, j + 1).and_then(scale).is_some() {
        current = 1.0;
        last = Last::Unit;
        j += 1;
    }
    loop {
        let w = word(items, j);
        if let Some(u) = w.and_then(unit) {
            if last == Last::Unit || (last == Last::Tens && u >= 10) {
                break;
            }
            current += u as f64;
            last = Last::Unit;
        } else if let Some(t) = w.and_then(tens) {
            if matches!(last, Last::Unit | Last::Tens) || current % 100.0 != 0.0 {
                break;
            }
            current += t as f64;
            last = Last::Tens;
        } else if let Some(s) = w.and_then(scale) {
            if last == Last::Nothing {
                break;
            }
            if s >= 1e3 {
                total += current.max(1.0) * s;
                current = 0.0;
                last = Last::Scale;
            } else {
                if current >= 100.0 || current == 0.0 {
                    break;
                }
                current *= s;
                last = Last::Hundred;
            }
        } else if w == Some("and")
            && matches!(last, Last::Hundred | Last::Scale)
            && is_number_word(j + 1)
        {
            // "two hundred and fifty"
        } else if items.get(j) == Some(&Lex::Punct('-')) && last == Last::Tens && is_unit(j + 1) {
            // "twenty-five"
        } else {
            break;
        }
        j += 1;
    }
    // A decimal tail: "point" and digit words.
    let mut value = total + current;
    if word(items, j) == Some("point") && word(items, j + 1).and_then(unit).is_some_and(|d| d < 10)
    {
        j += 1;
        let mut scale = 0.1;
        while let Some(d) = word(items, j).and_then(unit).filter(|&d| d < 10) {
            value += d as f64 * scale;
            scale /= 10.0;
            j += 1;
        }
        // Round away the binary noise of the sum: "point nine" is 0.9.
        value = format!("{value:.12}").parse().unwrap_or(value);
        last = Last::Unit;
    }
    (last != Last::Nothing).then_some((value, j - i))
}

/// Lexes a text (module docs).
pub fn lex(text: &str) -> Vec<Lex> {
    let raw = scan(text);
    // Numbers in words, and digits before a scale word.
    let mut items = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if let Some((v, used)) = number_words(&raw, i) {
            items.push(Lex::Number(v));
            i += used;
        } else if let (Lex::Number(v), Some(s)) = (&raw[i], word(&raw, i + 1).and_then(scale)) {
            items.push(Lex::Number(v * s));
            i += 2;
        } else {
            items.push(raw[i].clone());
            i += 1;
        }
    }
    // Signs and percentages.
    let mut out: Vec<Lex> = Vec::with_capacity(items.len());
    let mut i = 0;
    while i < items.len() {
        let mut item = items[i].clone();
        let mut used = 1;
        if let (Some("minus" | "negative"), Some(Lex::Number(v))) =
            (word(&items, i), items.get(i + 1))
        {
            item = Lex::Number(-v);
            used = 2;
        }
        if let Lex::Number(v) = item {
            let after = i + used;
            let percent = match (items.get(after), word(&items, after)) {
                (Some(Lex::Punct('%')), _) => 1,
                (_, Some("percent" | "pct" | "percents")) => 1,
                (_, Some("per")) if word(&items, after + 1) == Some("cent") => 2,
                _ => 0,
            };
            if percent > 0 {
                item = Lex::Number(v / 100.0);
                used += percent;
            }
        }
        out.push(item);
        i += used;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(text: &str) -> Vec<f64> {
        lex(text)
            .into_iter()
            .filter_map(|l| match l {
                Lex::Number(v) => Some(v),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn digits_signs_and_separators() {
        assert_eq!(
            numbers("within 200 of (100, -50, 0)"),
            [200.0, 100.0, -50.0, 0.0]
        );
        assert_eq!(numbers("100-200 units, x=-5"), [100.0, 200.0, -5.0]);
        assert_eq!(
            numbers("1e2 .75 2.5e-3 2k 300m"),
            [100.0, 0.75, 0.0025, 2000.0, 300.0]
        );
        assert_eq!(numbers("−100 and 1,000"), [-100.0, 1.0, 0.0]);
        assert_eq!(numbers("1e999"), Vec::<f64>::new());
        assert_eq!(
            lex("300m, OK?"),
            [
                Lex::Number(300.0),
                Lex::Word("m".into()),
                Lex::Punct(','),
                Lex::Word("ok".into()),
                Lex::Punct('?')
            ]
        );
    }

    #[test]
    fn number_words() {
        let cases: &[(&str, &[f64])] = &[
            ("two hundred and fifty units", &[250.0]),
            ("twenty-five cubes", &[25.0]),
            ("a hundred", &[100.0]),
            ("a dozen spheres", &[12.0]),
            ("one hundred twenty", &[120.0]),
            ("three thousand four hundred", &[3400.0]),
            ("zero point nine", &[0.9]),
            ("point five", &[0.5]),
            ("2 hundred", &[200.0]),
            ("1.5 thousand", &[1500.0]),
            ("minus 100, negative fifty", &[-100.0, -50.0]),
            ("90% or sixty percent or 5 per cent", &[0.9, 0.6, 0.05]),
            ("one two", &[1.0, 2.0]),
            ("the nearest one", &[1.0]),
            ("a cube and an orange", &[]),
            ("hundreds of trees", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(numbers(text), *want, "{text}");
        }
    }

    #[test]
    fn words_keep_apostrophes_and_underscores() {
        assert_eq!(
            lex("What's near Traffic_Cone 'x'"),
            [
                Lex::Word("what's".into()),
                Lex::Word("near".into()),
                Lex::Word("traffic_cone".into()),
                Lex::Punct('\''),
                Lex::Word("x".into()),
                Lex::Punct('\'')
            ]
        );
    }
}
