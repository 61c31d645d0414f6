//! The parser never panics or overflows its stack, whatever the input; what it accepts
//! prints back to TensorQL that parses to the same statements.

use proptest::prelude::*;
use tensormap_query::parse_script;

const VALID: [&str; 12] = [
    "CREATE MAP scene WITH (resolution = 64, channels = 32, bounds = 500, dtype = 'f32', sigma = 2.0, splat_radius = 3)",
    "INSERT INTO scene (id, type, position, embedding, confidence) VALUES ('cube_1', 'cube', [100, 50, -30], [0.23, -0.45], 0.98)",
    "UPDATE scene SET position = [0, 0, 0], confidence = 0.5 WHERE id = 'cube_1'",
    "DELETE FROM scene WHERE type = 'cube' AND WITHIN(position, [0, 0, 0], 50)",
    "SELECT id, x + y * 2 AS s FROM scene WHERE NOT (x < 3 OR y >= 4) AND type IN ('a', 'b') ORDER BY s DESC LIMIT 10 OFFSET 5",
    "SELECT type, COUNT(*), AVG(confidence) FROM scene GROUP BY type ORDER BY COUNT(*) DESC",
    "SELECT i, j, k, norm FROM VOXELS(scene) WHERE WITHIN(center, [0, 0, 0], 100) ORDER BY ATTENTION([0.1, 0.2]) DESC LIMIT 10",
    "EXPLAIN SELECT id FROM scene ORDER BY DISTANCE(position, [1, 2, 3]) LIMIT 3",
    "BEGIN; DELETE FROM s; ROLLBACK",
    "SHOW MAPS; DESCRIBE scene; DROP MAP IF EXISTS scene",
    "SELECT COSINE(embedding, [1, 0]) AS c, -x, 'it''s' FROM \"odd map\" -- comment",
    "SELECT * FROM m WHERE id NOT IN ('a') AND confidence / 2 > 0.1",
];

fn check(text: &str) {
    if let Ok(statements) = parse_script(text) {
        let printed: Vec<String> = statements.iter().map(|s| s.statement.to_string()).collect();
        let again =
            parse_script(&printed.join(";\n")).unwrap_or_else(|e| panic!("{printed:?}: {e}"));
        let a: Vec<_> = statements.into_iter().map(|s| s.statement).collect();
        let b: Vec<_> = again.into_iter().map(|s| s.statement).collect();
        assert_eq!(a, b);
    }
}

/// A valid statement with some characters deleted, replaced or inserted.
fn mutated() -> impl Strategy<Value = String> {
    let edits = prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<char>()), 1..6);
    (prop::sample::select(VALID.to_vec()), edits).prop_map(|(s, edits)| {
        let mut chars: Vec<char> = s.chars().collect();
        for (at, kind, c) in edits {
            if chars.is_empty() {
                break;
            }
            let i = at.index(chars.len());
            match kind {
                0 => {
                    chars.remove(i);
                }
                1 => chars[i] = c,
                _ => chars.insert(i, c),
            }
        }
        chars.into_iter().collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        check(&text);
    }

    #[test]
    fn mutated_statements_never_panic(text in mutated()) {
        check(&text);
    }

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(vec![
        "SELECT", "FROM", "WHERE", "(", ")", "[", "]", ",", "NOT", "AND", "-", "*", "1", "'s'", "x", "IN", ";", "ORDER", "BY", "LIMIT", "VOXELS",
    ]), 0..60)) {
        check(&tokens.join(" "));
    }
}

#[test]
fn valid_statements_round_trip() {
    for s in VALID {
        check(s);
        assert!(parse_script(s).is_ok(), "{s}");
    }
}

#[test]
fn deep_nesting_is_an_error_on_a_small_stack() {
    // Run on a thread with a small stack (384 KiB: debug builds, whose frames are largest):
    // the limit must stop recursion well before it.
    let handle = std::thread::Builder::new()
        .stack_size(384 << 10)
        .spawn(|| {
            for open in ["(", "[", "NOT ", "- ", "ABS("] {
                let text = format!("SELECT {}1 FROM m", open.repeat(5000));
                assert!(parse_script(&text).is_err(), "{open}");
            }
        })
        .unwrap();
    handle.join().unwrap();
}
