//! The training corpus: reproducible from its seed, every pair a statement the grammar
//! accepts over exactly the slots the lexer finds, varied, and disjoint from the held-out
//! evaluation set (no evaluation text or template is ever produced, and the evaluation's
//! unknown-type words are not among the generator's object words).
// Test and example code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use tensormap_model::command::corpus::words::object_words;
use tensormap_model::command::corpus::{corpus, eval_templates, template, Generator};
use tensormap_model::command::eval::{eval_cases, eval_catalog, Expected};
use tensormap_model::command::grammar::{linearize, Decoded, Parser};
use tensormap_model::command::lexer::lex;
use tensormap_model::command::linking::{forms, known_words, link, Item};
use tensormap_model::command::query::Projection;
use tensormap_model::command::tokens::{prompt, tokenizer};

#[test]
fn the_same_seed_gives_the_same_corpus() {
    let a = corpus(7, 300);
    assert_eq!(a, corpus(7, 300));
    let b = corpus(8, 300);
    assert_ne!(a, b);
    // A prefix of a longer run is the shorter run.
    assert_eq!(corpus(7, 100)[..], a[..100]);
}

#[test]
fn pairs_parse_over_the_slots_their_text_offers() {
    let tok = tokenizer(&[]).unwrap();
    let mut g = Generator::new(3);
    let (mut declines, mut counts, mut unknown) = (0, 0, 0);
    let n = 3000;
    for _ in 0..n {
        let p = g.pair();
        let items = link(&lex(&p.text), &p.catalog);
        let prompt = prompt(&tok, &items, &p.catalog).unwrap();
        let symbols = linearize(&p.answer);
        assert_eq!(
            Parser::parse(&prompt.slots, &symbols),
            Ok(p.answer.clone()),
            "{:?}",
            p.text
        );
        match &p.answer {
            Decoded::Decline => declines += 1,
            Decoded::Statement(f) => {
                counts += usize::from(f.projection != Projection::Rows);
                unknown += usize::from(
                    symbols.contains(&tensormap_model::command::symbols::Sym::UnknownType),
                );
            }
        }
    }
    // The mix the generator promises, loosely.
    assert!((150..450).contains(&declines), "{declines}");
    assert!(counts > 500, "{counts}");
    assert!((40..400).contains(&unknown), "{unknown}");
    assert!(
        g.rejected < n,
        "{} drafts rejected for {n} pairs",
        g.rejected
    );
}

#[test]
fn texts_are_varied() {
    let pairs = corpus(5, 2000);
    let texts: HashSet<&str> = pairs.iter().map(|p| p.text.as_str()).collect();
    assert!(texts.len() > 1950, "{} distinct texts of 2000", texts.len());
    let templates: HashSet<String> = pairs
        .iter()
        .map(|p| template(&p.text, &p.catalog))
        .collect();
    assert!(
        templates.len() > 1800,
        "{} distinct templates",
        templates.len()
    );
}

#[test]
fn the_evaluation_set_is_held_out() {
    let eval = eval_templates();
    assert!(eval.len() > 250);
    let catalog = eval_catalog();
    let texts: HashSet<String> = eval_cases()
        .unwrap()
        .iter()
        .map(|c| c.text.to_lowercase())
        .collect();
    for p in corpus(11, 20_000) {
        assert!(
            !eval.contains(&template(&p.text, &p.catalog)),
            "{:?}",
            p.text
        );
        assert!(!texts.contains(&p.text.to_lowercase()), "{:?}", p.text);
    }
    // The evaluation's words for types the map lacks are never object words of the
    // generator (so declining them is not remembered).
    let words: HashSet<&str> = object_words().iter().flat_map(|w| w.split(' ')).collect();
    for case in eval_cases().unwrap() {
        if case.expected != Expected::Decline {
            continue;
        }
        for item in link(&lex(&case.text), &catalog) {
            let Item::Word(w) = item else { continue };
            // Common words ("find", "all", ...) may be anywhere; object words may not.
            if known_words().contains(w.as_str()) {
                continue;
            }
            for form in forms(&w) {
                assert!(
                    !words.contains(form.as_str()),
                    "{w:?} of {:?} is an object word of the generator",
                    case.text
                );
            }
        }
    }
}
