//! Training of the linear readout on binary spike features: one-vs-rest L2-regularised
//! squared-hinge SVM (the LinearSVC objective, with the bias as a regularised constant feature),
//! solved by dual coordinate descent with shrinking (Hsieh et al. 2008, as LIBLINEAR runs it),
//! then quantised to `i16` for the core. The classes are fitted in parallel, each by one
//! sequential solve, so results do not depend on the number of threads.

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
    /// From bit sets (in parallel: counts first, then each block of rows fills its own part).
    pub fn from_features(f: &FeatureSet) -> Self {
        let n = f.len();
        let counts: Vec<usize> = (0..n)
            .into_par_iter()
            .map(|i| active_count(f.sample(i), f.n_features))
            .collect();
        let mut starts = Vec::with_capacity(n + 1);
        starts.push(0);
        for c in counts {
            starts.push(starts[starts.len() - 1] + c);
        }
        let mut idx = vec![0u32; starts[n]];
        let mut parts = Vec::with_capacity(n.div_ceil(BLOCK));
        let mut rest = idx.as_mut_slice();
        for lo in (0..n).step_by(BLOCK) {
            let hi = (lo + BLOCK).min(n);
            let (part, tail) = rest.split_at_mut(starts[hi] - starts[lo]);
            parts.push((lo..hi, part));
            rest = tail;
        }
        parts.into_par_iter().for_each(|(rows, part)| {
            let mut out = part.iter_mut();
            for i in rows {
                // The row's features first: `zip` stops on them without taking a slot.
                for (a, o) in f.active(i).zip(&mut out) {
                    *o = a as u32;
                }
            }
        });
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

/// Active features of a bit set below `n_features` (what [`FeatureSet::active`] yields).
fn active_count(words: &[u32], n_features: usize) -> usize {
    words
        .iter()
        .enumerate()
        .map(|(j, &w)| {
            let lo = j * 32;
            let mask = if lo + 32 <= n_features {
                u32::MAX
            } else if lo >= n_features {
                0
            } else {
                (1u32 << (n_features - lo)) - 1
            };
            (w & mask).count_ones() as usize
        })
        .sum()
}

/// Stopping tolerance on the spread of the projected gradient over a pass over all coordinates
/// (LIBLINEAR's `eps`, whose default for this solver is the much looser 0.1).
const EPS: f64 = 1e-3;

/// A feature index of the packed rows.
trait Feature: Copy + Send + Sync {
    fn new(i: usize) -> Self;
    fn get(self) -> usize;
}

impl Feature for u16 {
    fn new(i: usize) -> Self {
        i as u16
    }
    #[inline(always)]
    fn get(self) -> usize {
        self as usize
    }
}

impl Feature for u32 {
    fn new(i: usize) -> Self {
        i as u32
    }
    #[inline(always)]
    fn get(self) -> usize {
        self as usize
    }
}

/// The rows one fit sees, packed for the solver: features renumbered by decreasing frequency
/// among them (the weights of the common features share cache lines and stay in L1; features
/// never active drop out), as `u16` when at most 65,536 are active.
#[derive(Debug)]
struct PackedRows<I> {
    starts: Vec<usize>,
    idx: Vec<I>,
    labels: Vec<u8>,
    /// Original index of each packed feature.
    features: Vec<u32>,
    /// Features of the original numbering.
    n_features: usize,
}

#[derive(Debug)]
enum Packed {
    Narrow(PackedRows<u16>),
    Wide(PackedRows<u32>),
}

/// Rows per parallel block when building rows.
const BLOCK: usize = 512;

impl Packed {
    /// Rows `rows` of `x` (in that order) with their labels.
    fn new(x: &Sparse, rows: &[usize], labels: &[u8]) -> Self {
        // Frequency of every feature among the rows (integer sums: any split gives the same).
        let counts = rows
            .par_chunks(BLOCK)
            .fold(
                || vec![0u32; x.n_features],
                |mut c, block| {
                    for &i in block {
                        for &f in x.row(i) {
                            c[f as usize] += 1;
                        }
                    }
                    c
                },
            )
            .reduce(
                || vec![0u32; x.n_features],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                    a
                },
            );
        let mut features: Vec<u32> = (0..x.n_features as u32)
            .filter(|&f| counts[f as usize] > 0)
            .collect();
        features.sort_by(|&a, &b| counts[b as usize].cmp(&counts[a as usize]).then(a.cmp(&b)));
        let mut rank = vec![0u32; x.n_features];
        for (r, &f) in features.iter().enumerate() {
            rank[f as usize] = r as u32;
        }
        if features.len() <= 1 << 16 {
            Self::Narrow(PackedRows::new(x, rows, labels, &rank, features))
        } else {
            Self::Wide(PackedRows::new(x, rows, labels, &rank, features))
        }
    }
}

