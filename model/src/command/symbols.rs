//! The command model's symbols: the pieces of a statement it writes (keywords and slot
//! references), the slots a text offers (its numbers, the catalog types and columns it
//! mentions), and where they sit in the V-LLM's vocabulary.
//!
//! Every symbol is one token of the model's byte-level BPE tokenizer: symbol `k` is the
//! merge of the bytes `0xF8` and `k`, so its token id is `256 + k` (the symbol merges come
//! first, before the text merges). `0xF8` never occurs in UTF-8, so no text encodes to a
//! symbol: the input's slot tokens and the statement's symbols cannot be forged by typing.
//! The end of a statement is the tokenizer's `EOS`.
//!
//! The same token stands for a slot in the text and in the statement: the text
//! "cubes within ⟨N1⟩ of ⟨N2⟩, ⟨N3⟩, ⟨N4⟩" is answered by `… WITHIN POINT ⟨N2⟩ ⟨N3⟩ ⟨N4⟩ ⟨N1⟩`,
//! so copying a number is predicting the id the model read (a pointer), never spelling
//! digits.

/// Numbers of a text that get a slot (later ones read as [`Sym::MoreNumbers`]).
pub const NUMBER_SLOTS: usize = 12;
/// Distinct catalog types of a text that get a slot (later ones read as
/// [`Sym::MoreTypes`]).
pub const TYPE_SLOTS: usize = 8;
/// Distinct numeric catalog columns of a text that get a slot (later ones read as words).
pub const COLUMN_SLOTS: usize = 4;

/// The byte every symbol token starts with: never part of valid UTF-8.
pub const SYMBOL_BYTE: u8 = 0xF8;

/// One symbol. The keywords are spelled in docs/ask.md; [`Sym::Type`], [`Sym::Num`] and
/// [`Sym::Col`] are slots (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sym {
    /// Ends the text, starts the statement (input only).
    Sep,
    /// A number past the last number slot (input only).
    MoreNumbers,
    /// A catalog type past the last type slot (input only).
    MoreTypes,
    /// The type just before was written in the plural (input only): "the cubes" is not "the
    /// cube".
    Plural,
    /// "This is not a question about the map" (the whole statement).
    Decline,
    /// `SELECT *`.
    SelectRows,
    /// `SELECT COUNT(*)`.
    SelectCount,
    /// `SELECT type, COUNT(*) … GROUP BY type`.
    SelectCountByType,
    /// `WHERE`.
    Where,
    /// `AND`.
    And,
    /// `type =`, then a type.
    TypeEq,
    /// `type !=`, then a type.
    TypeNe,
    /// `type IN (`, then two or more types, then `)`.
    TypeIn,
    /// `type NOT IN (`, then two or more types, then `)`.
    TypeNotIn,
    /// `)`: closes a type list.
    Close,
    /// `WITHIN(position, centre, radius)`: then a centre and a radius.
    Within,
    /// `NOT WITHIN(position, centre, radius)`.
    NotWithin,
    /// Within a radius of another object of a type: then the type and the radius.
    Near,
    /// The column `confidence`.
    Confidence,
    /// The column `x`.
    X,
    /// The column `y`.
    Y,
    /// The column `z`.
    Z,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `=`.
    Eq,
    /// `ORDER BY DISTANCE(position, centre)`: then a centre and a direction.
    OrderByDistance,
    /// `ORDER BY column`: then a column and a direction.
    OrderBy,
    /// `ASC`.
    Asc,
    /// `DESC`.
    Desc,
    /// `LIMIT`: then a count.
    Limit,
    /// The centre `[0, 0, 0]`.
    Origin,
    /// A centre `[a, b, c]`: then three numbers.
    Point,
    /// The count 1 (`LIMIT 1`: "the nearest cube").
    One,
    /// A type the map does not have (the answer is then a refusal).
    UnknownType,
    /// The catalog type in slot `k`.
    Type(u8),
    /// The text's number in slot `k`.
    Num(u8),
    /// The numeric catalog column in slot `k`.
    Col(u8),
}

