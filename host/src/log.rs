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
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
        let line = format!("{h:02}:{m:02}:{s:02} | {tag} | {msg}");
        if let Some(f) = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_mut()
        {
            let _ = writeln!(f, "{secs} | {tag} | {msg}");
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
