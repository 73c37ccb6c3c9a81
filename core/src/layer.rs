//! One convolutional spiking layer: neuron dynamics over time steps driven by input spike events,
//! winner-take-all selection, and the time-free inference path. Learning from the winners is in
//! [`crate::plasticity`].
//!
//! Potentials are laid out `[row][col][map]` (maps innermost, like the weights), first-spike
//! times `[map][row][col]` (like every spike-time map, so a layer's output is the next layer's
//! input).

use crate::conv::scatter_in;
use crate::error::{Error, Result, head, head_mut, need};
use crate::geometry::{ConvGeom, PoolGeom, reach};
use crate::neuron::{NeuronKind, NeuronParams, validate_thresholds};
use crate::spikes::{self, NEVER, ones, set_bit, sort_events, spiking_mask};
use crate::weights::WeightRow;
use crate::wta::{Winner, WtaParams, pack, unpack_flat, unpack_v};

/// Working memory of [`simulate`], owned by the caller. Sizes with `n = output neurons`,
/// `p = output positions`, `m = maps`, `i = input neurons`, `t = steps`.
#[derive(Debug)]
pub struct SimScratch<'a> {
    /// Potentials, `n`.
    pub v: &'a mut [i32],
    /// First-spike times (the layer's output), `n`.
    pub t_first: &'a mut [u8],
    /// Earliest spike per position, `p`.
    pub pos_first: &'a mut [u8],
    /// Positions reached this step, `words(p)`.
    pub touched: &'a mut [u32],
    /// Inhibited positions, `words(p)`.
    pub excl_pos: &'a mut [u32],
    /// Excluded maps, `words(m)`.
    pub excl_map: &'a mut [u32],
    /// Candidates of one step, `p` with pointwise inhibition, else `n`.
    pub cand: &'a mut [u64],
    /// Input events by time, `i`.
    pub order: &'a mut [u32],
    /// Step offsets into `order`, `t + 1`.
    pub starts: &'a mut [u32],
}

/// What a simulation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SimOutcome {
    /// Winners written.
    pub winners: usize,
    /// Steps simulated (fewer than `steps` after an early stop).
    pub steps_run: u8,
    /// Neurons that fired (first spikes) during the simulated steps.
    pub spikes: u32,
    /// Input events consumed.
    pub events: u32,
}

