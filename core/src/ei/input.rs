//! Poisson input trains as geometric gaps between spikes: the same process as one Bernoulli
//! draw with `p = ν·dt` per step, for a cost per spike.

use crate::rng::Rng;
use crate::{Error, Result};
use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Reverse;

/// Independent Poisson sources with their next spike steps.
#[derive(Debug, Clone)]
pub struct Poisson {
    /// Spike probability per step of each source.
    p: Vec<f64>,
    /// Next spike step of each source (`u64::MAX`: never).
    next: Vec<u64>,
    /// `(next step, source)`, smallest first; rebuilt from `next`.
    queue: BinaryHeap<Reverse<(u64, u32)>>,
    rng: Rng,
}

/// Steps from one spike to the next of a Bernoulli(`p`) train (≥ 1; `u64::MAX` when `p` is 0).
fn gap(rng: &mut Rng, p: f64) -> u64 {
    if p <= 0.0 {
        return u64::MAX;
    }
    if p >= 1.0 {
        return 1;
    }
    // 1 − U in (0, 1] keeps the log finite.
    let u = 1.0 - rng.next_f64();
    let k = libm::floor(libm::log(u) / libm::log1p(-p));
    if k >= 1.0e15 { u64::MAX } else { k as u64 + 1 }
}

impl Poisson {
    /// Sources with spike probabilities `p` per step, the first spikes drawn after `step`.
    pub fn new(p: Vec<f64>, step: u64, rng: Rng) -> Result<Self> {
        if p.iter().any(|x| !x.is_finite() || *x < 0.0 || *x > 1.0) {
            return Err(Error::InvalidParam(
                "input spike probability outside [0, 1]",
            ));
        }
        let mut s = Self {
            next: alloc::vec![0; p.len()],
            p,
            queue: BinaryHeap::new(),
            rng,
        };
        for i in 0..s.p.len() {
            let pi = s.p.get(i).copied().unwrap_or(0.0);
            let g = gap(&mut s.rng, pi);
            if let Some(n) = s.next.get_mut(i) {
                *n = step.saturating_add(g);
            }
        }
        s.rebuild();
        Ok(s)
    }

    /// Restores sources from their saved next steps and generator.
    pub fn restore(p: Vec<f64>, next: Vec<u64>, rng: Rng) -> Result<Self> {
        if next.len() != p.len() {
            return Err(Error::ShapeMismatch("input next-spike steps"));
        }
        let mut s = Self::new(p, 0, rng.clone())?;
        s.next = next;
        s.rng = rng;
        s.rebuild();
        Ok(s)
    }

    fn rebuild(&mut self) {
        self.queue = self
            .next
            .iter()
            .enumerate()
            .filter(|(_, n)| **n != u64::MAX)
            .map(|(i, &n)| Reverse((n, i as u32)))
            .collect();
    }

    /// Appends the sources that spike at `step` (in increasing index order) to `out` and
    /// draws their next spikes. Steps must be visited in order.
    pub fn fire(&mut self, step: u64, out: &mut Vec<u32>) {
        let first = out.len();
        while let Some(&Reverse((n, i))) = self.queue.peek() {
            if n > step {
                break;
            }
            self.queue.pop();
            if n == step {
                out.push(i);
            }
            let p = self.p.get(i as usize).copied().unwrap_or(0.0);
            let nx = step.saturating_add(gap(&mut self.rng, p));
            if let Some(slot) = self.next.get_mut(i as usize) {
                *slot = nx;
            }
            if nx != u64::MAX {
                self.queue.push(Reverse((nx, i)));
            }
        }
        if let Some(tail) = out.get_mut(first..) {
            tail.sort_unstable();
        }
    }

    /// Next spike step of every source (for checkpoints).
    pub fn next_steps(&self) -> &[u64] {
        &self.next
    }

    /// The generator (for checkpoints).
    pub fn rng(&self) -> &Rng {
        &self.rng
    }

    /// Sources.
    pub fn len(&self) -> usize {
        self.p.len()
    }

    /// True without sources.
    pub fn is_empty(&self) -> bool {
        self.p.is_empty()
    }
}