impl<I: Feature> PackedRows<I> {
    fn new(x: &Sparse, rows: &[usize], labels: &[u8], rank: &[u32], features: Vec<u32>) -> Self {
        let mut starts = Vec::with_capacity(rows.len() + 1);
        starts.push(0);
        for &i in rows {
            starts.push(starts[starts.len() - 1] + x.row(i).len());
        }
        let mut idx = vec![I::new(0); starts[rows.len()]];
        let mut parts = Vec::with_capacity(rows.len().div_ceil(BLOCK));
        let mut rest = idx.as_mut_slice();
        for (b, block) in rows.chunks(BLOCK).enumerate() {
            let lo = b * BLOCK;
            let (part, tail) = rest.split_at_mut(starts[lo + block.len()] - starts[lo]);
            parts.push((block, part));
            rest = tail;
        }
        parts.into_par_iter().for_each(|(block, part)| {
            let mut out = part.iter_mut();
            for &i in block {
                for (&f, o) in x.row(i).iter().zip(&mut out) {
                    *o = I::new(rank[f as usize] as usize);
                }
            }
        });
        Self {
            starts,
            idx,
            labels: rows.iter().map(|&i| labels[i]).collect(),
            features,
            n_features: x.n_features,
        }
    }
    fn len(&self) -> usize {
        self.starts.len() - 1
    }
    fn row(&self, j: usize) -> &[I] {
        &self.idx[self.starts[j]..self.starts[j + 1]]
    }
    /// Packed weights in the original numbering.
    fn unpack(&self, w: &[f64]) -> Vec<f64> {
        let mut out = vec![0f64; self.n_features];
        for (&f, &v) in self.features.iter().zip(w) {
            out[f as usize] = v;
        }
        out
    }
}

