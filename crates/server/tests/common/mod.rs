//! The real `ferrocore serve` binary, started and stopped for the integration tests that
//! need the whole process (its stdout lines, its log output, its exit).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `ferrocore serve` on `data_dir`, every listener on a free loopback port, with `env` added,
/// logging at `log` to `stderr`. Returns the child, the API endpoint and every stdout line up
/// to the API line (plus the key instructions, if any); the rest of stdout is drained.
pub(crate) fn serve(
    data_dir: &Path,
    env: &[(&str, &str)],
    log: &str,
    stderr: Stdio,
) -> (Child, String, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrocore"))
        .args(["serve", "--mqtt-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--log", log])
        .args(["--mqtts-addr", "127.0.0.1:0", "--https-addr", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data_dir)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let endpoint = loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "stdout ended: {lines:?}");
        let line = line.trim_end().to_owned();
        let api = line.strip_prefix("ferrocore: API listening on ").map(|a| format!("http://{a}"));
        lines.push(line);
        if let Some(endpoint) = api {
            break endpoint;
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    (child, endpoint, lines)
}

/// Stops the server with SIGTERM; it must exit with status 0.
pub(crate) fn stop(mut child: Child) {
    Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(child.wait().unwrap().success());
}
