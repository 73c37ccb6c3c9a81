//! The saliency decoder of SpikeSEG: one output spike unravelled back to the input raster
//! ("HULK", Kirkland et al.), through the network's own weights.
//!
//! * [`conv_transpose`]: a binary map of a layer's output positions through the layer's weights
//!   (read in place from its [`WeightRow`] storage, never copied: the decoder is tied to the
//!   encoder), giving a binary map of the layer's input.
//! * [`unpool`]: a binary map of pooled positions back to the pre-pool positions that won them.
//! * [`encoder_transpose`]: the encoder's filter maps back to pixels (real-valued, then any
//!   channel > 0).
//! * [`hulk`]: the whole chain for one spike of the last layer, recording the activity it
//!   passes through at every layer.
//!
//! **Binarisation.** The reference thresholds the transposed convolution of a one-hot map at
//! `> 0.5` with weights in `[0, 1]`. Weights here are Q0.16 (`u16`, `65535` ≈ 1.0), sums are
//! exact integers, and an input position is active when its sum is **strictly greater than**
//! [`DecodeParams::threshold`] (default `1 << 15` = 0.5 in Q0.16, i.e. the reference's rule).
//!
//! **Per-step pool indices.** A layer's output is a first-spike-time map and a neuron fires at
//! most once, so a pooled neuron fires exactly once, at `t* = min` over its window (see
//! [`crate::pool`]). At that step the window positions that spike are exactly those whose time
//! is `t*`, and a max pooling of that step's binary spike map picks the first of them in
//! row-major order: the index of the pooled spike *at the step it happened* is the
//! earliest-spiking position of the window, lowest flat index on ties, the rule of
//! [`crate::pool::pool_times`]. [`unpool`] computes it from the pre-pool time map, so every
//! pooled spike is routed back to the position that caused it, whatever step it came from (the
//! reference keeps the indices of the last step only, which misroutes earlier spikes). A pooled
//! position whose window never spiked has no index and unpools to nothing; with
//! [`DecodeParams::causal`], neither does one whose spike came after the spike being decoded
//! (it cannot have caused it).

use crate::encode::{EncodeMode, EncoderParams};
use crate::error::{Error, Result, head, head_mut, need};
use crate::geometry::{ConvGeom, PoolGeom};
use crate::model::{Model, le_i32};
use crate::spikes::NEVER;
use crate::weights::WeightRow;

/// How the decoder binarises and routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DecodeParams {
    /// An input position of a transposed convolution is active when its summed Q0.16 weight is
    /// strictly above this (`1 << 15` = 0.5: the reference's `> 0.5`).
    pub threshold: u32,
    /// Unpool only pooled spikes at or before the decoded spike's step.
    pub causal: bool,
}

impl Default for DecodeParams {
    fn default() -> Self {
        Self {
            threshold: 1 << 15,
            causal: true,
        }
    }
}

