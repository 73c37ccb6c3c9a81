//! Fixed-point linear readout on binary features: `score[c] = bias[c] + Σ_{f active} W[f][c]`,
//! class = argmax (lowest class on ties). Weights are trained on the host and quantised.

use crate::error::{Error, Result, need};
use crate::model::{ReadoutBlob, le_i32};

impl ReadoutBlob<'_> {
    /// Weight of feature `f` for class `c`.
    #[inline]
    pub fn weight(&self, f: usize, c: usize) -> i32 {
        let i = f * self.n_classes as usize + c;
        if self.bits == 8 {
            i32::from(self.weights[i] as i8)
        } else {
            i32::from(i16::from_le_bytes([
                self.weights[2 * i],
                self.weights[2 * i + 1],
            ]))
        }
    }

    /// Scores of every class for the active features in the bit set `features`.
    pub fn scores(&self, features: &[u32], scores: &mut [i32]) -> Result<()> {
        let (nf, nc) = (self.n_features as usize, self.n_classes as usize);
        need("features", features, crate::spikes::words(nf))?;
        need("scores", scores, nc)?;
        for (c, s) in scores[..nc].iter_mut().enumerate() {
            *s = le_i32(self.bias, c);
        }
        let scores = &mut scores[..nc];
        for f in crate::spikes::ones(&features[..crate::spikes::words(nf)]) {
            if f >= nf {
                return Err(Error::InvalidParam("feature bit beyond the readout"));
            }
            // One contiguous row of `nc` weights per active feature.
            if self.bits == 8 {
                let row = &self.weights[f * nc..(f + 1) * nc];
                for (s, &b) in scores.iter_mut().zip(row) {
                    *s = s.wrapping_add(i32::from(b as i8));
                }
            } else {
                let row = &self.weights[2 * f * nc..2 * (f + 1) * nc];
                for (s, b) in scores.iter_mut().zip(row.chunks_exact(2)) {
                    *s = s.wrapping_add(i32::from(i16::from_le_bytes([b[0], b[1]])));
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
