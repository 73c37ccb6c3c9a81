//! Learning-rate schedules, every one a pure function of a sample count (so a resumed run
//! continues with exactly the rates it would have had, and the host, the tests and the firmware
//! agree bit for bit):
//!
//! * [`LrSchedule`] / [`LrState`]: convolutional STDP's `a±` (Q0.32), doubling every
//!   `double_every` samples up to a cap (Kheradpisheh et al. 2018);
//! * [`RateSchedule`]: the rate rules' `η` (Q5.26): constant, `1/t` or exponential decay.

use crate::error::{Error, Result};
use crate::local::fixed::FRAC;
use crate::stdp::StdpParams;
use serde::{Deserialize, Serialize};

/// The learning-rate schedule of a layer: `a+` doubles every `double_every` samples up to
/// `a_plus_cap` (Q0.32), keeping the ratio `a−/a+` of `base` (Kheradpisheh et al. 2018).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LrSchedule {
    /// Rates at the start of the layer's training.
    pub base: StdpParams,
    /// Doubling period in samples (0: never).
    pub double_every: u32,
    /// Cap of `a+`, Q0.32.
    pub a_plus_cap: u32,
}

/// Learning-rate state of the layer in training (part of a checkpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LrState {
    /// Rates in use.
    pub current: StdpParams,
    /// Samples seen by this layer so far (drives the doubling schedule).
    pub samples: u64,
}

impl LrState {
    /// The state before the first sample of a layer.
    pub fn start(s: &LrSchedule) -> Self {
        Self {
            current: s.base,
            samples: 0,
        }
    }

    /// Advances by one sample and applies the doubling schedule. SpykeTorch counts the sample
    /// first, so sample number `double_every` already learns with the doubled rate.
    #[inline]
    pub fn tick(&mut self, s: &LrSchedule) {
        self.samples = self.samples.saturating_add(1);
        if s.double_every > 0 && self.samples.is_multiple_of(u64::from(s.double_every)) {
            self.current = self.current.doubled(&s.base, s.a_plus_cap);
        }
    }

    /// The state after `n` samples from `self`, without simulating them (the rates do not
    /// depend on the data): what a batch of GPU samples learns with.
    pub fn after(mut self, s: &LrSchedule, n: u64) -> Self {
        for _ in 0..n {
            self.tick(s);
        }
        self
    }
}

/// How the rate changes with the number of samples seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Decay {
    /// `η(t) = η₀`.
    Constant,
    /// `η(t) = η₀ · t₀ / (t₀ + t)`: the Robbins–Monro rate that lets Oja and Sanger converge.
    InverseTime {
        /// Half-life in samples (`t₀ ≥ 1`).
        t0: u32,
    },
    /// `η(t) = max(η_min, η₀ · γ^⌊t / every⌋)`, `γ` in Q0.32.
    Exponential {
        /// Factor per period, Q0.32 (`γ = bits / 2^32`, `0 < γ < 1`).
        gamma: u32,
        /// Period in samples (≥ 1).
        every: u32,
    },
}

/// A learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[serde(try_from = "RateScheduleRaw")]
pub struct RateSchedule {
    eta0: i32,
    eta_min: i32,
    decay: Decay,
}

impl RateSchedule {
    /// A schedule starting at `eta0` (Q5.26, > 0) that never goes below `eta_min` (Q5.26,
    /// `0 ≤ eta_min ≤ eta0`).
    pub fn new(eta0: i32, eta_min: i32, decay: Decay) -> Result<Self> {
        if eta0 <= 0 {
            return Err(Error::InvalidParam("learning rate must be > 0"));
        }
        if eta_min < 0 || eta_min > eta0 {
            return Err(Error::InvalidParam(
                "minimum learning rate must be in [0, rate]",
            ));
        }
        match decay {
            Decay::Constant => {}
            Decay::InverseTime { t0 } => {
                if t0 == 0 {
                    return Err(Error::Zero("1/t schedule t0"));
                }
            }
            Decay::Exponential { gamma, every } => {
                if gamma == 0 {
                    return Err(Error::Zero("decay factor"));
                }
                if every == 0 {
                    return Err(Error::Zero("decay period"));
                }
            }
        }
        Ok(Self {
            eta0,
            eta_min,
            decay,
        })
    }

