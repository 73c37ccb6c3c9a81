//! Instruction-count statistics of the local-rule binaries.

/// Running mean and maximum of instruction counts (counts of an unavailable counter are
/// skipped).
#[derive(Debug, Default, Clone, Copy)]
pub struct Stat {
    /// Counts added.
    pub n: u32,
    /// Their sum.
    pub sum: u64,
    /// The largest.
    pub max: u32,
}

impl Stat {
    /// Adds one count.
    pub fn add(&mut self, v: Option<u32>) {
        if let Some(v) = v {
            self.n += 1;
            self.sum += u64::from(v);
            self.max = self.max.max(v);
        }
    }
    /// Mean of the counts (0 when none).
    pub fn mean(&self) -> u64 {
        if self.n == 0 {
            0
        } else {
            self.sum / u64::from(self.n)
        }
    }
}
