//! Convolution: event-driven accumulation of binary spikes into potentials, and a dense signed
//! convolution for real-valued first-layer input (fixed DoG/Gabor filters).

use crate::error::{Result, head, head_mut, need};
use crate::geometry::{ConvGeom, Shape};
use crate::q::widen8;

/// Adds `dst.len() / $lanes` blocks of `$lanes` values read from `$src` (`$per` source elements
/// per value, read by `$val` from the block array `$s` at lane `$i`) to `dst`; evaluates to the
/// remainders of both. The blocks are fixed-size arrays: the lane index is below their length,
/// so the indexing cannot fail and its checks compile away.
macro_rules! add_blocks {
    ($dst:expr, $src:expr, $lanes:expr, $per:expr, |$s:ident, $i:ident| $val:expr) => {{
        let mut dc = $dst.chunks_exact_mut($lanes);
        let mut sc = $src.chunks_exact($per * $lanes);
        for (d, s) in (&mut dc).zip(&mut sc) {
            if let (Ok(d), Ok($s)) = (
                <&mut [i32; $lanes]>::try_from(d),
                <&[_; $per * $lanes]>::try_from(s),
            ) {
                // `$i < $lanes` and `$per · $i + $per − 1 < $per · $lanes`: the array lengths.
                #[allow(clippy::indexing_slicing)]
                for $i in 0..$lanes {
                    d[$i] += $val;
                }
            }
        }
        (dc.into_remainder(), sc.remainder())
    }};
}

/// Read access to a weight matrix in the `[c_in][ky][kx][c_out]` layout, whatever its storage.
///
/// Implemented for `[u16]` (host, RAM), [`Le16`] (little-endian bytes borrowed from a model in
/// flash) and [`Q8`] (8-bit export). Every implementation yields Q0.16 values. Reads outside the
/// matrix never panic: [`get`](Self::get) gives 0 there and [`add_row`](Self::add_row) adds
/// nothing (the core's kernels check the matrix length against the geometry first).
pub trait WeightRow {
    /// Number of weights.
    fn len(&self) -> usize;
    /// True when there are no weights.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Weight `i` in Q0.16, or 0 when `i >= len()`.
    fn get(&self, i: usize) -> u16;
    /// Adds weights `start .. start + dst.len()` to `dst`; adds nothing when that range is not
    /// inside the matrix.
    #[inline]
    fn add_row(&self, start: usize, dst: &mut [i32]) {
        if start
            .checked_add(dst.len())
            .is_none_or(|end| end > self.len())
        {
            return;
        }
        for (j, d) in dst.iter_mut().enumerate() {
            *d += i32::from(self.get(start + j));
        }
    }
}

/// `start .. start + len` when that range lies inside `0..n`.
#[inline]
fn row_range(start: usize, len: usize, n: usize) -> Option<core::ops::Range<usize>> {
    let end = start.checked_add(len)?;
    (end <= n).then_some(start..end)
}

impl WeightRow for [u16] {
    fn len(&self) -> usize {
        <[u16]>::len(self)
    }
    #[inline]
    fn get(&self, i: usize) -> u16 {
        <[u16]>::get(self, i).copied().unwrap_or(0)
    }
    #[inline]
    fn add_row(&self, start: usize, dst: &mut [i32]) {
        let Some(src) = self.get(start..).and_then(|s| s.get(..dst.len())) else {
            return;
        };
        // Fixed-width blocks of 16, then of 8 lanes: LLVM vectorises these reliably (the plain
        // zip loop stayed scalar, and so did a remainder of up to 15 lanes).
        let (d, s) = add_blocks!(dst, src, LANES, 1, |s, i| i32::from(s[i]));
        let (d, s) = add_blocks!(d, s, LANES / 2, 1, |s, i| i32::from(s[i]));
        for (d, &s) in d.iter_mut().zip(s) {
            *d += i32::from(s);
        }
    }
}

/// Block width of the row additions.
const LANES: usize = 16;

impl<T: WeightRow + ?Sized> WeightRow for &T {
    fn len(&self) -> usize {
        (**self).len()
    }
    #[inline]
    fn get(&self, i: usize) -> u16 {
        (**self).get(i)
    }
    #[inline]
    fn add_row(&self, start: usize, dst: &mut [i32]) {
        (**self).add_row(start, dst);
    }
}

/// 16-bit weights as little-endian bytes (zero-copy view of a model blob).
#[derive(Debug, Clone, Copy)]
pub struct Le16<'a>(pub &'a [u8]);

