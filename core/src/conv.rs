//! Convolution: event-driven accumulation of binary spikes into potentials, and a dense signed
//! convolution for real-valued first-layer input (fixed DoG/Gabor filters).

use crate::error::{Result, head, head_mut, need};
use crate::geometry::{ConvGeom, Shape, reach};
use crate::weights::WeightRow;

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
    let (y0, y1) = reach(py, k, snz, oh);
    let (x0, x1) = reach(px, k, snz, ow);
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
