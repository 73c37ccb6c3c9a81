//! Event filters that run on a time-sorted stream, one event at a time, with caller-owned
//! per-pixel memory.
//!
//! * [`BackgroundFilter`]: the background-activity filter of event cameras (Delbruck 2008): an
//!   event passes only when one of its 8 neighbours had an event within the support time (real
//!   edges are spatially correlated, leak and shot noise are not), after a per-pixel refractory
//!   period that drops bursts of one pixel.
//! * [`mark_hot`] / [`is_hot`]: hot pixels, found by their event count over a calibration
//!   stretch and then suppressed.

use super::Event;
use crate::error::{Error, Result, head_mut};

/// Background-activity filter with a refractory period. Its memory is one timestamp per pixel
/// (`width × height` `u64`, owned by the caller, zeroed to start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BackgroundFilter {
    width: u16,
    height: u16,
    support_us: u64,
    refractory_us: u64,
}

/// What the filter did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Verdict {
    /// A neighbour supports it.
    Keep,
    /// No neighbour had an event within the support time.
    Unsupported,
    /// Its own pixel had an event within the refractory period.
    Refractory,
}

impl BackgroundFilter {
    /// A filter for a `width × height` sensor: support time `support_us ≥ 1`, refractory
    /// period `refractory_us` (0: none).
    pub fn new(width: u16, height: u16, support_us: u64, refractory_us: u64) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(Error::Zero("sensor side"));
        }
        if support_us == 0 {
            return Err(Error::Zero("background filter support time"));
        }
        Ok(Self {
            width,
            height,
            support_us,
            refractory_us,
        })
    }

    /// Pixels of the sensor (the length of the filter's memory).
    pub const fn pixels(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Judges the next event of the stream and records it in `last` (one entry per pixel;
    /// `0` = no event yet, otherwise the time + 1). A refractory event is not recorded, so a
    /// burst cannot keep its pixel busy. Events must come in time order; one outside the sensor
    /// is an error.
    pub fn judge(&self, last: &mut [u64], e: &Event) -> Result<Verdict> {
        let last = head_mut("background filter memory", last, self.pixels())?;
        if e.x >= self.width || e.y >= self.height {
            return Err(Error::OutOfRange("event outside the sensor"));
        }
        let w = usize::from(self.width);
        let at = |x: usize, y: usize| y * w + x;
        let (x, y) = (usize::from(e.x), usize::from(e.y));
        let recent = |stamp: u64, window: u64| stamp != 0 && e.t.saturating_sub(stamp - 1) < window;
        let own = last.get(at(x, y)).copied().unwrap_or(0);
        if self.refractory_us > 0 && recent(own, self.refractory_us) {
            return Ok(Verdict::Refractory);
        }
        let mut supported = false;
        for ny in y.saturating_sub(1)..=(y + 1).min(usize::from(self.height) - 1) {
            for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                if (nx, ny) != (x, y)
                    && last
                        .get(at(nx, ny))
                        .is_some_and(|&s| recent(s, self.support_us))
                {
                    supported = true;
                }
            }
        }
        if let Some(s) = last.get_mut(at(x, y)) {
            *s = e.t.saturating_add(1);
        }
        Ok(if supported {
            Verdict::Keep
        } else {
            Verdict::Unsupported
        })
    }
}

/// Counts the events of each pixel of a `width`-column sensor into `counts` (saturating);
/// events outside `counts` are an error.
pub fn count_pixels(events: &[Event], width: u16, counts: &mut [u32]) -> Result<()> {
    let w = usize::from(width);
    for e in events {
        if e.x >= width {
            return Err(Error::OutOfRange("event outside the sensor"));
        }
        let c = counts
            .get_mut(usize::from(e.y) * w + usize::from(e.x))
            .ok_or(Error::OutOfRange("event outside the sensor"))?;
        *c = c.saturating_add(1);
    }
    Ok(())
}

/// Marks the pixels whose count exceeds `max_count` in the bit set `mask` (one bit per pixel,
/// `⌈pixels / 32⌉` words, cleared first); returns how many were marked.
pub fn mark_hot(counts: &[u32], max_count: u32, mask: &mut [u32]) -> Result<usize> {
    let mask = head_mut("hot-pixel mask", mask, counts.len().div_ceil(32))?;
    mask.fill(0);
    let mut n = 0;
    for (i, &c) in counts.iter().enumerate() {
        if c > max_count
            && let Some(word) = mask.get_mut(i / 32)
        {
            *word |= 1 << (i % 32);
            n += 1;
        }
    }
    Ok(n)
}

/// True when the event's pixel is marked in `mask` (of a `width`-column sensor).
pub fn is_hot(mask: &[u32], width: u16, e: &Event) -> bool {
    let i = usize::from(e.y) * usize::from(width) + usize::from(e.x);
    e.x < width && mask.get(i / 32).is_some_and(|w| w >> (i % 32) & 1 == 1)
}
