//! Convergence tracking and stop rules.
//!
//! * [`c_l`]: Kheradpisheh et al.'s weight polarisation `C_l = (1/n)·Σ w(1−w)` (0 when every
//!   weight sits at a bound, 0.25 when all are 0.5), computed exactly in integers.
//! * [`WinTracker`]: wins per map over a layer's training, on a caller-owned slice.
//! * [`StopRule`] / [`StopState`]: when to stop training a layer: C_l below ε, a fraction of maps
//!   with enough wins, patience without a better fraction, or the layer's epoch budget. Epochs are
//!   counted per layer (SpikeSEG shares one counter across layers, so later layers lose epochs).

use crate::error::{Error, Result};
use crate::weights::WeightRow;
use crate::wta::Winner;
use serde::{Deserialize, Serialize};

/// Exact parts of C_l: `(Σ w·(65536 − w), n)` over Q0.16 weights, so that shards (GPU blocks,
/// layers) can be summed before the one division of [`c_l_from_parts`].
pub fn c_l_parts<W: WeightRow + ?Sized>(weights: &W) -> (u128, u64) {
    let n = weights.len();
    let mut sum = 0u128;
    for i in 0..n {
        let w = u64::from(weights.get(i));
        sum += u128::from(w * (65_536 - w));
    }
    (sum, n as u64)
}

/// C_l from its exact parts: `sum / (n · 2^32)` with one rounding; 0 for no weights. The result
/// is in `[0, 0.25]` (each term is at most `2^30`, and the division is monotone).
pub fn c_l_from_parts(sum: u128, n: u64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    (sum as f64) / ((n as f64) * 4_294_967_296.0)
}

/// Mean of `w·(1 − w)` over Q0.16 weights, summed exactly in integers and divided once: in
/// `[0, 0.25]`, 0 for an empty slice. Kheradpisheh et al. call a layer converged below 0.01.
pub fn c_l(weights: &[u16]) -> f64 {
    let (s, n) = c_l_parts(weights);
    c_l_from_parts(s, n)
}

/// Win counts per map over one layer's training, kept in a caller-owned slice (one `u32` per
/// map, saturating). Counts are cumulative across the epochs of the layer, as the stop rule of
/// SpikeSEG uses them; [`reset`](Self::reset) them when the next layer starts.
#[derive(Debug)]
pub struct WinTracker<'a> {
    wins: &'a mut [u32],
}

impl<'a> WinTracker<'a> {
    /// Wraps the counts as they are (so a resumed run keeps its counts); call
    /// [`reset`](Self::reset) to start from zero.
    pub fn new(wins: &'a mut [u32]) -> Self {
        Self { wins }
    }

    /// Zeroes every count (start of a layer).
    pub fn reset(&mut self) {
        self.wins.fill(0);
    }

    /// Number of maps.
    pub fn maps(&self) -> usize {
        self.wins.len()
    }

    /// The counts.
    pub fn wins(&self) -> &[u32] {
        self.wins
    }

    /// Counts one win of `map`.
    pub fn record_map(&mut self, map: usize) -> Result<()> {
        let c = self
            .wins
            .get_mut(map)
            .ok_or(Error::InvalidParam("winner map outside the tracker"))?;
        *c = c.saturating_add(1);
        Ok(())
    }

    /// Counts the winners of one sample. Nothing is counted when a winner's map is out of range.
    pub fn record(&mut self, winners: &[Winner]) -> Result<()> {
        if winners.iter().any(|w| w.map as usize >= self.wins.len()) {
            return Err(Error::InvalidParam("winner map outside the tracker"));
        }
        for w in winners {
            // In range: checked above.
            if let Some(c) = self.wins.get_mut(w.map as usize) {
                *c = c.saturating_add(1);
            }
        }
        Ok(())
    }

    /// Maps with at least `min_wins` wins.
    pub fn maps_with(&self, min_wins: u32) -> usize {
        self.wins.iter().filter(|&&c| c >= min_wins).count()
    }

    /// Fraction of maps with at least `min_wins` wins (0 without maps).
    pub fn ratio(&self, min_wins: u32) -> f64 {
        if self.wins.is_empty() {
            return 0.0;
        }
        self.maps_with(min_wins) as f64 / self.wins.len() as f64
    }

    /// Largest count (0 without maps).
    pub fn max_wins(&self) -> u32 {
        self.wins.iter().copied().max().unwrap_or(0)
    }

