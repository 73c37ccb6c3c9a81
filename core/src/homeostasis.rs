//! Homeostasis: adaptive thresholds and dead-map recovery, in integers on caller-owned slices.
//!
//! * [`AdaptiveThreshold`]: one threshold per map (channel), SpikeSEG/IGARSS style. After each
//!   sample a map that spiked anywhere is raised by `θ+` (bounded by `θ_max`), then every
//!   threshold decays toward `θ_rest` once: `θ ← θ_rest + (θ − θ_rest)·f` with
//!   `f = exp(−1/τ)` given as a Q0.32 integer (see [`decay_from_tau`]).
//! * [`RateTarget`]: one threshold per neuron (or map), driven toward a target firing rate:
//!   `θ ← clamp(θ + lr·(rate − target)·θ, θ_min, θ_max)`.
//! * [`dead_maps`] / [`recover`]: maps whose firing (or win) rate stays below a floor get Gaussian
//!   noise on their kernel so they can re-enter the competition.
//!
//! Thresholds are potentials (`i32`, 1/65536 of a unit weight, see [`crate::q`]). Every update
//! is exact integer arithmetic with the rounding rule documented on the method, so the host, the
//! GPU and the firmware agree bit for bit.

use crate::error::{Error, Result, head, head_mut, need};
use crate::rng::Rng;
use crate::spikes::{self, NEVER, bit, set_bit};

/// Rounds `x / 2^shift` toward zero (`shift < 127`).
#[inline]
fn shr_toward_zero(x: i128, shift: u32) -> i128 {
    if x >= 0 { x >> shift } else { -((-x) >> shift) }
}

/// Rounds `x / 2^shift` to nearest, ties away from zero (`0 < shift < 127`).
#[inline]
fn shr_round(x: i128, shift: u32) -> i128 {
    let half = 1i128 << (shift - 1);
    if x >= 0 {
        (x + half) >> shift
    } else {
        -((-x + half) >> shift)
    }
}

/// Clamps without panicking when `lo > hi` (then `hi` wins).
#[inline]
fn clamp_i64(x: i64, lo: i64, hi: i64) -> i64 {
    x.max(lo).min(hi)
}

/// Q0.32 decay factor `exp(−1/τ)` for a time constant of `tau` samples, rounded to nearest and
/// saturated to `u32::MAX` (just below 1). `tau = ∞` gives `u32::MAX` (no decay worth the name),
/// `tau ≤ 0` or NaN gives 0 (immediate return to rest).
pub fn decay_from_tau(tau: f64) -> u32 {
    if tau.is_nan() || tau <= 0.0 {
        return 0;
    }
    crate::q::rate_from_f64(libm::exp(-1.0 / tau))
}

/// Per-map adaptive threshold (SpikeSEG's `AdaptiveThresholdManager`, with its bounds and the
/// thresholds kept for export).
///
/// Per sample, for every map `c`:
/// 1. if `c` spiked anywhere in the sample: `θ_c ← min(θ_c + θ+, θ_max)`;
/// 2. decay: `θ_c ← θ_rest + trunc((θ_c − θ_rest)·decay / 2^32)`;
/// 3. clamp to `[θ_min, θ_max]`.
///
/// **Rounding rule.** The decayed offset `(θ − θ_rest)·decay/2^32` is rounded **toward zero**
/// (toward rest), so `|θ' − θ_rest| ≤ |θ − θ_rest|` and a threshold that stops being raised
/// reaches `θ_rest` exactly after finitely many samples, instead of sticking up to
/// `0.5/(1 − f)` units away as round-to-nearest would. The result is at most 1 unit (1/65536 of
/// a unit weight) below the exact real decay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AdaptiveThreshold {
    theta_rest: i32,
    theta_plus: i32,
    decay: u32,
    theta_min: i32,
    theta_max: i32,
}

impl AdaptiveThreshold {
    /// Validates and builds the rule: `0 < θ_min ≤ θ_rest ≤ θ_max`, `θ+ ≥ 0`. `decay` is
    /// `exp(−1/τ)` in Q0.32 (see [`decay_from_tau`]).
    pub fn new(
        theta_rest: i32,
        theta_plus: i32,
        decay: u32,
        theta_min: i32,
        theta_max: i32,
    ) -> Result<Self> {
        if theta_min <= 0 {
            return Err(Error::InvalidParam(
                "adaptive threshold: theta_min must be > 0",
            ));
        }
        if !(theta_min <= theta_rest && theta_rest <= theta_max) {
            return Err(Error::InvalidParam(
                "adaptive threshold: need theta_min <= theta_rest <= theta_max",
            ));
        }
        if theta_plus < 0 {
            return Err(Error::InvalidParam(
                "adaptive threshold: theta_plus must be >= 0",
            ));
        }
        Ok(Self {
            theta_rest,
            theta_plus,
            decay,
            theta_min,
            theta_max,
        })
    }

