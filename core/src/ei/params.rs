//! Physical parameters of cells and synapses, and the per-step constants derived from them.

use crate::{Error, Result};

/// One cell type's membrane (ms, mV, nS).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellParams {
    /// Membrane time constant τ_m (ms).
    pub tau_mem: f64,
    /// Spike threshold θ (mV).
    pub theta: f64,
    /// Reset potential (mV).
    pub u_reset: f64,
    /// Leak reversal (resting) potential E_L (mV).
    pub e_l: f64,
    /// Leak conductance g_L (nS); C_m = τ_m · g_L.
    pub g_l: f64,
    /// Refractory period (ms).
    pub tau_ref: f64,
}

impl CellParams {
    /// Checks that every value is finite and that the time constants and conductance are
    /// positive.
    pub fn validate(&self) -> Result<()> {
        let all = [
            self.tau_mem,
            self.theta,
            self.u_reset,
            self.e_l,
            self.g_l,
            self.tau_ref,
        ];
        if all.iter().any(|x| !x.is_finite()) {
            return Err(Error::InvalidParam("cell parameter is not finite"));
        }
        if self.tau_mem <= 0.0 || self.g_l <= 0.0 || self.tau_ref < 0.0 {
            return Err(Error::InvalidParam(
                "cell tau_mem and g_L must be > 0 and tau_ref >= 0",
            ));
        }
        if self.u_reset >= self.theta {
            return Err(Error::InvalidParam("cell U_reset must be below theta"));
        }
        Ok(())
    }

    /// Membrane capacitance (pF).
    pub fn c_m(&self) -> f64 {
        self.tau_mem * self.g_l
    }
}

/// One synapse type: a difference of exponentials with rise τ_r, decay τ_d, reversal E and
/// peak conductance ḡ per unit weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynapseParams {
    /// Rise time constant (ms).
    pub tau_rise: f64,
    /// Decay time constant (ms), larger than the rise.
    pub tau_decay: f64,
    /// Reversal potential (mV).
    pub e_syn: f64,
    /// Peak conductance per unit weight (nS).
    pub g_bar: f64,
}

/// How a synapse's jump `A` is scaled so that ḡ is its peak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeakNorm {
    /// `A = ḡ / max_t (e^{−t/τ_d} − e^{−t/τ_r})`: the conductance peaks at ḡ.
    #[default]
    Exact,
    /// The reference trainer's `A = ḡ / (τ_d/τ_r)^{τ_r/(τ_d−τ_r)}`, which leaves the peak at
    /// 84 % (AMPA), 45 % (NMDA) and 41 % (GABA_A) of ḡ.
    Reference,
}

impl SynapseParams {
    /// Checks finiteness, positivity and `τ_r < τ_d`.
    pub fn validate(&self) -> Result<()> {
        let all = [self.tau_rise, self.tau_decay, self.e_syn, self.g_bar];
        if all.iter().any(|x| !x.is_finite()) {
            return Err(Error::InvalidParam("synapse parameter is not finite"));
        }
        if self.tau_rise <= 0.0 || self.tau_decay <= self.tau_rise {
            return Err(Error::InvalidParam(
                "synapse time constants must satisfy 0 < tau_rise < tau_decay",
            ));
        }
        if self.g_bar < 0.0 {
            return Err(Error::InvalidParam("synapse g_bar must be >= 0"));
        }
        Ok(())
    }

    /// Time of the peak of `e^{−t/τ_d} − e^{−t/τ_r}` (ms).
    pub fn t_peak(&self) -> f64 {
        let (r, d) = (self.tau_rise, self.tau_decay);
        r * d / (d - r) * libm::log(d / r)
    }

    /// The peak value of `e^{−t/τ_d} − e^{−t/τ_r}`.
    pub fn kernel_peak(&self) -> f64 {
        let t = self.t_peak();
        libm::exp(-t / self.tau_decay) - libm::exp(-t / self.tau_rise)
    }

    /// The jump `A` per unit weight (nS).
    pub fn jump(&self, norm: PeakNorm) -> f64 {
        match norm {
            PeakNorm::Exact => self.g_bar / self.kernel_peak(),
            PeakNorm::Reference => {
                let (r, d) = (self.tau_rise, self.tau_decay);
                self.g_bar / libm::pow(d / r, r / (d - r))
            }
        }
    }
}
