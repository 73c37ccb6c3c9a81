//! Max pooling of spikes. On first-spike times, max pooling of the binary spike waves is the
//! minimum time over the window: the pooled neuron spikes as soon as any input in its window does.

use crate::error::{Error, Result, need};
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
    let gi = g.input();
    need("pool input", input, gi.len())?;
    need("pool output", out, o.len())?;
    if let Some(ix) = indices.as_deref() {
        need("pool indices", ix, o.len())?;
    }
    let (h, w) = (gi.h as isize, gi.w as isize);
    let (k, s, p) = (g.k() as isize, g.stride() as isize, g.pad() as isize);
    // Outputs are visited in their `[c][y][x]` order: one cursor over `out` (and `indices`).
    let mut oi = 0usize;
    for c in 0..o.c as usize {
        let base = c * gi.plane();
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
                        // In bounds: `c < channels`, `0 <= y < h`, `0 <= x < w`.
                        if let Some(&t) = input.get(i)
                            && t < best
                        {
                            best = t;
                            best_i = i as u32;
                        }
                    }
                }
                if let Some(cell) = out.get_mut(oi) {
                    *cell = best;
                }
                if let Some(cell) = indices.as_deref_mut().and_then(|ix| ix.get_mut(oi)) {
                    *cell = best_i;
                }
                oi += 1;
            }
        }
    }
    Ok(())
}

/// Pointwise inhibition on spike times (`[c][y][x]`): at every position only the earliest map
/// keeps its spike (lowest map index on equal times); every other map becomes silent there.
pub fn pointwise_inhibition(times: &mut [u8], c: usize, plane: usize) -> Result<()> {
    let n = c
        .checked_mul(plane)
        .ok_or(Error::Overflow("maps × plane"))?;
    need("times", times, n)?;
    if c == 0 {
        // Nothing to inhibit (and `plane` may be any number: it bounds no buffer then).
        return Ok(());
    }
    for pos in 0..plane {
        let mut best = NEVER;
        let mut best_c = usize::MAX;
        for ch in 0..c {
            // In bounds: `ch · plane + pos < c · plane = n <= times.len()`.
            if let Some(&t) = times.get(ch * plane + pos)
                && t < best
            {
                best = t;
                best_c = ch;
            }
        }
        for ch in 0..c {
            if ch != best_c
                && let Some(t) = times.get_mut(ch * plane + pos)
            {
                *t = NEVER;
            }
        }
    }
    Ok(())
}
