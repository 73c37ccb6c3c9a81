//! Receptive-field STDP of a convolutional layer: the pairing rule of [`crate::stdp`] applied to
//! every synapse of each winner's kernel, per sample ([`stdp_update`]) or summed over a
//! mini-batch ([`stdp_accumulate`], [`apply_accumulated`]).

use crate::error::{Error, Result, head_mut, need};
use crate::geometry::ConvGeom;
use crate::spikes::NEVER;
use crate::stdp::{StdpParams, apply, is_ltp};
use crate::wta::Winner;

/// Applies STDP to the kernels of the winners' maps. `input` holds the layer's input first-spike
/// times (`[c][y][x]`). Receptive-field cells in the zero padding count as never fired (LTD).
/// Winners of one map are combined from the same weights (see [`crate::stdp`]). `winners` is
/// reordered (sorted by map).
pub fn stdp_update(
    g: &ConvGeom,
    w: &mut [u16],
    input: &[u8],
    winners: &mut [Winner],
    p: &StdpParams,
) -> Result<()> {
    check_stdp(g, w, input, winners)?;
    winners.sort_unstable_by_key(|x| x.map);
    let m = g.out_c() as usize;
    let k = g.k() as usize;
    for group in winners.chunk_by(|a, b| a.map == b.map) {
        let Some(map) = group.first().map(|x| x.map as usize) else {
            continue;
        };
        for c in 0..g.input().c as usize {
            for ky in 0..k {
                for kx in 0..k {
                    // In bounds: `syn < fan_in`, `map < m` (checked), `w` holds `fan_in · m`.
                    let Some(wc) = w.get_mut(g.syn(c, ky, kx) * m + map) else {
                        continue;
                    };
                    let w0 = *wc;
                    // Summed wide: each change is at most 2^16 in magnitude, so no slice of
                    // winners that fits in memory overflows an `i64`.
                    let d: i64 = group
                        .iter()
                        .map(|win| i64::from(winner_delta(g, input, win, c, ky, kx, w0, p)))
                        .sum();
                    *wc = apply(w0, d.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32);
                }
            }
        }
    }
    Ok(())
}

/// Mini-batch STDP, first half: adds the changes [`stdp_update`] would make for `winners` of one
/// sample to `acc` (one `i32` per weight), computed from `w`, which is left as it is. After every
/// sample of a batch, [`apply_accumulated`] applies the sums: the winners of all the batch's
/// samples combine from the same weights, as the winners of one map do within a sample, so a
/// batch of one sample is exactly [`stdp_update`]. Each `|change|` is at most 65,536, so `acc`
/// cannot overflow below 32,768 winners per batch (beyond, the sums saturate).
pub fn stdp_accumulate(
    g: &ConvGeom,
    w: &[u16],
    input: &[u8],
    winners: &[Winner],
    p: &StdpParams,
    acc: &mut [i32],
) -> Result<()> {
    let acc = head_mut("accumulator", acc, g.n_weights())?;
    stdp_accumulate_rows(g, w, input, winners, p, 0, acc)
}

/// [`stdp_accumulate`] for the synapses `first..first + acc.len() / maps` only (`acc` holds
/// their rows of `maps` weights, the weight layout's rows), so that disjoint ranges of rows can
/// be accumulated in parallel.
pub fn stdp_accumulate_rows(
    g: &ConvGeom,
    w: &[u16],
    input: &[u8],
    winners: &[Winner],
    p: &StdpParams,
    first: usize,
    acc: &mut [i32],
) -> Result<()> {
    check_stdp(g, w, input, winners)?;
    let m = g.out_c() as usize;
    let k = g.k() as usize;
    if !acc.len().is_multiple_of(m)
        || first
            .checked_add(acc.len() / m)
            .is_none_or(|end| end > g.fan_in())
    {
        return Err(Error::ShapeMismatch(
            "accumulator rows outside the layer's synapses",
        ));
    }
    for (r, row) in acc.chunks_exact_mut(m).enumerate() {
        let syn = first + r;
        let (c, ky, kx) = (syn / (k * k), (syn / k) % k, syn % k);
        // In bounds: `syn < fan_in`, and `w` holds `fan_in · m` weights (checked).
        let Some(wr) = w.get(syn * m..(syn + 1) * m) else {
            continue;
        };
        for win in winners {
            let map = win.map as usize;
            // In bounds: `map < m` (checked).
            if let (Some(a), Some(&w0)) = (row.get_mut(map), wr.get(map)) {
                *a = a.saturating_add(winner_delta(g, input, win, c, ky, kx, w0, p));
            }
        }
    }
    Ok(())
}

/// Mini-batch STDP, second half: `w ← apply(w, acc)` for every weight, and `acc ← 0`.
pub fn apply_accumulated(w: &mut [u16], acc: &mut [i32]) -> Result<()> {
    if w.len() != acc.len() {
        return Err(Error::ShapeMismatch(
            "accumulator and weights differ in length",
        ));
    }
    for (x, d) in w.iter_mut().zip(acc.iter_mut()) {
        *x = apply(*x, *d);
        *d = 0;
    }
    Ok(())
}

fn check_stdp(g: &ConvGeom, w: &[u16], input: &[u8], winners: &[Winner]) -> Result<()> {
    need("weights", w, g.n_weights())?;
    need("input", input, g.input().len())?;
    let out = g.output();
    if winners
        .iter()
        .any(|x| x.map >= g.out_c() || x.y >= out.h || x.x >= out.w)
    {
        return Err(Error::InvalidParam("winner outside the layer"));
    }
    Ok(())
}

/// STDP change of synapse `(c, ky, kx)` of winner `win`'s kernel, whose weight is `w0`.
/// Receptive-field cells in the zero padding count as never fired (LTD).
#[inline]
#[allow(clippy::too_many_arguments)]
fn winner_delta(
    g: &ConvGeom,
    input: &[u8],
    win: &Winner,
    c: usize,
    ky: usize,
    kx: usize,
    w0: u16,
    p: &StdpParams,
) -> i32 {
    let (s, pad) = (g.stride() as usize, g.pad() as usize);
    let (h, wd) = (g.input().h as usize, g.input().w as usize);
    let py = win.y as usize * s + ky;
    let px = win.x as usize * s + kx;
    let pre = if py < pad || px < pad || py - pad >= h || px - pad >= wd {
        NEVER
    } else {
        // In bounds: `c < channels`, `py − pad < h`, `px − pad < w` (checked input length).
        input
            .get((c * h + py - pad) * wd + px - pad)
            .copied()
            .unwrap_or(NEVER)
    };
    p.delta(w0, is_ltp(pre, win.t))
}
