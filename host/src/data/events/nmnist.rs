//! N-MNIST / N-Caltech101 `.bin` files (Orchard et al. 2015): 5 bytes per event, big-endian:
//! byte 0 = x, byte 1 = y, bit 7 of byte 2 = polarity (1 = ON), the low 23 bits of bytes 2–4 the
//! time in µs. A record with y = 240 is not an event: it marks a timestamp overflow and adds 2¹³
//! µs to every later event (N-MNIST samples never reach it, N-Caltech101 recordings may).

use super::{Event, EventError, Recording};

/// Bytes per record.
pub const RECORD: usize = 5;
/// The y value of an overflow record.
pub const OVERFLOW_Y: u8 = 240;
/// What an overflow record adds to later timestamps (µs).
pub const OVERFLOW_STEP: u64 = 1 << 13;
/// N-MNIST's sensor (the ATIS crop the digits were recorded in).
pub const NMNIST_SIZE: (u16, u16) = (34, 34);

/// Decodes the events of a `.bin` file (without a sensor check).
pub fn decode(bytes: &[u8]) -> Result<Vec<Event>, EventError> {
    let extra = bytes.len() % RECORD;
    if extra != 0 {
        return Err(EventError::PartialRecord {
            format: "N-MNIST .bin",
            len: bytes.len(),
            record: RECORD,
            extra,
        });
    }
    let mut offset = 0u64;
    let mut events = Vec::with_capacity(bytes.len() / RECORD);
    for r in bytes.chunks_exact(RECORD) {
        let (x, y, b2, b3, b4) = (r[0], r[1], r[2], r[3], r[4]);
        if y == OVERFLOW_Y {
            offset += OVERFLOW_STEP;
            continue;
        }
        let t = (u64::from(b2 & 0x7F) << 16) | (u64::from(b3) << 8) | u64::from(b4);
        events.push(Event {
            t: t + offset,
            x: u16::from(x),
            y: u16::from(y),
            on: b2 & 0x80 != 0,
        });
    }
    Ok(events)
}

/// Reads a `.bin` recording on a `width × height` sensor (N-MNIST: [`NMNIST_SIZE`]).
pub fn read(bytes: &[u8], width: u16, height: u16) -> Result<Recording, EventError> {
    Recording::new("N-MNIST .bin", width, height, decode(bytes)?)
}

/// Encodes events as a `.bin` file (times must be below 2²³ µs after overflow records, which
/// are written as needed): for tests and generated data sets.
pub fn encode(events: &[Event]) -> Result<Vec<u8>, EventError> {
    let mut out = Vec::with_capacity(events.len() * RECORD);
    let mut offset = 0u64;
    let mut last = 0u64;
    for (index, e) in events.iter().enumerate() {
        if e.x > 255 || e.y > 255 || e.y == u16::from(OVERFLOW_Y) {
            return Err(EventError::BadValue {
                format: "N-MNIST .bin",
                index,
                what: format!(
                    "({}, {}) cannot be written in one byte each (y = 240 is reserved)",
                    e.x, e.y
                ),
            });
        }
        if e.t < last {
            return Err(EventError::BadValue {
                format: "N-MNIST .bin",
                index,
                what: "events must be in time order".into(),
            });
        }
        last = e.t;
        while e.t - offset >= 1 << 23 {
            out.extend_from_slice(&[0, OVERFLOW_Y, 0, 0, 0]);
            offset += OVERFLOW_STEP;
        }
        let t = e.t - offset;
        out.extend_from_slice(&[
            e.x as u8,
            e.y as u8,
            ((t >> 16) as u8 & 0x7F) | if e.on { 0x80 } else { 0 },
            (t >> 8) as u8,
            t as u8,
        ]);
    }
    Ok(out)
}