    /// A constant rate.
    pub fn constant(eta: i32) -> Result<Self> {
        Self::new(eta, eta, Decay::Constant)
    }

    /// Initial rate.
    pub fn eta0(&self) -> i32 {
        self.eta0
    }
    /// Floor of the rate.
    pub fn eta_min(&self) -> i32 {
        self.eta_min
    }
    /// The decay.
    pub fn decay(&self) -> Decay {
        self.decay
    }

    /// The rate for sample number `t` (0-based).
    pub fn rate(&self, t: u64) -> i32 {
        let eta = match self.decay {
            Decay::Constant => self.eta0,
            Decay::InverseTime { t0 } => {
                let t0 = u128::from(t0);
                let num = u128::from(self.eta0.unsigned_abs()) * t0;
                let den = t0 + u128::from(t);
                // Rounded to nearest; `den ≥ 1`.
                i32::try_from((num + den / 2) / den).unwrap_or(i32::MAX)
            }
            Decay::Exponential { gamma, every } => {
                let periods = t / u64::from(every);
                let mut eta = u64::from(self.eta0.unsigned_abs()) << 32;
                let mut g = u64::from(gamma);
                let mut p = periods;
                // Square-and-multiply on Q0.32 (each product rounded to nearest); a rate that
                // reaches zero stays there, so long runs stop early.
                let mut acc: u64 = 1 << 32;
                while p > 0 && acc != 0 {
                    if p & 1 == 1 {
                        acc = ((u128::from(acc) * u128::from(g) + (1 << 31)) >> 32) as u64;
                    }
                    g = ((u128::from(g) * u128::from(g) + (1 << 31)) >> 32) as u64;
                    p >>= 1;
                }
                eta = ((u128::from(eta) * u128::from(acc)) >> 32) as u64;
                i32::try_from((eta + (1 << 31)) >> 32).unwrap_or(i32::MAX)
            }
        };
        eta.max(self.eta_min)
    }
}

/// `η · v` for a rate and a Q5.26 value, rounded (the one place a rate scales an update).
#[inline]
pub fn scale(eta: i32, v: i64) -> i64 {
    // `v` is Q10.52; η·v would need 96 bits, so it is formed in i128 and narrowed to Q10.52.
    let p = i128::from(eta) * i128::from(v);
    let r = (p + (1i128 << (FRAC - 1))) >> FRAC;
    r.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::local::fixed::ONE;

    #[test]
    fn inverse_time_halves_at_t0() {
        let s = RateSchedule::new(ONE / 100, 0, Decay::InverseTime { t0: 1000 }).unwrap();
        assert_eq!(s.rate(0), ONE / 100);
        assert_eq!(s.rate(1000), (ONE / 100 + 1) / 2);
    }

    #[test]
    fn exponential_follows_gamma_powers() {
        let gamma = (0.5f64 * 4294967296.0) as u32;
        let s = RateSchedule::new(ONE, 0, Decay::Exponential { gamma, every: 10 }).unwrap();
        assert_eq!(s.rate(9), ONE);
        assert_eq!(s.rate(10), ONE / 2);
        assert_eq!(s.rate(35), ONE / 8);
    }

    #[test]
    fn invalid_schedules_are_refused() {
        assert!(RateSchedule::new(0, 0, Decay::Constant).is_err());
        assert!(RateSchedule::new(ONE, 2 * ONE, Decay::Constant).is_err());
        assert!(RateSchedule::new(ONE, 0, Decay::InverseTime { t0: 0 }).is_err());
    }
}

/// The serialised form of [`RateSchedule`], validated on decoding.
#[derive(Deserialize)]
struct RateScheduleRaw {
    eta0: i32,
    eta_min: i32,
    decay: Decay,
}

impl TryFrom<RateScheduleRaw> for RateSchedule {
    type Error = Error;
    fn try_from(r: RateScheduleRaw) -> Result<Self> {
        Self::new(r.eta0, r.eta_min, r.decay)
    }
}
