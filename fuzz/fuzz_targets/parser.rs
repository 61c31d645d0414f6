//! The TensorQL parser on arbitrary bytes: never a panic, and what it accepts prints back
//! to text that parses to the same statements.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tensormap_query::parse_script;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(statements) = parse_script(text) {
        let printed: Vec<String> = statements.iter().map(|s| s.statement.to_string()).collect();
        let again = parse_script(&printed.join(";\n")).expect("printed statements parse");
        let a: Vec<_> = statements.into_iter().map(|s| s.statement).collect();
        let b: Vec<_> = again.into_iter().map(|s| s.statement).collect();
        assert_eq!(a, b);
    }
});
