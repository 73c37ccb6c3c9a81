//! The run folder: one training run's files, owned by one process at a time.
//!
//! A run folder is created exclusively (a default name gets a suffix instead of joining a
//! folder that exists) and locked for as long as the run lives (`.lock`, an OS file lock that
//! dies with the process, so a killed run never leaves a stale lock). A second run on the same
//! folder, a new run over an interrupted one, or a name that is really a path are refused with a
//! message that says what to do instead. Temporary files a crashed writer left are removed once
//! the lock is held.

use anyhow::{Context, Result, bail};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

/// Files and folders a run writes; `--overwrite` removes exactly these.
const RUN_ENTRIES: [&str; 12] = [
    "config.toml",
    "checkpoints",
    "model.hebb",
    "metrics.jsonl",
    "metrics_final.json",
    "logs",
    "events",
    "plots",
    "run.json",
    "metadata.json",
    "figures",
    "parameters.toml",
];

/// A locked run folder.
#[derive(Debug)]
pub struct RunFolder {
    root: PathBuf,
    // Held for the life of the run: the OS releases it when the process ends, however it ends.
    // The file stays empty, so a refused run changes nothing in the folder.
    _lock: File,
}

/// What a folder holds, for the messages that refuse to reuse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// Nothing of a run.
    Nothing,
    /// A finished run (`model.hebb`).
    Finished,
    /// An interrupted or crashed run (checkpoints or metrics, no model).
    Interrupted,
}

/// Checks that `name` is a plain folder name: not empty, no path separators, not `.`/`..`, no
/// control characters, at most 200 bytes.
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty() {
        bail!("run name is empty");
    }
    if name == "." || name == ".." || name.contains(['/', '\\']) {
        bail!(
            "run name `{name}` is a path; a run name is a folder name (use -o for the folder that holds the runs)"
        );
    }
    if name.chars().any(char::is_control) {
        bail!("run name {name:?} contains control characters");
    }
    if name.len() > 200 {
        bail!("run name is {} bytes long (at most 200)", name.len());
    }
    Ok(())
}

/// `hebb_YYYYmmdd_HHMMSS`, UTC.
pub fn default_name() -> String {
    let t = crate::log::Utc::now();
    format!(
        "hebb_{:04}{:02}{:02}_{:02}{:02}{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// What `dir` holds.
pub fn holds(dir: &Path) -> Holds {
    if dir.join("model.hebb").exists() {
        Holds::Finished
    } else if dir.join("checkpoints").exists() || dir.join("metrics.jsonl").exists() {
        Holds::Interrupted
    } else {
        Holds::Nothing
    }
}

impl RunFolder {
    /// A folder for a new run in `output`: `name` if given (refused when another run holds it,
    /// unless `overwrite`), else a fresh default name (`hebb_…`, `hebb_…_2`, … created
    /// exclusively, so two runs started in the same second get two folders).
    pub fn create(output: &Path, name: Option<&str>, overwrite: bool) -> Result<Self> {
        fs::create_dir_all(output)
            .with_context(|| format!("creating the runs folder {}", output.display()))?;
        let Some(name) = name else {
            let base = default_name();
            for k in 1..1000u32 {
                let n = if k == 1 {
                    base.clone()
                } else {
                    format!("{base}_{k}")
                };
                let dir = output.join(&n);
                match fs::create_dir(&dir) {
                    Ok(()) => return Self::lock(dir),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => {
                        return Err(e).with_context(|| format!("creating {}", dir.display()));
                    }
                }
            }
            bail!(
                "could not find a free run name `{base}_N` in {}",
                output.display()
            );
        };
        check_name(name)?;
        let dir = output.join(name);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let folder = Self::lock(dir)?;
        match holds(&folder.root) {
            Holds::Nothing => {}
            _ if overwrite => folder.clear()?,
            Holds::Finished => bail!(
                "run folder {} already holds a finished run; choose another --name, or pass --overwrite to replace it",
                folder.root.display()
            ),
            Holds::Interrupted => bail!(
                "run folder {} holds an unfinished run; resume it with `hebb train --resume {}`, or choose another --name, or pass --overwrite to discard it",
                folder.root.display(),
                folder
                    .root
                    .join("checkpoints/checkpoint_latest.hebb")
                    .display()
            ),
        }
        Ok(folder)
    }

    /// The existing folder of a run to resume.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            bail!("run folder {} does not exist", dir.display());
        }
        Self::lock(dir.to_path_buf())
    }

    fn lock(root: PathBuf) -> Result<Self> {
        let p = root.join(".lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&p)
            .with_context(|| format!("opening {}", p.display()))?;
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                bail!(
                    "run folder {} is in use by another hebb run; wait for it to end or choose another --name",
                    root.display()
                );
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", p.display()));
            }
        }
        let folder = Self { root, _lock: f };
        folder.remove_stale_temps();
        Ok(folder)
    }

    /// Removes `.NAME.tmp.PID.N` files left by a writer that crashed (only ours can exist now,
    /// and this process has written none yet).
    fn remove_stale_temps(&self) {
        for d in [self.root.clone(), self.root.join("checkpoints")] {
            let Ok(rd) = fs::read_dir(&d) else { continue };
            for e in rd.flatten() {
                let n = e.file_name();
                let n = n.to_string_lossy();
                if n.starts_with('.') && n.contains(".tmp.") {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    }

    /// Removes what an earlier run wrote (for `--overwrite`).
    fn clear(&self) -> Result<()> {
        for e in RUN_ENTRIES {
            let p = self.root.join(e);
            let r = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else if p.exists() {
                fs::remove_file(&p)
            } else {
                Ok(())
            };
            r.with_context(|| format!("removing {}", p.display()))?;
        }
        Ok(())
    }

    /// Creates the sub-folders.
    pub fn prepare(&self, tensorboard: bool) -> Result<()> {
        for d in ["checkpoints", "logs", "plots"]
            .into_iter()
            .chain(tensorboard.then_some("events"))
        {
            let p = self.root.join(d);
            fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        }
        Ok(())
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `checkpoints/NAME`.
    pub fn checkpoint(&self, name: &str) -> PathBuf {
        self.root.join("checkpoints").join(name)
    }
    /// `checkpoints/checkpoint_latest.hebb`.
    pub fn latest(&self) -> PathBuf {
        self.checkpoint("checkpoint_latest.hebb")
    }
    /// `plots/`.
    pub fn plots(&self) -> PathBuf {
        self.root.join("plots")
    }
    /// A file directly in the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}
