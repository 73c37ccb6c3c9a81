//! Detection metrics, each a pure function over raster masks, output events and label
//! positions (raster coordinates, scaled from the sensor as the voxel grid scales events:
//! [`super::to_raster`]).
//!
//! * [`pixel_counts`]: SpikeSEG's pixel level, **reference definition**: TP/FP against the
//!   label mask dilated by `r` (a `(2r+1)²` square), TN/FN against the plain mask, so the four
//!   counts do not add up to the pixels.
//! * [`object_counts`]: detections are the 4-connected components of the prediction; a
//!   detection matches a label (one object in one window) when its centroid lies within `tol`
//!   raster pixels of one of the label's positions; each label is matched at most once (by its
//!   nearest unmatched detection), so precision = matched detections / detections and
//!   recall = matched labels / labels (not the reference's "specificity", which is precision).
//! * [`volume_counts`]: the reference's volume protocol, one TRUE and one FALSE decision per
//!   window against the window's own mean density. Degenerate: sensitivity ≡ specificity.
//! * [`afshar_counts`]: the sliced spatio-temporal protocol (Afshar et al., as reconstructed in
//!   the reference notes §3.4): 10-ms slices; TRUE volume = pixels within `r` px (Euclidean,
//!   of the rounded label position) of the slice's labels, FALSE = the rest; a volume is
//!   positive when its output-event density exceeds the output's global density over the
//!   whole recording.

use serde::Serialize;

/// Confusion counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Counts {
    /// True positives.
    pub tp: u64,
    /// False positives.
    pub fp: u64,
    /// True negatives.
    pub tn: u64,
    /// False negatives.
    pub fn_: u64,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl Counts {
    /// Sum.
    pub fn add(&mut self, o: Counts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.tn += o.tn;
        self.fn_ += o.fn_;
    }
    /// TP / (TP + FN).
    pub fn sensitivity(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    /// TN / (TN + FP).
    pub fn specificity(&self) -> f64 {
        ratio(self.tn, self.tn + self.fp)
    }
    /// Sensitivity + specificity − 1 (Youden's J).
    pub fn informedness(&self) -> f64 {
        self.sensitivity() + self.specificity() - 1.0
    }
    /// TP / (TP + FP).
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
}

/// `mask` (`w × h`, non-zero = set) dilated by a `(2r+1)²` square.
pub fn dilate_square(mask: &[u8], w: usize, h: usize, r: usize) -> Vec<u8> {
    let mut out = vec![0u8; w * h];
    for (i, _) in mask.iter().enumerate().filter(|&(_, &m)| m != 0) {
        let (x, y) = (i % w, i / w);
        for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
            for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                out[yy * w + xx] = 1;
            }
        }
    }
    out
}

/// Pixels within Euclidean distance `r` of a set pixel of `mask`.
pub fn dilate_disc(mask: &[u8], w: usize, h: usize, r: usize) -> Vec<u8> {
    let mut out = vec![0u8; w * h];
    let r2 = r * r;
    for (i, _) in mask.iter().enumerate().filter(|&(_, &m)| m != 0) {
        let (x, y) = (i % w, i / w);
        for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
            for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                if xx.abs_diff(x).pow(2) + yy.abs_diff(y).pow(2) <= r2 {
                    out[yy * w + xx] = 1;
                }
            }
        }
    }
    out
}

/// The label mask of §1.1: an 11×11 square (`radius` 5) around every label position.
pub fn label_mask(points: &[(u16, u16)], w: usize, h: usize, radius: usize) -> Vec<u8> {
    let mut m = vec![0u8; w * h];
    for &(x, y) in points {
        if usize::from(x) < w && usize::from(y) < h {
            m[usize::from(y) * w + usize::from(x)] = 1;
        }
    }
    dilate_square(&m, w, h, radius)
}

