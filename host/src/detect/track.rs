//! Tracks: objects of consecutive windows linked by SMASH (Jaccard of their ASH × IoU of their
//! boxes), greedily from the best pair down, each object and each track used once; an object
//! that matches nothing above the threshold starts a new track. Track ids are never reused.

use super::ash::Ash;
use super::smash::{BBox, smash};

/// The tracker's memory: the previous window's objects and their track ids.
#[derive(Debug, Default, Clone)]
pub struct Tracker {
    prev: Vec<(Ash, BBox, u32)>,
    next_id: u32,
    /// Score a link must exceed.
    pub threshold: f64,
}

impl Tracker {
    /// A tracker linking at SMASH `> threshold`.
    pub fn new(threshold: f64) -> Self {
        Self {
            threshold,
            ..Self::default()
        }
    }

    /// Assigns track ids to this window's objects (ASH, box), in their order.
    pub fn step(&mut self, objects: &[(Ash, BBox)]) -> Vec<u32> {
        let mut pairs = Vec::new();
        for (i, (a, b)) in objects.iter().enumerate() {
            for (j, (pa, pb, _)) in self.prev.iter().enumerate() {
                let s = smash(a, b, pa, pb);
                if s > self.threshold {
                    pairs.push((s, i, j));
                }
            }
        }
        pairs.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
        let mut ids: Vec<Option<u32>> = vec![None; objects.len()];
        let mut used = vec![false; self.prev.len()];
        for (_, i, j) in pairs {
            if ids[i].is_none() && !used[j] {
                ids[i] = Some(self.prev[j].2);
                used[j] = true;
            }
        }
        let ids: Vec<u32> = ids
            .into_iter()
            .map(|id| {
                id.unwrap_or_else(|| {
                    self.next_id += 1;
                    self.next_id - 1
                })
            })
            .collect();
        self.prev = objects
            .iter()
            .zip(&ids)
            .map(|((a, b), &id)| (a.clone(), *b, id))
            .collect();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_overlapping_objects() {
        let mut a = Ash::new(1, 2);
        a.set(0, 0);
        let bx = |x: u16| BBox {
            x0: x,
            y0: 0,
            x1: x + 3,
            y1: 3,
        };
        let mut t = Tracker::new(0.1);
        assert_eq!(t.step(&[(a.clone(), bx(0)), (a.clone(), bx(20))]), [0, 1]);
        // Both moved one column (IoU 0.6): same ids, whatever the order.
        assert_eq!(t.step(&[(a.clone(), bx(21)), (a.clone(), bx(1))]), [1, 0]);
        // A far object is new.
        assert_eq!(t.step(&[(a.clone(), bx(60))]), [2]);
    }
}
