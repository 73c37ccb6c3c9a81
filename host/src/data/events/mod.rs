//! Event-camera data: the event type and the readers of the formats recordings come in, each
//! refusing a bad file with an error that names what is wrong and where, never panicking and
//! never allocating more than the file can hold.
//!
//! * [`aedat`]: AEDAT4 files (iniVation DV: FlatBuffers packets, LZ4 / Zstandard compression),
//!   the first event stream with the sensor size its description declares;
//! * [`mat`]: MATLAB level-5 MAT files and EBSSA recordings (`TD` events, `Obj` labels);
//! * [`nmnist`]: N-MNIST / N-Caltech101 `.bin` (5 bytes per event, with the overflow record);
//! * [`npy`]: plain event arrays in NumPy `.npy` files (an `n × 4` array or a structured array
//!   with fields `x`, `y`, `t`, `p`);
//! * [`saccade`]: N-MNIST-like recordings of still images, generated;
//! * [`satellites`]: EBSSA-like recordings of stars and satellites, generated, with their
//!   labels and a writer of EBSSA `.mat` files;
//! * [`voxel`]: voxel grids (time bins × polarity × raster), as SpikeSEG feeds its first layer;
//! * [`dataset`]: folders of recordings as labelled data sets of voxel grids;
//! * [`csv`]: CSV text with `x, y, t, p` columns (named in a header, in any order, or in that
//!   order without one).
//!
//! [`open::open`] tells the format of a file from its content and name and reads it with the
//! right reader, taking the sensor size from the file, the caller, or the events themselves.
//!
//! Coordinates are 0-based; a recording's sensor geometry is given by the caller or declared by
//! the format and checked for every event, never rescaled silently.

pub mod aedat;
pub mod csv;
pub mod dataset;
pub mod mat;
pub mod nmnist;
pub mod npy;
pub mod open;
mod pixel;
pub mod saccade;
pub mod satellites;
pub mod voxel;

pub use open::{Format, open};
use std::path::Path;

/// One event (the core's type, which the firmware's preprocessing shares).
pub use hebb_core::events::Event;

/// A recording: its sensor size and events in time order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// Sensor columns.
    pub width: u16,
    /// Sensor rows.
    pub height: u16,
    /// Events, sorted by time (stable: events of one time keep the file's order).
    pub events: Vec<Event>,
}

/// What can be wrong with an event file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    /// The file could not be read.
    #[error("reading {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The length is not a whole number of records.
    #[error(
        "{format}: {len} bytes is not a whole number of {record}-byte events ({extra} bytes left over)"
    )]
    PartialRecord {
        /// The format.
        format: &'static str,
        /// File length.
        len: usize,
        /// Record size.
        record: usize,
        /// Bytes past the last whole record.
        extra: usize,
    },
    /// An event lies outside the sensor.
    #[error("{format}: event {index} at ({x}, {y}) lies outside the {width}×{height} sensor")]
    OutOfSensor {
        /// The format.
        format: &'static str,
        /// Event number (0-based, in file order).
        index: usize,
        /// Its column.
        x: u64,
        /// Its row.
        y: u64,
        /// Sensor columns.
        width: u16,
        /// Sensor rows.
        height: u16,
    },
    /// A value is not usable (negative time, polarity not 0/1/±1, a fraction, NaN).
    #[error("{format}: event {index}: {what}")]
    BadValue {
        /// The format.
        format: &'static str,
        /// Event number.
        index: usize,
        /// What is wrong.
        what: String,
    },
    /// The header or structure of the file is not what the format says.
    #[error("{format}: {what}")]
    Malformed {
        /// The format.
        format: &'static str,
        /// What is wrong.
        what: String,
    },
    /// A sensor of zero size.
    #[error("sensor size {width}×{height} has a zero side")]
    EmptySensor {
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
    },
}

/// Largest event file read (bytes): a guard against reading a device or a runaway file whole.
pub const MAX_EVENT_FILE: u64 = 4 << 30;

/// Reads a whole file, refusing one larger than [`MAX_EVENT_FILE`].
pub fn read_file(path: &Path) -> Result<Vec<u8>, EventError> {
    use std::io::Read;
    let io = |e: std::io::Error| EventError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    f.take(MAX_EVENT_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_EVENT_FILE {
        return Err(EventError::Io {
            path: path.display().to_string(),
            reason: format!("larger than {MAX_EVENT_FILE} bytes"),
        });
    }
    Ok(bytes)
}

impl Recording {
    /// A recording of `events` on a `width × height` sensor: every event is checked against
    /// the sensor, and the events are put in time order.
    pub fn new(
        format: &'static str,
        width: u16,
        height: u16,
        mut events: Vec<Event>,
    ) -> Result<Self, EventError> {
        if width == 0 || height == 0 {
            return Err(EventError::EmptySensor { width, height });
        }
        if let Some((index, e)) = events
            .iter()
            .enumerate()
            .find(|(_, e)| e.x >= width || e.y >= height)
        {
            return Err(EventError::OutOfSensor {
                format,
                index,
                x: u64::from(e.x),
                y: u64::from(e.y),
                width,
                height,
            });
        }
        events.sort_by_key(|e| e.t);
        Ok(Self {
            width,
            height,
            events,
        })
    }

    /// Events with `from ≤ t < to`.
    pub fn window(&self, from: u64, to: u64) -> &[Event] {
        let a = self.events.partition_point(|e| e.t < from);
        let b = self.events.partition_point(|e| e.t < to);
        &self.events[a..b.max(a)]
    }

    /// Time of the first and last event (`None` when empty).
    pub fn span(&self) -> Option<(u64, u64)> {
        Some((self.events.first()?.t, self.events.last()?.t))
    }
}

/// A polarity value as files write it: 0/1, −1/+1 (CSV, `.npy`).
pub(crate) fn polarity(v: i64) -> Option<bool> {
    match v {
        1 => Some(true),
        0 | -1 => Some(false),
        _ => None,
    }
}
