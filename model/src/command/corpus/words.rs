//! The generator's vocabulary: object words (`data/object_words.txt`), column names,
//! plurals, numbers spelled out, and the surfaces of numbers, units and centres.

use std::sync::OnceLock;

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The object words (singular; a space joins the words of a name).
pub fn object_words() -> &'static [&'static str] {
    static WORDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| {
        include_str!("../../../data/object_words.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Numeric column names a generated map may have.
pub const NUMERIC_COLUMNS: [&str; 24] = [
    "mass",
    "speed",
    "weight",
    "temperature",
    "height",
    "width",
    "length",
    "age",
    "battery",
    "price",
    "volume",
    "altitude",
    "pressure",
    "voltage",
    "power",
    "priority",
    "capacity",
    "energy",
    "load",
    "humidity",
    "cost",
    "top_speed",
    "fuel_level",
    "signal_strength",
];

/// Text column names a generated map may have (never compared).
pub const TEXT_COLUMNS: [&str; 5] = ["label", "color", "owner", "status", "name"];

const IRREGULAR_PLURALS: [(&str, &str); 12] = [
    ("torus", "tori"),
    ("cactus", "cacti"),
    ("mouse", "mice"),
    ("knife", "knives"),
    ("leaf", "leaves"),
    ("wolf", "wolves"),
    ("shelf", "shelves"),
    ("octopus", "octopi"),
    ("bus", "buses"),
    ("lens", "lenses"),
    ("fungus", "fungi"),
    ("person", "people"),
];

/// The plural of an object word (its last word for a name of several).
pub fn plural(word: &str) -> String {
    if let Some((head, last)) = word.rsplit_once(' ') {
        return format!("{head} {}", plural(last));
    }
    if let Some((_, p)) = IRREGULAR_PLURALS.iter().find(|(s, _)| *s == word) {
        return p.to_string();
    }
    let vowel = |c: u8| b"aeiou".contains(&c);
    let b = word.as_bytes();
    if word.ends_with('y') && b.len() > 1 && !vowel(b[b.len() - 2]) {
        return format!("{}ies", &word[..word.len() - 1]);
    }
    if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|e| word.ends_with(e))
    {
        return format!("{word}es");
    }
    format!("{word}s")
}

const ONES: [&str; 20] = [
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
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// `n` (below 10,000) in words, in one of the ways people write it.
pub fn spell(n: u32, rng: &mut ChaCha8Rng) -> String {
    let below_100 = |n: u32, rng: &mut ChaCha8Rng| -> String {
        if n < 20 {
            ONES[n as usize].to_string()
        } else if n.is_multiple_of(10) {
            TENS[(n / 10) as usize].to_string()
        } else {
            let sep = if rng.random_bool(0.6) { "-" } else { " " };
            format!(
                "{}{sep}{}",
                TENS[(n / 10) as usize],
                ONES[(n % 10) as usize]
            )
        }
    };
    if n < 100 {
        return below_100(n, rng);
    }
    let mut parts = Vec::new();
    let (th, rest) = (n / 1000, n % 1000);
    if th > 0 {
        let lead = if th == 1 && rng.random_bool(0.3) {
            "a".to_string()
        } else {
            below_100(th, rng)
        };
        parts.push(format!("{lead} thousand"));
    }
    let (h, r) = (rest / 100, rest % 100);
    if h > 0 {
        let lead = if h == 1 && th == 0 && rng.random_bool(0.4) {
            "a".to_string()
        } else {
            ONES[h as usize].to_string()
        };
        parts.push(format!("{lead} hundred"));
    }
    if r > 0 {
        if !parts.is_empty() && rng.random_bool(0.5) {
            parts.push("and".into());
        }
        parts.push(below_100(r, rng));
    }
    parts.join(" ")
}

/// A number as digits: Rust's shortest form, `-0` as `0`.
pub fn digits(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else {
        format!("{v}")
    }
}

/// Unit words after a distance ("" most often).
pub const UNITS: [&str; 12] = [
    "",
    "",
    "",
    "",
    "units",
    "units",
    "units",
    "unit",
    "meters",
    "metres",
    "m",
    "world units",
];

/// Phrases for the centre of the map.
pub const ORIGIN: [&str; 16] = [
    "the origin",
    "origin",
    "the origin",
    "the center",
    "center",
    "the centre",
    "centre",
    "the middle",
    "the center of the map",
    "the middle of the map",
    "the map's center",
    "the map origin",
    "the central point",
    "the world origin",
    "the origin point",
    "the centre of the scene",
];

/// Words before a point's coordinates ("" most often).
pub const POINT_WORDS: [&str; 14] = [
    "",
    "",
    "",
    "",
    "",
    "point",
    "the point",
    "position",
    "location",
    "coordinates",
    "the coordinates",
    "the location",
    "the position",
    "pos",
];

/// Picks one of `items`.
pub fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn plurals_and_spelled_numbers() {
        assert_eq!(plural("box"), "boxes");
        assert_eq!(plural("battery"), "batteries");
        assert_eq!(plural("key"), "keys");
        assert_eq!(plural("traffic cone"), "traffic cones");
        assert_eq!(plural("torus"), "tori");
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for n in [0, 7, 40, 99, 100, 250, 1000, 1234, 9999] {
            let s = spell(n, &mut rng);
            let lexed = crate::command::lexer::lex(&s);
            assert_eq!(
                lexed,
                [crate::command::lexer::Lex::Number(n as f64)],
                "{n}: {s}"
            );
        }
        assert!(object_words().len() > 500);
    }
}
