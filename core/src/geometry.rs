//! Shapes of convolution and pooling layers, validated once so kernels can index without checks
//! failing at run time.
//!
//! [`ConvGeom`] and [`PoolGeom`] have private fields: they are only built by their validating
//! constructors (or deserialised through the same validation from [`ConvGeomRaw`] and
//! [`PoolGeomRaw`], the plain-data forms with the same wire layout), so every value of them
//! describes a geometry the kernels can run on. A [`Shape`] is plain data: every value is a
//! shape (an empty one included).

use crate::error::{Error, Result};
use core::num::{NonZeroU8, NonZeroUsize};
use serde::{Deserialize, Serialize};

/// Channels × height × width of a feature map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shape {
    /// Channels (maps).
    pub c: u16,
    /// Rows.
    pub h: u16,
    /// Columns.
    pub w: u16,
}

impl Shape {
    /// A new shape.
    pub const fn new(c: u16, h: u16, w: u16) -> Self {
        Self { c, h, w }
    }
    /// Number of elements. Saturates at `usize::MAX` where the product does not fit (16-bit
    /// and 32-bit targets), so that no buffer is ever large enough for such a shape.
    pub const fn len(&self) -> usize {
        (self.c as usize)
            .saturating_mul(self.h as usize)
            .saturating_mul(self.w as usize)
    }
    /// True when any dimension is zero.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Positions per channel (saturating, as [`len`](Self::len)).
    pub const fn plane(&self) -> usize {
        (self.h as usize).saturating_mul(self.w as usize)
    }
}

/// Padding of a convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Padding {
    /// No padding: output shrinks by `kernel - 1`.
    Valid,
    /// `kernel / 2` zeros on every side (odd kernels keep the size at stride 1).
    Same,
    /// An explicit number of zeros on every side.
    Explicit(u8),
}

impl Padding {
    /// Zeros added on each side for a kernel of size `k`.
    pub const fn amount(self, k: u8) -> u8 {
        match self {
            Padding::Valid => 0,
            Padding::Same => k / 2,
            Padding::Explicit(p) => p,
        }
    }
}

/// Geometry of a convolution as plain data, before validation: the wire form of [`ConvGeom`]
/// (same fields, same order). Turn it into a [`ConvGeom`] with `ConvGeom::try_from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConvGeomRaw {
    /// Input shape (before padding).
    pub input: Shape,
    /// Output maps.
    pub out_c: u16,
    /// Square kernel size.
    pub k: u8,
    /// Stride.
    pub stride: u8,
    /// Zeros on each side of the input.
    pub pad: u8,
}

/// Geometry of a convolution without bias. Weights are laid out `[c_in][ky][kx][c_out]`: the
/// output maps are innermost so that one input spike adds one contiguous row per kernel tap.
///
/// Valid by construction: built by [`new`](Self::new) or `try_from` a [`ConvGeomRaw`] (which
/// deserialisation goes through), read with the getters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ConvGeomRaw")]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConvGeom {
    input: Shape,
    out_c: u16,
    k: u8,
    stride: NonZeroU8,
    pad: u8,
}

/// Output rows or columns of a window of `k` sliding with `stride` over `n + 2·pad` cells, or
/// `None` when the window does not fit or the stride is 0.
const fn out_len(n: u16, k: u8, stride: u8, pad: u8) -> Option<u32> {
    let padded = n as u32 + 2 * pad as u32;
    if stride == 0 || padded < k as u32 {
        return None;
    }
    Some((padded - k as u32) / stride as u32 + 1)
}

/// How [`check_window`] names the parameters of a convolution or a pooling in its errors.
struct WindowNames {
    input: &'static str,
    k: &'static str,
    stride: &'static str,
    pad: &'static str,
    output: &'static str,
}

const CONV_NAMES: WindowNames = WindowNames {
    input: "conv input dimensions",
    k: "conv kernel",
    stride: "conv stride",
    pad: "conv padding must be smaller than the kernel",
    output: "conv output larger than 65535 rows or columns",
};

const POOL_NAMES: WindowNames = WindowNames {
    input: "pool input dimensions",
    k: "pool window",
    stride: "pool stride",
    pad: "pool padding must be smaller than the window",
    output: "pool output larger than 65535 rows or columns",
};