/// Runs a layer over `steps` time steps on input first-spike times `input` (`[c][y][x]`).
///
/// Every input spike is an event: at its step it adds its weights to the neurons that see it.
/// With IF neurons this equals the convolution of SpykeTorch's cumulative spike waves. After each
/// step the neurons at or above threshold spike; their first-spike step lands in
/// `s.t_first`. With `wta`, the step's first spikes compete (see [`crate::wta`]) and up to `k`
/// winners are written to `winners`; with `early_stop` the simulation ends as soon as no more
/// winners can come, which leaves later first-spike times unrecorded.
#[allow(clippy::too_many_arguments)]
pub fn simulate<W: WeightRow + ?Sized>(
    g: &ConvGeom,
    w: &W,
    theta: &[i32],
    neuron: &NeuronParams,
    steps: u8,
    input: &[u8],
    wta: Option<&WtaParams>,
    early_stop: bool,
    s: &mut SimScratch<'_>,
    winners: &mut [Winner],
) -> Result<SimOutcome> {
    let out = g.output();
    let (m, plane, n) = (out.c as usize, out.plane(), out.len());
    let wp = spikes::words(plane);
    validate_thresholds(theta, m)?;
    if w.len() < g.n_weights() {
        return Err(Error::ShapeMismatch(
            "weights shorter than the conv geometry",
        ));
    }
    // Every buffer is cut to the length the layer uses; indices below stay inside these
    // lengths (a validated geometry bounds them), and `get` turns any slip into a skipped cell
    // instead of a panic.
    let input = head("input", input, g.input().len())?;
    let v = head_mut("v", &mut *s.v, n)?;
    let t_first = head_mut("t_first", &mut *s.t_first, n)?;
    let pos_first = head_mut("pos_first", &mut *s.pos_first, plane)?;
    let touched = head_mut("touched", &mut *s.touched, wp)?;
    let excl_pos = head_mut("excl_pos", &mut *s.excl_pos, wp)?;
    let excl_map = head_mut("excl_map", &mut *s.excl_map, spikes::words(m))?;
    let pointwise = wta.is_some_and(|p| p.pointwise());
    let cand: &mut [u64] = match wta {
        Some(p) => {
            let cand = head_mut("cand", &mut *s.cand, if pointwise { plane } else { n })?;
            need("winners", winners, p.k() as usize)?;
            cand
        }
        None => &mut [],
    };
    v.fill(0);
    t_first.fill(NEVER);
    pos_first.fill(NEVER);
    touched.fill(0);
    excl_pos.fill(0);
    excl_map.fill(0);
    let n_events = sort_events(input, steps, s.order, s.starts)?;
    let order = head("order", &*s.order, n_events)?;
    let starts = head("starts", &*s.starts, steps as usize + 1)?;

    let in_plane = g.input().plane();
    let in_w = g.input().w as usize;
    let ow = out.w as usize;
    let mut res = SimOutcome::default();
    let time_free = neuron.time_free();
    for t in 0..steps {
        // Leak first (it acts on every neuron), then the step's input, then the clamp at 0.
        match neuron.kind() {
            NeuronKind::If => {}
            NeuronKind::LifSub { leak } => v.iter_mut().for_each(|x| *x = x.saturating_sub(leak)),
            NeuronKind::LifMul { beta } => v
                .iter_mut()
                .for_each(|x| *x = ((i64::from(*x) * i64::from(beta)) >> 16) as i32),
        }
        let (a, b) = match (starts.get(t as usize), starts.get(t as usize + 1)) {
            (Some(&a), Some(&b)) => (a as usize, b as usize),
            _ => (0, 0),
        };
        for &idx in order.get(a..b).unwrap_or(&[]) {
            let idx = idx as usize;
            let (c, r) = (idx / in_plane, idx % in_plane);
            scatter_in(g, w, c, r / in_w, r % in_w, v, Some(&mut *touched));
        }
        res.events += b.saturating_sub(a) as u32;

        // Spikes. Without leak only positions that received input can cross threshold.
        let mut nc = 0usize;
        let (mut wi, mut bits, mut dense) = (0usize, 0u32, 0usize);
        if !time_free {
            touched.fill(0);
        }
        'positions: loop {
            let pos = if time_free {
                while bits == 0 {
                    let Some(word) = touched.get_mut(wi) else {
                        break 'positions;
                    };
                    bits = *word;
                    *word = 0;
                    wi += 1;
                }
                let p = (wi - 1) * 32 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                p
            } else {
                if dense >= plane {
                    break 'positions;
                }
                dense += 1;
                dense - 1
            };
            let blocked = pointwise && pos_first.get(pos).is_some_and(|&f| f < t);
            let mut best: Option<(i32, usize)> = None;
            let mut any_first = false;
            // In bounds: `pos < plane`, so `(pos + 1) · m <= n`.
            let Some(row) = v.get_mut(pos * m..pos * m + m) else {
                continue;
            };
            if !time_free {
                row.iter_mut().for_each(|x| *x = (*x).max(0));
            }
            // Threshold test 32 maps at a time into a bit mask (vectorises); then visit only the
            // neurons at or above threshold, in ascending map order.
            for (blk, (vc, tc)) in row.chunks_mut(32).zip(theta.chunks(32)).enumerate() {
                let mut mask = 0u32;
                for (i, (&v, &th)) in vc.iter().zip(tc).enumerate() {
                    mask |= u32::from(v >= th) << i;
                }
                while mask != 0 {
                    let li = mask.trailing_zeros() as usize;
                    mask &= mask - 1;
                    let mi = blk * 32 + li;
                    // In bounds: `mi < m`, `pos < plane`; `li < vc.len()` (a set mask bit).
                    let (Some(tf), Some(cell)) =
                        (t_first.get_mut(mi * plane + pos), vc.get_mut(li))
                    else {
                        continue;
                    };
                    let first = *tf == NEVER;
                    if !first && neuron.fire_once() {
                        continue;
                    }
                    let pre = *cell;
                    *cell = 0;
                    if !first {
                        continue;
                    }
                    *tf = t;
                    res.spikes = res.spikes.saturating_add(1);
                    any_first = true;
                    if wta.is_some() {
                        if pointwise {
                            if !blocked && best.is_none_or(|(bv, _)| pre > bv) {
                                best = Some((pre, mi));
                            }
                        } else if let Some(slot) = cand.get_mut(nc) {
                            // In bounds: at most one candidate per neuron and step, `nc < n`.
                            *slot = pack(pre, (mi * plane + pos) as u32);
                            nc += 1;
                        }
                    }
                }
            }
            if let Some((bv, bm)) = best
                && let Some(slot) = cand.get_mut(nc)
            {
                // In bounds: at most one candidate per position and step, `nc < plane`.
                *slot = pack(bv, (bm * plane + pos) as u32);
                nc += 1;
            }
            if any_first
                && let Some(f) = pos_first.get_mut(pos)
                && *f == NEVER
            {
                *f = t;
            }
        }

        // Competition among this step's first spikes.
        res.steps_run = t + 1;
        if let Some(p) = wta {
            let k = p.k() as usize;
            if res.winners < k && nc > 0 {
                let cand = cand.get_mut(..nc).unwrap_or(&mut []);
                cand.sort_unstable_by(|x, y| y.cmp(x));
                let r = p.effective_radius() as usize;
                for &c in cand.iter() {
                    let flat = unpack_flat(c) as usize;
                    let (mi, pos) = (flat / plane, flat % plane);
                    if (p.per_map() && spikes::bit(excl_map, mi)) || spikes::bit(excl_pos, pos) {
                        continue;
                    }
                    let (y, x) = (pos / ow, pos % ow);
                    // In bounds: `res.winners < k <= winners.len()` (checked above).
                    if let Some(slot) = winners.get_mut(res.winners) {
                        *slot = Winner {
                            map: mi as u16,
                            y: y as u16,
                            x: x as u16,
                            t,
                            v: unpack_v(c),
                        };
                    }
                    res.winners += 1;
                    if p.per_map() {
                        set_bit(excl_map, mi);
                    }
                    for yy in y.saturating_sub(r)..(y + r + 1).min(out.h as usize) {
                        for xx in x.saturating_sub(r)..(x + r + 1).min(ow) {
                            set_bit(excl_pos, yy * ow + xx);
                        }
                    }
                    if res.winners == k {
                        break;
                    }
                }
            }
            let maps_done = p.per_map() && ones(excl_map).count() >= m;
            if early_stop && (res.winners == k || maps_done) {
                break;
            }
        }
    }
    Ok(res)
}

