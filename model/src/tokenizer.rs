//! The tokenizer: byte-level, optionally with BPE merges (the `.vllm` `TOKN` section).
//!
//! Token ids, with `M` the number of merges and `base = 256 + M`:
//! - `0..256`: the bytes of the text (UTF-8), so every text is encodable;
//! - `256..base`: merge `k` (id `256 + k`) joins the tokens `merges[k] = (left, right)`, both
//!   ids below `256 + k`; a text is encoded by applying merges lowest `k` first (GPT-2's
//!   byte-level BPE, without its regex pre-split: a text is one word);
//! - `base + 0..4`: the specials `PAD`, `BOS`, `EOS`, `SPATIAL`.
//!
//! With no merges this is the default byte-level tokenizer: 260 tokens.
//! BPE encoding is done by the `tokenizers` crate's BPE model; bytes are mapped one-to-one to
//! the characters `U+0100 + byte` so that its string vocabulary stands for byte strings.

use std::fmt;

use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::Model as _;

use crate::error::{Error, Result};

/// Number of special tokens after the byte and merge tokens.
pub const SPECIAL_TOKENS: usize = 4;

/// The most bytes the merge tokens may spell together, per merge. A merge joins two earlier
/// tokens, so `n` merges could spell `2^n` bytes (a 40-merge `TOKN` section, 2^41); real
/// vocabularies average a few bytes a token, and this bound keeps what a tokenizer read from
/// a file takes proportional to the file.
const MAX_BYTES_PER_MERGE: usize = 64;

/// A byte-level tokenizer with optional BPE merges.
#[derive(Clone)]
pub struct Tokenizer {
    merges: Vec<(u32, u32)>,
    /// `bytes[id]` for every id below `base`: the bytes the token stands for.
    bytes: Vec<Vec<u8>>,
    /// The BPE model; `None` without merges (encoding is then the bytes themselves).
    bpe: Option<BPE>,
}

impl fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tokenizer({} merges, {} tokens)",
            self.merges.len(),
            self.vocab_size()
        )
    }
}

impl Default for Tokenizer {
    fn default() -> Self {
        Tokenizer::bytes()
    }
}

fn byte_char(b: u8) -> char {
    // U+0100..U+01FF: Latin Extended, all valid scalar values, one per byte.
    char::from_u32(0x100 + b as u32).unwrap_or('\u{100}')
}

fn byte_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| byte_char(b)).collect()
}

impl Tokenizer {
    /// The byte-level tokenizer: 256 byte tokens and the 4 specials.
    pub fn bytes() -> Self {
        Tokenizer {
            merges: Vec::new(),
            bytes: (0..=255u8).map(|b| vec![b]).collect(),
            bpe: None,
        }
    }

