//! An owned network (architecture, weights, thresholds, readout) built from a [`TrainConfig`],
//! and its conversion to and from the core's `.hebb` model format.

use crate::config::{LayerConfig, TrainConfig};
use hebb_core::encode::EncoderParams;
use hebb_core::model::{LayerArch, LayerBlob, Model, Provenance, ReadoutBlob};
use hebb_core::q;
use hebb_core::stdp::StdpParams;
use hebb_core::wta::WtaParams;

/// A trained (or training) readout in fixed point.
#[derive(Debug, Clone, PartialEq)]
pub struct Readout {
    /// Features.
    pub n_features: usize,
    /// Classes.
    pub n_classes: usize,
    /// `[feature][class]`.
    pub weights: Vec<i16>,
    /// Per class.
    pub bias: Vec<i32>,
}

/// Owned network state.
#[derive(Debug, Clone, PartialEq)]
pub struct Net {
    /// Encoder.
    pub encoder: EncoderParams,
    /// Encoder filters (Q16).
    pub filters: Vec<i32>,
    /// Layers.
    pub arch: Vec<LayerArch>,
    /// Weights per layer, Q0.16, `[c_in][ky][kx][c_out]`.
    pub weights: Vec<Vec<u16>>,
    /// Thresholds per layer and map.
    pub thresholds: Vec<Vec<i32>>,
    /// Readout.
    pub readout: Option<Readout>,
}

/// Training-only parameters of a layer, resolved to core types.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerTrain {
    /// Competition.
    pub wta: WtaParams,
    /// Learning rule.
    pub stdp: StdpParams,
    /// Double a+ every this many samples (0: never).
    pub double_every: u32,
    /// Cap of a+ (Q0.32).
    pub a_plus_cap: u32,
    /// Pointwise inhibition of the layer's input.
    pub inhibit_input: bool,
    /// Adaptive per-map thresholds (raised when a map fires, decaying back to rest).
    pub homeostasis: Option<hebb_core::homeostasis::AdaptiveThreshold>,
    /// Samples per mini-batch (1: sample after sample).
    pub batch: u32,
    /// Per-map thresholds toward a target win rate, after every epoch.
    pub rate_target: Option<hebb_core::homeostasis::RateTarget>,
}

/// Resolves the training parameters of layer `i`.
pub fn layer_train(l: &LayerConfig, i: usize) -> Result<LayerTrain, crate::config::ConfigError> {
    Ok(LayerTrain {
        wta: l.wta_params(i)?,
        stdp: l.stdp_params(i)?,
        double_every: l.stdp.double_every,
        a_plus_cap: q::rate_from_f64(l.stdp.a_plus_cap),
        inhibit_input: l.inhibit_input,
        homeostasis: l.adaptive_threshold(i)?,
        batch: l.batch,
        rate_target: l.rate_target_params(i)?,
    })
}

impl LayerTrain {
    /// The layer's learning-rate schedule.
    pub fn schedule(&self) -> hebb_core::schedule::LrSchedule {
        hebb_core::schedule::LrSchedule {
            base: self.stdp,
            double_every: self.double_every,
            a_plus_cap: self.a_plus_cap,
        }
    }
}

impl Net {
    /// Builds the architecture of a config with weights drawn from `N(init_mean, init_std)`.
    pub fn from_config(
        cfg: &TrainConfig,
        rng: &mut hebb_core::rng::Rng,
    ) -> Result<Self, crate::config::ConfigError> {
        let encoder = cfg.encoder_params()?;
        let filters = cfg.encoder.filters()?;
        let arch = cfg.arch()?;
        let mut weights = Vec::new();
        let mut thresholds = Vec::new();
        for (i, (l, a)) in cfg.layers.iter().zip(&arch).enumerate() {
            let mut w = vec![0u16; a.conv.n_weights()];
            rng.init_weights(&mut w, l.stdp.init_mean, l.stdp.init_std);
            weights.push(w);
            thresholds.push(vec![l.threshold_q(); l.maps as usize]);
            layer_train(l, i)?;
        }
        Ok(Self {
            encoder,
            filters,
            arch,
            weights,
            thresholds,
            readout: None,
        })
    }

    /// Number of readout features.
    pub fn n_features(&self) -> usize {
        self.arch.last().map_or(0, |a| a.out_shape().len())
    }

