//! Fixed-point linear readout on binary features: `score[c] = bias[c] + Σ_{f active} W[f][c]`,
//! class = argmax (lowest class on ties). Weights are trained on the host and quantised.

use crate::error::{Error, Result, head, head_mut, need};
use crate::model::{ReadoutBlob, i32s};

impl ReadoutBlob<'_> {
    /// Weight of feature `f` for class `c`; `None` outside the readout (or its weight bytes).
    #[inline]
    pub fn weight(&self, f: usize, c: usize) -> Option<i32> {
        let nc = self.n_classes as usize;
        if c >= nc {
            return None;
        }
        let i = f.checked_mul(nc)?.checked_add(c)?;
        if self.bits == 8 {
            self.weights.get(i).map(|&b| i32::from(b as i8))
        } else {
            let b = self.weights.get(i.checked_mul(2)?..)?.first_chunk::<2>()?;
            Some(i32::from(i16::from_le_bytes(*b)))
        }
    }

    /// Scores of every class for the active features in the bit set `features`.
    pub fn scores(&self, features: &[u32], scores: &mut [i32]) -> Result<()> {
        let (nf, nc) = (self.n_features as usize, self.n_classes as usize);
        let features = head("features", features, crate::spikes::words(nf))?;
        let scores = head_mut("scores", scores, nc)?;
        // The blob's fields are public: check its bytes against its shape before reading rows.
        let per = if self.bits == 8 { 1 } else { 2 };
        let n_weights = nf
            .checked_mul(nc)
            .and_then(|n| n.checked_mul(per))
            .ok_or(Error::Overflow("readout features × classes"))?;
        need("readout weights", self.weights, n_weights)?;
        need("readout bias", self.bias, nc.saturating_mul(4))?;
        for (s, b) in scores.iter_mut().zip(i32s(self.bias)) {
            *s = b;
        }
        for f in crate::spikes::ones(features) {
            if f >= nf {
                return Err(Error::InvalidParam("feature bit beyond the readout"));
            }
            // One contiguous row of `nc` weights per active feature; in bounds: `f < nf` and the
            // weights hold `nf · nc` values (checked).
            if self.bits == 8 {
                let row = self.weights.get(f * nc..(f + 1) * nc).unwrap_or(&[]);
                for (s, &b) in scores.iter_mut().zip(row) {
                    *s = s.wrapping_add(i32::from(b as i8));
                }
            } else {
                let row = self
                    .weights
                    .get(2 * f * nc..2 * (f + 1) * nc)
                    .unwrap_or(&[]);
                for (s, b) in scores.iter_mut().zip(row.chunks_exact(2)) {
                    if let Ok(b) = <[u8; 2]>::try_from(b) {
                        *s = s.wrapping_add(i32::from(i16::from_le_bytes(b)));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Index of the highest score (lowest index on ties); `None` when empty.
pub fn argmax(scores: &[i32]) -> Option<usize> {
    let mut best: Option<(usize, i32)> = None;
    for (i, &s) in scores.iter().enumerate() {
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((i, s));
        }
    }
    best.map(|(i, _)| i)
}
