//! Where log lines go: gathered in memory and written out in batches by a thread of their own.
//!
//! A task that logs (every connection says "client connected") should not make a system call
//! per line nor wait for a slow terminal or pipe. Lines are appended to a pending buffer; the
//! first line into an empty buffer wakes the writer thread, which lets more gather for
//! [`BATCH_WINDOW`] and then writes them all with one call. Each line keeps the timestamp it
//! was formatted with. If the output falls behind until [`MAX_PENDING`] bytes wait, the
//! logging thread writes them itself, as an unbuffered writer would: logging slows down
//! rather than memory growing or lines being dropped. [`LogSink::finish`] (or dropping the
//! [`Flush`] guard) writes what is left and stops the thread.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the writer thread lets lines gather after the first one.
pub const BATCH_WINDOW: Duration = Duration::from_millis(5);

/// Bytes waiting beyond which a logging thread writes them out itself.
pub const MAX_PENDING: usize = 1 << 20;

/// A [`MakeWriter`] for `tracing_subscriber` whose writers append to the pending batch.
#[derive(Clone)]
pub struct LogSink {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSink").finish_non_exhaustive()
    }
}

struct Shared {
    pending: Mutex<Pending>,
    /// Signalled when a line goes into an empty buffer, and at the end.
    wake: Condvar,
    /// The output. Whoever writes holds it from taking a batch until it is written, so
    /// batches go out in the order they were taken. Lock order: `out`, then `pending`.
    out: Mutex<Box<dyn Write + Send>>,
}

#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    finished: bool,
}

/// Writes what is left and stops the writer thread when dropped.
#[must_use = "dropping the guard stops the log writer"]
#[derive(Debug)]
pub struct Flush {
    sink: LogSink,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Flush {
    fn drop(&mut self) {
        self.sink.finish(self.thread.take());
    }
}

/// Locks `mutex` whether or not a thread panicked while holding it: the buffers stay usable
/// (at worst a line is cut short).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LogSink {
    /// Starts the writer thread for `out`.
    pub fn start(out: impl Write + Send + 'static) -> io::Result<(LogSink, Flush)> {
        let sink = LogSink {
            shared: Arc::new(Shared {
                pending: Mutex::new(Pending::default()),
                wake: Condvar::new(),
                out: Mutex::new(Box::new(out)),
            }),
        };
        let writer = sink.clone();
        let thread =
            std::thread::Builder::new().name("ferrocore-log".into()).spawn(move || writer.run())?;
        Ok((sink.clone(), Flush { sink, thread: Some(thread) }))
    }

    /// Appends one formatted line (or part of one).
    fn push(&self, bytes: &[u8]) {
        let mut pending = lock(&self.shared.pending);
        let was_empty = pending.lines.is_empty();
        pending.lines.extend_from_slice(bytes);
        let overfull = pending.lines.len() >= MAX_PENDING;
        let finished = pending.finished;
        drop(pending);
        if overfull || finished {
            self.write_out();
        } else if was_empty {
            self.shared.wake.notify_one();
        }
    }

    /// Writes every pending line now.
    fn write_out(&self) {
        let mut out = lock(&self.shared.out);
        let lines = std::mem::take(&mut lock(&self.shared.pending).lines);
        if !lines.is_empty() {
            // Nowhere to report a failed log write to; the next batch tries again.
            let _ = out.write_all(&lines).and_then(|()| out.flush());
        }
    }

    /// The writer thread: waits for a first line, lets more gather, writes them.
    fn run(&self) {
        loop {
            let mut pending = lock(&self.shared.pending);
            while pending.lines.is_empty() && !pending.finished {
                pending = self.shared.wake.wait(pending).unwrap_or_else(PoisonError::into_inner);
            }
            let finished = pending.finished;
            drop(pending);
            if finished {
                return;
            }
            std::thread::sleep(BATCH_WINDOW);
            self.write_out();
        }
    }

