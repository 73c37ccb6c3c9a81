//! Reader of the event-pipeline fixture the host writes (`events.bin`; writer
//! `hebb::firmware::events`, layout in firmware/README.md).
//!
//! Compiled into the `events` binary and, through `#[path]`, into `build.rs`; both name the
//! library's fixture reader `crate::fixture` (framing, CRC check, little-endian readers).

use crate::fixture::{FixtureError, frame, u16_at, u32_at, u64_at};
use hebb_core::events::Event;

/// Magic of `events.bin`.
pub const EVENTS_MAGIC: [u8; 4] = *b"HBEV";
/// Bytes before the model.
pub const EVENTS_HEADER_LEN: usize = 48;
/// Bytes of one event.
pub const EVENT_LEN: usize = 8;
/// Words of the filter counts.
pub const FILTER_WORDS: usize = 6;

/// `events.bin`: a model, an event stream and the host's results for it.
#[derive(Debug, Clone, Copy)]
pub struct Events<'a> {
    /// Sensor columns.
    pub sensor_w: u16,
    /// Sensor rows.
    pub sensor_h: u16,
    /// Windows.
    pub n_windows: u16,
    /// Levels (layers + 1).
    pub levels: u16,
    /// Time of the first event (µs).
    pub t0: u64,
    /// Events.
    pub n_events: u32,
    /// Background-activity support time (µs).
    pub support_us: u32,
    /// Refractory period (µs).
    pub refractory_us: u32,
    /// Hot-pixel count limit.
    pub hot_max: u32,
    /// Hot-pixel calibration stretch (µs from `t0`).
    pub calib_us: u32,
    /// The `.hebb` model.
    pub model: &'a [u8],
    /// The host's filter counts: raw, hot pixels, hot, refractory, unsupported, kept.
    pub filter: [u32; FILTER_WORDS],
    events: &'a [u8],
    windows: &'a [u8],
}

/// The host's results for one window: u32 start − t0, kept, voxel CRC, spikes per level,
/// instances, mask pixels, mask CRC.
#[derive(Debug, Clone, Copy)]
pub struct WindowRec<'a> {
    words: &'a [u8],
}

impl WindowRec<'_> {
    /// Word `k`.
    pub fn word(&self, k: usize) -> u32 {
        self.words.get(4 * k..4 * k + 4).map_or(0, |b| u32_at(b, 0))
    }
}

impl<'a> Events<'a> {
    /// Parses and checks an `events.bin` image.
    pub fn parse(b: &'a [u8]) -> Result<Self, FixtureError> {
        let body = frame(b, EVENTS_MAGIC, EVENTS_HEADER_LEN)?;
        let (sw, sh, n, levels) = (
            u16_at(body, 6),
            u16_at(body, 8),
            u16_at(body, 10),
            u16_at(body, 12),
        );
        if sw == 0 || sh == 0 || levels < 2 {
            return Err(FixtureError::Invalid("empty sensor or network"));
        }
        let ne = u32_at(body, 24) as usize;
        let ml = u32_at(body, 44) as usize;
        let at = (EVENTS_HEADER_LEN + ml).div_ceil(4) * 4;
        let rec = 4 * (6 + usize::from(levels));
        let expected = at + ne * EVENT_LEN + 4 * FILTER_WORDS + usize::from(n) * rec;
        if body.len() != expected {
            return Err(FixtureError::BadLength {
                expected: expected + 4,
                got: b.len(),
            });
        }
        let model = &body[EVENTS_HEADER_LEN..EVENTS_HEADER_LEN + ml];
        let (events, rest) = body[at..].split_at(ne * EVENT_LEN);
        let (filter, windows) = rest.split_at(4 * FILTER_WORDS);
        let mut fw = [0u32; FILTER_WORDS];
        for (k, w) in fw.iter_mut().enumerate() {
            *w = u32_at(filter, 4 * k);
        }
        Ok(Self {
            sensor_w: sw,
            sensor_h: sh,
            n_windows: n,
            levels,
            t0: u64_at(body, 16),
            n_events: ne as u32,
            support_us: u32_at(body, 28),
            refractory_us: u32_at(body, 32),
            hot_max: u32_at(body, 36),
            calib_us: u32_at(body, 40),
            model,
            filter: fw,
            events,
            windows,
        })
    }

    /// Event `i` of the stream.
    pub fn event(&self, i: usize) -> Option<Event> {
        let c = self.events.get(i * EVENT_LEN..(i + 1) * EVENT_LEN)?;
        let y = u16_at(c, 6);
        Some(Event::new(
            self.t0 + u64::from(u32_at(c, 0)),
            u16_at(c, 4),
            y & 0x7fff,
            y >> 15 == 1,
        ))
    }

    /// The host's results for window `i`.
    pub fn window(&self, i: usize) -> Option<WindowRec<'a>> {
        let rec = 4 * (6 + usize::from(self.levels));
        Some(WindowRec {
            words: self.windows.get(i * rec..(i + 1) * rec)?,
        })
    }

    /// The most kept events of one window.
    pub fn max_kept(&self) -> u32 {
        (0..usize::from(self.n_windows))
            .filter_map(|i| self.window(i))
            .map(|w| w.word(1))
            .max()
            .unwrap_or(0)
    }
}
