//! Event-camera input: the event type and the preprocessing that turns a stream of events into
//! what the first layer sees, in integer arithmetic shared by the host and the firmware.
//!
//! * [`voxel`]: counting events into time bins × polarity channels × a raster, by fraction of a
//!   window's span (SpikeSEG's binning) or by a fixed bin duration, and the per-bin
//!   normalisations (counts, binary, divided by the bin's largest count);
//! * [`filter`]: background-activity denoising (refractory period plus a neighbourhood support
//!   test) and hot-pixel suppression;
//! * [`window`]: sliding windows over a time-sorted stream.
//!
//! The event encoder that turns a voxel grid into first-spike times is
//! [`EncodeMode::Events`](crate::encode::EncodeMode::Events).

pub mod filter;
pub mod voxel;
pub mod window;

/// One event: a pixel changed brightness at a time.
///
/// Ordered by time first, so a sort puts a stream in time order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Event {
    /// Time in microseconds.
    pub t: u64,
    /// Column, 0-based.
    pub x: u16,
    /// Row, 0-based.
    pub y: u16,
    /// Polarity: `true` for ON (brighter).
    pub on: bool,
}

impl Event {
    /// An event at `t` µs, pixel `(x, y)`, polarity `on`.
    pub const fn new(t: u64, x: u16, y: u16, on: bool) -> Self {
        Self { t, x, y, on }
    }
}