    /// Sum of all counts.
    pub fn total(&self) -> u64 {
        self.wins.iter().map(|&c| u64::from(c)).sum()
    }
}

/// When to stop training one layer. Every criterion can be turned off with 0, except the epoch
/// budget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StopRule {
    /// Stop when `C_l < c_l_eps` (0: off). Kheradpisheh et al. use 0.01.
    pub c_l_eps: f64,
    /// Wins a map needs to count as converged (for the caller's [`WinTracker::ratio`]).
    pub min_wins: u32,
    /// Stop when the fraction of maps with `min_wins` wins is at least this (0: off).
    pub target_ratio: f64,
    /// Stop after this many epochs in a row without a better win ratio (0: off).
    pub patience: u16,
    /// Epoch budget of the layer (at least 1).
    pub max_epochs: u16,
}

impl StopRule {
    /// Checks the rule: `c_l_eps` finite and `≥ 0` (C_l never exceeds 0.25, so larger values
    /// stop after the first epoch), `target_ratio` in `[0, 1]`, `max_epochs ≥ 1`.
    pub fn validate(&self) -> Result<()> {
        if !(self.c_l_eps.is_finite() && self.c_l_eps >= 0.0) {
            return Err(Error::InvalidParam(
                "stop rule: c_l_eps must be finite and >= 0",
            ));
        }
        if !(self.target_ratio >= 0.0 && self.target_ratio <= 1.0) {
            return Err(Error::InvalidParam(
                "stop rule: target_ratio must be in [0, 1]",
            ));
        }
        if self.max_epochs == 0 {
            return Err(Error::InvalidParam("stop rule: max_epochs must be >= 1"));
        }
        Ok(())
    }
}

/// Why a layer stopped training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StopReason {
    /// The weights polarised: `C_l < c_l_eps`.
    Converged {
        /// C_l at the stop.
        c_l: f64,
    },
    /// The fraction of maps with `min_wins` wins reached `target_ratio`.
    WinRatio,
    /// `patience` epochs passed without a better win ratio.
    Patience,
    /// The layer used its epoch budget.
    EpochBudget,
}

/// Progress of one layer against its [`StopRule`]; serialisable so a checkpoint resumes it.
/// Create a fresh one for every layer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StopState {
    /// The rule.
    pub rule: StopRule,
    /// Best win ratio so far (starts at 0, as in SpikeSEG).
    pub best_ratio: f64,
    /// Epochs since the best ratio last improved.
    pub since_best: u16,
    /// Epochs of this layer completed so far.
    pub epochs: u16,
}

impl StopState {
    /// A fresh state for one layer.
    pub fn new(rule: StopRule) -> Result<Self> {
        rule.validate()?;
        Ok(Self {
            rule,
            best_ratio: 0.0,
            since_best: 0,
            epochs: 0,
        })
    }

    /// Best win ratio of the epochs recorded so far, or `None` before the first (the 0 that
    /// [`best_ratio`](Self::best_ratio) starts at is the patience baseline, not a ratio seen).
    pub fn best(&self) -> Option<f64> {
        (self.epochs > 0).then_some(self.best_ratio)
    }

    /// Records the end of epoch `epoch` (zero-based, counted within this layer) with the layer's
    /// C_l and win ratio, and says whether to stop. Checked in order: `Converged`
    /// (`c_l < c_l_eps`), `WinRatio` (`ratio ≥ target_ratio`), `Patience` (`patience` epochs in a
    /// row without a ratio strictly above the best), `EpochBudget` (`epoch + 1 ≥ max_epochs`).
    /// NaN values never satisfy a criterion and never improve the best ratio.
    pub fn after_epoch(&mut self, c_l: f64, ratio: f64, epoch: u16) -> Option<StopReason> {
        self.epochs = epoch.saturating_add(1);
        if ratio > self.best_ratio {
            self.best_ratio = ratio;
            self.since_best = 0;
        } else {
            self.since_best = self.since_best.saturating_add(1);
        }
        let r = &self.rule;
        if r.c_l_eps > 0.0 && c_l < r.c_l_eps {
            return Some(StopReason::Converged { c_l });
        }
        if r.target_ratio > 0.0 && ratio >= r.target_ratio {
            return Some(StopReason::WinRatio);
        }
        if r.patience > 0 && self.since_best >= r.patience {
            return Some(StopReason::Patience);
        }
        if self.epochs >= r.max_epochs {
            return Some(StopReason::EpochBudget);
        }
        None
    }
}