/// Pixel counts of one window, **reference definition**: TP = P ∧ G⁺, FP = P ∧ ¬G⁺,
/// TN = ¬P ∧ ¬G, FN = ¬P ∧ G with G⁺ = G dilated by a `(2r+1)²` square.
pub fn pixel_counts(pred: &[u8], label: &[u8], w: usize, h: usize, r: usize) -> Counts {
    let dil = dilate_square(label, w, h, r);
    let mut c = Counts::default();
    for ((&p, &g), &gd) in pred.iter().zip(label).zip(&dil) {
        match (p != 0, gd != 0, g != 0) {
            (true, true, _) => c.tp += 1,
            (true, false, _) => c.fp += 1,
            (false, _, false) => c.tn += 1,
            (false, _, true) => c.fn_ += 1,
        }
    }
    c
}

/// A 4-connected component of a mask.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Component {
    /// Pixels.
    pub pixels: usize,
    /// Mean column.
    pub cx: f64,
    /// Mean row.
    pub cy: f64,
}

/// The 4-connected components of `mask` (`w × h`), in row-major order of their first pixel.
pub fn components(mask: &[u8], w: usize, h: usize) -> Vec<Component> {
    let mut seen = vec![false; w * h];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if mask[start] == 0 || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut n, mut sx, mut sy) = (0usize, 0.0, 0.0);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            n += 1;
            sx += x as f64;
            sy += y as f64;
            let mut visit = |j: usize| {
                if mask[j] != 0 && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
        out.push(Component {
            pixels: n,
            cx: sx / n as f64,
            cy: sy / n as f64,
        });
    }
    out
}

/// Object-level counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ObjectCounts {
    /// Labels (objects × windows).
    pub labels: u64,
    /// Labels matched by a detection.
    pub labels_matched: u64,
    /// Detections.
    pub detections: u64,
    /// Detections matched to a label.
    pub detections_matched: u64,
}