    /// A BPE tokenizer from its merges (see the module docs). Errors name the first merge
    /// that refers to a token not defined before it or that repeats an earlier token's bytes.
    pub fn bpe(merges: Vec<(u32, u32)>) -> Result<Self> {
        if merges.is_empty() {
            return Ok(Tokenizer::bytes());
        }
        let mut bytes: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        let mut seen = std::collections::HashSet::new();
        let budget = merges.len().saturating_mul(MAX_BYTES_PER_MERGE);
        let mut spelled = 0usize;
        for (k, &(l, r)) in merges.iter().enumerate() {
            let id = 256 + k;
            if l as usize >= id || r as usize >= id {
                return Err(Error::Tokenizer(format!(
                    "merge {k} joins tokens {l} and {r}, not both defined before token {id}"
                )));
            }
            spelled = spelled
                .saturating_add(bytes[l as usize].len())
                .saturating_add(bytes[r as usize].len());
            if spelled > budget {
                return Err(Error::Tokenizer(format!(
                    "merge {k} (token {id}) makes the merge tokens spell more than \
                     {MAX_BYTES_PER_MERGE} bytes a merge"
                )));
            }
            let joined = [&bytes[l as usize][..], &bytes[r as usize][..]].concat();
            if !seen.insert(joined.clone()) {
                return Err(Error::Tokenizer(format!(
                    "merge {k} (token {id}) repeats the bytes of an earlier merge"
                )));
            }
            bytes.push(joined);
        }
        let vocab: Vocab = bytes
            .iter()
            .enumerate()
            .map(|(id, b)| (byte_string(b), id as u32))
            .collect();
        let pairs = merges
            .iter()
            .map(|&(l, r)| {
                (
                    byte_string(&bytes[l as usize]),
                    byte_string(&bytes[r as usize]),
                )
            })
            .collect();
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, pairs)
            .build()
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(Tokenizer {
            merges,
            bytes,
            bpe: Some(bpe),
        })
    }

    /// The merges, in rank order.
    pub fn merges(&self) -> &[(u32, u32)] {
        &self.merges
    }

    /// Tokens in the vocabulary: `256 + merges + 4`.
    pub fn vocab_size(&self) -> usize {
        self.bytes.len() + SPECIAL_TOKENS
    }

    fn base(&self) -> u32 {
        self.bytes.len() as u32
    }

    /// Padding (never attended to by a real token, never a training target).
    pub fn pad(&self) -> u32 {
        self.base()
    }

    /// Begin of text: the first token of every text sequence.
    pub fn bos(&self) -> u32 {
        self.base() + 1
    }

    /// End of text: closes a text; `m_embed` reads the spatial features here.
    pub fn eos(&self) -> u32 {
        self.base() + 2
    }

    /// The spatial token: stands for one object (its embedding and position).
    pub fn spatial(&self) -> u32 {
        self.base() + 3
    }

    /// Whether `id` is one of the four specials.
    pub fn is_special(&self, id: u32) -> bool {
        id >= self.base()
    }

    /// The tokens of `text` (no specials added).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        match &self.bpe {
            None => Ok(text.bytes().map(u32::from).collect()),
            Some(_) if text.is_empty() => Ok(Vec::new()),
            Some(bpe) => Ok(bpe
                .tokenize(&byte_string(text.as_bytes()))
                .map_err(|e| Error::Tokenizer(e.to_string()))?
                .into_iter()
                .map(|t| t.id)
                .collect()),
        }
    }

    /// The bytes of `ids`; specials and unknown ids contribute nothing.
    pub fn decode(&self, ids: &[u32]) -> Vec<u8> {
        ids.iter()
            .filter_map(|&id| self.bytes.get(id as usize))
            .flatten()
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook BPE: repeatedly merge the adjacent pair of lowest rank, leftmost first.
    fn naive_bpe(merges: &[(u32, u32)], text: &[u8]) -> Vec<u32> {
        let mut ids: Vec<u32> = text.iter().map(|&b| b as u32).collect();
        loop {
            let best = ids
                .windows(2)
                .enumerate()
                .filter_map(|(i, w)| {
                    merges
                        .iter()
                        .position(|&m| m == (w[0], w[1]))
                        .map(|rank| (rank, i))
                })
                .min();
            match best {
                None => return ids,
                Some((rank, i)) => {
                    ids.splice(i..i + 2, [256 + rank as u32]);
                }
            }
        }
    }

    #[test]
    fn bytes_round_trip_and_specials_follow_them() {
        let t = Tokenizer::bytes();
        assert_eq!(t.vocab_size(), 260);
        assert_eq!(
            (t.pad(), t.bos(), t.eos(), t.spatial()),
            (256, 257, 258, 259)
        );
        let ids = t.encode("red cube ü").unwrap();
        assert_eq!(ids.len(), "red cube ü".len());
        assert_eq!(t.decode(&ids), "red cube ü".as_bytes());
        assert_eq!(t.decode(&[t.bos(), 104, 105, t.eos()]), b"hi");
    }

    #[test]
    fn bpe_matches_the_textbook_algorithm() {
        // "th", "the", "e ", "the ", "cu", "cub", "cube", "an", "ee"
        let merges = vec![
            (116, 104),
            (256, 101),
            (101, 32),
            (256, 258),
            (99, 117),
            (260, 98),
            (261, 101),
            (97, 110),
            (101, 101),
        ];
        let t = Tokenizer::bpe(merges.clone()).unwrap();
        assert_eq!(t.vocab_size(), 256 + 9 + 4);
        for text in [
            "the cube",
            "the the cubes and thee",
            "",
            "eeee e",
            "cubecube theeth",
            "ünïcode the",
        ] {
            let ids = t.encode(text).unwrap();
            assert_eq!(ids, naive_bpe(&merges, text.as_bytes()), "{text:?}");
            assert_eq!(t.decode(&ids), text.as_bytes());
        }
        assert!(t.encode("the cube").unwrap().len() < "the cube".len());
    }

    #[test]
    fn bad_merges_are_refused() {
        assert!(Tokenizer::bpe(vec![(256, 1)]).is_err());
        assert!(Tokenizer::bpe(vec![(1, 2), (1, 2)]).is_err());
        assert!(Tokenizer::bpe(vec![(97, 98), (256, 99), (97, 257)]).is_ok());
        // (a)(bc) and (ab)(c) both spell "abc".
        assert!(Tokenizer::bpe(vec![(97, 98), (98, 99), (256, 99), (97, 257)]).is_err());
    }

    #[test]
    fn merges_that_double_their_tokens_are_refused() {
        // "aa", "aaaa", "aaaaaaaa", ...: 40 merges would spell 2^41 bytes (a 421-byte
        // .vllm ran the `vllm_read` fuzz target out of memory).
        let doubling: Vec<(u32, u32)> = std::iter::once((97, 97))
            .chain((256..295).map(|id| (id, id)))
            .collect();
        let e = Tokenizer::bpe(doubling).unwrap_err().to_string();
        assert!(e.contains("bytes a merge"), "{e}");
        // Long tokens are fine while the merges' average stays in bounds: tokens of up to
        // 32 bytes among short ones.
        let mut ok: Vec<(u32, u32)> =
            vec![(97, 97), (256, 256), (257, 257), (258, 258), (259, 259)];
        ok.extend((0..11).map(|b| (98, 99 + b)));
        assert!(Tokenizer::bpe(ok).is_ok());
    }
}