/// Transposed convolution of the binary map `active` (the layer's output shape, non-zero =
/// active) through the layer's weights `w` (`[c_in][ky][kx][c_out]`): `acc` (input length)
/// receives each input position's summed weight over the active outputs whose kernel covers
/// it, and `out` (input length) 1 where that sum is above `threshold`, else 0. Returns the
/// number of active inputs.
pub fn conv_transpose<W: WeightRow + ?Sized>(
    g: &ConvGeom,
    w: &W,
    active: &[u8],
    threshold: u32,
    acc: &mut [u32],
    out: &mut [u8],
) -> Result<usize> {
    let (o, i) = (g.output(), g.input());
    let active = head("decoder active outputs", active, o.len())?;
    let acc = head_mut("decoder sums", acc, i.len())?;
    let out = head_mut("decoder inputs", out, i.len())?;
    if w.len() < g.n_weights() {
        return Err(Error::ShapeMismatch("weights do not match the layer"));
    }
    acc.fill(0);
    let (oc, oh, ow) = (o.c as usize, o.h as usize, o.w as usize);
    let (ih, iw) = (i.h as usize, i.w as usize);
    let (k, s, p) = (g.k() as usize, g.stride() as usize, g.pad() as usize);
    let (iplane, oplane) = (i.plane(), o.plane());
    for (n, _) in active.iter().enumerate().filter(|&(_, &a)| a != 0) {
        let (co, rest) = (n / oplane, n % oplane);
        let (oy, ox) = (rest / ow.max(1), rest % ow.max(1));
        if co >= oc || oy >= oh {
            continue;
        }
        for ci in 0..i.c as usize {
            for ky in 0..k {
                // Output (oy, ox) reads input (oy·s + ky − p, ox·s + kx − p).
                let Some(iy) = (oy * s + ky).checked_sub(p).filter(|&y| y < ih) else {
                    continue;
                };
                for kx in 0..k {
                    let Some(ix) = (ox * s + kx).checked_sub(p).filter(|&x| x < iw) else {
                        continue;
                    };
                    let wv = w.get(g.syn(ci, ky, kx) * oc + co);
                    if let Some(a) = acc.get_mut(ci * iplane + iy * iw + ix) {
                        *a = a.saturating_add(u32::from(wv));
                    }
                }
            }
        }
    }
    let mut n = 0;
    for (o, &a) in out.iter_mut().zip(acc.iter()) {
        *o = u8::from(a > threshold);
        n += usize::from(a > threshold);
    }
    Ok(n)
}

/// The winner of pooled output `(c, oy, ox)` in the pre-pool time map `pre`: its flat index and
/// time (the earliest-spiking position, lowest flat index on ties; `None` when nothing in the
/// window spiked). The rule of [`crate::pool::pool_times`], and the index of the pooled spike at
/// the step it fired (see the module docs).
pub fn pool_winner(
    g: &PoolGeom,
    pre: &[u8],
    c: usize,
    oy: usize,
    ox: usize,
) -> Option<(usize, u8)> {
    let gi = g.input();
    let (h, w) = (gi.h as usize, gi.w as usize);
    let (k, s, p) = (g.k() as usize, g.stride() as usize, g.pad() as usize);
    let base = c.checked_mul(gi.plane())?;
    let mut best: Option<(usize, u8)> = None;
    for ky in 0..k {
        let Some(y) = (oy * s + ky).checked_sub(p).filter(|&y| y < h) else {
            continue;
        };
        for kx in 0..k {
            let Some(x) = (ox * s + kx).checked_sub(p).filter(|&x| x < w) else {
                continue;
            };
            let i = base + y * w + x;
            if let Some(&t) = pre.get(i)
                && t != NEVER
                && best.is_none_or(|(_, bt)| t < bt)
            {
                best = Some((i, t));
            }
        }
    }
    best
}

/// Unpools the binary map `active` (the pooled shape) into `out` (the pre-pool shape): each
/// active pooled position sets its window's winner in `pre` (the pre-pool first-spike times,
/// see [`pool_winner`]) when that winner fired at or before `max_step` (pass [`NEVER`] for no
/// limit). Returns the number of positions set.
pub fn unpool(
    g: &PoolGeom,
    pre: &[u8],
    active: &[u8],
    max_step: u8,
    out: &mut [u8],
) -> Result<usize> {
    let (o, i) = (g.output(), g.input());
    let pre = head("pre-pool times", pre, i.len())?;
    let active = head("pooled active map", active, o.len())?;
    let out = head_mut("unpooled map", out, i.len())?;
    out.fill(0);
    let (oplane, ow) = (o.plane(), (o.w as usize).max(1));
    let mut n = 0;
    for (j, _) in active.iter().enumerate().filter(|&(_, &a)| a != 0) {
        let (c, rest) = (j / oplane.max(1), j % oplane.max(1));
        let Some((idx, t)) = pool_winner(g, pre, c, rest / ow, rest % ow) else {
            continue;
        };
        if t > max_step {
            continue;
        }
        if let Some(cell) = out.get_mut(idx)
            && *cell == 0
        {
            *cell = 1;
            n += 1;
        }
    }
    Ok(n)
}