impl ObjectCounts {
    /// Sum.
    pub fn add(&mut self, o: ObjectCounts) {
        self.labels += o.labels;
        self.labels_matched += o.labels_matched;
        self.detections += o.detections;
        self.detections_matched += o.detections_matched;
    }
    /// Matched detections / detections.
    pub fn precision(&self) -> f64 {
        ratio(self.detections_matched, self.detections)
    }
    /// Matched labels / labels.
    pub fn recall(&self) -> f64 {
        ratio(self.labels_matched, self.labels)
    }
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// Object counts of one window: `dets` are detection centroids, `labels` one list of positions
/// per labelled object. Each label, in order, takes its nearest unmatched detection whose
/// centroid lies within `tol` of one of its positions.
pub fn object_counts(dets: &[(f64, f64)], labels: &[Vec<(f64, f64)>], tol: f64) -> ObjectCounts {
    let mut used = vec![false; dets.len()];
    let mut c = ObjectCounts {
        labels: labels.len() as u64,
        detections: dets.len() as u64,
        ..ObjectCounts::default()
    };
    for pts in labels {
        let mut best: Option<(usize, f64)> = None;
        for (i, &(dx, dy)) in dets.iter().enumerate().filter(|&(i, _)| !used[i]) {
            let d = pts
                .iter()
                .map(|&(x, y)| ((x - dx).powi(2) + (y - dy).powi(2)).sqrt())
                .fold(f64::INFINITY, f64::min);
            if d <= tol && best.is_none_or(|(_, b)| d < b) {
                best = Some((i, d));
            }
        }
        if let Some((i, _)) = best {
            used[i] = true;
            c.labels_matched += 1;
            c.detections_matched += 1;
        }
    }
    c
}

/// The reference's volume decision pair for one window: `out` holds the output's events per
/// pixel (`w × h`), `label` the label mask. TRUE volume = pixels within Euclidean distance `r`
/// of the mask (the reference's distance transform), FALSE = the rest; each is positive when
/// its mean count exceeds the window's mean count. A window without labels gives one FALSE
/// decision: positive when there is any output.
pub fn volume_counts(out: &[u32], label: &[u8], w: usize, h: usize, r: usize) -> Counts {
    let mut c = Counts::default();
    let total: u64 = out.iter().map(|&v| u64::from(v)).sum();
    if !label.iter().any(|&g| g != 0) {
        if total > 0 {
            c.fp = 1;
        } else {
            c.tn = 1;
        }
        return c;
    }
    let t = dilate_disc(label, w, h, r);
    let (mut st, mut nt) = (0u64, 0u64);
    for (&v, &m) in out.iter().zip(&t) {
        if m != 0 {
            st += u64::from(v);
            nt += 1;
        }
    }
    let n = (w * h) as u64;
    let (sf, nf) = (total - st, n - nt);
    let g = total as f64 / n as f64;
    let dt = st as f64 / nt as f64;
    let df = if nf == 0 { 0.0 } else { sf as f64 / nf as f64 };
    if dt > g {
        c.tp = 1;
    } else {
        c.fn_ = 1;
    }
    if df > g {
        c.fp = 1;
    } else {
        c.tn = 1;
    }
    c
}

/// An output or label event on the raster: column, row, time (µs).
pub type RasterEvent = (u16, u16, u64);

/// The sliced protocol over one recording spanning `[t0, t1)`: `out` are the output's events,
/// `labels` the label positions (rounded raster position, time). Slices of `slice_us` from
/// `t0`; a slice's TRUE volume is the pixels within Euclidean distance `r` of its labels (none
/// when it has no label), its FALSE volume the other pixels; a volume is positive when its
/// event density (events / (pixels · slice length)) exceeds the output's global density
/// (events / (all pixels · (t1 − t0))).
#[allow(clippy::too_many_arguments)]
pub fn afshar_counts(
    out: &[RasterEvent],
    labels: &[RasterEvent],
    w: usize,
    h: usize,
    t0: u64,
    t1: u64,
    slice_us: u64,
    r: usize,
) -> Counts {
    let mut c = Counts::default();
    if t1 <= t0 || slice_us == 0 {
        return c;
    }
    let n = (w * h) as f64;
    let g = out.len() as f64 / (n * (t1 - t0) as f64);
    let slices = (t1 - t0).div_ceil(slice_us) as usize;
    let mut counts = vec![Vec::<(usize, u32)>::new(); slices];
    let mut lab = vec![Vec::new(); slices];
    for &(x, y, t) in out {
        if (t0..t1).contains(&t) {
            counts[((t - t0) / slice_us) as usize].push((usize::from(y) * w + usize::from(x), 1));
        }
    }
    for &(x, y, t) in labels {
        if (t0..t1).contains(&t) && usize::from(x) < w && usize::from(y) < h {
            lab[((t - t0) / slice_us) as usize].push(usize::from(y) * w + usize::from(x));
        }
    }
    let mut mask = vec![0u8; w * h];
    for k in 0..slices {
        let s0 = t0 + k as u64 * slice_us;
        let dur = slice_us.min(t1 - s0) as f64;
        mask.fill(0);
        for &p in &lab[k] {
            mask[p] = 1;
        }
        let tv = if lab[k].is_empty() {
            vec![0u8; w * h]
        } else {
            dilate_disc(&mask, w, h, r)
        };
        let nt = tv.iter().filter(|&&m| m != 0).count();
        let et = counts[k].iter().filter(|(p, _)| tv[*p] != 0).count();
        let ef = counts[k].len() - et;
        if nt > 0 {
            if et as f64 / (nt as f64 * dur) > g {
                c.tp += 1;
            } else {
                c.fn_ += 1;
            }
        }
        let nf = w * h - nt;
        if nf > 0 {
            if ef as f64 / (nf as f64 * dur) > g {
                c.fp += 1;
            } else {
                c.tn += 1;
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_counts_reference_definition() {
        // 4×1 row: label at x = 1, dilated (r = 1) covers x = 0..=2.
        let label = [0, 1, 0, 0];
        let pred = [1, 0, 0, 1];
        let c = pixel_counts(&pred, &label, 4, 1, 1);
        // x0: P ∧ G⁺ → TP; x1: ¬P ∧ G → FN; x2: ¬P ∧ ¬G → TN; x3: P ∧ ¬G⁺ → FP.
        assert_eq!(
            c,
            Counts {
                tp: 1,
                fp: 1,
                tn: 1,
                fn_: 1
            }
        );
        assert!((c.informedness() - 0.0).abs() < 1e-12);
    }

    #[test]
    fn label_mask_is_an_11x11_square() {
        let m = label_mask(&[(6, 6)], 20, 20, 5);
        assert_eq!(m.iter().filter(|&&v| v != 0).count(), 121);
        assert_eq!(m[20 + 1], 1);
        assert_eq!(m[20], 0);
        // Clipped at the border.
        let m = label_mask(&[(0, 0)], 20, 20, 5);
        assert_eq!(m.iter().filter(|&&v| v != 0).count(), 36);
    }

    #[test]
    fn components_and_objects() {
        // 4×3: a 2-pixel blob at the top left, a single pixel at (3, 2).
        let mask = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let cs = components(&mask, 4, 3);
        assert_eq!(cs.len(), 2);
        assert_eq!((cs[0].pixels, cs[0].cx, cs[0].cy), (2, 0.5, 0.0));
        assert_eq!((cs[1].cx, cs[1].cy), (3.0, 2.0));
        // Diagonal pixels are separate (4-connectivity).
        assert_eq!(components(&[1, 0, 0, 1], 2, 2).len(), 2);
        let dets = [(0.5, 0.0), (3.0, 2.0), (10.0, 10.0)];
        // Label A near the first detection (distance 0.5), label B far from everything,
        // label C close to the first too (already taken) and to the second (distance 1).
        let labels = vec![
            vec![(0.0, 0.0)],
            vec![(50.0, 50.0)],
            vec![(0.5, 0.0), (3.0, 3.0)],
        ];
        let c = object_counts(&dets, &labels, 1.0);
        assert_eq!((c.labels, c.labels_matched), (3, 2));
        assert_eq!((c.detections, c.detections_matched), (3, 2));
        assert!((c.precision() - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.recall() - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.f1() - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn volume_protocol_is_degenerate() {
        // 5×1: label at x = 2 → TRUE = x 1..=3 (r = 1).
        let label = [0, 0, 1, 0, 0];
        // Denser on the band: (TP, TN).
        let c = volume_counts(&[0, 1, 1, 0, 1], &label, 5, 1, 1);
        assert_eq!((c.tp, c.tn, c.fp, c.fn_), (1, 1, 0, 0));
        // Denser off the band: (FN, FP).
        let c = volume_counts(&[3, 0, 0, 0, 3], &label, 5, 1, 1);
        assert_eq!((c.tp, c.tn, c.fp, c.fn_), (0, 0, 1, 1));
        // Nothing: (FN, TN). No labels: one FALSE decision.
        let c = volume_counts(&[0; 5], &label, 5, 1, 1);
        assert_eq!((c.fn_, c.tn), (1, 1));
        let c = volume_counts(&[0, 1, 0, 0, 0], &[0; 5], 5, 1, 1);
        assert_eq!((c.fp, c.tp + c.tn + c.fn_), (1, 0));
    }

    #[test]
    fn afshar_slices_by_hand() {
        // 5×1 raster, 2 slices of 10 µs over [0, 20): global density = 3 / (5 · 20) = 0.03.
        // Slice 0: label at x 2 → TRUE = x 1..=3 (3 px); 2 events at x 2 → 2/(3·10) = 0.067
        // > 0.03: TP; FALSE (2 px) none → TN. Slice 1: no label → FALSE only (5 px), 1 event
        // → 1/50 = 0.02 ≤ 0.03: TN.
        let out = [(2, 0, 1), (2, 0, 5), (0, 0, 15)];
        let labels = [(2, 0, 0)];
        let c = afshar_counts(&out, &labels, 5, 1, 0, 20, 10, 1);
        assert_eq!(
            c,
            Counts {
                tp: 1,
                fp: 0,
                tn: 2,
                fn_: 0
            }
        );
        // The output moved off the label: FN in slice 0 and FP there (2/(2·10) = 0.1).
        let out = [(0, 0, 1), (4, 0, 5), (0, 0, 15)];
        let c = afshar_counts(&out, &labels, 5, 1, 0, 20, 10, 1);
        assert_eq!((c.tp, c.fn_, c.fp, c.tn), (0, 1, 1, 1));
        assert!((c.informedness() - (0.0 + 0.5 - 1.0)).abs() < 1e-12);
    }
}