    /// Resting threshold.
    pub const fn theta_rest(&self) -> i32 {
        self.theta_rest
    }
    /// Raise per sample with a spike.
    pub const fn theta_plus(&self) -> i32 {
        self.theta_plus
    }
    /// Decay factor per sample, Q0.32.
    pub const fn decay(&self) -> u32 {
        self.decay
    }
    /// Lower bound.
    pub const fn theta_min(&self) -> i32 {
        self.theta_min
    }
    /// Upper bound.
    pub const fn theta_max(&self) -> i32 {
        self.theta_max
    }

    /// Sets every threshold to `θ_rest` (start of a layer's training).
    pub fn reset(&self, thetas: &mut [i32]) {
        thetas.fill(self.theta_rest);
    }

    /// New value of one threshold after a sample (see the type's documentation).
    #[inline]
    pub fn step(&self, theta: i32, spiked: bool) -> i32 {
        let (lo, hi) = (i64::from(self.theta_min), i64::from(self.theta_max));
        let mut t = i64::from(theta);
        if spiked {
            t = (t + i64::from(self.theta_plus)).min(hi);
        }
        let d = i128::from(t - i64::from(self.theta_rest)) * i128::from(self.decay);
        // |d| < 2^33 · 2^32, so the shifted offset fits an i64 easily.
        let t = i64::from(self.theta_rest) + shr_toward_zero(d, 32) as i64;
        clamp_i64(t, lo, hi) as i32
    }

    /// Updates every map's threshold after one sample; `spiked` is a bit set with one bit per
    /// map (bit `c` set when map `c` spiked anywhere in the sample), at least
    /// `words(thetas.len())` words long.
    pub fn update(&self, thetas: &mut [i32], spiked: &[u32]) -> Result<()> {
        need("spiked", spiked, spikes::words(thetas.len()))?;
        for (c, t) in thetas.iter_mut().enumerate() {
            *t = self.step(*t, bit(spiked, c));
        }
        Ok(())
    }

    /// Like [`update`](Self::update) with a predicate telling whether map `c` spiked.
    pub fn update_with(&self, thetas: &mut [i32], spiked: impl Fn(usize) -> bool) {
        for (c, t) in thetas.iter_mut().enumerate() {
            *t = self.step(*t, spiked(c));
        }
    }
}

/// Marks in `out` (one bit per map) the maps that spiked at least once in a first-spike-time map
/// `t_first` laid out `[map][y][x]` with `maps × plane` entries. Returns the number of maps that
/// spiked. `out` needs `words(maps)` words and is overwritten.
pub fn spiked_maps(t_first: &[u8], maps: usize, plane: usize, out: &mut [u32]) -> Result<usize> {
    let n = maps
        .checked_mul(plane)
        .ok_or(Error::Overflow("maps × plane"))?;
    let t_first = head("t_first", t_first, n)?;
    let out = head_mut("spiked maps", out, spikes::words(maps))?;
    out.fill(0);
    let mut count = 0;
    for c in 0..maps {
        // In bounds: `(c + 1) · plane <= maps · plane = n`.
        if t_first
            .get(c * plane..(c + 1) * plane)
            .is_some_and(|cells| cells.iter().any(|&t| t != NEVER))
        {
            set_bit(out, c);
            count += 1;
        }
    }
    Ok(count)
}

/// Firing rate `count / samples` in Q16 (65536 = one event per sample), rounded down and
/// saturated to `u32::MAX`; 0 when `samples` is 0.
pub fn rate_q16(count: u32, samples: u32) -> u32 {
    if samples == 0 {
        return 0;
    }
    ((u64::from(count) << 16) / u64::from(samples)).min(u64::from(u32::MAX)) as u32
}

/// Per-neuron rate-target threshold (SpikeSEG's library `AdaptiveThreshold`):
/// `θ ← clamp(θ + lr·(rate − target)·θ, θ_min, θ_max)`.
///
/// `lr` is Q0.32, `target` and the rate are Q16 rates (65536 = one spike per presentation; the
/// rate is `count·65536 / presentations` rounded down). The change
/// `lr·(rate − target)·θ = lr_bits·(rate_q16 − target_q16)·θ / 2^48` is computed exactly in
/// `i128` and **rounded to nearest, ties away from zero**, so raising and lowering are symmetric;
/// the sum saturates into `[θ_min, θ_max]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RateTarget {
    lr: u32,
    target: u32,
    theta_min: i32,
    theta_max: i32,
}

impl RateTarget {
    /// Validates and builds the rule: `0 < θ_min ≤ θ_max`, `target ≤ 65536` (at most one spike
    /// per presentation).
    pub fn new(lr: u32, target_q16: u32, theta_min: i32, theta_max: i32) -> Result<Self> {
        if theta_min <= 0 || theta_min > theta_max {
            return Err(Error::InvalidParam(
                "rate target: need 0 < theta_min <= theta_max",
            ));
        }
        if target_q16 > 1 << 16 {
            return Err(Error::InvalidParam("rate target: target rate must be <= 1"));
        }
        Ok(Self {
            lr,
            target: target_q16,
            theta_min,
            theta_max,
        })
    }

