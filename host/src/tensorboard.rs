//! A minimal TensorBoard event-file writer for scalar curves, with no protobuf dependency.
//!
//! An event file is a sequence of TFRecords, each holding one serialized `tensorflow.Event`
//! protobuf. Scalars need only a handful of fields, so they are encoded by hand here instead
//! of pulling in a protobuf crate (the `tensorboard-rs` crate brings protobuf 2 and image 0.23).
//!
//! TFRecord framing, per record:
//! `u64 LE length | u32 LE masked CRC-32C(length bytes) | data | u32 LE masked CRC-32C(data)`,
//! with `mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8` (wrapping).
//!
//! Event fields used: `wall_time` = 1 (double), `step` = 2 (int64 varint),
//! `file_version` = 3 (string, `"brain.Event:2"`, in the first record), `summary` = 5
//! (`Summary { value = 1: Value { tag = 1: string, simple_value = 2: float } }`).
//!
//! Checked against the real reader: a file written by this module (tags with slashes, a
//! 200-byte tag, negative and 12-digit steps) was loaded with
//! `tensorboard.backend.event_processing.event_accumulator.EventAccumulator` (tensorboard
//! 2.21.0 from PyPI, in a throwaway venv), which returned the same tags, steps and values;
//! flipping one CRC bit made it drop that record, so the CRCs are really being checked.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// The version string TensorBoard expects in the first event of a file.
pub const FILE_VERSION: &str = "brain.Event:2";

/// TFRecord's masked CRC-32C; masking keeps a CRC of data that itself contains CRCs from
/// being trivially predictable.
pub fn masked_crc32c(bytes: &[u8]) -> u32 {
    let c = CRC32C.checksum(bytes);
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Wraps `data` in TFRecord framing.
pub fn frame_record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Protobuf key: field number and wire type (0 varint, 1 fixed64, 2 length-delimited,
/// 5 fixed32).
fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire_type));
}

fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Encodes an `Event` with `wall_time`, `step` and either a `file_version` or a one-value
/// scalar `summary`.
fn encode_event(wall_time: f64, step: i64, body: EventBody<'_>) -> Vec<u8> {
    let mut ev = Vec::with_capacity(64);
    put_key(&mut ev, 1, 1);
    ev.extend_from_slice(&wall_time.to_le_bytes());
    if step != 0 {
        put_key(&mut ev, 2, 0);
        // int64 varints carry negative numbers as their two's complement in 10 bytes.
        put_varint(&mut ev, step as u64);
    }
    match body {
        EventBody::FileVersion(v) => put_bytes(&mut ev, 3, v.as_bytes()),
        EventBody::Scalar { tag, value } => {
            let mut val = Vec::with_capacity(tag.len() + 8);
            put_bytes(&mut val, 1, tag.as_bytes());
            put_key(&mut val, 2, 5);
            val.extend_from_slice(&value.to_le_bytes());
            let mut summary = Vec::with_capacity(val.len() + 4);
            put_bytes(&mut summary, 1, &val);
            put_bytes(&mut ev, 5, &summary);
        }
    }
    ev
}

enum EventBody<'a> {
    FileVersion(&'a str),
    Scalar { tag: &'a str, value: f32 },
}

/// The serialized `Event` proto (unframed) of one scalar; public for tests and for writers
/// that manage their own files.
pub fn encode_scalar_event(wall_time: f64, tag: &str, value: f32, step: i64) -> Vec<u8> {
    encode_event(wall_time, step, EventBody::Scalar { tag, value })
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The host name for the file name (TensorBoard's convention), restricted to characters that
/// are safe in file names; `hebb` when it cannot be read.
fn hostname() -> String {
    let raw = fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let clean: String = raw
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if clean.is_empty() {
        "hebb".to_owned()
    } else {
        clean
    }
}

/// Writes scalar summaries to a TensorBoard event file (`tensorboard --logdir DIR`).
///
/// Records are buffered; call [`EventWriter::flush`] (e.g. once per epoch) to make them
/// visible to a running TensorBoard. Dropping the writer flushes too, but ignores errors.
#[derive(Debug)]
pub struct EventWriter {
    out: BufWriter<File>,
    path: PathBuf,
}

impl EventWriter {
    /// Creates `dir` if needed and a new file `events.out.tfevents.{secs}.{hostname}` in it,
    /// starting with the `file_version` event. If a writer already made that name this
    /// second, a numeric suffix is added rather than overwriting it (TensorBoard reads every
    /// file whose name contains `tfevents`).
    pub fn create(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let wall_time = now_secs();
        let base = format!("events.out.tfevents.{}.{}", wall_time as u64, hostname());
        let mut attempt = 0u32;
        let (file, path) = loop {
            let name = if attempt == 0 {
                base.clone()
            } else {
                format!("{base}.{attempt}")
            };
            let path = dir.join(name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => break (f, path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 1000 => {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        };
        let mut writer = Self {
            out: BufWriter::new(file),
            path,
        };
        writer.write_event(&encode_event(
            wall_time,
            0,
            EventBody::FileVersion(FILE_VERSION),
        ))?;
        writer.flush()?;
        Ok(writer)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `value` under `tag` (slashes group tags in TensorBoard, e.g. `train/accuracy`)
    /// at `step`, stamped with the current wall time.
    pub fn add_scalar(&mut self, tag: &str, value: f32, step: i64) -> io::Result<()> {
        self.write_event(&encode_scalar_event(now_secs(), tag, value, step))
    }

    /// Pushes buffered records to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn write_event(&mut self, event: &[u8]) -> io::Result<()> {
        self.out.write_all(&frame_record(event))
    }
}
