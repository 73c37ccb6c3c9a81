//! Logging through `tracing`: events go to the console (printed through the progress bar that
//! is showing, so lines never tear it) at the level the command was given, and, during a run,
//! to its `logs/train.log` at every level. Library code only emits `tracing` events; the
//! binary's commands call [`init`] once, a run calls [`to_file`] for its log file.

use indicatif::ProgressBar;
use std::cell::RefCell;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, Once};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// Log levels, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Errors.
    Error,
    /// Warnings.
    Warn,
    /// Progress and results.
    Info,
    /// Details.
    Debug,
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().as_str() {
            "ERROR" => Ok(Self::Error),
            "WARN" | "WARNING" => Ok(Self::Warn),
            "INFO" => Ok(Self::Info),
            "DEBUG" => Ok(Self::Debug),
            _ => Err(format!(
                "unknown log level `{s}` (DEBUG, INFO, WARNING, ERROR)"
            )),
        }
    }
}

impl Level {
    fn of(l: tracing::Level) -> Self {
        match l {
            tracing::Level::ERROR => Self::Error,
            tracing::Level::WARN => Self::Warn,
            tracing::Level::INFO => Self::Info,
            _ => Self::Debug,
        }
    }
    fn tag(self) -> &'static str {
        match self {
            Self::Error => "ERROR",
            Self::Warn => "WARN ",
            Self::Info => "INFO ",
            Self::Debug => "DEBUG",
        }
    }
}

static CONSOLE: AtomicU8 = AtomicU8::new(Level::Info as u8);
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);
static INIT: Once = Once::new();

thread_local! {
    // Per thread, so that runs trained side by side in one process (tests) keep their logs apart.
    static FILE: RefCell<Option<File>> = const { RefCell::new(None) };
}

/// Installs the subscriber (once per process) and sets the console level.
pub fn init(level: Level) {
    CONSOLE.store(level as u8, Ordering::SeqCst);
    INIT.call_once(|| {
        let _ = tracing_subscriber::registry().with(Sink).try_init();
    });
}

/// While the guard lives, this thread's events are also appended to `path`.
pub fn to_file(path: &std::path::Path) -> std::io::Result<FileGuard> {
    init_if_needed();
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    FILE.with(|c| *c.borrow_mut() = Some(f));
    Ok(FileGuard(()))
}

fn init_if_needed() {
    if !INIT.is_completed() {
        init(Level::Warn);
    }
}

/// Stops [`to_file`]'s copy when dropped.
#[derive(Debug)]
pub struct FileGuard(());

impl Drop for FileGuard {
    fn drop(&mut self) {
        FILE.with(|c| *c.borrow_mut() = None);
    }
}

/// Routes console lines through this progress bar (or back to stderr with `None`).
pub fn set_bar(bar: Option<ProgressBar>) {
    *BAR.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = bar;
}

/// The message and fields of one event, as text.
#[derive(Default)]
struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }
}

struct Sink;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Sink {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let level = Level::of(*event.metadata().level());
        let mut text = Text::default();
        event.record(&mut text);
        let msg = text.0;
        let t = Utc::now();
        FILE.with(|c| {
            if let Some(f) = c.borrow_mut().as_mut() {
                let _ = writeln!(
                    f,
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z | {} | {msg}",
                    t.year,
                    t.month,
                    t.day,
                    t.hour,
                    t.minute,
                    t.second,
                    level.tag()
                );
            }
        });
        if level as u8 <= CONSOLE.load(Ordering::SeqCst) {
            let line = format!(
                "{:02}:{:02}:{:02} | {} | {msg}",
                t.hour,
                t.minute,
                t.second,
                level.tag()
            );
            match BAR
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .as_ref()
            {
                Some(b) if !b.is_hidden() => b.println(line),
                _ => {
                    let _ = writeln!(std::io::stderr().lock(), "{line}");
                }
            }
        }
    }
}

/// A UTC calendar time (no time-zone database needed: run names and log lines use UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    /// Year.
    pub year: i64,
    /// Month, 1–12.
    pub month: u32,
    /// Day of the month, 1–31.
    pub day: u32,
    /// Hour, 0–23.
    pub hour: u32,
    /// Minute.
    pub minute: u32,
    /// Second.
    pub second: u32,
}

impl Utc {
    /// The current time.
    pub fn now() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self::from_unix(secs)
    }

    /// Calendar time of `secs` seconds since 1970-01-01T00:00:00Z (Howard Hinnant's civil-date
    /// algorithm).
    pub fn from_unix(secs: u64) -> Self {
        let days = (secs / 86_400) as i64;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        let s = secs % 86_400;
        Self {
            year,
            month,
            day,
            hour: (s / 3600) as u32,
            minute: ((s / 60) % 60) as u32,
            second: (s % 60) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Utc;

    #[test]
    fn civil_dates_by_hand() {
        // 1970-01-01T00:00:00Z.
        assert_eq!(
            Utc::from_unix(0),
            Utc {
                year: 1970,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0
            }
        );
        // 2000-02-29T12:34:56Z (leap day of a century leap year): 11,016 days + 45,296 s.
        assert_eq!(
            Utc::from_unix(11_016 * 86_400 + 45_296),
            Utc {
                year: 2000,
                month: 2,
                day: 29,
                hour: 12,
                minute: 34,
                second: 56
            }
        );
        // 2026-11-25T17:41:53Z = 1,795,628,513 s.
        let t = Utc::from_unix(1_795_628_513);
        assert_eq!((t.year, t.month, t.day), (2026, 11, 25));
        assert_eq!((t.hour, t.minute, t.second), (17, 41, 53));
    }
}
