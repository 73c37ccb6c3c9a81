//! Training of the linear readout on binary spike features: one-vs-rest L2-regularised
//! squared-hinge SVM (the LinearSVC objective, with the bias as a regularised constant feature),
//! solved by dual coordinate descent (Hsieh et al. 2008), then quantised to `i16` for the core.

use crate::backend::FeatureSet;
use crate::net::Readout;
use hebb_core::rng::Rng;
use rayon::prelude::*;

/// Sparse view of binary features: CSR of active indices.
#[derive(Debug, Clone, Default)]
pub struct Sparse {
    /// Row starts (`n + 1`).
    pub starts: Vec<usize>,
    /// Active feature indices.
    pub idx: Vec<u32>,
    /// Features.
    pub n_features: usize,
}

impl Sparse {
    /// From bit sets.
    pub fn from_features(f: &FeatureSet) -> Self {
        let mut starts = Vec::with_capacity(f.len() + 1);
        let mut idx = Vec::new();
        starts.push(0);
        for i in 0..f.len() {
            idx.extend(f.active(i).map(|x| x as u32));
            starts.push(idx.len());
        }
        Self {
            starts,
            idx,
            n_features: f.n_features,
        }
    }
    /// Samples.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Active features of sample `i`.
    pub fn row(&self, i: usize) -> &[u32] {
        &self.idx[self.starts[i]..self.starts[i + 1]]
    }
    /// The rows `rows`, in that order.
    pub fn subset(&self, rows: &[usize]) -> Self {
        let mut starts = Vec::with_capacity(rows.len() + 1);
        let mut idx = Vec::new();
        starts.push(0);
        for &i in rows {
            idx.extend_from_slice(self.row(i));
            starts.push(idx.len());
        }
        Self {
            starts,
            idx,
            n_features: self.n_features,
        }
    }
    /// Mean fraction of active features.
    pub fn density(&self) -> f64 {
        if self.is_empty() || self.n_features == 0 {
            0.0
        } else {
            self.idx.len() as f64 / (self.len() * self.n_features) as f64
        }
    }
}

/// One binary SVM (dual CD, squared hinge). Returns (weights, bias).
fn binary_svm(x: &Sparse, y: &[f64], c: f64, epochs: u16, seed: u64) -> (Vec<f64>, f64) {
    let n = x.len();
    let mut w = vec![0f64; x.n_features];
    let mut b = 0f64;
    let mut alpha = vec![0f64; n];
    let d = 1.0 / (2.0 * c);
    // ‖x_i‖² of a binary row is its count, +1 for the bias feature.
    let qd: Vec<f64> = (0..n).map(|i| x.row(i).len() as f64 + 1.0 + d).collect();
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng::new(seed);
    for _ in 0..epochs {
        rng.shuffle(&mut order);
        let mut max_pg = 0f64;
        for &i in &order {
            let row = x.row(i);
            let wx: f64 = row.iter().map(|&f| w[f as usize]).sum::<f64>() + b;
            let g = y[i] * wx - 1.0 + d * alpha[i];
            let pg = if alpha[i] == 0.0 { g.min(0.0) } else { g };
            max_pg = max_pg.max(pg.abs());
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (old - g / qd[i]).max(0.0);
                let delta = (alpha[i] - old) * y[i];
                for &f in row {
                    w[f as usize] += delta;
                }
                b += delta;
            }
        }
        if max_pg < 1e-3 {
            break;
        }
    }
    (w, b)
}

/// Trains a one-vs-rest readout and quantises it: weights scaled so the largest magnitude maps
/// to 32767 (`i16`), bias scaled the same way into `i32`. Class `c` of sample `i` is `labels[i]`.
pub fn train(
    x: &Sparse,
    labels: &[u8],
    n_classes: usize,
    c: f64,
    epochs: u16,
    seed: u64,
) -> Readout {
    let per_class: Vec<(Vec<f64>, f64)> = (0..n_classes)
        .into_par_iter()
        .map(|k| {
            let y: Vec<f64> = labels
                .iter()
                .map(|&l| if l as usize == k { 1.0 } else { -1.0 })
                .collect();
            binary_svm(
                x,
                &y,
                c,
                epochs,
                seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            )
        })
        .collect();
    let max = per_class
        .iter()
        .flat_map(|(w, _)| w.iter())
        .fold(0f64, |m, v| m.max(v.abs()))
        .max(1e-12);
    let scale = 32767.0 / max;
    let nf = x.n_features;
    let mut weights = vec![0i16; nf * n_classes];
    for (k, (w, _)) in per_class.iter().enumerate() {
        for f in 0..nf {
            weights[f * n_classes + k] = (w[f] * scale).round().clamp(-32767.0, 32767.0) as i16;
        }
    }
    let bias = per_class
        .iter()
        .map(|(_, b)| (b * scale).round().clamp(-1e9, 1e9) as i32)
        .collect();
    Readout {
        n_features: nf,
        n_classes,
        weights,
        bias,
    }
}

/// Validation accuracy of one candidate C.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CScore {
    /// Regularisation.
    pub c: f64,
    /// Accuracy on the held-out split (the core's integer readout).
    pub accuracy: f64,
}

