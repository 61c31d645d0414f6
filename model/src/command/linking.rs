//! Linking a lexed text to the catalog: which words name one of the map's types or numeric
//! columns. The model never sees those words, only a slot token (and whether the type was
//! written in the plural), so it copies types it has never seen.
//!
//! A catalog name is split into lowercase parts at `_`, `-`, spaces and lower-to-upper case
//! changes (`traffic_cone`, `TrafficCone` and `traffic cone` are all `traffic cone`), and
//! its last part may be in any of its singular forms (below). A run of one to four words of
//! the text (a `-` or `_` may join them) matches a name when, with its last word in one of
//! its singular forms, it equals the name's parts so, or, as one word, the name's parts run
//! together (`trafficcones`). Failing
//! an exact match, a typo is forgiven: an optimal-string-alignment distance of 1 for names
//! of 4 to 7 letters and 2 from 8 letters on, when the text's words are not common English
//! or command words (`data/command_words.txt`: "true" is not a typo of `tree`) and exactly
//! one name is that close. Longer runs are tried first; a type is tried before a column.
//! The singular forms of a word: itself, its irregular singular (`tori`, `people`, `knives`,
//! ...), and what dropping `-ies` (for `-y`), `-es` or `-s` (not `-ss`) leaves, so that
//! `shoes`, `boxes` and `cubes` all find their names. Typos are measured against the one
//! best guess at the singular: the irregular one, else `-ies` → `-y`,
//! `-(x|ch|sh|ss|z|o)es` → drop `es`, `-s` (not `-ss`, `-us`, `-is`) → drop `s`. A type
//! counts as written in the plural when that guess differs from the word.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use super::catalog::Catalog;
use super::lexer::Lex;

/// One linked item.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A word that names nothing in the catalog.
    Word(String),
    /// A punctuation character.
    Punct(char),
    /// A number.
    Number(f64),
    /// Catalog type `index`, written in the plural or not.
    Type {
        /// Index into `Catalog::types`.
        index: usize,
        /// The text's word was plural.
        plural: bool,
    },
    /// Catalog column `index` (numeric).
    Column(usize),
}

