//! Parsing and evaluating never panic, whatever the input: arbitrary strings, and valid
//! statements mutated character by character (which reach far deeper than random text).

use ferrocore_sql::{FixedEnv, Input, SqlVersion, Statement};
use proptest::prelude::*;

const SEEDS: &[&str] = &[
    "SELECT *, temp * 1.8 + 32 AS f, dev.loc[0].x AS a.b FROM 'a/+/#' WHERE temp > 20 AND NOT ok OR name IN ('x', 'y')",
    "SELECT VALUE CASE name WHEN 'a' THEN {'k': [1, 2.5, 'x']} ELSE get(list, 2) END FROM 'a'",
    "SELECT substring(regexp_replace(name, '(a+)', '$1$1'), -1, 99) AS s, parse_time('yyyy-MM-dd HH:mm:ss.SSSZ', timestamp(), '+01:00') AS t FROM 'a'",
    "SELECT encode(*, 'base64') AS b, decode('eyJ4IjoxfQ==', 'base64').x AS d, cast(s AS Int) % 0 AS z, trunc(hum, 40) AS u FROM 'a'",
    "SELECT time_to_epoch('2020-01-01T00:00:00.5+05:30', \"yyyy-MM-dd'T'HH:mm:ss.SZZ\") AS e, lpad(name, 99999) AS p, bitnot(9223372036854775807 + 1) AS q FROM 'a'",
];

const PAYLOADS: &[&[u8]] = &[
    br#"{"temp":30,"hum":40.5,"name":"aaa","ok":true,"list":[1,2,3],"dev":{"loc":[{"x":1}]},"s":"9223372036854775807"}"#,
    b"\xff\x00binary",
    b"[1,2]",
    b"",
];

fn exercise(sql: &str) {
    let env = FixedEnv::default();
    for version in [SqlVersion::V2015_10_08, SqlVersion::V2016_03_23] {
        let Ok(statement) = Statement::parse(sql, version) else { continue };
        for payload in PAYLOADS {
            let input = Input {
                payload,
                topic: "$aws/rules/r/a/b",
                timestamp_ms: i64::MAX,
                ..Input::default()
            };
            let _ = statement.evaluate(&input, &env);
        }
    }
}

#[test]
fn seeds_parse_and_evaluate() {
    for seed in SEEDS {
        assert!(Statement::parse(seed, SqlVersion::V2016_03_23).is_ok(), "{seed}");
        exercise(seed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text(sql in "\\PC{0,80}") {
        exercise(&sql);
    }

    #[test]
    fn mutated_seeds(seed in 0..SEEDS.len(), edits in prop::collection::vec((any::<usize>(), any::<char>(), 0..3u8), 1..6)) {
        let mut chars: Vec<char> = SEEDS[seed].chars().collect();
        for (at, c, kind) in edits {
            if chars.is_empty() { break; }
            let at = at % chars.len();
            match kind {
                0 => chars[at] = c,
                1 => { chars.remove(at); }
                _ => chars.insert(at, c),
            }
        }
        exercise(&chars.iter().collect::<String>());
    }
}
