//! SMASH: the similarity of two instances (Jaccard of their ASH × IoU of their boxes), and the
//! grouping of instances into objects.

use super::ash::Ash;
use serde::Serialize;

/// An inclusive pixel box: columns `x0..=x1`, rows `y0..=y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BBox {
    /// First column.
    pub x0: u16,
    /// First row.
    pub y0: u16,
    /// Last column.
    pub x1: u16,
    /// Last row.
    pub y1: u16,
}

impl BBox {
    /// Pixels inside (inclusive corners).
    pub fn area(&self) -> u64 {
        (u64::from(self.x1 - self.x0) + 1) * (u64::from(self.y1 - self.y0) + 1)
    }
    /// The smallest box holding both.
    pub fn union(&self, o: &BBox) -> BBox {
        BBox {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
        }
    }
    /// Intersection over union of the inclusive pixel areas.
    pub fn iou(&self, o: &BBox) -> f64 {
        let (x0, y0) = (self.x0.max(o.x0), self.y0.max(o.y0));
        let (x1, y1) = (self.x1.min(o.x1), self.y1.min(o.y1));
        if x0 > x1 || y0 > y1 {
            return 0.0;
        }
        let inter = (u64::from(x1 - x0) + 1) * (u64::from(y1 - y0) + 1);
        inter as f64 / (self.area() + o.area() - inter) as f64
    }
    /// The box of the set pixels of a `w`-column mask; `None` when none is set.
    pub fn of_mask(mask: &[u8], w: usize) -> Option<BBox> {
        let mut b: Option<BBox> = None;
        for (i, _) in mask.iter().enumerate().filter(|&(_, &m)| m != 0) {
            let (x, y) = ((i % w) as u16, (i / w) as u16);
            let p = BBox {
                x0: x,
                y0: y,
                x1: x,
                y1: y,
            };
            b = Some(b.map_or(p, |b| b.union(&p)));
        }
        b
    }
}

/// SMASH score: `Jaccard(ASH_i, ASH_j) × IoU(bbox_i, bbox_j)`.
pub fn smash(a: &Ash, ab: &BBox, b: &Ash, bb: &BBox) -> f64 {
    a.jaccard(b) * ab.iou(bb)
}

/// Union-find with path halving.
#[derive(Debug, Clone)]
pub struct UnionFind(Vec<usize>);

impl UnionFind {
    /// `n` singletons.
    pub fn new(n: usize) -> Self {
        Self((0..n).collect())
    }
    /// Representative of `i`.
    pub fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }
    /// Joins the sets of `a` and `b` (the lower representative wins).
    pub fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            let (lo, hi) = (a.min(b), a.max(b));
            self.0[hi] = lo;
        }
    }
}

/// Groups instances (ASH, box): each is joined with its single best partner (highest SMASH,
/// lowest index on ties) when that score is `> threshold`; groups are the connected components.
/// Returns, per instance, its group number (groups numbered by their first instance, 0, 1, …).
pub fn group(inst: &[(&Ash, BBox)], threshold: f64) -> Vec<usize> {
    let n = inst.len();
    let mut uf = UnionFind::new(n);
    for i in 0..n {
        let mut best: Option<(usize, f64)> = None;
        for j in (0..n).filter(|&j| j != i) {
            let s = smash(inst[i].0, &inst[i].1, inst[j].0, &inst[j].1);
            if best.is_none_or(|(_, b)| s > b) {
                best = Some((j, s));
            }
        }
        if let Some((j, s)) = best
            && s > threshold
        {
            uf.union(i, j);
        }
    }
    let mut ids = vec![usize::MAX; n];
    let mut next = 0;
    let mut out = vec![0; n];
    for (i, o) in out.iter_mut().enumerate() {
        let r = uf.find(i);
        if ids[r] == usize::MAX {
            ids[r] = next;
            next += 1;
        }
        *o = ids[r];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x0: u16, y0: u16, x1: u16, y1: u16) -> BBox {
        BBox { x0, y0, x1, y1 }
    }

    #[test]
    fn iou_of_inclusive_boxes() {
        // 2×2 and 2×2 overlapping in one column: ∩ 2, ∪ 6.
        assert!((b(0, 0, 1, 1).iou(&b(1, 0, 2, 1)) - 2.0 / 6.0).abs() < 1e-12);
        assert_eq!(b(0, 0, 0, 0).iou(&b(0, 0, 0, 0)), 1.0);
        assert_eq!(b(0, 0, 1, 1).iou(&b(3, 3, 4, 4)), 0.0);
        assert_eq!(b(0, 0, 1, 1).area(), 4);
        assert_eq!(BBox::of_mask(&[0, 1, 0, 0, 0, 1], 3), Some(b(1, 0, 2, 1)));
    }

    #[test]
    fn grouping_joins_best_partners_above_threshold() {
        let mut a = Ash::new(1, 4);
        a.set(0, 0);
        a.set(0, 1);
        let mut c = Ash::new(1, 4);
        c.set(0, 1);
        let mut far = Ash::new(1, 4);
        far.set(0, 3);
        // 0 and 1: Jaccard 1/2, IoU 1 → 0.5; 2 shares nothing.
        let inst = [
            (&a, b(0, 0, 1, 1)),
            (&c, b(0, 0, 1, 1)),
            (&far, b(0, 0, 1, 1)),
        ];
        assert_eq!(group(&inst, 0.1), [0, 0, 1]);
        // Above the score: nothing joins.
        assert_eq!(group(&inst, 0.5), [0, 1, 2]);
        // Same ASH, disjoint boxes: SMASH 0.
        let inst = [(&a, b(0, 0, 1, 1)), (&a, b(5, 5, 6, 6))];
        assert_eq!(group(&inst, 0.0), [0, 1]);
    }
}