/// Chooses C among `grid` by accuracy on a validation split: per class, the last
/// `⌊fraction · n_class⌋` (at least one) of the `n_orig` original training samples are held out.
/// `x` and `labels` may extend the originals with augmented copies laid out as
/// [`augment`] writes them (copy `j` of sample `i` at `i + n_orig · (j + 1)`); a held-out
/// sample's copies are held out with it. `orig` holds the originals' bit sets (validation runs
/// through the same quantised readout as the model). Ties go to the smaller C. `on_score` sees
/// each candidate's result as soon as it is known (progress).
#[allow(clippy::too_many_arguments)]
pub fn select_c(
    x: &Sparse,
    labels: &[u8],
    orig: &FeatureSet,
    n_classes: usize,
    grid: &[f64],
    fraction: f64,
    epochs: u16,
    seed: u64,
    mut on_score: impl FnMut(CScore),
) -> (f64, Vec<CScore>) {
    let n_orig = orig.len();
    if n_orig == 0 || x.len() < n_orig || labels.len() < x.len() {
        // Nothing to hold out (or inconsistent inputs): no candidate can be scored.
        let smallest = grid.iter().copied().reduce(f64::min).unwrap_or(1.0);
        return (smallest, Vec::new());
    }
    let mut per_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &l) in labels[..n_orig].iter().enumerate() {
        if let Some(v) = per_class.get_mut(l as usize) {
            v.push(i);
        }
    }
    let mut held = vec![false; n_orig];
    for v in &per_class {
        if v.len() < 2 {
            continue;
        }
        let k = ((v.len() as f64 * fraction) as usize).clamp(1, v.len() - 1);
        for &i in &v[v.len() - k..] {
            held[i] = true;
        }
    }
    let fit_rows: Vec<usize> = (0..x.len()).filter(|&i| !held[i % n_orig]).collect();
    let val_rows: Vec<usize> = (0..n_orig).filter(|&i| held[i]).collect();
    let x_fit = x.subset(&fit_rows);
    let y_fit: Vec<u8> = fit_rows.iter().map(|&i| labels[i]).collect();
    let mut val = FeatureSet {
        n_features: orig.n_features,
        words: orig.words,
        bits: Vec::with_capacity(val_rows.len() * orig.words),
    };
    for &i in &val_rows {
        val.bits.extend_from_slice(orig.sample(i));
    }
    let y_val: Vec<u8> = val_rows.iter().map(|&i| labels[i]).collect();
    let mut scores: Vec<CScore> = grid
        .iter()
        .map(|&c| {
            let r = train(&x_fit, &y_fit, n_classes, c, epochs, seed);
            let score = CScore {
                c,
                accuracy: evaluate(&r, &val, &y_val).0,
            };
            on_score(score);
            score
        })
        .collect();
    let best = scores
        .iter()
        .copied()
        .fold(None::<CScore>, |b, s| match b {
            Some(b) if b.accuracy > s.accuracy || (b.accuracy == s.accuracy && b.c <= s.c) => {
                Some(b)
            }
            _ => Some(s),
        })
        .map_or(1.0, |b| b.c);
    scores.sort_by(|a, b| a.c.total_cmp(&b.c));
    (best, scores)
}

/// Little-endian bytes of a readout, for the core's [`hebb_core::model::ReadoutBlob`].
pub fn blob_bytes(r: &Readout) -> (Vec<u8>, Vec<u8>) {
    (
        r.weights.iter().flat_map(|v| v.to_le_bytes()).collect(),
        r.bias.iter().flat_map(|v| v.to_le_bytes()).collect(),
    )
}

/// Predicts every sample with the core's integer readout (the code the firmware runs).
pub fn predict_all(r: &Readout, f: &FeatureSet) -> Vec<usize> {
    let (w, b) = blob_bytes(r);
    let blob = hebb_core::model::ReadoutBlob {
        n_features: r.n_features as u32,
        n_classes: r.n_classes as u16,
        bits: 16,
        weights: &w,
        bias: &b,
    };
    (0..f.len())
        .into_par_iter()
        .map_init(
            || vec![0i32; r.n_classes],
            |scores, i| {
                blob.scores(f.sample(i), scores)
                    .map_or(0, |()| hebb_core::readout::argmax(scores).unwrap_or(0))
            },
        )
        .collect()
}

/// Accuracy and confusion matrix (`[true][predicted]`).
pub fn evaluate(r: &Readout, f: &FeatureSet, labels: &[u8]) -> (f64, Vec<Vec<u32>>) {
    let mut conf = vec![vec![0u32; r.n_classes]; r.n_classes];
    let mut ok = 0usize;
    let pred = predict_all(r, f);
    for (i, &p) in pred.iter().enumerate() {
        let t = labels[i] as usize;
        if t < r.n_classes {
            conf[t][p] += 1;
        }
        ok += usize::from(p == t);
    }
    (
        if pred.is_empty() {
            0.0
        } else {
            ok as f64 / pred.len() as f64
        },
        conf,
    )
}

/// Training images for the readout: the originals followed by copies shifted by `1..=shift`
/// pixels up, down, left and right (zero fill). Returns the images and their labels.
pub fn augment(
    images: &[u8],
    labels: &[u8],
    rows: usize,
    cols: usize,
    shift: u8,
) -> (Vec<u8>, Vec<u8>) {
    let plane = rows * cols;
    let mut out = images.to_vec();
    let mut lab = labels.to_vec();
    for d in 1..=shift as isize {
        for (dy, dx) in [(-d, 0), (d, 0), (0, -d), (0, d)] {
            for (i, img) in images.chunks_exact(plane).enumerate() {
                let mut o = vec![0u8; plane];
                for y in 0..rows as isize {
                    let sy = y - dy;
                    if sy < 0 || sy >= rows as isize {
                        continue;
                    }
                    for x in 0..cols as isize {
                        let sx = x - dx;
                        if sx >= 0 && sx < cols as isize {
                            o[(y * cols as isize + x) as usize] =
                                img[(sy * cols as isize + sx) as usize];
                        }
                    }
                }
                out.extend_from_slice(&o);
                lab.push(labels[i]);
            }
        }
    }
    (out, lab)
}
