//! The network's constants: [`Physical`] in the authors' units (mV, ms), and [`Params`], the
//! validated integer form every step uses (built once on the host and stored in the model, so
//! the firmware never converts a float).

use crate::error::{Error, Result};
use crate::poisson::PoissonUnit;
use serde::{Deserialize, Serialize};

/// Fractional bits of potentials, thresholds and inhibitory conductances (Q16.16, mV).
pub const V_FRAC: u32 = 16;
/// Fractional bits of weights, traces and excitatory conductances (Q8.24). The depression
/// step `ν_pre · x_post` is 10⁻⁴ · x: 1,678 LSB at a full trace, so small steps survive
/// (Q0.8 weights lose all of them, Q0.16 most).
pub const W_FRAC: u32 = 24;
/// 1.0 in Q8.24.
pub const W_ONE: i32 = 1 << W_FRAC;
/// Longest trace table (steps): a time constant longer than this many steps is refused.
pub const TABLE_MAX: usize = 8192;

/// One population's constants in the authors' units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PhysicalNeurons {
    /// Resting potential (mV).
    pub v_rest: f64,
    /// Reset potential (mV).
    pub v_reset: f64,
    /// Threshold (mV); a neuron spikes when `v > v_thresh (+ θ)`.
    pub v_thresh: f64,
    /// Membrane time constant (ms).
    pub tau_ms: f64,
    /// Refractory period (ms): `v` is held at reset and the threshold test skipped.
    pub refrac_ms: f64,
    /// Reversal potential of excitation (mV).
    pub e_exc: f64,
    /// Reversal potential of inhibition (mV).
    pub e_inh: f64,
    /// Time constant of the excitatory conductance (ms).
    pub tau_ge_ms: f64,
    /// Time constant of the inhibitory conductance (ms).
    pub tau_gi_ms: f64,
}

/// Every constant of the network in the authors' units (the defaults are their script's).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Physical {
    /// Euler step (ms).
    pub dt_ms: f64,
    /// Excitatory population.
    pub exc: PhysicalNeurons,
    /// Inhibitory population.
    pub inh: PhysicalNeurons,
    /// Initial potential of the excitatory neurons relative to rest (mV).
    pub v_init_offset: f64,
    /// Conductance an excitatory spike adds to its inhibitory partner.
    pub w_ei: f64,
    /// Conductance an inhibitory spike adds to every other excitatory neuron.
    pub w_ie: f64,
    /// Threshold increment per spike (mV).
    pub theta_plus: f64,
    /// Threshold decay time constant (ms), applied once per presentation in closed form.
    pub tau_theta_ms: f64,
    /// Depression rate (per pre spike, times the first post trace).
    pub nu_pre: f64,
    /// Potentiation rate (per post spike, times the pre trace and the second post trace).
    pub nu_post: f64,
    /// Pre trace time constant (ms).
    pub tau_pre_ms: f64,
    /// First post trace time constant (ms).
    pub tau_post1_ms: f64,
    /// Second post trace time constant (ms).
    pub tau_post2_ms: f64,
    /// Weight bound.
    pub w_max: f64,
    /// Sum of each neuron's input weights after normalisation.
    pub norm_sum: f64,
    /// Presentation time (ms).
    pub present_ms: f64,
    /// Rest after each presentation (ms).
    pub rest_ms: f64,
    /// Fewer excitatory spikes than this re-presents the digit at a higher intensity.
    pub min_spikes: u32,
    /// Starting input intensity.
    pub intensity: u8,
    /// Highest intensity (the authors' loop has no bound; a blank image would never end).
    pub max_intensity: u8,
    /// Input rate per pixel level at intensity 1 (Hz): `pixel / 8`.
    pub rate_per_level_hz: f64,
}

