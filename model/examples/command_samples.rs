//! Prints training pairs of the command corpus: the text and the statement's symbols.
//!
//! ```text
//! cargo run -p tensormap-model --example command_samples -- SEED COUNT
//! ```
// Test and example code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tensormap_model::command::corpus::Generator;
use tensormap_model::command::grammar::linearize;

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>());
    let (Some(Ok(seed)), Some(Ok(count))) = (args.next(), args.next()) else {
        eprintln!("usage: command_samples SEED COUNT");
        std::process::exit(2);
    };
    let mut g = Generator::new(seed);
    for _ in 0..count {
        let p = g.pair();
        let symbols: Vec<String> = linearize(&p.answer).iter().map(|s| s.name()).collect();
        println!("{:<90} | {}", p.text, symbols.join(" "));
    }
    eprintln!("{} drafts rejected", g.rejected);
}