    /// Serialises to `.hebb` bytes. `bits` (16 or 8) sets the width of layer and readout weights.
    pub fn to_bytes(
        &self,
        prov: &ProvenanceOwned,
        state: &[u8],
        bits: u8,
    ) -> Result<Vec<u8>, hebb_core::Error> {
        let filt: Vec<u8> = self.filters.iter().flat_map(|v| v.to_le_bytes()).collect();
        let wbytes: Vec<Vec<u8>> = self
            .weights
            .iter()
            .map(|w| {
                if bits == 8 {
                    w.iter().map(|&x| q::narrow8(x)).collect()
                } else {
                    w.iter().flat_map(|x| x.to_le_bytes()).collect()
                }
            })
            .collect();
        let tbytes: Vec<Vec<u8>> = self
            .thresholds
            .iter()
            .map(|t| t.iter().flat_map(|v| v.to_le_bytes()).collect())
            .collect();
        let (rw, rb) = match &self.readout {
            Some(r) => (
                if bits == 8 {
                    narrow_readout(&r.weights)
                        .into_iter()
                        .map(|v| v as u8)
                        .collect::<Vec<u8>>()
                } else {
                    r.weights.iter().flat_map(|v| v.to_le_bytes()).collect()
                },
                if bits == 8 {
                    narrow_bias(&r.weights, &r.bias)
                } else {
                    r.bias.clone()
                }
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        let mut arch = hebb_core::heapless::Vec::new();
        let mut layers = hebb_core::heapless::Vec::new();
        for (i, a) in self.arch.iter().enumerate() {
            arch.push(*a)
                .map_err(|_| hebb_core::Error::CapacityExceeded("layers"))?;
            layers
                .push(LayerBlob {
                    bits,
                    weights: &wbytes[i],
                    thresholds: &tbytes[i],
                })
                .map_err(|_| hebb_core::Error::CapacityExceeded("layers"))?;
        }
        let epochs = hebb_core::heapless::Vec::from_slice(&prov.epochs)
            .map_err(|_| hebb_core::Error::CapacityExceeded("epochs"))?;
        let m = Model {
            encoder: self.encoder,
            filters: &filt,
            arch,
            layers,
            readout: self.readout.as_ref().map(|r| ReadoutBlob {
                n_features: r.n_features as u32,
                n_classes: r.n_classes as u16,
                bits,
                weights: &rw,
                bias: &rb,
            }),
            provenance: Provenance {
                preset: &prov.preset,
                dataset: &prov.dataset,
                seed: prov.seed,
                epochs,
                test_accuracy: prov.test_accuracy,
                writer: concat!("hebb ", env!("CARGO_PKG_VERSION")),
            },
            state,
        };
        let size = hebb_core::model::HEADER_LEN
            + filt.len()
            + wbytes.iter().map(Vec::len).sum::<usize>()
            + tbytes.iter().map(Vec::len).sum::<usize>()
            + rw.len()
            + rb.len()
            + state.len()
            + 4096;
        let mut buf = vec![0u8; size];
        let n = m.encode(&mut buf)?.len();
        buf.truncate(n);
        Ok(buf)
    }

    /// Rebuilds an owned network from a decoded model (8-bit weights are widened).
    pub fn from_model(m: &Model<'_>) -> Self {
        let filters = m
            .filters
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let weights = m
            .layers
            .iter()
            .map(|l| {
                if l.bits == 8 {
                    l.weights.iter().map(|&b| q::widen8(b)).collect()
                } else {
                    l.weights
                        .chunks_exact(2)
                        .map(|b| u16::from_le_bytes([b[0], b[1]]))
                        .collect()
                }
            })
            .collect();
        let thresholds = m
            .layers
            .iter()
            .map(|l| {
                l.thresholds
                    .chunks_exact(4)
                    .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            })
            .collect();
        let readout = m.readout.as_ref().map(|r| {
            let n = r.n_features as usize * r.n_classes as usize;
            Readout {
                n_features: r.n_features as usize,
                n_classes: r.n_classes as usize,
                weights: (0..n)
                    .map(|i| {
                        r.weight(i / r.n_classes as usize, i % r.n_classes as usize)
                            .unwrap_or(0) as i16
                    })
                    .collect(),
                bias: r
                    .bias
                    .chunks_exact(4)
                    .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            }
        });
        Self {
            encoder: m.encoder,
            filters,
            arch: m.arch.iter().copied().collect(),
            weights,
            thresholds,
            readout,
        }
    }

    /// A core model view over this network's owned buffers, for the core's inference functions.
    pub fn with_model<R>(&self, f: impl FnOnce(&Model<'_>) -> R) -> Result<R, hebb_core::Error> {
        let prov = ProvenanceOwned::default();
        let bytes = self.to_bytes(&prov, &[], 16)?;
        let m = Model::decode(&bytes)?;
        Ok(f(&m))
    }
}

/// 8-bit readout: scale every weight by 1/256 with rounding (the argmax is scale-free).
fn narrow_readout(w: &[i16]) -> Vec<i8> {
    w.iter()
        .map(|&v| ((i32::from(v) + 128).div_euclid(256)).clamp(-128, 127) as i8)
        .collect()
}

fn narrow_bias(_w: &[i16], b: &[i32]) -> Vec<i32> {
    b.iter().map(|&v| (v + 128).div_euclid(256)).collect()
}

/// Owned provenance.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProvenanceOwned {
    /// Preset.
    pub preset: String,
    /// Data set.
    pub dataset: String,
    /// Seed.
    pub seed: u64,
    /// Epochs per layer.
    pub epochs: Vec<u16>,
    /// Test accuracy (NaN if unknown).
    pub test_accuracy: f32,
}