/// Time-free inference through one IF layer and optional pooling: a neuron spikes iff the sum of
/// the weights of its inputs that ever spiked reaches its threshold. The output (`[map][y][x]`,
/// pooled when `pool` is given) holds 0 where a spike reached it and [`NEVER`] elsewhere.
/// Computed one output row at a time so only `out_w × maps` potentials (`v_row`) are live; with
/// stride 1 the row holds its columns in reverse order (see the scatter below).
pub fn forward_final<W: WeightRow + ?Sized>(
    g: &ConvGeom,
    w: &W,
    theta: &[i32],
    pool: Option<&PoolGeom>,
    input: &[u8],
    v_row: &mut [i32],
    out: &mut [u8],
) -> Result<()> {
    let co = g.output();
    let (m, oh, ow) = (co.c as usize, co.h as usize, co.w as usize);
    validate_thresholds(theta, m)?;
    if w.len() < g.n_weights() {
        return Err(Error::ShapeMismatch(
            "weights shorter than the conv geometry",
        ));
    }
    let input = head("input", input, g.input().len())?;
    let v_row = head_mut("v_row", v_row, ow * m)?;
    let o = match pool {
        Some(p) => {
            if p.input() != co {
                return Err(Error::ShapeMismatch("pool input differs from conv output"));
            }
            p.output()
        }
        None => co,
    };
    let out = head_mut("output", out, o.len())?;
    out.fill(NEVER);
    let (k, snz, pad) = (g.k() as usize, g.stride_nz(), g.pad() as usize);
    let s = snz.get();
    let (h, wd) = (g.input().h as usize, g.input().w as usize);
    // Row and cell indices below stay inside the buffers cut to length above (a validated
    // geometry bounds them); `get` turns any slip into a skipped row instead of a panic.
    for oy in 0..oh {
        v_row.fill(0);
        for c in 0..g.input().c as usize {
            for ky in 0..k {
                let py = oy * s + ky;
                if py < pad || py - pad >= h {
                    continue;
                }
                let r0 = (c * h + py - pad) * wd;
                let Some(row) = input.get(r0..r0 + wd) else {
                    continue;
                };
                // Spiking columns as a bit mask, 64 at a time: a branch-free scan, then a visit
                // of the spikes only (a branch per cell mispredicts on sparse random input).
                for (chunk, cells) in row.chunks(64).enumerate() {
                    let mut mask = spiking_mask(cells);
                    while mask != 0 {
                        let ix = chunk * 64 + mask.trailing_zeros() as usize;
                        mask &= mask - 1;
                        let px = ix + pad;
                        let (x0, x1) = reach(px, k, snz, ow);
                        if x0 >= x1 {
                            continue;
                        }
                        if s == 1 {
                            // Reversed columns: kx and the slot grow together, so the spike's
                            // whole kernel row is one contiguous add of (x1 − x0)·m lanes.
                            let (r0, kx0) = (ow - x1, px + 1 - x1);
                            if let Some(dst) = v_row.get_mut(r0 * m..(r0 + x1 - x0) * m) {
                                w.add_row(g.syn(c, ky, kx0) * m, dst);
                            }
                        } else {
                            for ox in x0..x1 {
                                let kx = px - ox * s;
                                if let Some(dst) = v_row.get_mut(ox * m..ox * m + m) {
                                    w.add_row(g.syn(c, ky, kx) * m, dst);
                                }
                            }
                        }
                    }
                }
            }
        }
        // Pool cells reached by this conv row, computed once per row (not per neuron).
        let (py0, py1, pp) = match pool {
            Some(p) => {
                let (a, b) = reach(
                    oy + p.pad() as usize,
                    p.k() as usize,
                    p.stride_nz(),
                    o.h as usize,
                );
                (a, b, Some(p))
            }
            None => (oy, oy + 1, None),
        };
        let (oh_o, ow_o) = (o.h as usize, o.w as usize);
        for ox in 0..ow {
            let (px0, px1) = match pp {
                Some(p) => reach(ox + p.pad() as usize, p.k() as usize, p.stride_nz(), ow_o),
                None => (ox, ox + 1),
            };
            let slot = if s == 1 { ow - 1 - ox } else { ox };
            let Some(vr) = v_row.get(slot * m..slot * m + m) else {
                continue;
            };
            // Compare 32 maps at a time into a bit mask (vectorises), then visit the spikes only.
            for (blk, (vc, tc)) in vr.chunks(32).zip(theta.chunks(32)).enumerate() {
                let mut mask = 0u32;
                for (i, (&v, &th)) in vc.iter().zip(tc).enumerate() {
                    mask |= u32::from(v >= th) << i;
                }
                while mask != 0 {
                    let mi = blk * 32 + mask.trailing_zeros() as usize;
                    mask &= mask - 1;
                    let base = mi * oh_o * ow_o;
                    for py in py0..py1 {
                        let r0 = base + py * ow_o;
                        if let Some(cells) = out.get_mut(r0 + px0..r0 + px1) {
                            // A few cells, often marked already: a conditional store each
                            // (a `fill` became a `memset` call per neuron).
                            for c in cells {
                                if *c != 0 {
                                    *c = 0;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}
