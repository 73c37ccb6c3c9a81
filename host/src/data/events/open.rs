//! One opener for every event format: [`open`] picks the reader by the file's content (the
//! AEDAT magic line, a MAT file's `MATLAB 5.0` header, NumPy's `\x93NUMPY`), then by its
//! extension (`.bin` N-MNIST, `.csv`, and `.aedat4` / `.mat` / `.npy` for files whose content
//! says nothing recognisable, so that their reader names what is wrong).
//!
//! The sensor: AEDAT4 declares it (a `sensor` that disagrees is an error); the others do not,
//! and take `sensor` when given; without it, `.bin` files take N-MNIST's 34 × 34 and the
//! others (EBSSA `.mat`, `.npy`, CSV) the smallest sensor that holds every event, which
//! [`Opened::sensor_from`] reports as [`SensorFrom::MaxCoordinate`].

use super::mat::ObjectLabel;
use super::{EventError, Recording, aedat, csv, mat, nmnist, npy, read_file};
use std::path::Path;

/// An event-file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// AEDAT4 (iniVation DV).
    Aedat4,
    /// N-MNIST / N-Caltech101 `.bin`.
    NmnistBin,
    /// EBSSA recordings in MATLAB level-5 MAT files.
    MatEbssa,
    /// NumPy `.npy` event arrays.
    Npy,
    /// CSV text.
    Csv,
}

impl Format {
    /// A stable name: `aedat4`, `nmnist-bin`, `mat-ebssa`, `npy`, `csv`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Aedat4 => "aedat4",
            Self::NmnistBin => "nmnist-bin",
            Self::MatEbssa => "mat-ebssa",
            Self::Npy => "npy",
            Self::Csv => "csv",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a recording's sensor size came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensorFrom {
    /// The file declares it.
    Declared,
    /// The caller gave it.
    Given,
    /// The format's usual sensor (N-MNIST's 34 × 34).
    Default,
    /// The smallest sensor that holds every event.
    MaxCoordinate,
}

impl SensorFrom {
    /// A stable name: `declared`, `given`, `default`, `max-coordinate`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Declared => "declared",
            Self::Given => "given",
            Self::Default => "default",
            Self::MaxCoordinate => "max-coordinate",
        }
    }
}

/// An opened event file.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    /// Its format.
    pub format: Format,
    /// Its events.
    pub recording: Recording,
    /// Where the sensor size came from.
    pub sensor_from: SensorFrom,
    /// EBSSA's object labels (`Obj`), for MAT files.
    pub labels: Option<Vec<ObjectLabel>>,
}

/// The format of a file with these contents and this name, when it can be told.
pub fn sniff(bytes: &[u8], path: &Path) -> Option<Format> {
    if bytes.starts_with(b"#!AER-DAT") {
        return Some(Format::Aedat4);
    }
    if bytes.starts_with(b"MATLAB 5.0") {
        return Some(Format::MatEbssa);
    }
    if bytes.starts_with(b"\x93NUMPY") {
        return Some(Format::Npy);
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    Some(match ext.as_deref()? {
        "bin" => Format::NmnistBin,
        "csv" | "txt" => Format::Csv,
        "aedat4" => Format::Aedat4,
        "mat" => Format::MatEbssa,
        "npy" => Format::Npy,
        _ => return None,
    })
}

/// The recording of `events` on the smallest sensor that holds them.
fn fit(format: &'static str, events: Vec<super::Event>) -> Result<Recording, EventError> {
    if events.is_empty() {
        return Err(EventError::Malformed {
            format,
            what: "no events to size the sensor from: give the sensor size".into(),
        });
    }
    let side = |v: u16| {
        v.checked_add(1).ok_or_else(|| EventError::Malformed {
            format,
            what: "a coordinate of 65535 needs a sensor wider than 65535".into(),
        })
    };
    let w = side(events.iter().map(|e| e.x).max().unwrap_or(0))?;
    let h = side(events.iter().map(|e| e.y).max().unwrap_or(0))?;
    Recording::new(format, w, h, events)
}

/// Reads an event file, telling its format from its content and name (see the module docs).
pub fn open_bytes(
    bytes: &[u8],
    path: &Path,
    sensor: Option<(u16, u16)>,
) -> Result<Opened, EventError> {
    let format = sniff(bytes, path).ok_or_else(|| EventError::Malformed {
        format: "event file",
        what: format!(
            "cannot tell the format of {}: no AEDAT4, MAT or NumPy header, and the extension is none of .aedat4, .mat, .npy, .bin, .csv",
            path.display()
        ),
    })?;
    let from = if sensor.is_some() {
        SensorFrom::Given
    } else {
        SensorFrom::MaxCoordinate
    };
    let (recording, sensor_from, labels) = match format {
        Format::Aedat4 => {
            let r = aedat::read(bytes)?;
            if let Some((w, h)) = sensor
                && (w, h) != (r.width, r.height)
            {
                return Err(EventError::Malformed {
                    format: "AEDAT4",
                    what: format!(
                        "the file declares a {}×{} sensor, not the {w}×{h} given",
                        r.width, r.height
                    ),
                });
            }
            (r, SensorFrom::Declared, None)
        }
        Format::NmnistBin => match sensor {
            Some((w, h)) => (nmnist::read(bytes, w, h)?, SensorFrom::Given, None),
            None => {
                let (w, h) = nmnist::NMNIST_SIZE;
                (nmnist::read(bytes, w, h)?, SensorFrom::Default, None)
            }
        },
        Format::MatEbssa => {
            let (w, h) = sensor.unwrap_or((u16::MAX, u16::MAX));
            let (r, labels) = mat::read_ebssa(bytes, w, h)?;
            let r = if sensor.is_some() {
                r
            } else {
                fit("MAT", r.events)?
            };
            (r, from, Some(labels))
        }
        Format::Npy => {
            let events = npy::decode(bytes)?;
            let r = match sensor {
                Some((w, h)) => Recording::new(".npy", w, h, events)?,
                None => fit(".npy", events)?,
            };
            (r, from, None)
        }
        Format::Csv => {
            let events = csv::decode(bytes)?;
            let r = match sensor {
                Some((w, h)) => Recording::new("CSV", w, h, events)?,
                None => fit("CSV", events)?,
            };
            (r, from, None)
        }
    };
    Ok(Opened {
        format,
        recording,
        sensor_from,
        labels,
    })
}

/// Reads the event file at `path` (see [`open_bytes`]), with every detail of what was read.
pub fn open_detailed(path: &Path, sensor: Option<(u16, u16)>) -> Result<Opened, EventError> {
    open_bytes(&read_file(path)?, path, sensor)
}

/// Reads the event file at `path`: its format and its recording.
pub fn open(path: &Path, sensor: Option<(u16, u16)>) -> Result<(Format, Recording), EventError> {
    let o = open_detailed(path, sensor)?;
    Ok((o.format, o.recording))
}
