//! Sliding windows over a time-sorted event stream: window `i` holds the events with
//! `start + i·stride ≤ t < start + i·stride + length`. Windows overlap when the stride is shorter
//! than the length and leave gaps when it is longer; they are slices of the stream, found by
//! binary search, so a long recording is walked once without copying.

use super::Event;
use crate::error::{Error, Result};

/// Window length and stride (µs). Valid by construction ([`WindowParams::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WindowParams {
    length_us: u64,
    stride_us: u64,
}

impl WindowParams {
    /// Windows of `length_us ≥ 1` every `stride_us ≥ 1`.
    pub fn new(length_us: u64, stride_us: u64) -> Result<Self> {
        if length_us == 0 {
            return Err(Error::Zero("window length"));
        }
        if stride_us == 0 {
            return Err(Error::Zero("window stride"));
        }
        Ok(Self {
            length_us,
            stride_us,
        })
    }
    /// Window length (µs).
    pub const fn length_us(&self) -> u64 {
        self.length_us
    }
    /// Stride (µs).
    pub const fn stride_us(&self) -> u64 {
        self.stride_us
    }
    /// Windows from `start` up to the last window that starts at or before `end`.
    pub fn over<'a>(&self, events: &'a [Event], start: u64, end: u64) -> Windows<'a> {
        Windows {
            events,
            p: *self,
            next: start,
            end,
            done: start > end,
        }
    }
}

/// The windows of a stream (see [`WindowParams::over`]).
#[derive(Debug, Clone)]
pub struct Windows<'a> {
    events: &'a [Event],
    p: WindowParams,
    next: u64,
    end: u64,
    done: bool,
}

/// One window: its start time and its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window<'a> {
    /// Start time (µs).
    pub start: u64,
    /// Events with `start ≤ t < start + length`.
    pub events: &'a [Event],
}

impl<'a> Iterator for Windows<'a> {
    type Item = Window<'a>;

    fn next(&mut self) -> Option<Window<'a>> {
        if self.done {
            return None;
        }
        let start = self.next;
        let stop = start.saturating_add(self.p.length_us);
        let a = self.events.partition_point(|e| e.t < start);
        let b = self.events.partition_point(|e| e.t < stop).max(a);
        match start.checked_add(self.p.stride_us) {
            Some(n) if n <= self.end => self.next = n,
            _ => self.done = true,
        }
        Some(Window {
            start,
            events: self.events.get(a..b).unwrap_or(&[]),
        })
    }
}