/// Asks the cache for a row that the solver visits next: rows are visited in random order, so
/// the hardware prefetcher cannot see them coming (a hint only: no effect on results).
#[inline(always)]
fn prefetch<I>(row: &[I]) {
    #[cfg(target_arch = "x86_64")]
    for line in row.chunks(64 / size_of::<I>()) {
        // SAFETY: `prefetcht0` only hints the cache; it reads nothing and cannot fault, and SSE
        // is part of every x86-64 target.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().cast(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// `Σ w[f]` over a row's active features (four partial sums: no chain of dependent adds).
#[inline]
fn row_dot<I: Feature>(w: &[f64], row: &[I]) -> f64 {
    let mut acc = [0f64; 4];
    let mut quads = row.chunks_exact(4);
    for q in &mut quads {
        acc[0] += w[q[0].get()];
        acc[1] += w[q[1].get()];
        acc[2] += w[q[2].get()];
        acc[3] += w[q[3].get()];
    }
    for (a, &f) in acc.iter_mut().zip(quads.remainder()) {
        *a += w[f.get()];
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// One binary SVM (class `class` against the rest) by dual coordinate descent with shrinking
/// (Hsieh et al. 2008, Algorithm 3 with the squared hinge: no upper bound on `α`). `alpha`
/// holds the start and receives the solution; with `warm`, the start (a solution for another C)
/// is first scaled by the factor that minimises the dual at `c` along its ray. At most `passes`
/// passes over the coordinates not shrunk away; it stops once the projected gradient's spread
/// over a pass over all of them is below [`EPS`]. Returns the packed weights and the bias.
fn binary_svm<I: Feature>(
    p: &PackedRows<I>,
    class: usize,
    c: f64,
    passes: u16,
    seed: u64,
    alpha: &mut [f64],
    warm: bool,
) -> (Vec<f64>, f64) {
    let n = p.len();
    let y = |j: usize| {
        if p.labels[j] as usize == class {
            1.0
        } else {
            -1.0
        }
    };
    // The dual: min ½ αᵀ(Q + D I)α − Σα, α ≥ 0, with Q_ij = y_i y_j (x_i·x_j + 1).
    let d = 1.0 / (2.0 * c);
    // w = Σ α_j y_j x_j and its bias.
    let mut w = vec![0f64; p.features.len()];
    let mut b = 0f64;
    for (j, &a) in alpha.iter().enumerate() {
        if a != 0.0 {
            let v = a * y(j);
            for &f in p.row(j) {
                w[f.get()] += v;
            }
            b += v;
        }
    }
    if warm {
        let quad = w.iter().map(|v| v * v).sum::<f64>()
            + b * b
            + d * alpha.iter().map(|a| a * a).sum::<f64>();
        let lin: f64 = alpha.iter().sum();
        if quad > 0.0 {
            let s = lin / quad;
            alpha.iter_mut().for_each(|a| *a *= s);
            w.iter_mut().for_each(|v| *v *= s);
            b *= s;
        }
    }
    let mut index: Vec<usize> = (0..n).collect();
    let mut active = n;
    let mut rng = Rng::new(seed);
    // Largest projected gradient of the last pass: a zero α whose gradient exceeds it is
    // unlikely to move and leaves the active set (until the final check over all of them).
    let mut pg_max_old = f64::INFINITY;
    for _ in 0..passes {
        rng.shuffle(&mut index[..active]);
        let mut pg_max = f64::NEG_INFINITY;
        let mut pg_min = f64::INFINITY;
        let mut s = 0;
        while s < active {
            let j = index[s];
            if let Some(&next) = index[..active].get(s + 1) {
                prefetch(p.row(next));
            }
            let row = p.row(j);
            let yj = y(j);
            let g = yj * (row_dot(&w, row) + b) - 1.0 + d * alpha[j];
            let pg = if alpha[j] == 0.0 {
                if g > pg_max_old {
                    active -= 1;
                    index.swap(s, active);
                    continue;
                }
                g.min(0.0)
            } else {
                g
            };
            pg_max = pg_max.max(pg);
            pg_min = pg_min.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[j];
                // ‖x‖² of a binary row is its count, +1 for the bias feature.
                let qd = row.len() as f64 + 1.0 + d;
                alpha[j] = (old - g / qd).max(0.0);
                let delta = (alpha[j] - old) * yj;
                for &f in row {
                    w[f.get()] += delta;
                }
                b += delta;
            }
            s += 1;
        }
        if pg_max - pg_min <= EPS {
            if active == n {
                break;
            }
            // Converged on the active set: check all coordinates again.
            active = n;
            pg_max_old = f64::INFINITY;
        } else {
            pg_max_old = if pg_max <= 0.0 { f64::INFINITY } else { pg_max };
        }
    }
    (w, b)
}

/// Seed of class `k`'s solve.
fn class_seed(seed: u64, k: usize) -> u64 {
    seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Fits every class (in parallel, each class by itself), from and into `alphas`; weights in
/// the original numbering.
fn fit_classes(
    p: &Packed,
    alphas: &mut [Vec<f64>],
    c: f64,
    passes: u16,
    seed: u64,
    warm: bool,
) -> Vec<(Vec<f64>, f64)> {
    alphas
        .par_iter_mut()
        .enumerate()
        .map(|(k, alpha)| {
            let seed = class_seed(seed, k);
            match p {
                Packed::Narrow(p) => {
                    let (w, b) = binary_svm(p, k, c, passes, seed, alpha, warm);
                    (p.unpack(&w), b)
                }
                Packed::Wide(p) => {
                    let (w, b) = binary_svm(p, k, c, passes, seed, alpha, warm);
                    (p.unpack(&w), b)
                }
            }
        })
        .collect()
}

/// One-vs-rest fit in full precision: per class, the weights and bias that [`train`]
/// quantises. Class `c` of sample `i` is `labels[i]`; at most `epochs` passes per class.
pub fn fit(
    x: &Sparse,
    labels: &[u8],
    n_classes: usize,
    c: f64,
    epochs: u16,
    seed: u64,
) -> Vec<(Vec<f64>, f64)> {
    let rows: Vec<usize> = (0..x.len()).collect();
    let packed = Packed::new(x, &rows, labels);
    let mut alphas = vec![vec![0f64; rows.len()]; n_classes];
    fit_classes(&packed, &mut alphas, c, epochs, seed, false)
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
    quantise(&fit(x, labels, n_classes, c, epochs, seed), x.n_features)
}

/// The core's integer readout of full-precision per-class weights and biases.
fn quantise(per_class: &[(Vec<f64>, f64)], nf: usize) -> Readout {
    let n_classes = per_class.len();
    let max = per_class
        .iter()
        .flat_map(|(w, _)| w.iter())
        .fold(0f64, |m, v| m.max(v.abs()))
        .max(1e-12);
    let scale = 32767.0 / max;
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
/// through the same quantised readout as the model). Ties go to the smaller C. The candidates
/// are fitted in increasing order, each class starting from its solution for the previous C
/// (scaled); `on_score` sees each candidate's result as soon as it is known (progress).
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
    let mut val = FeatureSet {
        n_features: orig.n_features,
        words: orig.words,
        bits: Vec::with_capacity(val_rows.len() * orig.words),
    };
    for &i in &val_rows {
        val.bits.extend_from_slice(orig.sample(i));
    }
    let y_val: Vec<u8> = val_rows.iter().map(|&i| labels[i]).collect();
    let mut path = grid.to_vec();
    path.sort_by(f64::total_cmp);
    let packed = Packed::new(x, &fit_rows, labels);
    let mut alphas = vec![vec![0f64; fit_rows.len()]; n_classes];
    let mut scores: Vec<CScore> = path
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let per_class = fit_classes(&packed, &mut alphas, c, epochs, seed, i > 0);
            let r = quantise(&per_class, x.n_features);
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

/// Training samples for the readout: the originals followed by copies shifted by `1..=shift`
/// pixels up, down, left and right (zero fill). A sample is `frames` planes of `rows × cols`
/// (1 for an image, the bins × channels of a voxel grid), each plane shifted alike. Returns the
/// samples and their labels.
pub fn augment(
    images: &[u8],
    labels: &[u8],
    frames: usize,
    rows: usize,
    cols: usize,
    shift: u8,
) -> (Vec<u8>, Vec<u8>) {
    let plane = rows * cols;
    let sample = plane * frames;
    let mut out = images.to_vec();
    let mut lab = labels.to_vec();
    for d in 1..=shift as isize {
        for (dy, dx) in [(-d, 0), (d, 0), (0, -d), (0, d)] {
            for (i, smp) in images.chunks_exact(sample.max(1)).enumerate() {
                for img in smp.chunks_exact(plane) {
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
                }
                lab.push(labels[i]);
            }
        }
    }
    (out, lab)
}