impl Default for Physical {
    fn default() -> Self {
        Self {
            dt_ms: 0.5,
            exc: PhysicalNeurons {
                v_rest: -65.0,
                v_reset: -65.0,
                v_thresh: -52.0,
                tau_ms: 100.0,
                refrac_ms: 5.0,
                e_exc: 0.0,
                e_inh: -100.0,
                tau_ge_ms: 1.0,
                tau_gi_ms: 2.0,
            },
            inh: PhysicalNeurons {
                v_rest: -60.0,
                v_reset: -45.0,
                v_thresh: -40.0,
                tau_ms: 10.0,
                refrac_ms: 2.0,
                e_exc: 0.0,
                e_inh: -85.0,
                tau_ge_ms: 1.0,
                tau_gi_ms: 2.0,
            },
            v_init_offset: -40.0,
            w_ei: 10.4,
            w_ie: 17.0,
            theta_plus: 0.05,
            tau_theta_ms: 1e7,
            nu_pre: 1e-4,
            nu_post: 1e-2,
            tau_pre_ms: 20.0,
            tau_post1_ms: 20.0,
            tau_post2_ms: 40.0,
            w_max: 1.0,
            norm_sum: 78.0,
            present_ms: 350.0,
            rest_ms: 150.0,
            min_spikes: 5,
            intensity: 2,
            max_intensity: 32,
            rate_per_level_hz: 0.125,
        }
    }
}

/// One population in integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Neurons {
    /// Resting potential (Q16.16 mV).
    pub v_rest: i32,
    /// Reset potential.
    pub v_reset: i32,
    /// Threshold.
    pub v_thresh: i32,
    /// `dt / τ` (Q0.32).
    pub k: u32,
    /// Refractory steps.
    pub refrac: u16,
    /// Excitatory reversal potential.
    pub e_exc: i32,
    /// Inhibitory reversal potential.
    pub e_inh: i32,
    /// Per-step decay of the excitatory conductance (Q0.32).
    pub ge_decay: u32,
    /// Per-step decay of the inhibitory conductance (Q0.32).
    pub gi_decay: u32,
}

/// The network's constants in integers (see the module docs for the formats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[serde(try_from = "ParamsRaw")]
pub struct Params {
    raw: ParamsRaw,
}

/// The fields of [`Params`] (serialised form, validated on decoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ParamsRaw {
    /// Excitatory population.
    pub exc: Neurons,
    /// Inhibitory population.
    pub inh: Neurons,
    /// Initial excitatory potential (Q16.16).
    pub v_init: i32,
    /// Excitatory → inhibitory conductance step (Q8.24).
    pub w_ei: i32,
    /// Inhibitory → excitatory conductance step (Q16.16).
    pub w_ie: i32,
    /// θ increment (Q16.16 mV).
    pub theta_plus: i32,
    /// θ decay over one presentation and its rest (Q0.32).
    pub theta_decay: u32,
    /// Depression rate (Q8.24).
    pub nu_pre: i32,
    /// Potentiation rate (Q8.24).
    pub nu_post: i32,
    /// Per-step decays of the pre, first post and second post traces (Q0.32).
    pub trace_decay: [u32; 3],
    /// Weight bound (Q8.24).
    pub w_max: i32,
    /// Normalised weight sum per neuron (Q8.24, as `i64`).
    pub norm_sum: i64,
    /// Steps of input, then steps of rest.
    pub steps_on: u32,
    /// Steps of rest.
    pub steps_rest: u32,
    /// Re-presentation below this many excitatory spikes.
    pub min_spikes: u32,
    /// Starting intensity.
    pub intensity: u8,
    /// Highest intensity.
    pub max_intensity: u8,
    /// Spike probability per pixel level per step at intensity 1.
    pub unit: PoissonUnit,
}

fn q(x: f64, frac: u32, what: &'static str) -> Result<i32> {
    let v = libm::round(x * f64::from(1u32 << frac));
    if !v.is_finite() || v < f64::from(i32::MIN) || v > f64::from(i32::MAX) {
        return Err(Error::InvalidParam(what));
    }
    Ok(v as i32)
}

fn decay(dt: f64, tau: f64, what: &'static str) -> Result<u32> {
    if !(tau.is_finite() && tau > 0.0) {
        return Err(Error::InvalidParam(what));
    }
    Ok(crate::q::rate_from_f64(libm::exp(-dt / tau)))
}