    /// Learning rate, Q0.32.
    pub const fn lr(&self) -> u32 {
        self.lr
    }
    /// Target rate, Q16.
    pub const fn target(&self) -> u32 {
        self.target
    }
    /// Lower bound.
    pub const fn theta_min(&self) -> i32 {
        self.theta_min
    }
    /// Upper bound.
    pub const fn theta_max(&self) -> i32 {
        self.theta_max
    }

    /// New value of one threshold for a neuron with a rate of `rate_q16`.
    #[inline]
    pub fn step(&self, theta: i32, rate_q16: u32) -> i32 {
        let diff = i128::from(rate_q16) - i128::from(self.target);
        let p = i128::from(self.lr) * diff * i128::from(theta);
        // |p| < 2^32 · 2^32 · 2^31: the rounded change is below 2^47.
        let d = shr_round(p, 48) as i64;
        clamp_i64(
            i64::from(theta) + d,
            i64::from(self.theta_min),
            i64::from(self.theta_max),
        ) as i32
    }

    /// Updates every threshold from cumulative spike counts over `presentations` samples
    /// (`counts[i]` belongs to `thetas[i]`). With no presentation yet nothing changes.
    pub fn update(&self, thetas: &mut [i32], counts: &[u32], presentations: u32) -> Result<()> {
        if counts.len() != thetas.len() {
            return Err(Error::ShapeMismatch("one spike count per threshold"));
        }
        if presentations == 0 {
            return Ok(());
        }
        for (t, &c) in thetas.iter_mut().zip(counts) {
            *t = self.step(*t, rate_q16(c, presentations));
        }
        Ok(())
    }
}

/// True when a map with `count` events (samples with a spike, or wins) over `samples` samples is
/// dead: at least `min_samples` samples were seen and `count / samples < min_rate_q16 / 65536`
/// (compared exactly, as `count·65536 < min_rate_q16·samples`). SpikeSEG uses a rate floor of
/// 0.01 (`min_rate_q16 = 655`) after more than 100 samples (`min_samples = 101`).
#[inline]
pub fn is_dead(count: u32, samples: u32, min_rate_q16: u32, min_samples: u32) -> bool {
    samples > 0
        && samples >= min_samples
        && (u64::from(count) << 16) < u64::from(min_rate_q16) * u64::from(samples)
}

/// Writes into `out` (one bit per map, `words(counts.len())` words, overwritten) the dead maps
/// according to [`is_dead`]; returns how many there are. Iterate them with
/// [`crate::spikes::ones`].
pub fn dead_maps(
    counts: &[u32],
    samples: u32,
    min_rate_q16: u32,
    min_samples: u32,
    out: &mut [u32],
) -> Result<usize> {
    let out = head_mut("dead maps", out, spikes::words(counts.len()))?;
    out.fill(0);
    let mut n = 0;
    for (c, &k) in counts.iter().enumerate() {
        if is_dead(k, samples, min_rate_q16, min_samples) {
            set_bit(out, c);
            n += 1;
        }
    }
    Ok(n)
}

/// Adds `N(0, σ)` noise to every weight of map `map`'s kernel, saturating in `[0, 65535]`.
///
/// `weights` is laid out `[c_in][ky][kx][c_out]` with `out_c` maps (see
/// [`crate::geometry::ConvGeom`]), so the kernel of `map` is every `out_c`-th weight starting at
/// `map`. Each noise sample is `round(σ·n·65536)` with `n` from [`Rng::normal`], drawn in weight
/// order. SpikeSEG applies its recovery boost on every sample while a map stays dead; we apply it
/// once per check (the caller decides how often to check).
pub fn recover(
    weights: &mut [u16],
    out_c: usize,
    map: usize,
    rng: &mut Rng,
    sigma: f64,
) -> Result<()> {
    if !(sigma.is_finite() && sigma >= 0.0) {
        return Err(Error::InvalidParam(
            "recovery sigma must be finite and >= 0",
        ));
    }
    if out_c == 0 || map >= out_c {
        return Err(Error::InvalidParam("recovery map outside the layer"));
    }
    if !weights.len().is_multiple_of(out_c) {
        return Err(Error::ShapeMismatch(
            "weights are not a multiple of the maps",
        ));
    }
    let scale = sigma * 65536.0;
    for w in weights.iter_mut().skip(map).step_by(out_c) {
        let noise = libm::round(scale * rng.normal());
        // The float-to-int cast saturates; the sum is then clamped into the weight range.
        let n = if noise.is_nan() { 0 } else { noise as i64 };
        *w = clamp_i64(i64::from(*w).saturating_add(n), 0, i64::from(u16::MAX)) as u16;
    }
    Ok(())
}

/// Applies [`recover`] to every map whose bit is set in `dead` (ascending map order, one shared
/// random stream). Returns the number of maps perturbed.
pub fn recover_dead(
    weights: &mut [u16],
    out_c: usize,
    dead: &[u32],
    rng: &mut Rng,
    sigma: f64,
) -> Result<usize> {
    need("dead maps", dead, spikes::words(out_c))?;
    let mut n = 0;
    for map in 0..out_c {
        if bit(dead, map) {
            recover(weights, out_c, map, rng, sigma)?;
            n += 1;
        }
    }
    Ok(n)
}