/// Input channels of the encoder's raster: the event channels, or 1 for an image encoder.
fn in_channels(p: &EncoderParams) -> usize {
    match p.mode() {
        EncodeMode::Events(e) => usize::from(e.channels),
        _ => 1,
    }
}

/// The encoder's filters transposed: the binary map `active` (the encoder's output shape)
/// through the filters `kernels` (`n_filters × k × k`, Q16 `i32`, signed), summed into `acc`
/// (`channels × h × w`, real-valued as in the reference's last transposed convolution), and
/// `mask` (`h × w`) 1 where the sum over channels is > 0. Filter maps that sum over the event
/// channels feed every channel; split maps (`split_channels`) feed their own. Returns the
/// number of mask pixels.
pub fn encoder_transpose(
    p: &EncoderParams,
    kernels: &[u8],
    active: &[u8],
    acc: &mut [i64],
    mask: &mut [u8],
) -> Result<usize> {
    let (h, w, k) = (p.h() as usize, p.w() as usize, p.k() as usize);
    let (plane, nf, ch) = (h * w, p.n_filters() as usize, in_channels(p));
    let split = matches!(p.mode(), EncodeMode::Events(e) if e.split_channels);
    need("encoder filters", kernels, p.n_kernel() * 4)?;
    let active = head("encoder active map", active, p.n_out())?;
    let acc = head_mut("encoder sums", acc, ch * plane)?;
    let mask = head_mut("pixel mask", mask, plane)?;
    acc.fill(0);
    let pad = p.pad() as usize;
    for (n, _) in active.iter().enumerate().filter(|&(_, &a)| a != 0) {
        let (map, rest) = (n / plane, n % plane);
        let (oy, ox) = (rest / w, rest % w);
        let (f, chans) = if split {
            (map % nf, (map / nf)..(map / nf + 1))
        } else {
            (map, 0..ch)
        };
        for c in chans {
            for ky in 0..k {
                // Output (oy, ox) reads input (oy + ky − pad, ox + kx − pad).
                let Some(iy) = (oy + ky).checked_sub(pad).filter(|&y| y < h) else {
                    continue;
                };
                for kx in 0..k {
                    let Some(ix) = (ox + kx).checked_sub(pad).filter(|&x| x < w) else {
                        continue;
                    };
                    let kv = le_i32(kernels, (f * k + ky) * k + kx).unwrap_or(0);
                    if let Some(a) = acc.get_mut(c * plane + iy * w + ix) {
                        *a += i64::from(kv);
                    }
                }
            }
        }
    }
    let mut n = 0;
    for (px, m) in mask.iter_mut().enumerate() {
        let s: i64 = (0..ch)
            .filter_map(|c| acc.get(c * plane + px))
            .copied()
            .sum();
        *m = u8::from(s > 0);
        n += usize::from(s > 0);
    }
    Ok(n)
}

/// A spike of a layer's output (after its pooling): map, row, column and step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Spike {
    /// Map.
    pub map: u16,
    /// Row.
    pub y: u16,
    /// Column.
    pub x: u16,
    /// Step it fired at.
    pub step: u8,
}

/// Working memory of [`hulk`], owned by the caller. Each buffer needs the largest size over
/// the model's layers: `acc` and `pre` the largest convolution output or input
/// ([`hulk_scratch_len`]), `enc` `channels × h × w` of the encoder's raster.
#[derive(Debug)]
pub struct HulkScratch<'a> {
    /// Sums of the transposed convolutions.
    pub acc: &'a mut [u32],
    /// A layer's pre-pool (convolution output) map.
    pub pre: &'a mut [u8],
    /// Sums of the encoder's transposed filters.
    pub enc: &'a mut [i64],
}

