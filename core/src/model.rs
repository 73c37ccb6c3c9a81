//! The `.hebb` model file: a postcard body framed by a magic tag, a format version, the body
//! length and a CRC-32 of the body.
//!
//! ```text
//! offset 0   b"HEBB"            magic
//! offset 4   u16 LE             format version (FORMAT_VERSION)
//! offset 6   u32 LE             body length in bytes
//! offset 10  u32 LE             CRC-32 (ISO-HDLC, as zlib) of the body
//! offset 14  body               postcard encoding of `Model`
//! ```
//! Weight matrices, thresholds, filters and the readout are little-endian byte slices borrowed
//! from the input, so firmware decodes a model in place and reads its weights from flash.
//! Decoding checks the frame, the CRC, the postcard body and then every shape against the
//! architecture; arbitrary bytes give an [`Error`], never a panic, and nothing is allocated.

use crate::conv::{Le16, Q8, WeightRow};
use crate::encode::EncoderParams;
use crate::error::{Error, Result};
use crate::geometry::{ConvGeom, PoolGeom};
use crate::layer::NeuronParams;
use serde::{Deserialize, Serialize};

/// Magic tag at the start of every model file.
pub const MAGIC: [u8; 4] = *b"HEBB";
/// Current format version.
pub const FORMAT_VERSION: u16 = 1;
/// Bytes before the body.
pub const HEADER_LEN: usize = 14;
/// Most learned layers a model may hold.
pub const MAX_LAYERS: usize = 4;
/// CRC of the body.
pub const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Architecture of one learned layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LayerArch {
    /// Convolution.
    pub conv: ConvGeom,
    /// Pooling after it.
    pub pool: Option<PoolGeom>,
    /// Neuron model.
    pub neuron: NeuronParams,
}

impl LayerArch {
    /// Shape of the layer's output after pooling.
    pub fn out_shape(&self) -> crate::geometry::Shape {
        self.pool.map_or(self.conv.output(), |p| p.output())
    }
}

/// Weights, learned thresholds of one layer, as little-endian bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerBlob<'a> {
    /// 16 (Q0.16) or 8 (Q0.8).
    pub bits: u8,
    /// `[c_in][ky][kx][c_out]`, `bits/8` bytes each.
    #[serde(borrow)]
    pub weights: &'a [u8],
    /// One `i32` per map.
    #[serde(borrow)]
    pub thresholds: &'a [u8],
}

/// A fixed-point linear classifier on binary features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadoutBlob<'a> {
    /// Number of features.
    pub n_features: u32,
    /// Number of classes.
    pub n_classes: u16,
    /// 16 (`i16`) or 8 (`i8`) bits per weight.
    pub bits: u8,
    /// `[feature][class]`, little-endian.
    #[serde(borrow)]
    pub weights: &'a [u8],
    /// One `i32` per class.
    #[serde(borrow)]
    pub bias: &'a [u8],
}

/// Where a model came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance<'a> {
    /// Preset or config name.
    pub preset: &'a str,
    /// Data set.
    pub dataset: &'a str,
    /// Seed.
    pub seed: u64,
    /// Epochs each layer trained.
    pub epochs: heapless::Vec<u16, MAX_LAYERS>,
    /// Test accuracy of the readout (NaN when not measured).
    pub test_accuracy: f32,
    /// Version of hebb that wrote it.
    pub writer: &'a str,
}

/// A complete model (and, in checkpoints, the trainer's opaque state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model<'a> {
    /// Input encoder.
    pub encoder: EncoderParams,
    /// Encoder filters, `i32` LE, Q16.
    #[serde(borrow)]
    pub filters: &'a [u8],
    /// Layer architectures.
    pub arch: heapless::Vec<LayerArch, MAX_LAYERS>,
    /// Layer weights and thresholds.
    #[serde(borrow)]
    pub layers: heapless::Vec<LayerBlob<'a>, MAX_LAYERS>,
    /// Readout, if trained.
    #[serde(borrow)]
    pub readout: Option<ReadoutBlob<'a>>,
    /// Provenance.
    #[serde(borrow)]
    pub provenance: Provenance<'a>,
    /// Trainer state (empty in exported models).
    #[serde(borrow)]
    pub state: &'a [u8],
}

/// Reads `i32` number `i` of a little-endian byte slice.
#[inline]
pub fn le_i32(b: &[u8], i: usize) -> i32 {
    i32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
}

/// Decodes a little-endian `i32` slice into `out`; returns the count.
pub fn read_i32s(b: &[u8], out: &mut [i32]) -> Result<usize> {
    if !b.len().is_multiple_of(4) {
        return Err(Error::Malformed);
    }
    let n = b.len() / 4;
    crate::error::need("i32 buffer", out, n)?;
    for (i, o) in out[..n].iter_mut().enumerate() {
        *o = le_i32(b, i);
    }
    Ok(n)
}

