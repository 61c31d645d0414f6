//! What people do to text: typos (a letter dropped, doubled, swapped with the next, or
//! replaced by a neighbour on the keyboard), capitals, and spacing; and joining the pieces
//! into one string.

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::phrases::Piece;

/// Keyboard neighbours of each letter (QWERTY).
fn neighbours(c: char) -> &'static str {
    match c {
        'q' => "wa",
        'w' => "qes",
        'e' => "wrd",
        'r' => "etf",
        't' => "ryg",
        'y' => "tuh",
        'u' => "yij",
        'i' => "uok",
        'o' => "ipl",
        'p' => "ol",
        'a' => "qsz",
        's' => "adwx",
        'd' => "sfe",
        'f' => "dgr",
        'g' => "fht",
        'h' => "gjy",
        'j' => "hku",
        'k' => "jli",
        'l' => "ko",
        'z' => "xa",
        'x' => "zcs",
        'c' => "xvd",
        'v' => "cbf",
        'b' => "vng",
        'n' => "bmh",
        'm' => "nj",
        _ => "",
    }
}

/// One typo in a word of four letters or more (the word unchanged otherwise).
pub fn typo(word: &str, rng: &mut ChaCha8Rng) -> String {
    let mut c: Vec<char> = word.chars().collect();
    if c.len() < 4 || !c.iter().all(|ch| ch.is_ascii_lowercase()) {
        return word.to_string();
    }
    // Not the first letter: people rarely get that wrong.
    let i = rng.random_range(1..c.len());
    match rng.random_range(0..4) {
        0 => {
            c.remove(i);
        }
        1 => c.insert(i, c[i]),
        2 if i + 1 < c.len() => c.swap(i, i + 1),
        _ => {
            let n: Vec<char> = neighbours(c[i]).chars().collect();
            if let Some(&r) = n.choose(rng) {
                c[i] = r;
            }
        }
    }
    c.into_iter().collect()
}

/// Applies typos to words of text pieces with probability `rate` each, and to type
/// mentions with probability `type_rate`.
pub fn typos(pieces: &mut [Piece], rate: f64, type_rate: f64, rng: &mut ChaCha8Rng) {
    for p in pieces.iter_mut() {
        match p {
            Piece::Text(s) => {
                let words: Vec<String> = s
                    .split(' ')
                    .map(|w| {
                        if rng.random_bool(rate) {
                            typo(w, rng)
                        } else {
                            w.to_string()
                        }
                    })
                    .collect();
                *s = words.join(" ");
            }
            Piece::Type { text, .. } if rng.random_bool(type_rate) => {
                *text = typo(text, rng);
            }
            _ => {}
        }
    }
}

/// Joins pieces into a text: a space between pieces except before closing punctuation and
/// after an opening bracket.
pub fn join(pieces: &[Piece]) -> String {
    let mut out = String::new();
    for p in pieces {
        let s = match p {
            Piece::Text(s) | Piece::Num { text: s, .. } | Piece::Type { text: s, .. } => s,
            Piece::Col { text, .. } => text,
        };
        if s.is_empty() {
            continue;
        }
        let closing =
            matches!(p, Piece::Text(_)) && s.starts_with([',', '.', '?', '!', ':', ';', ')', ']']);
        let attach = closing || out.ends_with(['(', '[']) || out.is_empty();
        if !attach {
            out.push(' ');
        }
        out.push_str(s);
    }
    out
}

/// Capitals as people type them: mostly none, sometimes a capital first letter, all
/// capitals, or capitals on every word.
pub fn case(text: &str, rng: &mut ChaCha8Rng) -> String {
    match rng.random_range(0..100) {
        0..=69 => text.to_string(),
        70..=86 => {
            let mut c = text.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        }
        87..=92 => text.to_uppercase(),
        _ => text
            .split(' ')
            .map(|w| {
                let mut c = w.chars();
                match c.next() {
                    Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                    None => String::new(),
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn pieces_join_with_natural_spacing_and_typos_stay_close() {
        let p = |s: &str| Piece::Text(s.into());
        let pieces = [
            p("within"),
            Piece::Num {
                id: 0,
                value: 5.0,
                text: "5".into(),
            },
            p("of"),
            p("("),
            p("1"),
            p(","),
            p("2"),
            p(")"),
            p("?"),
        ];
        assert_eq!(join(&pieces), "within 5 of (1, 2)?");
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..100 {
            let t = typo("cylinder", &mut rng);
            assert!(
                crate::command::linking::distance(&t, "cylinder", 1).is_some(),
                "{t}"
            );
            assert!(t.starts_with('c'));
        }
        assert_eq!(typo("car", &mut rng), "car");
    }
}