/// The keywords, in symbol order (their index is their symbol number).
const KEYWORDS: [Sym; 36] = [
    Sym::Sep,
    Sym::MoreNumbers,
    Sym::MoreTypes,
    Sym::Plural,
    Sym::Decline,
    Sym::SelectRows,
    Sym::SelectCount,
    Sym::SelectCountByType,
    Sym::Where,
    Sym::And,
    Sym::TypeEq,
    Sym::TypeNe,
    Sym::TypeIn,
    Sym::TypeNotIn,
    Sym::Close,
    Sym::Within,
    Sym::NotWithin,
    Sym::Near,
    Sym::Confidence,
    Sym::X,
    Sym::Y,
    Sym::Z,
    Sym::Gt,
    Sym::Ge,
    Sym::Lt,
    Sym::Le,
    Sym::Eq,
    Sym::OrderByDistance,
    Sym::OrderBy,
    Sym::Asc,
    Sym::Desc,
    Sym::Limit,
    Sym::Origin,
    Sym::Point,
    Sym::One,
    Sym::UnknownType,
];

/// Symbols in all: keywords, then the type, number and column slots.
pub const SYMBOLS: usize = KEYWORDS.len() + TYPE_SLOTS + NUMBER_SLOTS + COLUMN_SLOTS;

impl Sym {
    /// The symbol's number, `0..SYMBOLS`.
    pub fn index(self) -> usize {
        let k = KEYWORDS.len();
        match self {
            Sym::Type(i) => k + i as usize,
            Sym::Num(i) => k + TYPE_SLOTS + i as usize,
            Sym::Col(i) => k + TYPE_SLOTS + NUMBER_SLOTS + i as usize,
            kw => KEYWORDS.iter().position(|&s| s == kw).unwrap_or(0),
        }
    }

    /// The symbol numbered `i`, if any.
    pub fn from_index(i: usize) -> Option<Sym> {
        let k = KEYWORDS.len();
        if i < k {
            Some(KEYWORDS[i])
        } else if i < k + TYPE_SLOTS {
            Some(Sym::Type((i - k) as u8))
        } else if i < k + TYPE_SLOTS + NUMBER_SLOTS {
            Some(Sym::Num((i - k - TYPE_SLOTS) as u8))
        } else if i < SYMBOLS {
            Some(Sym::Col((i - k - TYPE_SLOTS - NUMBER_SLOTS) as u8))
        } else {
            None
        }
    }

    /// Its token id in the command model's tokenizer (symbol merges come first).
    pub fn token(self) -> u32 {
        256 + self.index() as u32
    }

    /// The symbol a token id stands for, if any.
    pub fn from_token(id: u32) -> Option<Sym> {
        (id as usize).checked_sub(256).and_then(Sym::from_index)
    }

    /// Every symbol, in order.
    pub fn all() -> impl Iterator<Item = Sym> {
        (0..SYMBOLS).filter_map(Sym::from_index)
    }

    /// A short name for listings and errors (`N3`, `T1`, `WITHIN`, ...), 1-based slots.
    pub fn name(self) -> String {
        match self {
            Sym::Type(i) => format!("T{}", i + 1),
            Sym::Num(i) => format!("N{}", i + 1),
            Sym::Col(i) => format!("C{}", i + 1),
            kw => format!("{kw:?}"),
        }
    }
}

/// The BPE merges that make the symbol tokens: `(0xF8, k)` for every symbol `k`.
pub fn symbol_merges() -> Vec<(u32, u32)> {
    (0..SYMBOLS as u32)
        .map(|k| (SYMBOL_BYTE as u32, k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_round_trip_and_are_dense() {
        let all: Vec<Sym> = Sym::all().collect();
        assert_eq!(all.len(), SYMBOLS);
        for (i, s) in all.iter().enumerate() {
            assert_eq!(s.index(), i, "{s:?}");
            assert_eq!(Sym::from_token(s.token()), Some(*s));
        }
        assert_eq!(Sym::from_index(SYMBOLS), None);
        assert_eq!(Sym::from_token(255), None);
        assert_eq!(Sym::Num(2).name(), "N3");
    }
}
