//! One training step of a convolutional STDP layer, and the per-layer bookkeeping around it.
//!
//! The host trainer (CPU back end), the CUDA back end's reference checks and the firmware's
//! on-device learning all call [`train_sample`], so the order of the operations (learning-rate
//! tick, simulation with WTA, win counts, STDP on the winners, homeostasis) exists once. The
//! learning-rate state ([`crate::schedule::LrState`]) and dead-map detection ([`dead_maps`]) live here for the
//! same reason.

use crate::error::{Error, Result};
use crate::homeostasis::{AdaptiveThreshold, spiked_maps};
use crate::layer::{SimOutcome, SimScratch, simulate};
use crate::model::LayerArch;
use crate::plasticity::stdp_update;
use crate::schedule::{LrSchedule, LrState};
use crate::spikes;
use crate::wta::{Winner, WtaParams};

/// What one layer learns with, besides its architecture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleRule<'a> {
    /// Competition.
    pub wta: &'a WtaParams,
    /// Learning-rate schedule.
    pub schedule: &'a LrSchedule,
    /// Adaptive per-map thresholds; with them every step is simulated (a map may fire after
    /// the winners), without them the simulation stops once the winners are known.
    pub homeostasis: Option<&'a AdaptiveThreshold>,
}

/// The mutable state one sample changes.
#[derive(Debug)]
pub struct SampleState<'a, 's> {
    /// Kernels `[c][ky][kx][map]`.
    pub weights: &'a mut [u16],
    /// Per-map thresholds (changed with homeostasis only).
    pub thresholds: &'a mut [i32],
    /// Learning-rate state.
    pub lr: &'a mut LrState,
    /// Wins per map, added to (saturating).
    pub wins: &'a mut [u32],
    /// Simulation buffers for the layer.
    pub scratch: &'a mut SimScratch<'s>,
    /// Winners buffer, at least `wta.k` long.
    pub winners: &'a mut [Winner],
    /// Maps that fired, `words(maps)` (used with homeostasis).
    pub fired: &'a mut [u32],
}

/// Trains one layer on one sample, exactly as the papers do: tick the learning-rate schedule,
/// simulate the layer with WTA on the sample's input first-spike times, count the winners,
/// apply STDP to the winners' kernels with the current rates, then (with homeostasis) raise the
/// thresholds of the maps that fired and let all decay toward rest.
pub fn train_sample(
    arch: &LayerArch,
    steps: u8,
    rule: &SampleRule<'_>,
    input: &[u8],
    st: &mut SampleState<'_, '_>,
) -> Result<SimOutcome> {
    let maps = arch.conv.out_c() as usize;
    if st.wins.len() < maps {
        return Err(Error::ShapeMismatch("one win counter per map"));
    }
    st.lr.tick(rule.schedule);
    let r = simulate(
        &arch.conv,
        &*st.weights,
        st.thresholds,
        &arch.neuron,
        steps,
        input,
        Some(rule.wta),
        rule.homeostasis.is_none(),
        st.scratch,
        st.winners,
    )?;
    let winners = st
        .winners
        .get_mut(..r.winners)
        .ok_or(Error::ShapeMismatch("winners buffer shorter than k"))?;
    if !winners.is_empty() {
        for w in winners.iter() {
            if let Some(c) = st.wins.get_mut(usize::from(w.map)) {
                *c = c.saturating_add(1);
            }
        }
        stdp_update(&arch.conv, st.weights, input, winners, &st.lr.current)?;
    }
    if let Some(h) = rule.homeostasis {
        let out = arch.conv.output();
        spiked_maps(st.scratch.t_first, maps, out.plane(), st.fired)?;
        h.update(st.thresholds, st.fired)?;
    }
    Ok(r)
}

/// Marks in `dead` (`words(maps)` bits) the maps whose win rate over an epoch of `samples`
/// samples is below `dead_rate`; returns how many. These are the maps dead-map recovery
/// perturbs ([`crate::homeostasis::recover_dead`]).
pub fn dead_maps(
    epoch_wins: &[u32],
    samples: u64,
    dead_rate: f64,
    dead: &mut [u32],
) -> Result<usize> {
    let words = spikes::words(epoch_wins.len());
    let dead = dead
        .get_mut(..words)
        .ok_or(Error::ShapeMismatch("dead-map bits shorter than the maps"))?;
    dead.fill(0);
    let samples = samples.max(1) as f64;
    let mut n = 0;
    for (m, &w) in epoch_wins.iter().enumerate() {
        if f64::from(w) / samples < dead_rate {
            if let Some(word) = dead.get_mut(m / 32) {
                *word |= 1 << (m % 32);
            }
            n += 1;
        }
    }
    Ok(n)
}

/// Maps that never won in an epoch.
pub fn silent_maps(epoch_wins: &[u32]) -> usize {
    epoch_wins.iter().filter(|&&w| w == 0).count()
}
