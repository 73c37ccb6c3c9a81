//! Shapes of convolution and pooling layers, validated once so kernels can index without checks
//! failing at run time.

use crate::error::{Error, Result};
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
    /// Number of elements.
    pub const fn len(&self) -> usize {
        self.c as usize * self.h as usize * self.w as usize
    }
    /// True when any dimension is zero.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Positions per channel.
    pub const fn plane(&self) -> usize {
        self.h as usize * self.w as usize
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

/// Geometry of a convolution without bias. Weights are laid out `[c_in][ky][kx][c_out]`: the
/// output maps are innermost so that one input spike adds one contiguous row per kernel tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConvGeom {
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

impl ConvGeom {
    /// Validates and builds a geometry.
    pub fn new(input: Shape, out_c: u16, k: u8, stride: u8, padding: Padding) -> Result<Self> {
        if input.is_empty() {
            return Err(Error::InvalidParam("conv input shape is empty"));
        }
        if out_c == 0 {
            return Err(Error::InvalidParam("conv output maps must be > 0"));
        }
        if k == 0 || stride == 0 {
            return Err(Error::InvalidParam("conv kernel and stride must be > 0"));
        }
        let g = Self {
            input,
            out_c,
            k,
            stride,
            pad: padding.amount(k),
        };
        g.validate()?;
        Ok(g)
    }

    /// Checks a geometry (also one read from a model file).
    pub fn validate(&self) -> Result<()> {
        if self.input.is_empty() || self.out_c == 0 || self.k == 0 || self.stride == 0 {
            return Err(Error::InvalidParam("conv geometry has a zero dimension"));
        }
        let ph = self.input.h as u32 + 2 * self.pad as u32;
        let pw = self.input.w as u32 + 2 * self.pad as u32;
        if ph < self.k as u32 || pw < self.k as u32 {
            return Err(Error::InvalidParam("conv kernel larger than padded input"));
        }
        if self.pad >= self.k {
            // Padding of a full kernel or more would create outputs that see only zeros.
            return Err(Error::InvalidParam(
                "conv padding must be smaller than the kernel",
            ));
        }
        // Output rows and columns must fit the u16 of a `Shape` (they could reach
        // 65535 + pad − k + 1 + pad), or `output()` would silently wrap.
        if (ph - self.k as u32) / self.stride as u32 + 1 > u32::from(u16::MAX)
            || (pw - self.k as u32) / self.stride as u32 + 1 > u32::from(u16::MAX)
        {
            return Err(Error::InvalidParam(
                "conv output larger than 65535 rows or columns",
            ));
        }
        // Potentials must not overflow i32: fan-in × max weight (65535) < 2^31.
        if self.fan_in() > 32_767 {
            return Err(Error::InvalidParam("conv fan-in exceeds 32767"));
        }
        if self.output().len() > u32::MAX as usize / 2 {
            return Err(Error::InvalidParam("conv output too large"));
        }
        Ok(())
    }

    /// Output shape.
    pub const fn output(&self) -> Shape {
        let ph = self.input.h as u32 + 2 * self.pad as u32;
        let pw = self.input.w as u32 + 2 * self.pad as u32;
        let oh = (ph - self.k as u32) / self.stride as u32 + 1;
        let ow = (pw - self.k as u32) / self.stride as u32 + 1;
        Shape::new(self.out_c, oh as u16, ow as u16)
    }

    /// Synapses per output neuron (`c_in · k · k`).
    pub const fn fan_in(&self) -> usize {
        self.input.c as usize * self.k as usize * self.k as usize
    }

    /// Number of weights.
    pub const fn n_weights(&self) -> usize {
        self.fan_in() * self.out_c as usize
    }

    /// Index of synapse `(c, ky, kx)` in the fan-in (row of the weight matrix).
    #[inline]
    pub const fn syn(&self, c: usize, ky: usize, kx: usize) -> usize {
        (c * self.k as usize + ky) * self.k as usize + kx
    }
}

/// Geometry of max pooling over spikes. Padded cells never win.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PoolGeom {
    /// Input shape.
    pub input: Shape,
    /// Window size.
    pub k: u8,
    /// Stride.
    pub stride: u8,
    /// Padding on each side.
    pub pad: u8,
}

impl PoolGeom {
    /// Validates and builds a pooling geometry.
    pub fn new(input: Shape, k: u8, stride: u8, pad: u8) -> Result<Self> {
        let g = Self {
            input,
            k,
            stride,
            pad,
        };
        g.validate()?;
        Ok(g)
    }

    /// Checks a geometry.
    pub fn validate(&self) -> Result<()> {
        if self.input.is_empty() || self.k == 0 || self.stride == 0 {
            return Err(Error::InvalidParam("pool geometry has a zero dimension"));
        }
        if self.pad >= self.k {
            return Err(Error::InvalidParam(
                "pool padding must be smaller than the window",
            ));
        }
        let ph = self.input.h as u32 + 2 * self.pad as u32;
        let pw = self.input.w as u32 + 2 * self.pad as u32;
        if ph < self.k as u32 || pw < self.k as u32 {
            return Err(Error::InvalidParam("pool window larger than padded input"));
        }
        if (ph - self.k as u32) / self.stride as u32 + 1 > u32::from(u16::MAX)
            || (pw - self.k as u32) / self.stride as u32 + 1 > u32::from(u16::MAX)
        {
            return Err(Error::InvalidParam(
                "pool output larger than 65535 rows or columns",
            ));
        }
        Ok(())
    }

    /// Output shape.
    pub const fn output(&self) -> Shape {
        let ph = self.input.h as u32 + 2 * self.pad as u32;
        let pw = self.input.w as u32 + 2 * self.pad as u32;
        let oh = (ph - self.k as u32) / self.stride as u32 + 1;
        let ow = (pw - self.k as u32) / self.stride as u32 + 1;
        Shape::new(self.input.c, oh as u16, ow as u16)
    }
}
