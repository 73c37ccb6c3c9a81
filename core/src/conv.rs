//! Convolution: event-driven accumulation of binary spikes into potentials, and a dense signed
//! convolution for real-valued first-layer input (fixed DoG/Gabor filters).

use crate::error::{Result, need};
use crate::geometry::{ConvGeom, Shape};
use crate::q::widen8;

/// Read access to a weight matrix in the `[c_in][ky][kx][c_out]` layout, whatever its storage.
///
/// Implemented for `[u16]` (host, RAM), [`Le16`] (little-endian bytes borrowed from a model in
/// flash) and [`Q8`] (8-bit export). Every implementation yields Q0.16 values.
pub trait WeightRow {
    /// Number of weights.
    fn len(&self) -> usize;
    /// True when there are no weights.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Weight `i` in Q0.16. `i` must be `< len()`.
    fn get(&self, i: usize) -> u16;
    /// Adds weights `start .. start + dst.len()` to `dst`.
    #[inline]
    fn add_row(&self, start: usize, dst: &mut [i32]) {
        for (j, d) in dst.iter_mut().enumerate() {
            *d += i32::from(self.get(start + j));
        }
    }
}

impl WeightRow for [u16] {
    fn len(&self) -> usize {
        <[u16]>::len(self)
    }
    #[inline]
    fn get(&self, i: usize) -> u16 {
        self[i]
    }
    #[inline]
    fn add_row(&self, start: usize, dst: &mut [i32]) {
        let src = &self[start..start + dst.len()];
        // Fixed-width blocks: LLVM vectorises these reliably (the plain zip loop stayed scalar).
        let mut dc = dst.chunks_exact_mut(LANES);
        let mut sc = src.chunks_exact(LANES);
        for (d, s) in (&mut dc).zip(&mut sc) {
            if let (Ok(d), Ok(s)) = (
                <&mut [i32; LANES]>::try_from(d),
                <&[u16; LANES]>::try_from(s),
            ) {
                for i in 0..LANES {
                    d[i] += i32::from(s[i]);
                }
            }
        }
        for (d, &s) in dc.into_remainder().iter_mut().zip(sc.remainder()) {
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
        u16::from_le_bytes([self.0[2 * i], self.0[2 * i + 1]])
    }
    #[inline]
    fn add_row(&self, start: usize, dst: &mut [i32]) {
        let src = &self.0[2 * start..2 * (start + dst.len())];
        // Fixed-width blocks, as for the other storages (fewer bounds checks and loop steps).
        let mut dc = dst.chunks_exact_mut(LANES);
        let mut sc = src.chunks_exact(2 * LANES);
        for (d, s) in (&mut dc).zip(&mut sc) {
            if let (Ok(d), Ok(s)) = (
                <&mut [i32; LANES]>::try_from(d),
                <&[u8; 2 * LANES]>::try_from(s),
            ) {
                for i in 0..LANES {
                    d[i] += i32::from(u16::from_le_bytes([s[2 * i], s[2 * i + 1]]));
                }
            }
        }
        for (d, b) in dc
            .into_remainder()
            .iter_mut()
            .zip(sc.remainder().chunks_exact(2))
        {
            *d += i32::from(u16::from_le_bytes([b[0], b[1]]));
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
        widen8(self.0[i])
    }
    #[inline]
    fn add_row(&self, start: usize, dst: &mut [i32]) {
        let src = &self.0[start..start + dst.len()];
        let mut dc = dst.chunks_exact_mut(LANES);
        let mut sc = src.chunks_exact(LANES);
        for (d, s) in (&mut dc).zip(&mut sc) {
            if let (Ok(d), Ok(s)) = (
                <&mut [i32; LANES]>::try_from(d),
                <&[u8; LANES]>::try_from(s),
            ) {
                for i in 0..LANES {
                    d[i] += i32::from(widen8(s[i]));
                }
            }
        }
        for (d, &s) in dc.into_remainder().iter_mut().zip(sc.remainder()) {
            *d += i32::from(widen8(s));
        }
    }
}

/// Adds the weights of the spike of input neuron `(c, y, x)` to the potentials of every output
/// neuron that sees it. `v` is laid out `[oy][ox][map]`. When `touched` is given, the bit of each
/// reached output position (`oy · OW + ox`) is set, so that threshold crossings can be looked for
/// where potentials changed only.
#[inline]
pub fn scatter<W: WeightRow + ?Sized>(
    g: &ConvGeom,
    w: &W,
    c: usize,
    y: usize,
    x: usize,
    v: &mut [i32],
    mut touched: Option<&mut [u32]>,
) {
    let out = g.output();
    let (k, s, m) = (g.k as usize, g.stride as usize, g.out_c as usize);
    let (ow, oh) = (out.w as usize, out.h as usize);
    let (py, px) = (y + g.pad as usize, x + g.pad as usize);
    let (y0, y1) = crate::layer::reach(py, k, s, oh);
    let (x0, x1) = crate::layer::reach(px, k, s, ow);
    for oy in y0..y1 {
        let ky = py - oy * s;
        for ox in x0..x1 {
            let kx = px - ox * s;
            let pos = oy * ow + ox;
            w.add_row(g.syn(c, ky, kx) * m, &mut v[pos * m..pos * m + m]);
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
    need("input times", times, g.input.len())?;
    need("potentials", v, g.output().len())?;
    if w.len() < g.n_weights() {
        return Err(crate::Error::ShapeMismatch(
            "weights shorter than the conv geometry",
        ));
    }
    let v = &mut v[..g.output().len()];
    v.fill(0);
    let plane = g.input.plane();
    let wid = g.input.w as usize;
    for (i, &t) in times[..g.input.len()].iter().enumerate() {
        if t != crate::spikes::NEVER {
            let c = i / plane;
            let r = i % plane;
            scatter(g, w, c, r / wid, r % wid, v, None);
        }
    }
    Ok(())
}

/// Dense signed convolution of real-valued input, used for fixed first-layer filters.
///
/// `input` is `[c][y][x]` (`i32`), `kernels` is `[out][c][ky][kx]` (`i32`), the output `[out][y][x]`
/// (`i64`, so no input can overflow). Zero padding `pad`, stride 1.
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
    need("input", input, shape.len())?;
    need("kernels", kernels, out_c * c_in * k * k)?;
    if h + 2 * pad < k || w + 2 * pad < k {
        return Err(crate::Error::InvalidParam(
            "filter larger than padded input",
        ));
    }
    let oh = h + 2 * pad - k + 1;
    let ow = w + 2 * pad - k + 1;
    need("output", out, out_c * oh * ow)?;
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
                            acc +=
                                i64::from(input[row + ix as usize]) * i64::from(kernels[krow + kx]);
                        }
                    }
                }
                out[(o * oh + oy) * ow + ox] = acc;
            }
        }
    }
    Ok(Shape::new(out_c as u16, oh as u16, ow as u16))
}