fn steps(ms: f64, dt: f64, what: &'static str) -> Result<u32> {
    let s = libm::round(ms / dt);
    if !(s.is_finite() && (0.0..=1e8).contains(&s)) {
        return Err(Error::InvalidParam(what));
    }
    Ok(s as u32)
}

fn neurons(p: &PhysicalNeurons, dt: f64) -> Result<Neurons> {
    if !(p.tau_ms.is_finite() && p.tau_ms >= dt) {
        return Err(Error::InvalidParam("membrane τ must be at least dt"));
    }
    let refrac = steps(p.refrac_ms, dt, "refractory period out of range")?;
    Ok(Neurons {
        v_rest: q(p.v_rest, V_FRAC, "resting potential out of range")?,
        v_reset: q(p.v_reset, V_FRAC, "reset potential out of range")?,
        v_thresh: q(p.v_thresh, V_FRAC, "threshold out of range")?,
        k: crate::q::rate_from_f64(dt / p.tau_ms),
        refrac: u16::try_from(refrac)
            .map_err(|_| Error::InvalidParam("refractory period too long"))?,
        e_exc: q(
            p.e_exc,
            V_FRAC,
            "excitatory reversal potential out of range",
        )?,
        e_inh: q(
            p.e_inh,
            V_FRAC,
            "inhibitory reversal potential out of range",
        )?,
        ge_decay: decay(dt, p.tau_ge_ms, "conductance τ must be > 0")?,
        gi_decay: decay(dt, p.tau_gi_ms, "conductance τ must be > 0")?,
    })
}

impl Params {
    /// Converts and validates the authors' constants.
    pub fn from_physical(p: &Physical) -> Result<Self> {
        let dt = p.dt_ms;
        if !(dt.is_finite() && dt > 0.0 && dt <= 10.0) {
            return Err(Error::InvalidParam("dt must be in (0, 10] ms"));
        }
        let vm = 30_000.0; // keeps every potential difference inside Q16.16
        let volts = [
            p.exc.v_rest,
            p.exc.v_reset,
            p.exc.v_thresh,
            p.exc.e_exc,
            p.exc.e_inh,
            p.inh.v_rest,
            p.inh.v_reset,
            p.inh.v_thresh,
            p.inh.e_exc,
            p.inh.e_inh,
            p.v_init_offset,
        ];
        if volts
            .iter()
            .any(|v| !(v.is_finite() && v.abs() <= vm / 4.0))
        {
            return Err(Error::InvalidParam(
                "potentials must be finite and within ±7500 mV",
            ));
        }
        let positive = |x: f64| x.is_finite() && x >= 0.0;
        if !(positive(p.w_ei) && p.w_ei < 127.0) {
            return Err(Error::InvalidParam("w_ei must be in [0, 127)"));
        }
        if !(positive(p.w_ie) && p.w_ie < 30_000.0) {
            return Err(Error::InvalidParam("w_ie must be in [0, 30000)"));
        }
        if !(positive(p.theta_plus) && p.theta_plus < 1000.0) {
            return Err(Error::InvalidParam("theta_plus must be in [0, 1000) mV"));
        }
        if !(positive(p.nu_pre) && positive(p.nu_post) && p.nu_pre <= 1.0 && p.nu_post <= 1.0) {
            return Err(Error::InvalidParam("STDP rates must be in [0, 1]"));
        }
        if !(p.w_max.is_finite() && p.w_max > 0.0 && p.w_max <= 1.0) {
            return Err(Error::InvalidParam("w_max must be in (0, 1]"));
        }
        if !(p.norm_sum.is_finite() && p.norm_sum > 0.0 && p.norm_sum <= 1e6) {
            return Err(Error::InvalidParam("norm_sum must be in (0, 1e6]"));
        }
        for tau in [p.tau_pre_ms, p.tau_post1_ms, p.tau_post2_ms] {
            if !(tau.is_finite() && tau > 0.0 && tau / dt * 18.0 < TABLE_MAX as f64) {
                return Err(Error::InvalidParam(
                    "trace τ must be > 0 and below 455 steps (its table would not fit)",
                ));
            }
        }
        if p.intensity == 0 || p.max_intensity < p.intensity {
            return Err(Error::InvalidParam(
                "intensity must be >= 1 and max_intensity >= intensity",
            ));
        }
        let steps_on = steps(p.present_ms, dt, "presentation time out of range")?;
        if steps_on == 0 {
            return Err(Error::InvalidParam(
                "presentation time must be at least one step",
            ));
        }
        let steps_rest = steps(p.rest_ms, dt, "rest time out of range")?;
        let total = f64::from(steps_on + steps_rest) * dt;
        let raw = ParamsRaw {
            exc: neurons(&p.exc, dt)?,
            inh: neurons(&p.inh, dt)?,
            v_init: q(p.exc.v_rest + p.v_init_offset, V_FRAC, "initial potential")?,
            w_ei: q(p.w_ei, W_FRAC, "w_ei")?,
            w_ie: q(p.w_ie, V_FRAC, "w_ie")?,
            theta_plus: q(p.theta_plus, V_FRAC, "theta_plus")?,
            theta_decay: decay(total, p.tau_theta_ms, "tau_theta must be > 0")?,
            nu_pre: q(p.nu_pre, W_FRAC, "nu_pre")?,
            nu_post: q(p.nu_post, W_FRAC, "nu_post")?,
            trace_decay: [
                decay(dt, p.tau_pre_ms, "trace τ")?,
                decay(dt, p.tau_post1_ms, "trace τ")?,
                decay(dt, p.tau_post2_ms, "trace τ")?,
            ],
            w_max: q(p.w_max, W_FRAC, "w_max")?,
            norm_sum: libm::round(p.norm_sum * f64::from(W_ONE)) as i64,
            steps_on,
            steps_rest,
            min_spikes: p.min_spikes,
            intensity: p.intensity,
            max_intensity: p.max_intensity,
            unit: PoissonUnit::new(p.rate_per_level_hz, dt)?,
        };
        Self::try_from(raw)
    }

