//! A load test's progress line: modules done of all, passed, failed, the rate and the time left;
//! redrawn in place on a terminal, a plain line every 2 s otherwise, and drawn once more when
//! the last module is done, so it always ends at `N/N`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The counts the modules' runs update.
#[derive(Default)]
pub struct Counts {
    pub passed: AtomicUsize,
    pub failed: AtomicUsize,
}

impl Counts {
    /// A module's run ended.
    pub fn done(&self, passed: bool) {
        let counter = if passed { &self.passed } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The progress of `total` modules started at `started`; `until` is the end of a `--duration`.
pub struct Progress {
    pub counts: Arc<Counts>,
    total: usize,
    started: Instant,
    until: Option<Instant>,
    bar: Option<indicatif::ProgressBar>,
    /// The modules done when the line was last drawn.
    drawn: AtomicUsize,
}

impl Progress {
    pub fn new(total: usize, started: Instant, until: Option<Instant>) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("[{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            counts: Arc::new(Counts::default()),
            total,
            started,
            until,
            bar,
            drawn: AtomicUsize::new(usize::MAX),
        }
    }

    /// The line as it stands: `12/20 done, 10 passed, 2 failed, 4.0 modules/s, 2 s left`.
    pub fn line(&self) -> String {
        let passed = self.counts.passed.load(Ordering::Relaxed);
        let failed = self.counts.failed.load(Ordering::Relaxed);
        let done = passed + failed;
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = if elapsed > 0.0 {
            done as f64 / elapsed
        } else {
            0.0
        };
        let left = match self.until {
            _ if done >= self.total => "0 s left".to_string(),
            // A timed run: until its end, then the passes in flight.
            Some(until) => format!(
                "{} s left",
                until.saturating_duration_since(Instant::now()).as_secs()
            ),
            None if rate > 0.0 => {
                format!("{:.0} s left", (self.total - done) as f64 / rate)
            }
            None => "time left unknown".to_string(),
        };
        format!(
            "{done}/{} done, {passed} passed, {failed} failed, {rate:.1} modules/s, {left}",
            self.total
        )
    }

    fn done(&self) -> usize {
        self.counts.passed.load(Ordering::Relaxed) + self.counts.failed.load(Ordering::Relaxed)
    }

    fn draw(&self) {
        let line = self.line();
        self.drawn.store(self.done(), Ordering::Relaxed);
        match &self.bar {
            Some(bar) => {
                bar.set_position(self.done() as u64);
                bar.set_message(
                    line.split_once(" done, ")
                        .map_or(line.clone(), |(_, m)| m.into()),
                );
            }
            None => eprintln!("fleet: {line}"),
        }
    }

    /// Redraws until aborted.
    pub async fn tick(self: Arc<Self>) {
        let every = if self.bar.is_some() {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(2)
        };
        loop {
            self.draw();
            tokio::time::sleep(every).await;
        }
    }

    /// The last line, once every module is done (unless it is drawn already); on a terminal
    /// the bar gives way to it as a plain line, so what follows starts on a line of its own.
    pub fn finish(&self) {
        match &self.bar {
            Some(bar) => {
                bar.finish_and_clear();
                eprintln!("fleet: {}", self.line());
            }
            None if self.drawn.load(Ordering::Relaxed) != self.done() => self.draw(),
            None => {}
        }
    }
}
