//! Diagnostics of the local-rule family: the Hopfield analyzer (pattern energies, recall
//! analysis, capacity, weight symmetry, spurious attractors), principal components of data
//! (to score Oja and Sanger), orientation tuning (BCM) and pattern detection (trace STDP).

use super::model::{Hopfield, Linear, Recall, Spiking};
use super::task::{Cue, CueKind, SpikeTrain};
use anyhow::Result;
use hebb_core::rng::Rng;
use rayon::prelude::*;
use serde::Serialize;

/// What one recall did, against the pattern it should reach.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RecallAnalysis {
    /// Stored pattern closest to the output.
    pub best_match: usize,
    /// Its overlap with the output.
    pub best_match_overlap: f64,
    /// Overlap of the cue with the target before recall.
    pub overlap_before: f64,
    /// Overlap of the output with the target.
    pub overlap_after: f64,
    /// Energy of the output.
    pub energy: f64,
    /// Sweeps to the end.
    pub sweeps: u32,
    /// Ended at a fixed point.
    pub fixed_point: bool,
    /// Ended in a 2-cycle.
    pub cycle: bool,
}

/// Analyses a recall of `cue` (its target `target`) that gave `r`.
pub fn analyze_recall(h: &Hopfield, cue: &[i32], target: usize, r: &Recall) -> RecallAnalysis {
    let (best_match, best_match_overlap) = h.best_match(&r.state);
    RecallAnalysis {
        best_match,
        best_match_overlap,
        overlap_before: h.overlap(cue, h.pattern(target)),
        overlap_after: h.overlap(&r.state, h.pattern(target)),
        energy: r.energies.last().copied().unwrap_or(f64::NAN),
        sweeps: r.outcome.sweeps,
        fixed_point: r.outcome.converged,
        cycle: r.outcome.cycle,
    }
}

/// Recall quality over a set of cues of one kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecallSummary {
    /// `noise 0.10`, `unseen`.
    pub cues: String,
    /// Number of cues.
    pub count: usize,
    /// Mean overlap with the target after recall.
    pub mean_overlap: f64,
    /// Fraction recalled exactly (overlap 1).
    pub perfect: f64,
    /// Fraction whose closest stored pattern is the target (for digits: of the cue's class).
    pub best_match_correct: f64,
    /// Fraction that ended at a fixed point.
    pub fixed_point: f64,
    /// Fraction that ended in a 2-cycle.
    pub cycle: f64,
    /// Mean sweeps.
    pub mean_sweeps: f64,
    /// Fraction whose energy never rose between sweeps.
    pub energy_monotone: f64,
}

/// Recalls every cue (in parallel, deterministically) and summarises per cue kind; `bar`
/// advances by one per cue.
pub fn recall_summaries(
    h: &Hopfield,
    cues: &[Cue],
    labels: &[u8],
    bar: &indicatif::ProgressBar,
) -> Result<Vec<RecallSummary>> {
    let results: Vec<(RecallAnalysis, bool)> = cues
        .par_iter()
        .map(|c| {
            bar.inc(1);
            let s = h.state_of_pattern(&c.state);
            let r = h.recall(&s)?;
            let mono = r
                .energies
                .windows(2)
                .all(|w| w[1] <= w[0] + 1e-9 * w[0].abs().max(1.0));
            Ok((analyze_recall(h, &s, c.target, &r), mono))
        })
        .collect::<Result<_>>()?;
    let mut kinds: Vec<CueKind> = Vec::new();
    for c in cues {
        if !kinds.contains(&c.kind) {
            kinds.push(c.kind);
        }
    }
    Ok(kinds
        .into_iter()
        .map(|k| {
            let sel: Vec<(&Cue, &(RecallAnalysis, bool))> = cues
                .iter()
                .zip(&results)
                .filter(|(c, _)| c.kind == k)
                .collect();
            let n = sel.len().max(1) as f64;
            let frac = |f: &dyn Fn(&Cue, &RecallAnalysis, bool) -> bool| {
                sel.iter().filter(|(c, (a, m))| f(c, a, *m)).count() as f64 / n
            };
            let correct = |c: &Cue, a: &RecallAnalysis| {
                if labels.is_empty() {
                    a.best_match == c.target
                } else {
                    labels.get(a.best_match) == labels.get(c.target)
                }
            };
            RecallSummary {
                cues: match k {
                    CueKind::Noisy(f) => format!("noise {f:.2}"),
                    CueKind::Unseen => "unseen".to_owned(),
                },
                count: sel.len(),
                mean_overlap: sel.iter().map(|(_, (a, _))| a.overlap_after).sum::<f64>() / n,
                perfect: frac(&|_, a, _| a.overlap_after >= 1.0 - 1e-12),
                best_match_correct: frac(&|c, a, _| correct(c, a)),
                fixed_point: frac(&|_, a, _| a.fixed_point),
                cycle: frac(&|_, a, _| a.cycle),
                mean_sweeps: sel
                    .iter()
                    .map(|(_, (a, _))| f64::from(a.sweeps))
                    .sum::<f64>()
                    / n,
                energy_monotone: frac(&|_, _, m| m),
            }
        })
        .collect())
}

