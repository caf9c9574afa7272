//! The real binary's log output: plain text (no terminal colours) when stderr is a file, and
//! every line written by the time the process exits, the last one included, although lines
//! are written in batches.

#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn a_log_file_gets_plain_lines_up_to_the_last_one() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrocore"))
        .args(["serve", "--mqtt-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--log", "info"])
        .args(["--mqtts-addr", "127.0.0.1:0", "--https-addr", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "stdout ended before the API line");
        if line.starts_with("ferrocore: API listening on ") {
            break;
        }
    }
    std::thread::spawn(move || for _ in reader.lines() {});
    Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(child.wait().unwrap().success());

    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(!text.contains('\u{1b}'), "terminal colours in a file:\n{text}");
    assert!(text.contains(" INFO ferrocore: SIGTERM received"), "{text}");
    let last = text.lines().last().unwrap_or_default();
    assert!(last.ends_with(" INFO ferrocore_server: stopped"), "last line {last:?}");
}