impl WeightRow for Le16<'_> {
    fn len(&self) -> usize {
        self.0.len() / 2
    }
    #[inline]
    fn get(&self, i: usize) -> u16 {
        match i
            .checked_mul(2)
            .and_then(|j| self.0.get(j..)?.first_chunk::<2>())
        {
            Some(b) => u16::from_le_bytes(*b),
            None => 0,
        }
    }
    #[inline]
    fn add_row(&self, start: usize, dst: &mut [i32]) {
        // `2·start` and `2·len` cannot overflow when the row lies inside the bytes.
        let Some(src) = row_range(start, dst.len(), self.len())
            .and_then(|r| self.0.get(2 * r.start..)?.get(..2 * dst.len()))
        else {
            return;
        };
        // Fixed-width blocks, as for the other storages (fewer bounds checks and loop steps).
        let (d, s) = add_blocks!(dst, src, LANES, 2, |s, i| i32::from(u16::from_le_bytes([
            s[2 * i],
            s[2 * i + 1]
        ])));
        let (d, s) = add_blocks!(d, s, LANES / 2, 2, |s, i| i32::from(u16::from_le_bytes([
            s[2 * i],
            s[2 * i + 1]
        ])));
        for (d, b) in d.iter_mut().zip(s.chunks_exact(2)) {
            if let Ok(b) = <[u8; 2]>::try_from(b) {
                *d += i32::from(u16::from_le_bytes(b));
            }
        }
    }
}

/// 8-bit weights (Q0.8), widened to Q0.16 on read.
#[derive(Debug, Clone, Copy)]
pub struct Q8<'a>(pub &'a [u8]);

impl WeightRow for Q8<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    #[inline]
    fn get(&self, i: usize) -> u16 {
        self.0.get(i).map_or(0, |&w| widen8(w))
    }
    #[inline]
    fn add_row(&self, start: usize, dst: &mut [i32]) {
        let Some(src) = self.0.get(start..).and_then(|s| s.get(..dst.len())) else {
            return;
        };
        let (d, s) = add_blocks!(dst, src, LANES, 1, |s, i| i32::from(widen8(s[i])));
        for (d, &s) in d.iter_mut().zip(s) {
            *d += i32::from(widen8(s));
        }
    }
}

/// Adds the weights of the spike of input neuron `(c, y, x)` to the potentials of every output
/// neuron that sees it. `v` is laid out `[oy][ox][map]`. When `touched` is given, the bit of each
/// reached output position (`oy · OW + ox`) is set, so that threshold crossings can be looked for
/// where potentials changed only.
///
/// Checks its arguments: the input neuron must exist, `w` must hold the geometry's weights, `v`
/// its output potentials and `touched` (when given) one bit per output position.
#[allow(clippy::too_many_arguments)]
pub fn scatter<W: WeightRow + ?Sized>(
    g: &ConvGeom,
    w: &W,
    c: usize,
    y: usize,
    x: usize,
    v: &mut [i32],
    touched: Option<&mut [u32]>,
) -> Result<()> {
    let i = g.input();
    if c >= i.c as usize || y >= i.h as usize || x >= i.w as usize {
        return Err(crate::Error::OutOfRange("scatter input neuron"));
    }
    if w.len() < g.n_weights() {
        return Err(crate::Error::ShapeMismatch(
            "weights shorter than the conv geometry",
        ));
    }
    let out = g.output();
    need("potentials", v, out.len())?;
    if let Some(t) = touched.as_deref() {
        need("touched", t, crate::spikes::words(out.plane()))?;
    }
    scatter_in(g, w, c, y, x, v, touched);
    Ok(())
}

/// [`scatter`] for arguments the caller has checked: `c, y, x` inside the input, `w`, `v` and
/// `touched` long enough. Out-of-range rows are skipped rather than indexed.
#[inline]
pub(crate) fn scatter_in<W: WeightRow + ?Sized>(
    g: &ConvGeom,
    w: &W,
    c: usize,
    y: usize,
    x: usize,
    v: &mut [i32],
    mut touched: Option<&mut [u32]>,
) {
    let out = g.output();
    let (k, snz, m) = (g.k() as usize, g.stride_nz(), g.out_c() as usize);
    let s = snz.get();
    let (ow, oh) = (out.w as usize, out.h as usize);
    let (py, px) = (y + g.pad() as usize, x + g.pad() as usize);
    let (y0, y1) = crate::layer::reach(py, k, snz, oh);
    let (x0, x1) = crate::layer::reach(px, k, snz, ow);
    for oy in y0..y1 {
        let ky = py - oy * s;
        for ox in x0..x1 {
            let kx = px - ox * s;
            let pos = oy * ow + ox;
            if let Some(dst) = v.get_mut(pos * m..pos * m + m) {
                w.add_row(g.syn(c, ky, kx) * m, dst);
            }
            if let Some(t) = touched.as_deref_mut() {
                crate::spikes::set_bit(t, pos);
            }
        }
    }
}