/// The analyzer's statistics of a stored memory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HopfieldStats {
    /// Neurons.
    pub neurons: usize,
    /// Stored patterns.
    pub patterns: usize,
    /// Load `p / n`.
    pub load: f64,
    /// Capacity estimate of Hebbian storage, `0.138 n` (Amit, Gutfreund & Sompolinsky).
    pub capacity: f64,
    /// Energy of each stored pattern (threshold included).
    pub pattern_energies: Vec<f64>,
    /// Stored patterns that are fixed points of the dynamics.
    pub stable_patterns: usize,
    /// `‖W − Wᵀ‖_F / ‖W‖_F` (0 for a zero matrix).
    pub symmetry_error: f64,
    /// Mean and maximum |W_ij| (real units).
    pub weight_mean_abs: f64,
    /// Largest |W_ij|.
    pub weight_max_abs: f64,
}

/// Statistics of a memory.
pub fn stats(h: &Hopfield) -> Result<HopfieldStats> {
    let n = h.n;
    let mut asym = 0f64;
    let mut norm = 0f64;
    for i in 0..n {
        for j in 0..n {
            let a = f64::from(h.w[i * n + j]);
            let d = a - f64::from(h.w[j * n + i]);
            asym += d * d;
            norm += a * a;
        }
    }
    let states: Vec<Vec<i32>> = (0..h.patterns())
        .map(|p| h.state_of_pattern(h.pattern(p)))
        .collect();
    let energies = states
        .iter()
        .map(|s| h.energy(s))
        .collect::<Result<Vec<_>>>()?;
    let mut next = vec![0; n];
    let mut stable = 0;
    for s in &states {
        if h.dynamics.sync_step(&h.w, s, &mut next)? == 0 {
            stable += 1;
        }
    }
    let abs: Vec<f64> =
        h.w.iter()
            .map(|&v| f64::from(v.unsigned_abs()) * h.unit)
            .collect();
    Ok(HopfieldStats {
        neurons: n,
        patterns: h.patterns(),
        load: h.patterns() as f64 / n as f64,
        capacity: 0.138 * n as f64,
        pattern_energies: energies,
        stable_patterns: stable,
        symmetry_error: if norm > 0.0 {
            (asym / norm).sqrt()
        } else {
            0.0
        },
        weight_mean_abs: abs.iter().sum::<f64>() / abs.len().max(1) as f64,
        weight_max_abs: abs.iter().copied().fold(0.0, f64::max),
    })
}

/// Where recalls from random states end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Census {
    /// Random starts.
    pub starts: usize,
    /// Ended on a stored pattern (overlap ≥ 0.99).
    pub stored: usize,
    /// Ended on a stored pattern's negative.
    pub reversed: usize,
    /// Ended on another fixed point (a spurious attractor).
    pub spurious: usize,
    /// Distinct spurious fixed points.
    pub distinct_spurious: usize,
    /// Ended in a cycle or at the sweep cap.
    pub unsettled: usize,
}