/// The checks a convolution and a pooling share: a non-empty input, a window and a stride of at
/// least 1, padding smaller than the window, a window no larger than the padded input, and at
/// most 65535 output rows and columns. Gives the stride as a non-zero number.
fn check_window(n: &WindowNames, input: Shape, k: u8, stride: u8, pad: u8) -> Result<NonZeroU8> {
    if input.is_empty() {
        return Err(Error::Zero(n.input));
    }
    if k == 0 {
        return Err(Error::Zero(n.k));
    }
    let Some(nz) = NonZeroU8::new(stride) else {
        return Err(Error::Zero(n.stride));
    };
    // With `pad >= k` the padded input is at least `2k`, so the window fits: the two errors
    // below never compete.
    if pad >= k {
        // Padding of a full window or more would create outputs that see only zeros.
        return Err(Error::InvalidParam(n.pad));
    }
    let (Some(oh), Some(ow)) = (
        out_len(input.h, k, stride, pad),
        out_len(input.w, k, stride, pad),
    ) else {
        return Err(Error::KernelTooLarge {
            what: n.k,
            k,
            padded: u32::from(input.h.min(input.w)) + 2 * u32::from(pad),
        });
    };
    // Output rows and columns must fit the u16 of a `Shape` (they could reach
    // 65535 + pad − k + 1 + pad), or `output()` would silently wrap.
    if oh > u32::from(u16::MAX) || ow > u32::from(u16::MAX) {
        return Err(Error::InvalidParam(n.output));
    }
    Ok(nz)
}

/// The getters of the sliding window (input, size, stride, padding) that [`ConvGeom`] and
/// [`PoolGeom`] share, and its output rows and columns.
macro_rules! window_getters {
    ($k:literal, $pad:literal) => {
        /// Input shape (before padding).
        pub const fn input(&self) -> Shape {
            self.input
        }
        #[doc = $k]
        pub const fn k(&self) -> u8 {
            self.k
        }
        /// Stride (at least 1).
        pub const fn stride(&self) -> u8 {
            self.stride.get()
        }
        /// Stride as a non-zero number (divisions by it need no zero check).
        #[inline]
        pub(crate) fn stride_nz(&self) -> NonZeroUsize {
            NonZeroUsize::from(self.stride)
        }
        #[doc = $pad]
        pub const fn pad(&self) -> u8 {
            self.pad
        }
        /// Output rows and columns.
        const fn out_hw(&self) -> (u16, u16) {
            // Validated: the stride is non-zero and the window fits, so both are `Some`.
            let oh = match out_len(self.input.h, self.k, self.stride.get(), self.pad) {
                Some(v) => v,
                None => 0,
            };
            let ow = match out_len(self.input.w, self.k, self.stride.get(), self.pad) {
                Some(v) => v,
                None => 0,
            };
            (oh as u16, ow as u16)
        }
    };
}

impl ConvGeom {
    /// Validates and builds a geometry: a non-empty input, at least one output map, kernel and
    /// stride at least 1, a kernel no larger than the padded input, padding smaller than the
    /// kernel, at most 65535 output rows and columns, a fan-in of at most 32767 and fewer than
    /// 2^31 output neurons.
    pub fn new(input: Shape, out_c: u16, k: u8, stride: u8, padding: Padding) -> Result<Self> {
        Self::try_from(ConvGeomRaw {
            input,
            out_c,
            k,
            stride,
            pad: padding.amount(k),
        })
    }

    window_getters!(
        "Square kernel size.",
        "Zeros on each side of the input (smaller than the kernel)."
    );
    /// Output maps.
    pub const fn out_c(&self) -> u16 {
        self.out_c
    }

    /// Output shape.
    pub const fn output(&self) -> Shape {
        let (oh, ow) = self.out_hw();
        Shape::new(self.out_c, oh, ow)
    }

    /// Synapses per output neuron (`c_in · k · k`).
    pub const fn fan_in(&self) -> usize {
        self.input.c as usize * self.k as usize * self.k as usize
    }

    /// Number of weights.
    pub const fn n_weights(&self) -> usize {
        self.fan_in() * self.out_c as usize
    }

    /// Index of synapse `(c, ky, kx)` in the fan-in (row of the weight matrix). Meaningful for
    /// `c < input().c` and `ky, kx < k()`; other arguments give an index outside the fan-in
    /// (arithmetic wraps instead of overflowing).
    #[inline]
    pub const fn syn(&self, c: usize, ky: usize, kx: usize) -> usize {
        let k = self.k as usize;
        c.wrapping_mul(k)
            .wrapping_add(ky)
            .wrapping_mul(k)
            .wrapping_add(kx)
    }
}

