//! Synapses stored by presynaptic cell (compressed sparse rows).

use crate::{Error, Result};
use alloc::vec::Vec;

/// Outgoing synapses of `pre` cells: cell `i`'s are `start[i]..start[i + 1]` in `target` and
/// `w`. Weights are unsigned (the sign comes from the synapse type).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Csr {
    /// Row starts, `pre + 1` entries, non-decreasing, from 0 to the synapse count.
    pub start: Vec<u32>,
    /// Postsynaptic cell of each synapse.
    pub target: Vec<u32>,
    /// Weight of each synapse (≥ 0).
    pub w: Vec<f32>,
}

impl Csr {
    /// Builds rows from `(pre, post, w)` edges (any order; kept stable within a row).
    pub fn from_edges(pre: usize, edges: &[(u32, u32, f32)]) -> Result<Self> {
        let mut count = alloc::vec![0u32; pre + 1];
        for &(i, _, _) in edges {
            let c = count
                .get_mut(i as usize + 1)
                .ok_or(Error::InvalidParam("edge presynaptic index out of range"))?;
            *c += 1;
        }
        for i in 1..count.len() {
            let prev = count.get(i - 1).copied().unwrap_or(0);
            if let Some(c) = count.get_mut(i) {
                *c += prev;
            }
        }
        let start = count.clone();
        let mut fill = count;
        let mut target = alloc::vec![0u32; edges.len()];
        let mut w = alloc::vec![0f32; edges.len()];
        for &(i, j, x) in edges {
            let slot = fill.get_mut(i as usize).ok_or(Error::Malformed)?;
            let s = *slot as usize;
            *slot += 1;
            *target.get_mut(s).ok_or(Error::Malformed)? = j;
            *w.get_mut(s).ok_or(Error::Malformed)? = x;
        }
        Ok(Self { start, target, w })
    }

    /// Presynaptic cells.
    pub fn pre(&self) -> usize {
        self.start.len().saturating_sub(1)
    }

    /// Synapses.
    pub fn len(&self) -> usize {
        self.target.len()
    }

    /// True without synapses.
    pub fn is_empty(&self) -> bool {
        self.target.is_empty()
    }

    /// The synapse index range of cell `i` (empty when out of range).
    pub fn row(&self, i: usize) -> core::ops::Range<usize> {
        match (self.start.get(i), self.start.get(i + 1)) {
            (Some(&a), Some(&b)) if a <= b => a as usize..b as usize,
            _ => 0..0,
        }
    }

    /// Checks the structure against `pre` presynaptic and `post` postsynaptic cells: row starts
    /// monotone and covering every synapse, targets in range, weights finite and ≥ 0.
    pub fn validate(&self, pre: usize, post: usize) -> Result<()> {
        if self.start.len() != pre + 1 {
            return Err(Error::ShapeMismatch(
                "synapse rows do not match the cell count",
            ));
        }
        if self.w.len() != self.target.len() {
            return Err(Error::ShapeMismatch(
                "synapse weights and targets differ in length",
            ));
        }
        if self.start.first() != Some(&0)
            || self.start.last().map(|&e| e as usize) != Some(self.target.len())
            || self.start.windows(2).any(|p| p.first() > p.get(1))
        {
            return Err(Error::Malformed);
        }
        if self.target.iter().any(|&j| j as usize >= post) {
            return Err(Error::InvalidParam("synapse target out of range"));
        }
        if self.w.iter().any(|&x| !x.is_finite() || x < 0.0) {
            return Err(Error::InvalidParam(
                "synapse weight is negative or not finite",
            ));
        }
        Ok(())
    }
}