/// Final potentials of a layer of integrate-and-fire neurons: the sum, for every output neuron,
/// of the weights of its inputs that spiked at any step (`times[i] != NEVER`). `v` (laid out
/// `[oy][ox][map]`) is overwritten.
pub fn accumulate_all<W: WeightRow + ?Sized>(
    g: &ConvGeom,
    w: &W,
    times: &[u8],
    v: &mut [i32],
) -> Result<()> {
    let times = head("input times", times, g.input().len())?;
    let v = head_mut("potentials", v, g.output().len())?;
    if w.len() < g.n_weights() {
        return Err(crate::Error::ShapeMismatch(
            "weights shorter than the conv geometry",
        ));
    }
    v.fill(0);
    let plane = g.input().plane();
    let wid = g.input().w as usize;
    for (i, &t) in times.iter().enumerate() {
        if t != crate::spikes::NEVER {
            let c = i / plane;
            let r = i % plane;
            scatter_in(g, w, c, r / wid, r % wid, v, None);
        }
    }
    Ok(())
}

/// Dense signed convolution of real-valued input, used for fixed first-layer filters.
///
/// `input` is `[c][y][x]` (`i32`), `kernels` is `[out][c][ky][kx]` (`i32`), the output `[out][y][x]`
/// (`i64`, saturating: only sums of more than two products of extreme `i32` values reach the
/// bounds). Zero padding `pad`, stride 1.
pub fn conv_real(
    input: &[i32],
    shape: Shape,
    kernels: &[i32],
    out_c: usize,
    k: usize,
    pad: usize,
    out: &mut [i64],
) -> Result<Shape> {
    let (c_in, h, w) = (shape.c as usize, shape.h as usize, shape.w as usize);
    let overflow = crate::Error::Overflow("conv_real sizes");
    let input = head("input", input, shape.len())?;
    let n_kernels = out_c
        .checked_mul(c_in)
        .and_then(|n| n.checked_mul(k)?.checked_mul(k))
        .ok_or(overflow)?;
    let kernels = head("kernels", kernels, n_kernels)?;
    let ph = pad.checked_mul(2).and_then(|p| p.checked_add(h));
    let pw = pad.checked_mul(2).and_then(|p| p.checked_add(w));
    let (Some(ph), Some(pw)) = (ph, pw) else {
        return Err(overflow);
    };
    if ph < k || pw < k {
        return Err(crate::Error::InvalidParam(
            "filter larger than padded input",
        ));
    }
    let (oh, ow) = (ph - k + 1, pw - k + 1);
    let (Ok(c16), Ok(oh16), Ok(ow16)) =
        (u16::try_from(out_c), u16::try_from(oh), u16::try_from(ow))
    else {
        return Err(crate::Error::InvalidParam(
            "conv_real output larger than 65535 maps, rows or columns",
        ));
    };
    let n_out = out_c
        .checked_mul(oh)
        .and_then(|n| n.checked_mul(ow))
        .ok_or(overflow)?;
    let out = head_mut("output", out, n_out)?;
    // Outputs in their `[o][oy][ox]` order, one cursor over `out`.
    let mut cells = out.iter_mut();
    for o in 0..out_c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = 0i64;
                for c in 0..c_in {
                    for ky in 0..k {
                        let iy = (oy + ky) as isize - pad as isize;
                        if iy < 0 || iy >= h as isize {
                            continue;
                        }
                        let row = (c * h + iy as usize) * w;
                        let krow = ((o * c_in + c) * k + ky) * k;
                        for kx in 0..k {
                            let ix = (ox + kx) as isize - pad as isize;
                            if ix < 0 || ix >= w as isize {
                                continue;
                            }
                            // In bounds: `c < c_in`, `iy < h`, `ix < w`, `o < out_c`, `ky, kx < k`.
                            if let (Some(&a), Some(&b)) =
                                (input.get(row + ix as usize), kernels.get(krow + kx))
                            {
                                acc = acc.saturating_add(i64::from(a) * i64::from(b));
                            }
                        }
                    }
                }
                if let Some(cell) = cells.next() {
                    *cell = acc;
                }
            }
        }
    }
    Ok(Shape::new(c16, oh16, ow16))
}