impl TryFrom<ConvGeomRaw> for ConvGeom {
    type Error = Error;

    fn try_from(r: ConvGeomRaw) -> Result<Self> {
        let window = check_window(&CONV_NAMES, r.input, r.k, r.stride, r.pad);
        // Missing maps are reported after an empty input and before the window's faults.
        if r.out_c == 0 && !r.input.is_empty() {
            return Err(Error::Zero("conv output maps"));
        }
        let stride = window?;
        let g = Self {
            input: r.input,
            out_c: r.out_c,
            k: r.k,
            stride,
            pad: r.pad,
        };
        // Potentials must not overflow i32: fan-in × max weight (65535) < 2^31.
        if g.fan_in() > 32_767 {
            return Err(Error::InvalidParam("conv fan-in exceeds 32767"));
        }
        if g.output().len() > u32::MAX as usize / 2 {
            return Err(Error::InvalidParam("conv output too large"));
        }
        Ok(g)
    }
}

impl From<ConvGeom> for ConvGeomRaw {
    fn from(g: ConvGeom) -> Self {
        Self {
            input: g.input,
            out_c: g.out_c,
            k: g.k,
            stride: g.stride.get(),
            pad: g.pad,
        }
    }
}

/// Geometry of max pooling as plain data, before validation: the wire form of [`PoolGeom`]
/// (same fields, same order). Turn it into a [`PoolGeom`] with `PoolGeom::try_from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PoolGeomRaw {
    /// Input shape.
    pub input: Shape,
    /// Window size.
    pub k: u8,
    /// Stride.
    pub stride: u8,
    /// Padding on each side.
    pub pad: u8,
}

/// Geometry of max pooling over spikes. Padded cells never win.
///
/// Valid by construction: built by [`new`](Self::new) or `try_from` a [`PoolGeomRaw`] (which
/// deserialisation goes through), read with the getters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PoolGeomRaw")]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PoolGeom {
    input: Shape,
    k: u8,
    stride: NonZeroU8,
    pad: u8,
}

impl PoolGeom {
    /// Validates and builds a pooling geometry: a non-empty input, window and stride at least 1,
    /// padding smaller than the window, a window no larger than the padded input and at most
    /// 65535 output rows and columns.
    pub fn new(input: Shape, k: u8, stride: u8, pad: u8) -> Result<Self> {
        Self::try_from(PoolGeomRaw {
            input,
            k,
            stride,
            pad,
        })
    }

    window_getters!(
        "Window size.",
        "Padding on each side (smaller than the window)."
    );

    /// Output shape.
    pub const fn output(&self) -> Shape {
        let (oh, ow) = self.out_hw();
        Shape::new(self.input.c, oh, ow)
    }
}

impl TryFrom<PoolGeomRaw> for PoolGeom {
    type Error = Error;

    fn try_from(r: PoolGeomRaw) -> Result<Self> {
        let stride = check_window(&POOL_NAMES, r.input, r.k, r.stride, r.pad)?;
        Ok(Self {
            input: r.input,
            k: r.k,
            stride,
            pad: r.pad,
        })
    }
}

impl From<PoolGeom> for PoolGeomRaw {
    fn from(g: PoolGeom) -> Self {
        Self {
            input: g.input,
            k: g.k,
            stride: g.stride.get(),
            pad: g.pad,
        }
    }
}

/// Output rows (or columns) `[lo, hi)` whose window (a kernel or pooling window of `k` cells,
/// sliding with stride `s`, `out` positions) contains padded coordinate `p`.
#[inline]
pub(crate) fn reach(p: usize, k: usize, s: NonZeroUsize, out: usize) -> (usize, usize) {
    // Strides are almost always powers of two: shifts instead of two divisions per call. The
    // stride is non-zero by type, so the divisions need no zero check.
    let div = |a: usize| {
        if s.is_power_of_two() {
            a >> s.trailing_zeros()
        } else {
            a / s
        }
    };
    let lo = if p + 1 > k {
        div(p + 1 - k + s.get() - 1)
    } else {
        0
    };
    let hi = (div(p) + 1).min(out);
    (lo, hi.max(lo))
}
