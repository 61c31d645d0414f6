//! The command model's tokenizer and prompts: the crate's byte-level BPE [`Tokenizer`] with
//! the symbol merges first (ids `256 + k`, see `symbols.rs`) and text merges learned from
//! the training corpus after them; and [`Prompt`], a linked text as token ids with its
//! [`Slots`].
//!
//! A prompt is `[BOS] item … [SEP]`: a word is the BPE tokens of `" " + word`, a punctuation
//! mark its own tokens, a number the next number slot (`MoreNumbers` past the last), a type
//! the slot of its first mention (a new one for a type not seen before; `MoreTypes` past the
//! last) followed by `Plural` when written in the plural, a numeric column likewise.

use std::collections::HashMap;

use tokenizers::models::bpe::{BpeTrainer, BPE};
use tokenizers::Trainer as _;

use super::catalog::Catalog;
use super::grammar::Slots;
use super::linking::Item;
use super::symbols::{symbol_merges, Sym, COLUMN_SLOTS, NUMBER_SLOTS, SYMBOLS, TYPE_SLOTS};
use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;

/// A text merge as the two byte strings it joins.
pub type ByteMerge = (Vec<u8>, Vec<u8>);

/// The command tokenizer: the symbol merges, then `text` (each part must be a byte or an
/// earlier merge's bytes).
pub fn tokenizer(text: &[ByteMerge]) -> Result<Tokenizer> {
    let mut merges = symbol_merges();
    let mut id_of: HashMap<Vec<u8>, u32> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
    for (k, &(l, r)) in merges.iter().enumerate() {
        id_of.insert(vec![l as u8, r as u8], 256 + k as u32);
    }
    for (k, (l, r)) in text.iter().enumerate() {
        let id = |part: &Vec<u8>| {
            id_of.get(part).copied().ok_or_else(|| {
                Error::Tokenizer(format!(
                    "text merge {k} joins bytes no earlier token spells"
                ))
            })
        };
        merges.push((id(l)?, id(r)?));
        id_of.insert([&l[..], &r[..]].concat(), (256 + SYMBOLS + k) as u32);
    }
    Tokenizer::bpe(merges)
}

/// The text merges of a command tokenizer (every merge after the symbol merges), as byte
/// strings; an error when its first merges are not the symbol merges.
pub fn text_merges(tok: &Tokenizer) -> Result<Vec<ByteMerge>> {
    let merges = tok.merges();
    if merges.len() < SYMBOLS || merges[..SYMBOLS] != symbol_merges()[..] {
        return Err(Error::Tokenizer(
            "the tokenizer does not start with the command symbols".into(),
        ));
    }
    Ok(merges[SYMBOLS..]
        .iter()
        .map(|&(l, r)| (tok.decode(&[l]), tok.decode(&[r])))
        .collect())
}

fn byte_char(b: u8) -> char {
    char::from_u32(0x100 + b as u32).unwrap_or('\u{100}')
}

fn char_byte(c: char) -> Option<u8> {
    (c as u32)
        .checked_sub(0x100)
        .and_then(|b| u8::try_from(b).ok())
}

/// Learns up to `count` BPE merges from word counts (each word as it is encoded:
/// `" " + word`; pairs seen fewer than twice are not merged), with the `tokenizers` crate's
/// trainer over the byte alphabet. Deterministic.
pub fn learn_merges(words: &HashMap<String, u64>, count: usize) -> Result<Vec<ByteMerge>> {
    let alphabet = (0..=255u8).map(byte_char).collect();
    let mut trainer = BpeTrainer::builder()
        .vocab_size(256 + count)
        .min_frequency(2)
        .initial_alphabet(alphabet)
        .show_progress(false)
        .build();
    let mut sorted: Vec<(&String, &u64)> = words.iter().collect();
    sorted.sort();
    let fed: Vec<String> = sorted
        .iter()
        .flat_map(|(w, &n)| {
            let mapped: String = w.bytes().map(byte_char).collect();
            std::iter::repeat_n(mapped, n as usize)
        })
        .collect();
    trainer
        .feed(fed.iter(), |s| Ok(vec![s.to_owned()]))
        .map_err(|e| Error::Tokenizer(e.to_string()))?;
    let mut bpe = BPE::default();
    trainer
        .train(&mut bpe)
        .map_err(|e| Error::Tokenizer(e.to_string()))?;
    let value = serde_json::to_value(&bpe).map_err(|e| Error::Tokenizer(e.to_string()))?;
    let pairs = value["merges"]
        .as_array()
        .ok_or_else(|| Error::Tokenizer("the trained BPE has no merges".into()))?;
    let bytes = |v: &serde_json::Value| -> Result<Vec<u8>> {
        v.as_str()
            .ok_or_else(|| Error::Tokenizer("a merge that is not a string".into()))?
            .chars()
            .map(|c| {
                char_byte(c).ok_or_else(|| Error::Tokenizer("a merge outside the bytes".into()))
            })
            .collect()
    };
    pairs
        .iter()
        .map(|p| Ok((bytes(&p[0])?, bytes(&p[1])?)))
        .collect()
}