/// Common English and command words: never read as a typo of a catalog name.
pub fn known_words() -> &'static HashSet<&'static str> {
    static WORDS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| {
        include_str!("../../data/command_words.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

const IRREGULAR: [(&str, &str); 30] = [
    ("tori", "torus"),
    ("cacti", "cactus"),
    ("fungi", "fungus"),
    ("octopi", "octopus"),
    ("radii", "radius"),
    ("mice", "mouse"),
    ("geese", "goose"),
    ("people", "person"),
    ("children", "child"),
    ("men", "man"),
    ("women", "woman"),
    ("feet", "foot"),
    ("teeth", "tooth"),
    ("oxen", "ox"),
    ("dice", "die"),
    ("knives", "knife"),
    ("lives", "life"),
    ("wives", "wife"),
    ("leaves", "leaf"),
    ("loaves", "loaf"),
    ("halves", "half"),
    ("shelves", "shelf"),
    ("wolves", "wolf"),
    ("calves", "calf"),
    ("indices", "index"),
    ("vertices", "vertex"),
    ("matrices", "matrix"),
    ("buses", "bus"),
    ("gases", "gas"),
    ("lenses", "lens"),
];

/// The singular of an English noun (module docs); unchanged when it does not look plural.
pub fn singular(word: &str) -> String {
    if let Some((_, s)) = IRREGULAR.iter().find(|(p, _)| *p == word) {
        return s.to_string();
    }
    let n = word.len();
    if n > 4 && word.ends_with("ies") {
        return format!("{}y", &word[..n - 3]);
    }
    if n > 3 {
        for end in ["xes", "ches", "shes", "sses", "zes", "oes"] {
            if word.ends_with(end) {
                return word[..n - 2].to_string();
            }
        }
    }
    if n > 2
        && word.ends_with('s')
        && !word.ends_with("ss")
        && !word.ends_with("us")
        && !word.ends_with("is")
    {
        return word[..n - 1].to_string();
    }
    word.to_string()
}

/// The forms a word may have as a singular: itself, its irregular singular, and what
/// dropping `-s`, `-es` or `-ies` (for `-y`) leaves; in that order, without repeats.
pub fn forms(word: &str) -> Vec<String> {
    let mut out = vec![word.to_string()];
    let mut add = |f: String| {
        if f.len() > 1 && !out.contains(&f) {
            out.push(f);
        }
    };
    if let Some((_, s)) = IRREGULAR.iter().find(|(p, _)| *p == word) {
        add(s.to_string());
    }
    if let Some(stem) = word.strip_suffix("ies") {
        add(format!("{stem}y"));
    }
    if let Some(stem) = word.strip_suffix("es") {
        add(stem.to_string());
    }
    if let Some(stem) = word.strip_suffix('s').filter(|_| !word.ends_with("ss")) {
        add(stem.to_string());
    }
    out
}

/// The optimal string alignment distance (Levenshtein with adjacent transpositions) between
/// `a` and `b`, or `None` when it is more than `max` (cut short).
pub fn distance(a: &str, b: &str, max: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for (j, cell) in d.iter_mut().take(w).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        d[i * w] = i;
        let mut row_min = i;
        for j in 1..w {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
    }
    Some(d[a.len() * w + b.len()]).filter(|&v| v <= max)
}

/// The typo distance a name of `len` characters forgives.
fn tolerance(len: usize) -> usize {
    match len {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// A catalog name's lowercase parts (module docs), as written.
pub fn name_parts(name: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c == '_' || c == '-' || c.is_whitespace() {
            if !cur.is_empty() {
                parts.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            parts.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    parts
}

/// The names of one kind (types or columns), indexed for matching.
struct Names {
    /// Key (parts joined by a space, or run together) → index; the first name in catalog
    /// order keeps a key that several share.
    exact: HashMap<String, usize>,
    /// Every (key, index, part count), for typo matching.
    keys: Vec<(String, usize, usize)>,
}

impl Names {
    fn new<'a>(names: impl Iterator<Item = (usize, &'a str)>) -> Self {
        let mut exact: HashMap<String, usize> = HashMap::new();
        let mut keys = Vec::new();
        for (index, name) in names {
            let mut parts = name_parts(name);
            let Some(last) = parts.pop() else { continue };
            // Every singular form of the last part is a key, as spaced words and run together.
            for f in forms(&last) {
                let mut all = parts.clone();
                all.push(f);
                exact.entry(all.join(" ")).or_insert(index);
                exact.entry(all.concat()).or_insert(index);
            }
            parts.push(singular(&last));
            keys.push((parts.join(" "), index, parts.len()));
            if parts.len() > 1 {
                keys.push((parts.concat(), index, 1));
            }
        }
        Names { exact, keys }
    }

    /// The name that `words` (already lowercase) spell, if any: exactly, or with `fuzzy`
    /// within the typo tolerance of exactly one name.
    fn find(&self, words: &[String], fuzzy: bool) -> Option<usize> {
        let key = words.join(" ");
        if let Some(&i) = self.exact.get(&key) {
            return Some(i);
        }
        if !fuzzy {
            return None;
        }
        let mut best: Option<(usize, usize)> = None; // (distance, index)
        let mut tie = false;
        for (k, index, n) in &self.keys {
            if *n != words.len() {
                continue;
            }
            let max = tolerance(k.chars().count());
            if max == 0 {
                continue;
            }
            if let Some(d) = distance(&key, k, max) {
                match best {
                    Some((bd, bi)) if d == bd && bi != *index => tie = true,
                    Some((bd, _)) if d >= bd => {}
                    _ => {
                        best = Some((d, *index));
                        tie = false;
                    }
                }
            }
        }
        best.filter(|_| !tie).map(|(_, i)| i)
    }
}

/// Links `lexed` against `catalog` (module docs).
pub fn link(lexed: &[Lex], catalog: &Catalog) -> Vec<Item> {
    let types = Names::new(catalog.types.iter().map(String::as_str).enumerate());
    let columns = Names::new(
        catalog
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.numeric)
            .map(|(i, c)| (i, c.name.as_str())),
    );
    let known = known_words();
    let mut out = Vec::with_capacity(lexed.len());
    let mut i = 0;
    while i < lexed.len() {
        let Lex::Word(_) = &lexed[i] else {
            out.push(match &lexed[i] {
                Lex::Punct(c) => Item::Punct(*c),
                Lex::Number(v) => Item::Number(*v),
                Lex::Word(w) => Item::Word(w.clone()),
            });
            i += 1;
            continue;
        };
        // Up to four words from i, with the lexed items each one ends at.
        let mut run: Vec<(&str, usize)> = Vec::new();
        let mut j = i;
        while run.len() < 4 {
            match lexed.get(j) {
                Some(Lex::Word(w)) => {
                    run.push((w, j + 1));
                    j += 1;
                }
                _ => break,
            }
            if matches!(lexed.get(j), Some(Lex::Punct('-' | '_')))
                && matches!(lexed.get(j + 1), Some(Lex::Word(_)))
            {
                j += 1;
            }
        }
        let mut linked = None;
        'runs: for n in (1..=run.len()).rev() {
            let raw: Vec<String> = run[..n]
                .iter()
                .flat_map(|(w, _)| w.split('_').filter(|p| !p.is_empty()))
                .map(str::to_string)
                .collect();
            let Some(last) = raw.last() else { continue };
            let plural = singular(last) != *last;
            let with_last = |f: &str| {
                let mut w = raw.clone();
                if let Some(l) = w.last_mut() {
                    *l = f.to_string();
                }
                w
            };
            let candidates: Vec<Vec<String>> = forms(last).iter().map(|f| with_last(f)).collect();
            let singular_words = with_last(&singular(last));
            let fuzzy = raw.iter().any(|w| !known.contains(w.as_str()));
            for (names, is_type) in [(&types, true), (&columns, false)] {
                let found = candidates
                    .iter()
                    .find_map(|c| names.find(c, false))
                    .or_else(|| names.find(&singular_words, fuzzy));
                if let Some(index) = found {
                    linked = Some((
                        if is_type {
                            Item::Type { index, plural }
                        } else {
                            Item::Column(index)
                        },
                        run[n - 1].1,
                    ));
                    break 'runs;
                }
            }
        }
        match linked {
            Some((item, next)) => {
                out.push(item);
                i = next;
            }
            None => {
                if let Lex::Word(w) = &lexed[i] {
                    out.push(Item::Word(w.clone()));
                }
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::lexer::lex;

    fn linked(text: &str, catalog: &Catalog) -> Vec<Item> {
        link(&lex(text), catalog)
    }

    fn ty(index: usize, plural: bool) -> Item {
        Item::Type { index, plural }
    }

    #[test]
    fn plurals_irregulars_and_case() {
        assert_eq!(singular("cubes"), "cube");
        assert_eq!(singular("boxes"), "box");
        assert_eq!(singular("benches"), "bench");
        assert_eq!(singular("batteries"), "battery");
        assert_eq!(singular("tori"), "torus");
        assert_eq!(singular("glass"), "glass");
        assert_eq!(singular("torus"), "torus");
        assert_eq!(singular("axis"), "axis");
        assert_eq!(name_parts("TrafficCone"), ["traffic", "cone"]);
        assert_eq!(name_parts("traffic_cones"), ["traffic", "cones"]);
        assert_eq!(forms("boxes"), ["boxes", "box", "boxe"]);
        assert_eq!(forms("tori"), ["tori", "torus"]);
        assert_eq!(name_parts("Drone"), ["drone"]);
        let c = Catalog::new("m", ["cube", "Drone", "torus", "traffic_cone", "box"]);
        assert_eq!(
            linked("The CUBES, drones and tori", &c),
            [
                Item::Word("the".into()),
                ty(0, true),
                Item::Punct(','),
                ty(1, true),
                Item::Word("and".into()),
                ty(2, true)
            ]
        );
        assert_eq!(linked("traffic cones", &c), [ty(3, true)]);
        assert_eq!(linked("a traffic-cone", &c)[1], ty(3, false));
        assert_eq!(linked("trafficcones", &c), [ty(3, true)]);
        assert_eq!(linked("boxes", &c), [ty(4, true)]);
    }

    #[test]
    fn typos_are_forgiven_only_when_unambiguous_and_unknown() {
        let c = Catalog::new("m", ["sphere", "cylinder", "tree", "cone", "cane"]);
        assert_eq!(linked("sphers", &c), [ty(0, true)]);
        assert_eq!(linked("cylnders", &c), [ty(1, true)]);
        assert_eq!(linked("cilynder", &c), [ty(1, false)]);
        // "true" is a word, not a typo of "tree"; "cine" is as close to cone as to cane.
        assert_eq!(linked("true", &c), [Item::Word("true".into())]);
        assert_eq!(linked("cine", &c), [Item::Word("cine".into())]);
        assert_eq!(distance("abcd", "abdc", 1), Some(1));
        assert_eq!(distance("kitten", "sitting", 2), None);
        assert_eq!(distance("kitten", "sitting", 3), Some(3));
    }

    #[test]
    fn numeric_columns_link_after_types() {
        let c = Catalog::new("m", ["robot"])
            .with_column("top_speed", true)
            .with_column("label", false);
        assert_eq!(
            linked("robots with top speed over 3 and label x", &c),
            [
                ty(0, true),
                Item::Word("with".into()),
                Item::Column(0),
                Item::Word("over".into()),
                Item::Number(3.0),
                Item::Word("and".into()),
                Item::Word("label".into()),
                Item::Word("x".into())
            ]
        );
    }
}
