//! Crash-safe file output.
//!
//! Checkpoints, models and plots are written with [`write_atomic`]: a reader (or a run that
//! resumes after a crash, a power cut or Ctrl-C) sees either the old file or the complete new
//! one, never a torn mix. Metrics logs are JSON Lines and use [`append_line`].

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temp files of concurrent writers within one process (pid alone would not).
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The folder that holds `path` ("." for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Replaces `path` with `bytes` atomically.
///
/// Writes a hidden temp file `.{name}.tmp.{pid}.{n}` in the same folder (a rename is only
/// atomic within one file system), fsyncs it so the data is on disk before the name points at
/// it, renames it over `path`, then fsyncs the folder so the rename itself survives a crash.
/// On any error the temp file is removed and `path` is left as it was. The folder must exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("write_atomic: {} has no file name", path.display()),
        )
    })?;
    let dir = parent_dir(path);
    let tmp: PathBuf = dir.join(format!(
        ".{}.tmp.{}.{}",
        name.to_string_lossy(),
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        // create_new: never clobber a file some other writer is still filling.
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        // Best effort: the original error matters more than a failed clean-up.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Makes a rename in `dir` durable. Only Unix can open and fsync a directory; elsewhere the
/// rename is still atomic, just not guaranteed durable across a power cut.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Appends `line` and a newline to `path` (created if missing), for JSON Lines logs.
///
/// The line and its newline go out in one `write_all` on a file opened in append mode, so
/// lines from concurrent appenders do not interleave within a line on local file systems, and
/// a crash can at worst leave the last line incomplete (which JSONL readers can skip).
/// A `line` containing `\n` or `\r` is rejected, because it would split one record in two.
pub fn append_line(path: &Path, line: &str) -> io::Result<()> {
    if line.contains(['\n', '\r']) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "append_line: line contains a line break",
        ));
    }
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(&buf)?;
    f.flush()
}

/// Largest `.hebb` file the host reads (a model of the largest supported network is a few MiB).
pub const MAX_HEBB_BYTES: u64 = 1 << 30;

/// Reads a `.hebb` file after checking its header: the magic, version and declared length are
/// read first, so a file that is not a model (or `/dev/zero`) is refused without reading it
/// whole, and a length that disagrees with the file is named.
pub fn read_hebb(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    use std::io::Read;
    let mut f =
        fs::File::open(path).with_context(|| format!("reading {what} {}", path.display()))?;
    let mut head = [0u8; hebb_core::frame::MAX_HEADER];
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).with_context(|| format!("reading {what} {}", path.display())),
        }
    }
    let h = hebb_core::frame::peek(&head[..got])
        .with_context(|| format!("{} is not a valid {what}", path.display()))?;
    let want = h.file_len() as u64;
    if want > MAX_HEBB_BYTES {
        anyhow::bail!(
            "{} is not a valid {what}: its header declares {want} bytes (at most {MAX_HEBB_BYTES})",
            path.display()
        );
    }
    let mut bytes = head[..got].to_vec();
    // One byte more than declared, so trailing bytes are seen without reading an endless file.
    f.take(want + 1 - got as u64)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {what} {}", path.display()))?;
    Ok(bytes)
}

/// Checks, before any work, that `path` can be written: its folder exists and is a folder,
/// and `path` itself is not a folder.
pub fn check_writable(path: &Path) -> anyhow::Result<()> {
    let dir = parent_dir(path);
    if !dir.is_dir() {
        anyhow::bail!(
            "cannot write {}: folder {} does not exist",
            path.display(),
            dir.display()
        );
    }
    if path.is_dir() {
        anyhow::bail!("cannot write {}: it is a folder", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp."))
            .collect()
    }

    #[test]
    fn write_atomic_creates_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.bin");
        write_atomic(&p, b"first").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"first");
        write_atomic(&p, b"second, longer").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second, longer");
        write_atomic(&p, b"").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn write_atomic_failure_leaves_destination_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        // The destination is a non-empty folder: the rename must fail.
        let p = dir.path().join("taken");
        fs::create_dir(&p).unwrap();
        fs::write(p.join("inner"), b"keep").unwrap();
        assert!(write_atomic(&p, b"x").is_err());
        assert_eq!(fs::read(p.join("inner")).unwrap(), b"keep");
        assert!(leftovers(dir.path()).is_empty());
        // Missing folder and missing file name are errors, not panics.
        assert!(write_atomic(&dir.path().join("no/such/dir/f"), b"x").is_err());
        assert_eq!(
            write_atomic(Path::new("/"), b"x").unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn write_atomic_concurrent_writers_never_tear() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("shared.json");
        let payloads: Vec<Vec<u8>> = (0..8u8).map(|i| vec![b'a' + i; 10_000]).collect();
        std::thread::scope(|s| {
            for pl in &payloads {
                let p = &p;
                s.spawn(move || {
                    for _ in 0..20 {
                        write_atomic(p, pl).unwrap();
                    }
                });
            }
        });
        let got = fs::read(&p).unwrap();
        assert!(payloads.contains(&got));
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn append_line_writes_jsonl() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("metrics.jsonl");
        append_line(&p, r#"{"epoch":0}"#).unwrap();
        append_line(&p, r#"{"epoch":1}"#).unwrap();
        assert_eq!(
            fs::read_to_string(&p).unwrap(),
            "{\"epoch\":0}\n{\"epoch\":1}\n"
        );
        let e = append_line(&p, "two\nlines").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(fs::read_to_string(&p).unwrap().lines().count(), 2);
    }
}
