//! Run log: lines to the console (through the progress bar, so they do not tear it) and to
//! `logs/train.log`.

use indicatif::ProgressBar;
use std::fs::File;
use std::io::Write;
use std::sync::Mutex;

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

/// A logger for one run.
#[derive(Debug)]
pub struct Log {
    level: Level,
    file: Mutex<Option<File>>,
    bar: Mutex<Option<ProgressBar>>,
}

impl Log {
    /// Console-only logger.
    pub fn new(level: Level) -> Self {
        Self {
            level,
            file: Mutex::new(None),
            bar: Mutex::new(None),
        }
    }
    /// Also appends to `path`.
    pub fn to_file(&self, path: &std::path::Path) -> std::io::Result<()> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        *self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(f);
        Ok(())
    }
    /// Routes console lines through this progress bar (or back to stderr with `None`).
    pub fn set_bar(&self, bar: Option<ProgressBar>) {
        *self
            .bar
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = bar;
    }
    /// Writes one line at `level`.
    pub fn log(&self, level: Level, msg: &str) {
        let tag = match level {
            Level::Error => "ERROR",
            Level::Warn => "WARN ",
            Level::Info => "INFO ",
            Level::Debug => "DEBUG",
        };
        let t = Utc::now();
        let line = format!(
            "{:02}:{:02}:{:02} | {tag} | {msg}",
            t.hour, t.minute, t.second
        );
        if let Some(f) = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_mut()
        {
            let _ = writeln!(
                f,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z | {tag} | {msg}",
                t.year, t.month, t.day, t.hour, t.minute, t.second
            );
        }
        if level <= self.level {
            match self
                .bar
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .as_ref()
            {
                Some(b) if !b.is_hidden() => b.println(line),
                _ => eprintln!("{line}"),
            }
        }
    }
    /// Info line.
    pub fn info(&self, msg: &str) {
        self.log(Level::Info, msg);
    }
    /// Warning line.
    pub fn warn(&self, msg: &str) {
        self.log(Level::Warn, msg);
    }
    /// Debug line.
    pub fn debug(&self, msg: &str) {
        self.log(Level::Debug, msg);
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
