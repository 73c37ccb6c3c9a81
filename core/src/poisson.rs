//! Poisson spike trains from pixel intensities, in integers: each input spikes in a time step
//! with probability `p = pixel · intensity · unit` (a Bernoulli draw per step, at most one
//! spike per step), so its rate is `p / dt`. Probabilities are `u32` fractions of 2³², drawn
//! against the top 32 bits of the seeded [`Rng`]; zero pixels never spike and cost nothing.

use crate::error::{Error, Result, head_mut};
use crate::rng::Rng;

/// Probability of one pixel level at intensity 1, as a fraction of 2³² (`rate_per_level · dt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PoissonUnit(pub u32);

impl PoissonUnit {
    /// From a rate per pixel level (Hz, e.g. `1/8` for Diehl & Cook's `pixel / 8` Hz) and a
    /// step (ms); refused when one level at intensity 1 would not be a probability.
    pub fn new(rate_per_level_hz: f64, dt_ms: f64) -> Result<Self> {
        let p = rate_per_level_hz * dt_ms * 1e-3;
        if !(p.is_finite() && p > 0.0 && p < 1.0) {
            return Err(Error::InvalidParam(
                "Poisson rate per pixel level × dt must be in (0, 1)",
            ));
        }
        Ok(Self(crate::q::rate_from_f64(p)))
    }

    /// Spike probability per step of a pixel at an intensity (saturating just below 1).
    pub fn probability(self, pixel: u8, intensity: u8) -> u32 {
        let p = u64::from(pixel) * u64::from(intensity) * u64::from(self.0);
        p.min(u64::from(u32::MAX)) as u32
    }
}

/// The inputs of one image that can spike: `(index, probability)` for each non-zero pixel, in
/// pixel order. Returns how many were written.
pub fn active_inputs(
    unit: PoissonUnit,
    pixels: &[u8],
    intensity: u8,
    out: &mut [(u16, u32)],
) -> Result<usize> {
    if pixels.len() > usize::from(u16::MAX) + 1 {
        return Err(Error::InvalidParam("more than 65,536 Poisson inputs"));
    }
    let nz = pixels.iter().filter(|&&p| p != 0).count();
    let out = head_mut("active Poisson inputs", out, nz)?;
    let live = pixels.iter().enumerate().filter(|(_, p)| **p != 0);
    for (slot, (i, &px)) in out.iter_mut().zip(live) {
        *slot = (i as u16, unit.probability(px, intensity));
    }
    Ok(nz)
}

/// One time step: the indices of the inputs of `active` that spike go to `spikes`, in order.
/// Returns how many spiked. Every active input consumes one draw, spiking or not, so the
/// stream of a sample depends only on its seed.
pub fn draw(rng: &mut Rng, active: &[(u16, u32)], spikes: &mut [u16]) -> Result<usize> {
    let spikes = head_mut("Poisson spikes", spikes, active.len())?;
    let mut n = 0;
    for &(i, p) in active {
        let u = (rng.next_u64() >> 32) as u32;
        if u < p {
            if let Some(s) = spikes.get_mut(n) {
                *s = i;
            }
            n += 1;
        }
    }
    Ok(n)
}