/// Recalls from `starts` random ±1 states and sorts where they end; `bar` advances by one per
/// start.
pub fn census(
    h: &Hopfield,
    starts: usize,
    seed: u64,
    bar: &indicatif::ProgressBar,
) -> Result<Census> {
    let ends: Vec<(Vec<i32>, bool)> = (0..starts)
        .into_par_iter()
        .map(|i| {
            bar.inc(1);
            let mut rng = Rng::new(seed ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
            let s = h.state_of_pattern(&super::task::random_pm1(&mut rng, h.n));
            let r = h.recall(&s)?;
            Ok((r.state, r.outcome.converged))
        })
        .collect::<Result<_>>()?;
    let mut c = Census {
        starts,
        stored: 0,
        reversed: 0,
        spurious: 0,
        distinct_spurious: 0,
        unsettled: 0,
    };
    let mut seen: Vec<&Vec<i32>> = Vec::new();
    for (s, fixed) in &ends {
        if !fixed {
            c.unsettled += 1;
            continue;
        }
        let (_, best) = h.best_match(s);
        let neg: Vec<i32> = s.iter().map(|v| -v).collect();
        let (_, best_neg) = h.best_match(&neg);
        if best >= 0.99 {
            c.stored += 1;
        } else if best_neg >= 0.99 {
            c.reversed += 1;
        } else {
            c.spurious += 1;
            if !seen.contains(&s) {
                seen.push(s);
            }
        }
    }
    c.distinct_spurious = seen.len();
    Ok(c)
}

/// Mean overlap after recall of stored patterns with `⌊f n⌋` flipped bits, for each `f`.
pub fn overlap_vs_noise(h: &Hopfield, noise: &[f64], seed: u64) -> Result<Vec<(f64, f64)>> {
    noise
        .iter()
        .map(|&f| {
            let mut rng = Rng::new(seed ^ f.to_bits());
            let cues: Vec<Cue> = (0..h.patterns())
                .map(|p| Cue {
                    target: p,
                    kind: CueKind::Noisy(f),
                    state: super::task::flip(h.pattern(p), f, &mut rng),
                })
                .collect();
            let s = recall_summaries(h, &cues, &[], &indicatif::ProgressBar::hidden())?;
            Ok((f, s.first().map_or(f64::NAN, |s| s.mean_overlap)))
        })
        .collect()
}

/// Covariance (`d × d`) of samples (`m × d`), about their mean.
pub fn covariance(x: &[f64], d: usize) -> Vec<f64> {
    let m = x.len() / d;
    let mut mean = vec![0.0; d];
    for s in x.chunks_exact(d) {
        mean.iter_mut().zip(s).for_each(|(a, b)| *a += b);
    }
    mean.iter_mut().for_each(|a| *a /= m as f64);
    let rows: Vec<Vec<f64>> = (0..d)
        .into_par_iter()
        .map(|i| {
            let mut row = vec![0.0; d];
            for s in x.chunks_exact(d) {
                let a = s[i] - mean[i];
                row.iter_mut()
                    .zip(s.iter().zip(&mean))
                    .for_each(|(r, (v, mu))| *r += a * (v - mu));
            }
            row.iter_mut().for_each(|r| *r /= m as f64);
            row
        })
        .collect();
    rows.concat()
}

/// The top `k` eigenvectors (unit rows, by decreasing eigenvalue) and eigenvalues of a
/// symmetric matrix, by orthogonal iteration with a Rayleigh–Ritz step at the end.
pub fn top_eigen(c: &[f64], d: usize, k: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let mut q: Vec<f64> = (0..k * d).map(|_| rng.normal()).collect();
    orthonormalise(&mut q, d);
    let mut z = vec![0.0; k * d];
    for _ in 0..3000 {
        for (zi, qi) in z.chunks_exact_mut(d).zip(q.chunks_exact(d)) {
            for (r, zr) in zi.iter_mut().enumerate() {
                *zr = c[r * d..(r + 1) * d]
                    .iter()
                    .zip(qi)
                    .map(|(a, b)| a * b)
                    .sum();
            }
        }
        orthonormalise(&mut z, d);
        let change: f64 = z
            .chunks_exact(d)
            .zip(q.chunks_exact(d))
            .map(|(a, b)| 1.0 - a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>().abs())
            .fold(0.0, f64::max);
        std::mem::swap(&mut q, &mut z);
        if change < 1e-13 {
            break;
        }
    }
    // Rayleigh quotients, then order by eigenvalue.
    let mut pairs: Vec<(f64, Vec<f64>)> = q
        .chunks_exact(d)
        .map(|v| {
            let cv: Vec<f64> = (0..d)
                .map(|r| {
                    c[r * d..(r + 1) * d]
                        .iter()
                        .zip(v)
                        .map(|(a, b)| a * b)
                        .sum()
                })
                .collect();
            (cv.iter().zip(v).map(|(a, b)| a * b).sum(), v.to_vec())
        })
        .collect();
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let vals = pairs.iter().map(|p| p.0).collect();
    let vecs = pairs.into_iter().flat_map(|p| p.1).collect();
    (vecs, vals)
}

fn orthonormalise(q: &mut [f64], d: usize) {
    let k = q.len() / d;
    for i in 0..k {
        for j in 0..i {
            let (a, b) = q.split_at_mut(i * d);
            let u = &a[j * d..(j + 1) * d];
            let v = &mut b[..d];
            let dot: f64 = u.iter().zip(v.iter()).map(|(x, y)| x * y).sum();
            v.iter_mut().zip(u).for_each(|(x, y)| *x -= dot * y);
        }
        let v = &mut q[i * d..(i + 1) * d];
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-300);
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// How well a linear layer's rows match components.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentScore {
    /// |cos| of row i with component i.
    pub cos: Vec<f64>,
    /// Row norms.
    pub norms: Vec<f64>,
    /// Largest |cos| between two different rows.
    pub max_cross_cos: f64,
    /// `‖W Wᵀ − I‖_F`.
    pub orthogonality_error: f64,
}

/// Scores the rows of `l` against `components` (`k × n` unit rows).
pub fn score_components(l: &Linear, components: &[f64]) -> ComponentScore {
    let n = l.n;
    let rows: Vec<Vec<f64>> = (0..l.k).map(|i| l.row(i)).collect();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let norms: Vec<f64> = rows.iter().map(|r| dot(r, r).sqrt()).collect();
    let cos = rows
        .iter()
        .zip(&norms)
        .zip(components.chunks_exact(n))
        .map(|((r, &nr), c)| (dot(r, c) / nr.max(1e-300)).abs())
        .collect();
    let mut max_cross: f64 = 0.0;
    let mut orth = 0.0;
    for i in 0..l.k {
        for j in 0..l.k {
            let g = dot(&rows[i], &rows[j]);
            let target = if i == j { 1.0 } else { 0.0 };
            orth += (g - target) * (g - target);
            if i != j {
                max_cross = max_cross.max((g / (norms[i] * norms[j]).max(1e-300)).abs());
            }
        }
    }
    ComponentScore {
        cos,
        norms,
        max_cross_cos: max_cross,
        orthogonality_error: orth.sqrt(),
    }
}

/// Orientation tuning of one neuron.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tuning {
    /// Response per test orientation.
    pub responses: Vec<f64>,
    /// Preferred orientation (degrees).
    pub preferred: f64,
    /// Selectivity `1 − mean/max` of the rectified responses.
    pub selectivity: f64,
    /// Orientation selectivity index `|Σ r e^{2iθ}| / Σ r` of the rectified responses.
    pub osi: f64,
}

