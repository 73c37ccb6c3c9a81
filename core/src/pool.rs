//! Max pooling of spikes. On first-spike times, max pooling of the binary spike waves is the
//! minimum time over the window: the pooled neuron spikes as soon as any input in its window does.

use crate::error::{Result, need};
use crate::geometry::PoolGeom;
use crate::spikes::NEVER;

/// Pools first-spike times (`[c][y][x]`). When `indices` is given it receives, per output, the
/// flat input index of the winning cell (earliest, then first in row-major window order), or
/// `u32::MAX` when nothing in the window spiked. Padded cells never win.
pub fn pool_times(
    g: &PoolGeom,
    input: &[u8],
    out: &mut [u8],
    mut indices: Option<&mut [u32]>,
) -> Result<()> {
    let o = g.output();
    need("pool input", input, g.input.len())?;
    need("pool output", out, o.len())?;
    if let Some(ix) = indices.as_deref() {
        need("pool indices", ix, o.len())?;
    }
    let (h, w) = (g.input.h as isize, g.input.w as isize);
    let (k, s, p) = (g.k as isize, g.stride as isize, g.pad as isize);
    for c in 0..o.c as usize {
        let base = c * g.input.plane();
        for oy in 0..o.h as isize {
            for ox in 0..o.w as isize {
                let mut best = NEVER;
                let mut best_i = u32::MAX;
                for ky in 0..k {
                    let y = oy * s + ky - p;
                    if y < 0 || y >= h {
                        continue;
                    }
                    for kx in 0..k {
                        let x = ox * s + kx - p;
                        if x < 0 || x >= w {
                            continue;
                        }
                        let i = base + (y * w + x) as usize;
                        if input[i] < best {
                            best = input[i];
                            best_i = i as u32;
                        }
                    }
                }
                let oi = (c * o.h as usize + oy as usize) * o.w as usize + ox as usize;
                out[oi] = best;
                if let Some(ix) = indices.as_deref_mut() {
                    ix[oi] = best_i;
                }
            }
        }
    }
    Ok(())
}

/// Pointwise inhibition on spike times (`[c][y][x]`): at every position only the earliest map
/// keeps its spike (lowest map index on equal times); every other map becomes silent there.
pub fn pointwise_inhibition(times: &mut [u8], c: usize, plane: usize) -> Result<()> {
    need("times", times, c * plane)?;
    for pos in 0..plane {
        let mut best = NEVER;
        let mut best_c = usize::MAX;
        for ch in 0..c {
            let t = times[ch * plane + pos];
            if t < best {
                best = t;
                best_c = ch;
            }
        }
        for ch in 0..c {
            if ch != best_c {
                times[ch * plane + pos] = NEVER;
            }
        }
    }
    Ok(())
}