    /// Stops the writer thread and writes what is left; lines logged afterwards are written
    /// at once.
    fn finish(&self, thread: Option<JoinHandle<()>>) {
        lock(&self.shared.pending).finished = true;
        self.shared.wake.notify_one();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
        self.write_out();
    }
}

/// One event's writer: what it is given joins the pending batch.
#[derive(Debug)]
pub struct LineWriter<'a> {
    sink: &'a LogSink,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.sink.push(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter { sink: self }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// An output that records each write call.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Recorder {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            lock(&self.0).push(bytes.to_vec());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Recorder {
        fn writes(&self) -> Vec<Vec<u8>> {
            lock(&self.0).clone()
        }
        fn text(&self) -> String {
            String::from_utf8(self.writes().concat()).unwrap()
        }
    }

    fn log(sink: &LogSink, line: &str) {
        sink.make_writer().write_all(line.as_bytes()).unwrap();
    }

    fn wait_for(recorder: &Recorder, text: &str) {
        let start = Instant::now();
        while recorder.text() != text {
            assert!(start.elapsed() < Duration::from_secs(10), "got {:?}", recorder.text());
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn lines_logged_together_go_out_in_one_write_in_order() {
        let recorder = Recorder::default();
        let (sink, _flush) = LogSink::start(recorder.clone()).unwrap();
        let lines: Vec<String> = (0..100).map(|i| format!("line {i}\n")).collect();
        for line in &lines {
            log(&sink, line);
        }
        wait_for(&recorder, &lines.concat());
        assert_eq!(recorder.writes().len(), 1, "one write for a burst of lines");

        // A later line is written on its own, without anything else having to happen.
        log(&sink, "later\n");
        wait_for(&recorder, &(lines.concat() + "later\n"));
        assert_eq!(recorder.writes().len(), 2);
    }

    #[test]
    fn finishing_writes_what_is_pending_and_later_lines_at_once() {
        let recorder = Recorder::default();
        let (sink, flush) = LogSink::start(recorder.clone()).unwrap();
        log(&sink, "a\n");
        log(&sink, "b\n");
        drop(flush);
        assert_eq!(recorder.text(), "a\nb\n");
        log(&sink, "c\n");
        assert_eq!(recorder.text(), "a\nb\nc\n");
    }

    /// An output that blocks until released.
    struct Gate {
        open: Arc<(Mutex<bool>, Condvar)>,
        recorder: Recorder,
    }

    impl Write for Gate {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let (open, signal) = &*self.open;
            let mut open = lock(open);
            while !*open {
                open = signal.wait(open).unwrap();
            }
            self.recorder.write(bytes)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_output_holds_logging_back_instead_of_growing_without_bound() {
        let recorder = Recorder::default();
        let open = Arc::new((Mutex::new(false), Condvar::new()));
        let gate = Gate { open: Arc::clone(&open), recorder: recorder.clone() };
        let (sink, _flush) = LogSink::start(gate).unwrap();

        let logger = {
            let sink = sink.clone();
            std::thread::spawn(move || {
                let line = "x".repeat(1023) + "\n";
                for _ in 0..(4 * MAX_PENDING / 1024) {
                    log(&sink, &line);
                }
            })
        };
        // Four times the cap cannot all wait in memory: the logger ends up writing itself, held
        // in the stalled output (or waiting for the writer thread held there).
        std::thread::sleep(Duration::from_millis(200));
        let held = !logger.is_finished();
        let waiting = lock(&sink.shared.pending).lines.len();

        *lock(&open.0) = true;
        open.1.notify_all();
        logger.join().unwrap();
        assert!(held, "logging went on past a stalled output");
        assert!(waiting <= MAX_PENDING, "{waiting} bytes waited");
        let expected = 4 * MAX_PENDING;
        let start = Instant::now();
        while recorder.text().len() < expected {
            assert!(start.elapsed() < Duration::from_secs(10), "lines were lost");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(recorder.text().len(), expected);
    }
}