/// Sizes of [`HulkScratch`]'s buffers for a model: `(acc and pre, enc)`.
pub fn hulk_scratch_len(m: &Model<'_>) -> (usize, usize) {
    let n = m
        .arch
        .iter()
        .map(|a| a.conv.output().len().max(a.conv.input().len()))
        .max()
        .unwrap_or(0);
    let e = &m.encoder;
    (n, in_channels(e) * e.h() as usize * e.w() as usize)
}

/// Unravels one spike of the model's last layer (in its output shape, after pooling) back to
/// the input raster.
///
/// `times[l]` is layer `l`'s first-spike-time map *before* its pooling (the convolution's
/// output shape; the same as its output when it has no pooling). `acts` receives the activity
/// the spike passes through: `acts[0]` the encoder's output shape, `acts[l + 1]` layer `l`'s
/// output shape (after pooling), each a binary map; `acts[n_layers]` is the spike itself.
/// Going down, layer `l`'s active outputs are unpooled ([`unpool`], per-step indices) and
/// transposed through its weights ([`conv_transpose`]) into `acts[l]`; `acts[0]` goes through
/// the encoder's filters ([`encoder_transpose`]) into `mask` (`h × w`). Returns the number of
/// mask pixels (0: the spike unravels to nothing).
pub fn hulk(
    m: &Model<'_>,
    spike: Spike,
    times: &[&[u8]],
    p: &DecodeParams,
    s: &mut HulkScratch<'_>,
    acts: &mut [&mut [u8]],
    mask: &mut [u8],
) -> Result<usize> {
    let nl = m.arch.len();
    if times.len() < nl || acts.len() < nl + 1 || m.layers.len() < nl {
        return Err(Error::ShapeMismatch(
            "decoder needs a time map per layer and an activity map per layer and the encoder",
        ));
    }
    let last = m
        .arch
        .last()
        .ok_or(Error::InvalidParam("model has no layers"))?;
    let o = last.out_shape();
    if spike.map >= o.c || spike.y >= o.h || spike.x >= o.w {
        return Err(Error::OutOfRange("spike outside the last layer"));
    }
    let top = acts
        .get_mut(nl)
        .ok_or(Error::ShapeMismatch("activity maps"))?;
    let top = head_mut("last layer activity", top, o.len())?;
    top.fill(0);
    let at = (usize::from(spike.map) * usize::from(o.h) + usize::from(spike.y)) * usize::from(o.w)
        + usize::from(spike.x);
    if let Some(c) = top.get_mut(at) {
        *c = 1;
    }
    let max_step = if p.causal { spike.step } else { NEVER };
    for l in (0..nl).rev() {
        let (a, blob) = match (m.arch.get(l), m.layers.get(l)) {
            (Some(a), Some(b)) => (a, b),
            _ => return Err(Error::ShapeMismatch("layers")),
        };
        let (lo, hi) = acts.split_at_mut(l + 1);
        let (Some(below), Some(cur)) = (lo.last_mut(), hi.first()) else {
            return Err(Error::ShapeMismatch("activity maps"));
        };
        let co = a.conv.output().len();
        let pre = head_mut("decoder pre-pool map", &mut *s.pre, co)?;
        match &a.pool {
            Some(pg) => {
                let t = times.get(l).ok_or(Error::ShapeMismatch("time maps"))?;
                unpool(pg, t, cur, max_step, pre)?;
            }
            None => {
                let cur = head("layer activity", cur, co)?;
                pre.copy_from_slice(cur);
            }
        }
        conv_transpose(&a.conv, &blob.view(), pre, p.threshold, s.acc, below)?;
    }
    let enc = acts.first().ok_or(Error::ShapeMismatch("activity maps"))?;
    encoder_transpose(&m.encoder, m.filters, enc, s.enc, mask)
}
