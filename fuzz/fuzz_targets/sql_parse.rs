//! Feeds arbitrary text to the AWS IoT SQL parser under both versions, and evaluates every
//! statement that parses over a JSON and a binary payload. Neither may panic.

#![no_main]

use ferrocore_sql::{FixedEnv, Input, SqlVersion, Statement};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else { return };
    let env = FixedEnv::default();
    for version in [SqlVersion::V2015_10_08, SqlVersion::V2016_03_23] {
        let Ok(statement) = Statement::parse(sql, version) else { continue };
        for payload in [&br#"{"a":1,"b":[1,{"c":"x"}],"s":"2.5"}"#[..], b"\x00\xffbin"] {
            let input = Input { payload, topic: "a/b", ..Input::default() };
            let _ = statement.evaluate(&input, &env);
        }
    }
});
