//! Activity-sequence histograms (ASH): which feature maps spiked at which step inside an
//! instance's unravelled support.

/// A binary `features × steps` matrix, row-major, one bit per entry (`features` = every map of
/// every layer, the encoder's first; `steps` = the encoder's time steps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ash {
    /// Features (rows).
    pub features: usize,
    /// Steps (columns).
    pub steps: usize,
    bits: Vec<u64>,
}

impl Ash {
    /// An empty matrix.
    pub fn new(features: usize, steps: usize) -> Self {
        Self {
            features,
            steps,
            bits: vec![0; (features * steps).div_ceil(64)],
        }
    }

    /// Sets entry `(f, t)` (ignored outside the matrix).
    pub fn set(&mut self, f: usize, t: usize) {
        if f < self.features && t < self.steps {
            let i = f * self.steps + t;
            self.bits[i / 64] |= 1 << (i % 64);
        }
    }

    /// Entry `(f, t)`.
    pub fn get(&self, f: usize, t: usize) -> bool {
        f < self.features && t < self.steps && {
            let i = f * self.steps + t;
            self.bits[i / 64] >> (i % 64) & 1 == 1
        }
    }

    /// Number of set entries.
    pub fn count(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Entry-wise OR with `other` (of the same size).
    pub fn or(&mut self, other: &Ash) {
        for (a, b) in self.bits.iter_mut().zip(&other.bits) {
            *a |= b;
        }
    }

    /// Jaccard index `|A ∩ B| / |A ∪ B|` of the set entries; 0 when both are empty.
    pub fn jaccard(&self, other: &Ash) -> f64 {
        let (mut inter, mut union) = (0u32, 0u32);
        for (a, b) in self.bits.iter().zip(&other.bits) {
            inter += (a & b).count_ones();
            union += (a | b).count_ones();
        }
        if union == 0 {
            0.0
        } else {
            f64::from(inter) / f64::from(union)
        }
    }
}

/// The sequence-wide ASH of one instance. For every level of the network (`times[0]` the
/// encoder's first-spike times, `times[l + 1]` layer `l`'s output after pooling, each
/// `[map][y][x]`) the instance's support is the set of positions where its unravelled activity
/// `acts[level]` (same shape) is active in any map; entry `(feature, t)` is 1 when that
/// feature's map spiked at step `t` at any position of the support. Features are numbered level
/// by level (`maps[0]` encoder maps, then each layer's).
pub fn ash(times: &[&[u8]], acts: &[&[u8]], maps: &[usize], steps: usize) -> Ash {
    let features: usize = maps.iter().sum();
    let mut a = Ash::new(features, steps);
    let mut base = 0;
    for ((t, act), &m) in times.iter().zip(acts).zip(maps) {
        let plane = act.len().checked_div(m).unwrap_or(0);
        if plane > 0 {
            for pos in 0..plane {
                if !(0..m).any(|c| act[c * plane + pos] != 0) {
                    continue;
                }
                for c in 0..m {
                    let s = t[c * plane + pos];
                    if s != hebb_core::spikes::NEVER {
                        a.set(base + c, usize::from(s));
                    }
                }
            }
        }
        base += m;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use hebb_core::spikes::NEVER as N;

    #[test]
    fn jaccard_by_hand() {
        let mut a = Ash::new(2, 3);
        let mut b = Ash::new(2, 3);
        a.set(0, 0);
        a.set(1, 2);
        b.set(1, 2);
        b.set(0, 1);
        b.set(1, 0);
        // ∩ = {(1,2)}, ∪ = 4 entries.
        assert!((a.jaccard(&b) - 0.25).abs() < 1e-12);
        assert_eq!(Ash::new(2, 3).jaccard(&Ash::new(2, 3)), 0.0);
        a.or(&b);
        assert_eq!(a.count(), 4);
        assert!(a.get(0, 1) && !a.get(0, 2));
    }

    #[test]
    fn ash_spans_every_step_the_support_spiked() {
        // Level 0: 2 maps of 1×2; level 1: 1 map of 1×2. Support: position 1 at level 0,
        // position 0 at level 1.
        let t0 = [N, 3, 0, 1];
        let a0 = [0, 1, 0, 0];
        let t1 = [2, 0];
        let a1 = [1, 0];
        let h = ash(&[&t0, &t1], &[&a0, &a1], &[2, 1], 4);
        // Map 0 at step 3, map 1 at step 1 (position 1), map 2 at step 2 (position 0).
        assert!(h.get(0, 3) && h.get(1, 1) && h.get(2, 2));
        assert_eq!(h.count(), 3);
    }
}
