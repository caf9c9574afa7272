//! Process measurements from `/proc`: CPU time from `stat`, resident memory from `status`, and
//! the open-files limit.

use std::time::Instant;

/// Clock ticks per second of the `utime` and `stime` fields of `/proc/PID/stat`. Linux fixes
/// `USER_HZ` at 100 for userspace on every architecture it runs this on.
const USER_HZ: f64 = 100.0;

/// CPU seconds (user + system, all threads) from the text of `/proc/PID/stat`.
pub(crate) fn parse_stat_cpu(stat: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces and parentheses: fields resume after the
    // last ')'. Field 3 (state) is the first one after it; utime and stime are fields 14, 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// Resident set size in bytes from the text of `/proc/PID/status` (`VmRSS: N kB`).
pub(crate) fn parse_vmrss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut parts = line["VmRSS:".len()..].split_ascii_whitespace();
    let kb: u64 = parts.next()?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU seconds used so far by process `pid` (`None`: this process).
pub(crate) fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    parse_stat_cpu(&std::fs::read_to_string(path).ok()?)
}

/// Resident memory of process `pid` in bytes.
pub(crate) fn rss_bytes(pid: u32) -> Option<u64> {
    parse_vmrss(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// Raises the soft open-files limit to the hard one; returns the limit now in force.
pub(crate) fn raise_nofile() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft).unwrap_or(1024),
    }
}

/// One reading of the clocks a run is measured by.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// When it was taken.
    pub(crate) at: Instant,
    /// This process's CPU seconds.
    pub(crate) bench_cpu: f64,
    /// The broker's CPU seconds, if its pid is known.
    pub(crate) broker_cpu: Option<f64>,
}

/// Takes samples of this process and, if given, the broker.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Probe {
    /// The broker's pid.
    pub(crate) server_pid: Option<u32>,
}

impl Probe {
    /// Reads the clocks now.
    pub(crate) fn sample(&self) -> Sample {
        Sample {
            at: Instant::now(),
            bench_cpu: cpu_seconds(None).unwrap_or(0.0),
            broker_cpu: self.server_pid.and_then(|pid| cpu_seconds(Some(pid))),
        }
    }

    /// The broker's resident memory now.
    pub(crate) fn broker_rss(&self) -> Option<u64> {
        self.server_pid.and_then(rss_bytes)
    }
}

/// What happened between two samples.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    /// Wall-clock seconds.
    pub(crate) seconds: f64,
    /// This process's CPU seconds.
    pub(crate) bench_cpu: f64,
    /// The broker's CPU seconds.
    pub(crate) broker_cpu: Option<f64>,
}

impl Span {
    /// The span from `a` to `b`.
    pub(crate) fn between(a: &Sample, b: &Sample) -> Span {
        Span {
            seconds: b.at.duration_since(a.at).as_secs_f64(),
            bench_cpu: b.bench_cpu - a.bench_cpu,
            broker_cpu: a.broker_cpu.zip(b.broker_cpu).map(|(a, b)| b - a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cpu_skips_a_command_name_with_spaces_and_parens() {
        let stat = "1234 (my (odd) prog) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 \
                    9 0 1000 12345678 900 18446744073709551615";
        assert_eq!(parse_stat_cpu(stat), Some(3.25));
        assert_eq!(parse_stat_cpu("1 (x) S 1 2"), None);
    }

    #[test]
    fn vmrss_is_read_in_bytes() {
        let status = "Name:\tferrocore\nVmPeak:\t  99999 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_vmrss(status), Some(12345 * 1024));
        assert_eq!(parse_vmrss("Name: x\n"), None);
    }

    #[test]
    fn own_process_is_readable() {
        assert!(cpu_seconds(None).is_some());
        assert!(rss_bytes(std::process::id()).is_some_and(|b| b > 0));
    }
}
