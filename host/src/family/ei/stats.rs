//! Statistics of a stretch of simulation: rates, ISI CVs, Fano factors, per type and as the
//! reference's losses and logged keys.

use super::config::EiConfig;
use hebb_core::ei::stats::{self, Losses};
use serde::{Deserialize, Serialize};

/// Spikes of a stretch: `(step within the stretch, cell)`, in time order.
pub type Spikes = Vec<(u32, u32)>;

/// Per-type summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeStats {
    /// Type name.
    pub name: String,
    /// Cells of the type.
    pub cells: usize,
    /// Target rate (Hz).
    pub target_hz: f64,
    /// Mean rate (Hz).
    pub mean_fr: f64,
    /// Standard deviation of the rates (Hz).
    pub std_fr: f64,
    /// Mean CV over cells with a CV (≥ 3 spikes).
    pub mean_cv: f64,
    /// Fraction of the type's cells that spiked at least once.
    pub fraction_active: f64,
    /// Fraction of the type's cells with a CV.
    pub fraction_with_cv: f64,
}

/// A stretch's statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Simulated seconds.
    pub seconds: f64,
    /// The reference's rate loss.
    pub loss_firing_rate: f64,
    /// The reference's CV loss.
    pub loss_cv: f64,
    /// The reference's total loss.
    pub loss_total: f64,
    /// Mean rate of all cells (Hz).
    pub mean_firing_rate: f64,
    /// Standard deviation of the rates (Hz).
    pub std_firing_rate: f64,
    /// Mean CV over cells with one.
    pub mean_cv: f64,
    /// Standard deviation of those CVs.
    pub std_cv: f64,
    /// Fraction of cells that spiked.
    pub fraction_active: f64,
    /// Per type.
    pub types: Vec<TypeStats>,
}

/// Rates (Hz), per-cell spike times and CVs of a stretch.
#[derive(Debug, Clone)]
pub struct Trains {
    /// Rate of each cell (Hz).
    pub rates: Vec<f64>,
    /// Spike steps of each cell.
    pub times: Vec<Vec<u64>>,
    /// CV of each cell.
    pub cvs: Vec<Option<f64>>,
}

/// Splits `spikes` of `n` cells over `steps` steps of `dt` ms into trains.
pub fn trains(spikes: &[(u32, u32)], n: usize, steps: u64, dt: f64) -> Trains {
    let mut times = vec![Vec::new(); n];
    for &(t, j) in spikes {
        if let Some(v) = times.get_mut(j as usize) {
            v.push(u64::from(t));
        }
    }
    let secs = (steps as f64 * dt / 1000.0).max(1e-9);
    let rates = times.iter().map(|t| t.len() as f64 / secs).collect();
    let cvs = times.iter().map(|t| stats::cv(t)).collect();
    Trains { rates, times, cvs }
}

fn mean_std(x: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = x.clone().count();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let m = x.clone().sum::<f64>() / n as f64;
    let v = x.map(|a| (a - m) * (a - m)).sum::<f64>() / n as f64;
    (m, v.sqrt())
}

/// The statistics of `tr` for cells of types `cell_type`.
pub fn summarise(cfg: &EiConfig, cell_type: &[u8], tr: &Trains, steps: u64) -> Stats {
    let nt = cfg.type_names().len();
    let targets: Vec<f64> = cell_type
        .iter()
        .map(|&t| cfg.target_hz(t as usize))
        .collect();
    let cv_target = cfg.target_cv(0);
    let h = &cfg.hyperparameters;
    let Losses {
        firing_rate,
        cv,
        total,
    } = stats::losses(
        &tr.rates,
        &tr.cvs,
        &targets,
        cv_target,
        h.cv_high_loss,
        h.loss_ratio,
        f64::from(cfg.simulation.accumulation_interval),
    );
    let (mfr, sfr) = mean_std(tr.rates.iter().copied());
    let (mcv, scv) = mean_std(tr.cvs.iter().flatten().copied());
    let n = cell_type.len().max(1) as f64;
    let active = tr.times.iter().filter(|t| !t.is_empty()).count() as f64 / n;
    let types = (0..nt)
        .map(|t| {
            let of = |j: &usize| cell_type[*j] as usize == t;
            let idx: Vec<usize> = (0..cell_type.len()).filter(of).collect();
            let c = idx.len().max(1) as f64;
            let (m, s) = mean_std(idx.iter().map(|&j| tr.rates[j]));
            let (mc, _) = mean_std(idx.iter().filter_map(|&j| tr.cvs[j]));
            TypeStats {
                name: cfg.type_names()[t].clone(),
                cells: idx.len(),
                target_hz: cfg.target_hz(t),
                mean_fr: m,
                std_fr: s,
                mean_cv: mc,
                fraction_active: idx.iter().filter(|&&j| !tr.times[j].is_empty()).count() as f64
                    / c,
                fraction_with_cv: idx.iter().filter(|&&j| tr.cvs[j].is_some()).count() as f64 / c,
            }
        })
        .collect();
    Stats {
        seconds: steps as f64 * cfg.simulation.dt / 1000.0,
        loss_firing_rate: firing_rate,
        loss_cv: cv,
        loss_total: total,
        mean_firing_rate: mfr,
        std_firing_rate: sfr,
        mean_cv: mcv,
        std_cv: scv,
        fraction_active: active,
        types,
    }
}

impl Stats {
    /// The reference's logged keys (`loss/cv`, `mean_fr_type_k`, …) with their values.
    pub fn scalars(&self) -> Vec<(String, f64)> {
        let mut v = vec![
            ("loss/cv".to_owned(), self.loss_cv),
            ("loss/firing_rate".to_owned(), self.loss_firing_rate),
            ("loss/total".to_owned(), self.loss_total),
            ("mean_firing_rate".to_owned(), self.mean_firing_rate),
            ("std_firing_rate".to_owned(), self.std_firing_rate),
            ("mean_cv".to_owned(), self.mean_cv),
            ("std_cv".to_owned(), self.std_cv),
            ("fraction_active".to_owned(), self.fraction_active),
        ];
        for (k, t) in self.types.iter().enumerate() {
            v.push((format!("mean_fr_type_{k}"), t.mean_fr));
            v.push((format!("std_fr_type_{k}"), t.std_fr));
        }
        v.retain(|(_, x)| x.is_finite());
        v
    }
}

/// Mean Fano factor over cells for each window (ms) in `windows`.
pub fn fano_curve(tr: &Trains, steps: u64, dt: f64, windows: &[f64]) -> Vec<(f64, f64)> {
    windows
        .iter()
        .filter_map(|&w| {
            let ws = (w / dt).round() as u64;
            let f: Vec<f64> = tr
                .times
                .iter()
                .filter_map(|t| stats::fano(t, ws, steps))
                .collect();
            (!f.is_empty()).then(|| (w, f.iter().sum::<f64>() / f.len() as f64))
        })
        .collect()
}