    /// The fields.
    pub fn raw(&self) -> &ParamsRaw {
        &self.raw
    }
}

impl TryFrom<ParamsRaw> for Params {
    type Error = Error;
    fn try_from(r: ParamsRaw) -> Result<Self> {
        for n in [&r.exc, &r.inh] {
            if n.v_reset >= n.v_thresh {
                return Err(Error::InvalidParam("reset must be below the threshold"));
            }
            if n.k == 0 {
                return Err(Error::InvalidParam("membrane dt/τ must be > 0"));
            }
            let lim = 1 << 29; // ±8192 mV: every difference of two of them fits Q16.16
            for v in [n.v_rest, n.v_reset, n.v_thresh, n.e_exc, n.e_inh] {
                if !(-lim..=lim).contains(&v) {
                    return Err(Error::InvalidParam("potential outside ±8192 mV"));
                }
            }
        }
        if !(0..=r.w_max).contains(&r.nu_pre) || !(0..=r.w_max).contains(&r.nu_post) {
            return Err(Error::InvalidParam("STDP rates must be in [0, w_max]"));
        }
        if !(1..=W_ONE).contains(&r.w_max) || r.norm_sum <= 0 {
            return Err(Error::InvalidParam(
                "w_max must be in (0, 1] and norm_sum > 0",
            ));
        }
        if r.w_ei < 0 || r.w_ie < 0 || r.theta_plus < 0 {
            return Err(Error::InvalidParam("conductance and θ steps must be >= 0"));
        }
        if r.steps_on == 0 || r.intensity == 0 || r.max_intensity < r.intensity {
            return Err(Error::InvalidParam(
                "presentation, intensity or its bound is 0",
            ));
        }
        if r.trace_decay.contains(&0) {
            return Err(Error::InvalidParam("trace decay is 0"));
        }
        if r.unit.0 == 0 {
            return Err(Error::InvalidParam("Poisson unit is 0"));
        }
        if !(-(1 << 29)..=(1 << 29)).contains(&r.v_init) {
            return Err(Error::InvalidParam("initial potential outside ±8192 mV"));
        }
        Ok(Self { raw: r })
    }
}