/// Weights of a layer as stored: 16 or 8 bits.
#[derive(Debug, Clone, Copy)]
pub enum LayerWeights<'a> {
    /// Q0.16.
    W16(Le16<'a>),
    /// Q0.8.
    W8(Q8<'a>),
}

impl WeightRow for LayerWeights<'_> {
    fn len(&self) -> usize {
        match self {
            Self::W16(w) => w.len(),
            Self::W8(w) => w.len(),
        }
    }
    fn get(&self, i: usize) -> u16 {
        match self {
            Self::W16(w) => w.get(i),
            Self::W8(w) => w.get(i),
        }
    }
    fn add_row(&self, start: usize, dst: &mut [i32]) {
        match self {
            Self::W16(w) => w.add_row(start, dst),
            Self::W8(w) => w.add_row(start, dst),
        }
    }
}

impl<'a> LayerBlob<'a> {
    /// Typed view of the weights.
    pub fn view(&self) -> LayerWeights<'a> {
        if self.bits == 8 {
            LayerWeights::W8(Q8(self.weights))
        } else {
            LayerWeights::W16(Le16(self.weights))
        }
    }
}

impl<'a> Model<'a> {
    /// Checks every shape and parameter against the architecture.
    pub fn validate(&self) -> Result<()> {
        self.encoder.validate()?;
        if self.filters.len() != self.encoder.n_kernel() * 4 {
            return Err(Error::ShapeMismatch(
                "filter bytes do not match the encoder",
            ));
        }
        if self.arch.is_empty() {
            return Err(Error::InvalidParam("model has no layers"));
        }
        if self.arch.len() != self.layers.len() {
            return Err(Error::ShapeMismatch(
                "layer blobs do not match the architecture",
            ));
        }
        let mut shape = crate::geometry::Shape::new(
            u16::from(self.encoder.n_filters),
            self.encoder.h,
            self.encoder.w,
        );
        for (a, l) in self.arch.iter().zip(self.layers.iter()) {
            a.conv.validate()?;
            a.neuron.validate()?;
            if a.conv.input != shape {
                return Err(Error::ShapeMismatch(
                    "layer input differs from previous output",
                ));
            }
            if let Some(p) = a.pool {
                p.validate()?;
                if p.input != a.conv.output() {
                    return Err(Error::ShapeMismatch("pool input differs from conv output"));
                }
            }
            let per = match l.bits {
                16 => 2,
                8 => 1,
                _ => return Err(Error::InvalidParam("weight width must be 8 or 16 bits")),
            };
            if l.weights.len() != a.conv.n_weights() * per {
                return Err(Error::ShapeMismatch("weight bytes do not match the layer"));
            }
            if l.thresholds.len() != a.conv.out_c as usize * 4 {
                return Err(Error::ShapeMismatch(
                    "threshold bytes do not match the layer",
                ));
            }
            if (0..a.conv.out_c as usize).any(|i| le_i32(l.thresholds, i) <= 0) {
                return Err(Error::InvalidParam("thresholds must be > 0"));
            }
            shape = a.out_shape();
        }
        if let Some(r) = &self.readout {
            if r.n_features as usize != shape.len() {
                return Err(Error::ShapeMismatch(
                    "readout features differ from the last layer",
                ));
            }
            if r.n_classes == 0 {
                return Err(Error::InvalidParam("readout has no classes"));
            }
            let per = match r.bits {
                16 => 2,
                8 => 1,
                _ => return Err(Error::InvalidParam("readout width must be 8 or 16 bits")),
            };
            let need = (r.n_features as usize)
                .checked_mul(r.n_classes as usize)
                .ok_or(Error::Malformed)?;
            if r.weights.len() != need * per || r.bias.len() != r.n_classes as usize * 4 {
                return Err(Error::ShapeMismatch("readout bytes do not match its shape"));
            }
        }
        Ok(())
    }

    /// Shape of the feature map the readout sees.
    pub fn feature_shape(&self) -> crate::geometry::Shape {
        self.arch
            .last()
            .map_or(crate::geometry::Shape::new(0, 0, 0), LayerArch::out_shape)
    }

    /// Encodes into `buf`, returning the used prefix.
    pub fn encode<'b>(&self, buf: &'b mut [u8]) -> Result<&'b mut [u8]> {
        self.validate()?;
        if buf.len() < HEADER_LEN {
            return Err(Error::EncodeFailed);
        }
        let (head, body) = buf.split_at_mut(HEADER_LEN);
        let n = postcard::to_slice(self, body)
            .map_err(|_| Error::EncodeFailed)?
            .len();
        let crc = CRC.checksum(&body[..n]);
        head[..4].copy_from_slice(&MAGIC);
        head[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        head[6..10].copy_from_slice(&(n as u32).to_le_bytes());
        head[10..14].copy_from_slice(&crc.to_le_bytes());
        Ok(&mut buf[..HEADER_LEN + n])
    }

    /// Decodes and validates a model borrowing from `bytes` (a version-1 file, or a
    /// version-2 file of the convolutional STDP family; see [`crate::frame`]).
    pub fn decode(bytes: &'a [u8]) -> Result<Self> {
        let (h, rest) = crate::frame::open(bytes)?;
        if h.family != crate::frame::FAMILY_CONV_STDP {
            return Err(Error::WrongFamily(h.family));
        }
        let (m, tail): (Model<'a>, _) = postcard::take_from_bytes(rest).map_err(|e| match e {
            postcard::Error::DeserializeUnexpectedEnd => Error::Truncated,
            _ => Error::Malformed,
        })?;
        if !tail.is_empty() {
            return Err(Error::TrailingBytes);
        }
        m.validate()?;
        Ok(m)
    }
}
