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
//! Decoding checks the frame, the CRC, the postcard body, every parameter (with the error its
//! constructor gives) and then every shape against the architecture; arbitrary bytes give an
//! [`Error`], never a panic, and nothing is allocated.

use crate::encode::{EncoderParams, EncoderParamsRaw};
use crate::error::{Error, Result};
use crate::geometry::{ConvGeom, ConvGeomRaw, PoolGeom, PoolGeomRaw};
use crate::neuron::{NeuronParams, NeuronParamsRaw};
use crate::weights::{Le16, Q8, WeightRow};
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

/// Reads `i32` number `i` of a little-endian byte slice; `None` when the slice is too short.
#[inline]
pub fn le_i32(b: &[u8], i: usize) -> Option<i32> {
    let start = i.checked_mul(4)?;
    b.get(start..)?
        .first_chunk::<4>()
        .map(|c| i32::from_le_bytes(*c))
}

/// Little-endian `i32` values of a byte slice (a trailing partial value is ignored).
pub(crate) fn i32s(b: &[u8]) -> impl Iterator<Item = i32> + '_ {
    b.chunks_exact(4)
        .filter_map(|c| <[u8; 4]>::try_from(c).ok().map(i32::from_le_bytes))
}

/// Decodes a little-endian `i32` slice into `out`; returns the count.
pub fn read_i32s(b: &[u8], out: &mut [i32]) -> Result<usize> {
    if !b.len().is_multiple_of(4) {
        return Err(Error::Malformed);
    }
    let n = b.len() / 4;
    let out = crate::error::head_mut("i32 buffer", out, n)?;
    for (o, v) in out.iter_mut().zip(i32s(b)) {
        *o = v;
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
    ///
    /// Each parameter block (encoder, geometry, neuron model) is valid by construction; this
    /// checks that they fit together and that the byte blobs match them.
    pub fn validate(&self) -> Result<()> {
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
        let mut shape = self.encoder.output();
        for (a, l) in self.arch.iter().zip(self.layers.iter()) {
            if a.conv.input() != shape {
                return Err(Error::ShapeMismatch(
                    "layer input differs from previous output",
                ));
            }
            if let Some(p) = a.pool
                && p.input() != a.conv.output()
            {
                return Err(Error::ShapeMismatch("pool input differs from conv output"));
            }
            let per = match l.bits {
                16 => 2,
                8 => 1,
                _ => return Err(Error::InvalidParam("weight width must be 8 or 16 bits")),
            };
            if l.weights.len() != a.conv.n_weights() * per {
                return Err(Error::ShapeMismatch("weight bytes do not match the layer"));
            }
            if l.thresholds.len() != a.conv.out_c() as usize * 4 {
                return Err(Error::ShapeMismatch(
                    "threshold bytes do not match the layer",
                ));
            }
            if i32s(l.thresholds).any(|t| t <= 0) {
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
        let (head, body) = buf
            .split_at_mut_checked(HEADER_LEN)
            .ok_or(Error::EncodeFailed)?;
        let used = postcard::to_slice(self, body).map_err(|_| Error::EncodeFailed)?;
        let n = used.len();
        let crc = CRC.checksum(used);
        let len = u32::try_from(n).map_err(|_| Error::EncodeFailed)?;
        let (version, len, crc) = (
            FORMAT_VERSION.to_le_bytes(),
            len.to_le_bytes(),
            crc.to_le_bytes(),
        );
        let fields = MAGIC.iter().chain(&version).chain(&len).chain(&crc);
        for (d, s) in head.iter_mut().zip(fields) {
            *d = *s;
        }
        buf.get_mut(..HEADER_LEN + n).ok_or(Error::EncodeFailed)
    }

    /// Decodes and validates a model borrowing from `bytes` (a version-1 file, or a
    /// version-2 file of the convolutional STDP family; see [`crate::frame`]).
    pub fn decode(bytes: &'a [u8]) -> Result<Self> {
        let (h, rest) = crate::frame::open(bytes)?;
        if h.family != crate::frame::FAMILY_CONV_STDP {
            return Err(Error::WrongFamily(h.family));
        }
        // The body is read in its plain-data form first, so that a parameter out of range
        // reports the error of its constructor rather than a generic `Malformed`.
        let (w, tail): (ModelWire<'a>, _) =
            postcard::take_from_bytes(rest).map_err(|e| match e {
                postcard::Error::DeserializeUnexpectedEnd => Error::Truncated,
                _ => Error::Malformed,
            })?;
        if !tail.is_empty() {
            return Err(Error::TrailingBytes);
        }
        let m = Model::try_from(w)?;
        m.validate()?;
        Ok(m)
    }
}

/// Wire form of a [`LayerArch`], before validation.
#[derive(Deserialize)]
struct LayerArchWire {
    conv: ConvGeomRaw,
    pool: Option<PoolGeomRaw>,
    neuron: NeuronParamsRaw,
}

/// Wire form of a [`Model`] (same fields, same order), before validation.
#[derive(Deserialize)]
struct ModelWire<'a> {
    encoder: EncoderParamsRaw,
    #[serde(borrow)]
    filters: &'a [u8],
    arch: heapless::Vec<LayerArchWire, MAX_LAYERS>,
    #[serde(borrow)]
    layers: heapless::Vec<LayerBlob<'a>, MAX_LAYERS>,
    #[serde(borrow)]
    readout: Option<ReadoutBlob<'a>>,
    #[serde(borrow)]
    provenance: Provenance<'a>,
    #[serde(borrow)]
    state: &'a [u8],
}

impl<'a> TryFrom<ModelWire<'a>> for Model<'a> {
    type Error = Error;

    fn try_from(w: ModelWire<'a>) -> Result<Self> {
        let encoder = EncoderParams::try_from(w.encoder)?;
        let mut arch = heapless::Vec::new();
        for a in w.arch {
            let a = LayerArch {
                conv: ConvGeom::try_from(a.conv)?,
                pool: a.pool.map(PoolGeom::try_from).transpose()?,
                neuron: NeuronParams::try_from(a.neuron)?,
            };
            arch.push(a)
                .map_err(|_| Error::CapacityExceeded("layers"))?;
        }
        Ok(Self {
            encoder,
            filters: w.filters,
            arch,
            layers: w.layers,
            readout: w.readout,
            provenance: w.provenance,
            state: w.state,
        })
    }
}