/// Tuning curves of a BCM layer on the test bars.
pub fn tuning(l: &Linear, test: &[i32], angles: &[f64]) -> Result<Vec<Tuning>> {
    let n = l.n;
    let mut resp = vec![vec![0.0; angles.len()]; l.k];
    let mut y = vec![0; l.k];
    for (t, x) in test.chunks_exact(n).enumerate() {
        hebb_core::local::oja::forward(&l.w, n, x, &mut y)?;
        for (r, &v) in resp.iter_mut().zip(&y) {
            r[t] = hebb_core::local::fixed::to_f64(v);
        }
    }
    Ok(resp
        .into_iter()
        .map(|r| {
            let rect: Vec<f64> = r.iter().map(|v| v.max(0.0)).collect();
            let max = rect.iter().copied().fold(0.0, f64::max);
            let mean = rect.iter().sum::<f64>() / rect.len().max(1) as f64;
            let (mut re, mut im) = (0.0, 0.0);
            for (v, a) in rect.iter().zip(angles) {
                let t = 2.0 * a.to_radians();
                re += v * t.cos();
                im += v * t.sin();
            }
            let sum: f64 = rect.iter().sum();
            let best = r
                .iter()
                .enumerate()
                .fold(
                    (0, f64::NEG_INFINITY),
                    |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                )
                .0;
            Tuning {
                preferred: angles.get(best).copied().unwrap_or(0.0),
                selectivity: if max > 0.0 { 1.0 - mean / max } else { 0.0 },
                osi: if sum > 0.0 { re.hypot(im) / sum } else { 0.0 },
                responses: r,
            }
        })
        .collect())
}

/// Pattern detection of one neuron on the test stream.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Detection {
    /// Fraction of pattern blocks with at least one spike.
    pub hit_rate: f64,
    /// Fraction of noise blocks with at least one spike.
    pub false_alarm_rate: f64,
}

/// Hit and false-alarm rates of every neuron on `test`, run from rest without plasticity.
pub fn detection(s: &Spiking, test: &SpikeTrain) -> Result<Vec<Detection>> {
    let spikes = s.run(&test.x, test.steps())?;
    let blocks = test.pattern_blocks.len();
    let mut hit = vec![0usize; s.k];
    let mut fa = vec![0usize; s.k];
    for b in 0..blocks {
        let mut any = vec![false; s.k];
        for step in &spikes[b * test.block..(b + 1) * test.block] {
            for (a, &sp) in any.iter_mut().zip(step) {
                *a |= sp != 0;
            }
        }
        for (i, &a) in any.iter().enumerate() {
            if a {
                if test.pattern_blocks[b] {
                    hit[i] += 1;
                } else {
                    fa[i] += 1;
                }
            }
        }
    }
    let np = test.pattern_blocks.iter().filter(|&&p| p).count().max(1) as f64;
    let nn = (blocks - test.pattern_blocks.iter().filter(|&&p| p).count()).max(1) as f64;
    Ok((0..s.k)
        .map(|i| Detection {
            hit_rate: hit[i] as f64 / np,
            false_alarm_rate: fa[i] as f64 / nn,
        })
        .collect())
}
