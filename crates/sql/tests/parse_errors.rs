//! Statements that must not parse, with the character position the error names (the API turns
//! these into `SqlParseException`).

use ferrocore_sql::{SqlVersion, Statement};

#[test]
fn errors_carry_their_position() {
    let cases: &[(&str, usize)] = &[
        ("", 0),
        ("SELEC * FROM 'a'", 0),
        ("SELECT FROM 'a'", 7),
        ("SELECT * FROM a", 14),
        ("SELECT * FROM 'a' WHERE", 23),
        ("SELECT * FROM 'a' WHERE x >", 27),
        ("SELECT a FROM 'a' junk", 18),
        ("SELECT 'abc FROM 'a'", 19),
        ("SELECT nosuch(1) FROM 'a'", 7),
        ("SELECT a AS FROM 'a'", 12),
        ("SELECT (a FROM 'a'", 10),
        ("SELECT a[1 FROM 'a'", 11),
        ("SELECT cast(a AS Blob) FROM 'a'", 17),
        ("SELECT CASE a WHEN 1 THEN 2 FROM 'a'", 28),
        ("SELECT CASE a END FROM 'a'", 14),
        ("SELECT a # b FROM 'a'", 9),
        ("SELECT 1e999 FROM 'a'", 7),
        ("SELECT a, FROM 'a'", 10),
        ("SELECT aws_lambda('arn', *) FROM 'a'", 7),
    ];
    let mut wrong = Vec::new();
    for (sql, position) in cases {
        match Statement::parse(sql, SqlVersion::V2016_03_23) {
            Ok(_) => wrong.push(format!("{sql:?} parsed")),
            Err(e) if e.position != *position => wrong.push(format!("{sql:?}: {e}")),
            Err(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn legacy_version_rejects_v2_features() {
    for (sql, position) in [
        ("SELECT encode(*, 'base64') AS x FROM 'a'", 7),
        ("SELECT {'a': 1} AS x FROM 'a'", 7),
        ("SELECT [1] AS x FROM 'a'", 7),
        ("SELECT cast(a AS Boolean) AS x FROM 'a'", 17),
        ("SELECT x FROM 'a' WHERE isUndefined(y)", 24),
    ] {
        let e = Statement::parse(sql, SqlVersion::V2015_10_08).err();
        assert_eq!(e.map(|e| e.position), Some(position), "{sql}");
        assert!(Statement::parse(sql, SqlVersion::V2016_03_23).is_ok(), "{sql}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let sql = format!("SELECT {}1{} FROM 'a'", "(".repeat(10_000), ")".repeat(10_000));
    assert!(Statement::parse(&sql, SqlVersion::V2016_03_23).is_err());
    let sql = format!("SELECT {}1 FROM 'a'", "NOT ".repeat(10_000));
    assert!(Statement::parse(&sql, SqlVersion::V2016_03_23).is_err());
    let sql = format!("SELECT {}1 FROM 'a'", "-".repeat(10_000));
    assert!(Statement::parse(&sql, SqlVersion::V2016_03_23).is_err());
}

#[test]
fn from_filter_and_versions() {
    let s = Statement::parse("SELECT * FROM 'sensors/+/temp'", SqlVersion::default());
    assert_eq!(
        s.ok().as_ref().and_then(|s| s.from_filter().map(str::to_owned)).as_deref(),
        Some("sensors/+/temp")
    );
    assert_eq!(SqlVersion::default(), SqlVersion::V2016_03_23);
    assert_eq!(SqlVersion::parse("beta"), Some(SqlVersion::V2016_03_23));
    assert_eq!(SqlVersion::parse("2015-10-08"), Some(SqlVersion::V2015_10_08));
    assert_eq!(SqlVersion::parse("2020-01-01"), None);
}
