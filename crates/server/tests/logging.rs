//! The real binary's log output: plain text (no terminal colours) when stderr is a file, and
//! every line written by the time the process exits, the last one included, although lines
//! are written in batches.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::process::Stdio;

#[test]
fn a_log_file_gets_plain_lines_up_to_the_last_one() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let (child, _, _) = common::serve(&dir.path().join("data"), &[], "info", Stdio::from(log));
    common::stop(child);

    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(!text.contains('\u{1b}'), "terminal colours in a file:\n{text}");
    assert!(text.contains(" INFO ferrocore: SIGTERM received"), "{text}");
    let last = text.lines().last().unwrap_or_default();
    assert!(last.ends_with(" INFO ferrocore_server: stopped"), "last line {last:?}");
}