/// A text read for the model: its token ids and its slots.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// `[BOS] … [SEP]`.
    pub ids: Vec<u32>,
    /// The numbers, types and columns its slot tokens stand for.
    pub slots: Slots,
}

/// The prompt of linked `items` (module docs).
pub fn prompt(tok: &Tokenizer, items: &[Item], catalog: &Catalog) -> Result<Prompt> {
    let mut ids = vec![tok.bos()];
    let mut slots = Slots::default();
    let mut type_slot: HashMap<usize, u8> = HashMap::new();
    let mut column_slot: HashMap<usize, u8> = HashMap::new();
    for item in items {
        match item {
            Item::Word(w) => ids.extend(tok.encode(&format!(" {w}"))?),
            Item::Punct(c) => ids.extend(tok.encode(&c.to_string())?),
            Item::Number(v) => {
                if slots.numbers.len() < NUMBER_SLOTS {
                    ids.push(Sym::Num(slots.numbers.len() as u8).token());
                    slots.numbers.push(*v);
                } else {
                    ids.push(Sym::MoreNumbers.token());
                }
            }
            Item::Type { index, plural } => {
                let slot = match type_slot.get(index) {
                    Some(&k) => Some(k),
                    None if slots.types.len() < TYPE_SLOTS => {
                        let k = slots.types.len() as u8;
                        slots.types.push(catalog.types[*index].clone());
                        type_slot.insert(*index, k);
                        Some(k)
                    }
                    None => None,
                };
                ids.push(slot.map_or(Sym::MoreTypes, Sym::Type).token());
                if *plural {
                    ids.push(Sym::Plural.token());
                }
            }
            Item::Column(index) => {
                let name = &catalog.columns[*index].name;
                let slot = match column_slot.get(index) {
                    Some(&k) => Some(k),
                    None if slots.columns.len() < COLUMN_SLOTS => {
                        let k = slots.columns.len() as u8;
                        slots.columns.push(name.clone());
                        column_slot.insert(*index, k);
                        Some(k)
                    }
                    None => None,
                };
                match slot {
                    Some(k) => ids.push(Sym::Col(k).token()),
                    None => ids.extend(tok.encode(&format!(" {}", name.to_lowercase()))?),
                }
            }
        }
    }
    ids.push(Sym::Sep.token());
    Ok(Prompt { ids, slots })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::lexer::lex;
    use crate::command::linking::link;

    #[test]
    fn learned_merges_build_a_tokenizer_that_round_trips() {
        let mut words = HashMap::new();
        for (w, n) in [(" within", 50), (" units", 40), (" of", 60), (" the", 80)] {
            words.insert(w.to_string(), n);
        }
        let merges = learn_merges(&words, 12).unwrap();
        assert_eq!(merges.len(), 12);
        assert_eq!(merges, learn_merges(&words, 12).unwrap());
        let tok = tokenizer(&merges).unwrap();
        assert_eq!(tok.vocab_size(), 256 + SYMBOLS + 12 + 4);
        assert_eq!(text_merges(&tok).unwrap(), merges);
        let ids = tok.encode(" the units").unwrap();
        assert!(ids.len() < " the units".len());
        assert!(ids.iter().all(|&i| Sym::from_token(i).is_none()));
        assert_eq!(tok.decode(&ids), b" the units");
        assert!(text_merges(&Tokenizer::bytes()).is_err());
    }

    #[test]
    fn prompts_number_their_slots_by_first_mention() {
        let tok = tokenizer(&[]).unwrap();
        let catalog = Catalog::new("m", ["sphere", "cube"]).with_column("mass", true);
        let items = link(&lex("cubes near 1, 2 and a sphere, cube mass 3"), &catalog);
        let p = prompt(&tok, &items, &catalog).unwrap();
        assert_eq!(p.slots.types, ["cube", "sphere"]);
        assert_eq!(p.slots.numbers, [1.0, 2.0, 3.0]);
        assert_eq!(p.slots.columns, ["mass"]);
        let syms: Vec<Sym> = p.ids.iter().filter_map(|&i| Sym::from_token(i)).collect();
        assert_eq!(
            syms,
            [
                Sym::Type(0),
                Sym::Plural,
                Sym::Num(0),
                Sym::Num(1),
                Sym::Type(1),
                Sym::Type(0),
                Sym::Col(0),
                Sym::Num(2),
                Sym::Sep
            ]
        );
        assert_eq!(p.ids[0], tok.bos());
    }
}
