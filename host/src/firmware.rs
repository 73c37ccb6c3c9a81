//! Firmware fixtures: the files `hebb-firmware` embeds beside the model, with the results the
//! host computes for them, so that the device's exit code says whether it agrees with the host.
//!
//! [`write_fixtures`] writes, atomically, into one folder (normally `firmware/`):
//!
//! | file | content |
//! |---|---|
//! | `model.hebb` | the model as given |
//! | `model8.hebb` | its 8-bit export (Q0.8 layer weights, `i8` readout) |
//! | `samples.bin`, `samples8.bin` | test images + labels + the host's prediction and feature checksum for each model |
//! | `learn.bin` | a one-layer start model, its STDP/WTA parameters, training images and the weight checksums the host's trainer reaches |
//! | `*.expected.txt` | the lines the firmware prints for the same results (the check script diffs them) |
//!
//! [`write_local_fixtures`] (module [`local`]) writes the local-rule fixtures beside them:
//! `hopfield.bin` (Hebbian storage and recall), `oja.bin` and `sanger.bin` (rate rules on a
//! Gaussian stream), and their `*.expected.txt`; [`check_local_fixtures`] recomputes them.
//! [`write_diehl_fixture`] (module [`diehl_cook`]) writes `diehl.bin` and `diehl.expected.txt`
//! (a trained Diehl & Cook network: inference, label assignment, and a small network learning
//! on the device); [`check_diehl_fixture`] recomputes them.
//!
//! Expected values come from the host's own paths: features from
//! [`CpuBackend::features`](crate::backend::Backend::features), classes from the model's
//! `ReadoutBlob::scores` + `readout::argmax`, learned weights from
//! [`CpuBackend::train`](crate::backend::Backend::train). [`check_fixtures`] recomputes all of
//! it from the files and reports any difference (the test suite runs it on the committed
//! fixtures).
//!
//! Byte layouts (all integers little-endian; every file ends with a CRC-32, ISO-HDLC as zlib,
//! of all bytes before it):
//!
//! ```text
//! samples.bin                               learn.bin
//!  0  b"HBSM"                                0  b"HBLN"
//!  4  u16 version (1)                        4  u16 version (1)
//!  6  u16 n samples                          6  u16 n samples
//!  8  u16 rows                               8  u16 rows
//! 10  u16 cols                              10  u16 cols
//! 12  u32 model body CRC (.hebb bytes 10..14) 12 u8 steps   13 u8 rule (0 mult, 1 add)
//! 16  u16 classes                           14  u8 WTA mode (0 global, 1 local, 2 both)
//! 18  u16 feature words                     15  u8 WTA radius  16 u16 WTA k
//! 20  n records:                            18  u8 pointwise (0/1)  19 u8 0
//!       rows*cols pixels                    20  u32 a+   24 u32 |a-|   28 u32 a+ cap  (Q0.32)
//!       u8 label                            32  u32 double a+ every N samples (0 never)
//!       u8 host class                       36  u64 lr samples seen  44 u32 lr a+  48 u32 lr |a-|
//!       u16 host active features            52  u32 host CRC of the final weights
//!       u32 host feature CRC                56  u32 model length L
//!  …  u32 CRC-32 of the file so far         60  L bytes: the start model (.hebb, 1 layer, 16-bit)
//!                                            …  n × rows*cols pixels
//!                                            …  n × (u16 winners, u16 0, u32 weights CRC after it)
//!                                            …  u32 CRC-32 of the file so far
//! ```
//! Feature CRC: CRC-32 over the feature bit-set words (`words(n_features)` `u32`s) as
//! little-endian bytes. Weights CRC: CRC-32 over the layer's `u16` weights (`[c_in][ky][kx][c_out]`)
//! as little-endian bytes.

pub mod diehl_cook;
pub mod events;
pub mod local;

pub use diehl_cook::{DiehlSpec, DiehlSummary, check_diehl_fixture, write_diehl_fixture};
pub use events::{EventsSpec, EventsSummary, check_events_fixture, write_events_fixture};
pub use local::{LocalSpec, LocalSummary, check_local_fixtures, write_local_fixtures};

use crate::backend::cpu::CpuBackend;
use crate::backend::{Backend, LayerState, LrState, TrainJob, TrainStats};
use crate::config::TrainConfig;
use crate::data::Dataset;
use crate::net::{LayerTrain, Net, ProvenanceOwned, layer_train};
use anyhow::{Context, Result, bail, ensure};
use hebb_core::model::{CRC, HEADER_LEN, Model};
use hebb_core::rng::Rng;
use hebb_core::stdp::{StdpParams, StdpRule};
use hebb_core::wta::{WtaMode, WtaParams};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Magic of `samples.bin`.
pub const SAMPLES_MAGIC: [u8; 4] = *b"HBSM";
/// Magic of `learn.bin`.
pub const LEARN_MAGIC: [u8; 4] = *b"HBLN";
/// Version of both fixture formats.
pub const FIXTURE_VERSION: u16 = 1;
/// The 16-bit model.
pub const MODEL16: &str = "model.hebb";
/// The 8-bit export.
pub const MODEL8: &str = "model8.hebb";
/// Samples and expectations of the 16-bit model.
pub const SAMPLES16: &str = "samples.bin";
/// Samples and expectations of the 8-bit model.
pub const SAMPLES8: &str = "samples8.bin";
/// On-device learning fixture.
pub const LEARN: &str = "learn.bin";
/// Lines `infer` prints.
pub const EXPECT16: &str = "samples.expected.txt";
/// Lines `infer8` prints.
pub const EXPECT8: &str = "samples8.expected.txt";
/// Lines `learn` prints.
pub const EXPECT_LEARN: &str = "learn.expected.txt";

/// What the host computes for one test sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InferExpect {
    /// True label.
    pub label: u8,
    /// Predicted class.
    pub class: u8,
    /// Active features.
    pub active: u16,
    /// CRC-32 of the feature bit set.
    pub crc: u32,
}

/// What the host's trainer reaches after one learning sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnExpect {
    /// Winners of the sample.
    pub winners: u16,
    /// CRC-32 of the weights after the sample's update.
    pub crc: u32,
}

/// Parameters of the on-device learning fixture.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnSpec {
    /// Preset whose first layer (encoder, geometry, neuron, WTA, STDP) is trained; `None`: the
    /// model's provenance preset when it is a known preset, else `mcu`.
    pub preset: Option<String>,
    /// Maps of the layer (RAM on the device grows with it: 8 maps of 28×28 ≈ 72 KB).
    pub maps: u16,
    /// Seed of the start weights.
    pub seed: u64,
    /// Overrides the preset's `double_every` so that a few samples exercise the schedule.
    pub double_every: Option<u32>,
}

impl Default for LearnSpec {
    fn default() -> Self {
        Self {
            preset: None,
            maps: 8,
            seed: 7,
            double_every: Some(3),
        }
    }
}

/// What [`write_fixtures`] wrote and measured.
#[derive(Debug, Clone, PartialEq)]
pub struct FixtureSummary {
    /// Inference samples.
    pub n_infer: usize,
    /// Learning samples.
    pub n_learn: usize,
    /// Bytes of `model.hebb`.
    pub model_bytes: usize,
    /// Bytes of `model8.hebb`.
    pub model8_bytes: usize,
    /// Correct predictions of the 16-bit model on the samples.
    pub correct16: usize,
    /// Correct predictions of the 8-bit model on the samples.
    pub correct8: usize,
    /// Samples where both widths predict the same class.
    pub agree: usize,
    /// Total winners over the learning samples.
    pub learn_winners: u64,
    /// CRC-32 of the learned weights.
    pub learn_crc: u32,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// CRC-32 of `u32` words as little-endian bytes (the feature checksum).
pub fn crc_words(words: &[u32]) -> u32 {
    let mut d = CRC.digest();
    for w in words {
        d.update(&w.to_le_bytes());
    }
    d.finalize()
}

/// CRC-32 of `u16` weights as little-endian bytes (the learned-weights checksum).
pub fn crc_weights(w: &[u16]) -> u32 {
    let mut d = CRC.digest();
    for x in w {
        d.update(&x.to_le_bytes());
    }
    d.finalize()
}

fn body_crc(model: &[u8]) -> Result<u32> {
    ensure!(model.len() >= HEADER_LEN, "model shorter than its header");
    Ok(u32::from_le_bytes([
        model[10], model[11], model[12], model[13],
    ]))
}

fn provenance(m: &Model<'_>) -> ProvenanceOwned {
    let p = &m.provenance;
    ProvenanceOwned {
        preset: p.preset.to_owned(),
        dataset: p.dataset.to_owned(),
        seed: p.seed,
        epochs: p.epochs.to_vec(),
        test_accuracy: p.test_accuracy,
    }
}

/// The 8-bit export of a model: Q0.8 layer weights, `i8` readout (a model that already is
/// 8-bit is returned as is).
pub fn export8(model_bytes: &[u8]) -> Result<Vec<u8>> {
    let m = Model::decode(model_bytes).context("decoding the model")?;
    if m.layers.iter().all(|l| l.bits == 8) && m.readout.is_none_or(|r| r.bits == 8) {
        return Ok(model_bytes.to_vec());
    }
    let net = Net::from_model(&m);
    net.to_bytes(&provenance(&m), &[], 8)
        .context("exporting 8-bit weights")
}

/// The host's prediction and feature checksum for each image (`n × rows × cols` pixels),
/// through `CpuBackend::features` and the model's readout.
pub fn infer_expectations(
    model_bytes: &[u8],
    images: &[u8],
    labels: &[u8],
) -> Result<Vec<InferExpect>> {
    let m = Model::decode(model_bytes).context("decoding the model")?;
    let readout = m
        .readout
        .context("the model has no readout: train one before exporting to firmware")?;
    let plane = m.encoder.n_in();
    ensure!(
        images.len() == labels.len() * plane,
        "{} labels but {} pixels of {}×{} images",
        labels.len(),
        images.len(),
        m.encoder.h(),
        m.encoder.w()
    );
    let net = Net::from_model(&m);
    let fs = CpuBackend::new()
        .features(&net, images)
        .context("host features")?;
    let nc = readout.n_classes as usize;
    let mut scores = vec![0i32; nc];
    (0..labels.len())
        .map(|i| {
            let bits = fs.sample(i);
            readout.scores(bits, &mut scores)?;
            let class = hebb_core::readout::argmax(&scores).unwrap_or(0);
            Ok(InferExpect {
                label: labels[i],
                class: u8::try_from(class).context("more than 256 classes")?,
                active: u16::try_from(fs.active(i).count()).context("too many features")?,
                crc: crc_words(bits),
            })
        })
        .collect()
}

/// Bytes of `samples.bin`.
pub fn samples_bin(
    model_bytes: &[u8],
    rows: usize,
    cols: usize,
    images: &[u8],
    expect: &[InferExpect],
) -> Result<Vec<u8>> {
    let m = Model::decode(model_bytes)?;
    let r = m.readout.context("the model has no readout")?;
    let nf = hebb_core::spikes::words(m.feature_shape().len());
    let px = rows * cols;
    ensure!(images.len() == expect.len() * px, "image count mismatch");
    let mut b = Vec::with_capacity(24 + expect.len() * (px + 8));
    b.extend_from_slice(&SAMPLES_MAGIC);
    b.extend_from_slice(&FIXTURE_VERSION.to_le_bytes());
    b.extend_from_slice(&u16::try_from(expect.len())?.to_le_bytes());
    b.extend_from_slice(&u16::try_from(rows)?.to_le_bytes());
    b.extend_from_slice(&u16::try_from(cols)?.to_le_bytes());
    b.extend_from_slice(&body_crc(model_bytes)?.to_le_bytes());
    b.extend_from_slice(&r.n_classes.to_le_bytes());
    b.extend_from_slice(&u16::try_from(nf)?.to_le_bytes());
    for (i, e) in expect.iter().enumerate() {
        b.extend_from_slice(&images[i * px..(i + 1) * px]);
        b.extend_from_slice(&[e.label, e.class]);
        b.extend_from_slice(&e.active.to_le_bytes());
        b.extend_from_slice(&e.crc.to_le_bytes());
    }
    let crc = CRC.checksum(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    Ok(b)
}

/// A parsed `samples.bin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamplesFile {
    /// Image rows.
    pub rows: usize,
    /// Image columns.
    pub cols: usize,
    /// Body CRC of the model the expectations belong to.
    pub model_crc: u32,
    /// Classes.
    pub n_classes: u16,
    /// Feature words.
    pub feature_words: u16,
    /// All images.
    pub images: Vec<u8>,
    /// Expectations.
    pub expect: Vec<InferExpect>,
}

fn le16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn frame<'a>(b: &'a [u8], magic: [u8; 4], header: usize, what: &str) -> Result<&'a [u8]> {
    ensure!(b.len() >= header + 4, "{what}: truncated");
    ensure!(b[..4] == magic, "{what}: bad magic");
    let v = le16(b, 4);
    ensure!(v == FIXTURE_VERSION, "{what}: unsupported version {v}");
    let (body, tail) = b.split_at(b.len() - 4);
    let (stored, computed) = (le32(tail, 0), CRC.checksum(body));
    ensure!(
        stored == computed,
        "{what}: CRC mismatch (stored {stored:#010x}, computed {computed:#010x})"
    );
    Ok(body)
}

/// Parses `samples.bin`.
pub fn parse_samples(b: &[u8]) -> Result<SamplesFile> {
    let body = frame(b, SAMPLES_MAGIC, 20, "samples.bin")?;
    let (n, rows, cols) = (
        le16(body, 6) as usize,
        le16(body, 8) as usize,
        le16(body, 10) as usize,
    );
    let px = rows * cols;
    ensure!(
        body.len() == 20 + n * (px + 8),
        "samples.bin: length does not match its header"
    );
    let mut images = Vec::with_capacity(n * px);
    let mut expect = Vec::with_capacity(n);
    for r in body[20..].chunks_exact(px + 8) {
        images.extend_from_slice(&r[..px]);
        expect.push(InferExpect {
            label: r[px],
            class: r[px + 1],
            active: le16(r, px + 2),
            crc: le32(r, px + 4),
        });
    }
    Ok(SamplesFile {
        rows,
        cols,
        model_crc: le32(body, 12),
        n_classes: le16(body, 16),
        feature_words: le16(body, 18),
        images,
        expect,
    })
}

/// The lines `infer` prints for these results (what the check script diffs).
pub fn infer_lines(expect: &[InferExpect]) -> String {
    let mut s = String::new();
    for (i, e) in expect.iter().enumerate() {
        let _ = writeln!(s, "result {i} pred {} crc {:#010x}", e.class, e.crc);
    }
    s
}

/// A parsed (or to be written) `learn.bin`.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnFile {
    /// Image rows.
    pub rows: usize,
    /// Image columns.
    pub cols: usize,
    /// Time steps.
    pub steps: u8,
    /// Training parameters of the layer.
    pub train: LayerTrain,
    /// Learning-rate state at the start.
    pub lr: LrState,
    /// The start model (`.hebb`, one layer, 16-bit weights).
    pub model: Vec<u8>,
    /// Training images.
    pub images: Vec<u8>,
    /// Expectation after each sample.
    pub expect: Vec<LearnExpect>,
    /// CRC-32 of the final weights.
    pub final_crc: u32,
}

/// Bytes of `learn.bin`.
pub fn learn_bin(f: &LearnFile) -> Result<Vec<u8>> {
    let n = f.expect.len();
    ensure!(
        f.images.len() == n * f.rows * f.cols,
        "image count mismatch"
    );
    let t = &f.train;
    let mut b = Vec::new();
    b.extend_from_slice(&LEARN_MAGIC);
    b.extend_from_slice(&FIXTURE_VERSION.to_le_bytes());
    b.extend_from_slice(&u16::try_from(n)?.to_le_bytes());
    b.extend_from_slice(&u16::try_from(f.rows)?.to_le_bytes());
    b.extend_from_slice(&u16::try_from(f.cols)?.to_le_bytes());
    b.push(f.steps);
    b.push(match t.stdp.rule {
        StdpRule::Multiplicative => 0,
        StdpRule::Additive => 1,
    });
    b.push(match t.wta.mode() {
        WtaMode::Global => 0,
        WtaMode::Local => 1,
        WtaMode::Both => 2,
    });
    b.push(t.wta.radius());
    b.extend_from_slice(&t.wta.k().to_le_bytes());
    b.push(u8::from(t.wta.pointwise()));
    b.push(0);
    for v in [t.stdp.a_plus, t.stdp.a_minus, t.a_plus_cap, t.double_every] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&f.lr.samples.to_le_bytes());
    b.extend_from_slice(&f.lr.current.a_plus.to_le_bytes());
    b.extend_from_slice(&f.lr.current.a_minus.to_le_bytes());
    b.extend_from_slice(&f.final_crc.to_le_bytes());
    b.extend_from_slice(&u32::try_from(f.model.len())?.to_le_bytes());
    debug_assert_eq!(b.len(), 60);
    b.extend_from_slice(&f.model);
    b.extend_from_slice(&f.images);
    for e in &f.expect {
        b.extend_from_slice(&e.winners.to_le_bytes());
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&e.crc.to_le_bytes());
    }
    let crc = CRC.checksum(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    Ok(b)
}

/// Parses `learn.bin`.
pub fn parse_learn(b: &[u8]) -> Result<LearnFile> {
    let body = frame(b, LEARN_MAGIC, 60, "learn.bin")?;
    let (n, rows, cols) = (
        le16(body, 6) as usize,
        le16(body, 8) as usize,
        le16(body, 10) as usize,
    );
    let ml = le32(body, 56) as usize;
    let px = rows * cols;
    ensure!(
        body.len() == 60 + ml + n * (px + 8),
        "learn.bin: length does not match its header"
    );
    let rule = match body[13] {
        0 => StdpRule::Multiplicative,
        1 => StdpRule::Additive,
        r => bail!("learn.bin: unknown STDP rule {r}"),
    };
    let mode = match body[14] {
        0 => WtaMode::Global,
        1 => WtaMode::Local,
        2 => WtaMode::Both,
        m => bail!("learn.bin: unknown WTA mode {m}"),
    };
    let train = LayerTrain {
        wta: WtaParams::new(mode, le16(body, 16), body[15], body[18] == 1)
            .map_err(|e| anyhow::anyhow!("learn.bin: {e}"))?,
        stdp: StdpParams {
            rule,
            a_plus: le32(body, 20),
            a_minus: le32(body, 24),
        },
        a_plus_cap: le32(body, 28),
        double_every: le32(body, 32),
        inhibit_input: false,
        batch: 1,
        homeostasis: None,
        rate_target: None,
    };
    let lr = LrState {
        samples: u64::from(le32(body, 36)) | (u64::from(le32(body, 40)) << 32),
        current: StdpParams {
            rule,
            a_plus: le32(body, 44),
            a_minus: le32(body, 48),
        },
    };
    let model = body[60..60 + ml].to_vec();
    let images = body[60 + ml..60 + ml + n * px].to_vec();
    let expect = body[60 + ml + n * px..]
        .chunks_exact(8)
        .map(|e| LearnExpect {
            winners: le16(e, 0),
            crc: le32(e, 4),
        })
        .collect();
    Ok(LearnFile {
        rows,
        cols,
        steps: body[12],
        train,
        lr,
        model,
        images,
        expect,
        final_crc: le32(body, 52),
    })
}

/// Runs the host's trainer (`CpuBackend::train`, one call per sample so that the state after
/// every sample is seen) on the start model's layer and returns the expectation after each
/// sample and the final weights. A second run over all samples in one call must end with the
/// same weights, else this is an error.
pub fn learn_expectations(
    model_bytes: &[u8],
    train: &LayerTrain,
    steps: u8,
    lr0: LrState,
    images: &[u8],
) -> Result<(Vec<LearnExpect>, Vec<u16>)> {
    let m = Model::decode(model_bytes).context("decoding the start model")?;
    ensure!(m.arch.len() == 1, "the learning fixture holds one layer");
    let net = Net::from_model(&m);
    let mut be = CpuBackend::new();
    let inputs = be.encode(&net, images).context("host encode")?;
    let job = TrainJob {
        arch: &net.arch[0],
        train,
        steps,
        inputs: &inputs,
    };
    let maps = net.arch[0].conv.out_c() as usize;
    let run = |order: &[u32], per_sample: bool| -> Result<(Vec<LearnExpect>, Vec<u16>)> {
        let mut be = CpuBackend::new();
        let mut w = net.weights[0].clone();
        let mut th = net.thresholds[0].clone();
        let mut lr = lr0;
        let mut wins = vec![0u32; maps];
        let mut stats = TrainStats::default();
        let mut out = Vec::new();
        let calls: Vec<&[u32]> = if per_sample {
            order.chunks(1).collect()
        } else {
            vec![order]
        };
        for call in calls {
            let before = stats.winners;
            let mut st = LayerState {
                weights: &mut w,
                thresholds: &mut th,
                lr: &mut lr,
                wins: &mut wins,
                stats: &mut stats,
            };
            be.train(&job, call, &mut st)?;
            if per_sample {
                out.push(LearnExpect {
                    winners: u16::try_from(stats.winners - before)?,
                    crc: crc_weights(&w),
                });
            }
        }
        Ok((out, w))
    };
    let order: Vec<u32> = (0..inputs.len() as u32).collect();
    let (expect, w) = run(&order, true)?;
    let (_, w_all) = run(&order, false)?;
    ensure!(
        w == w_all,
        "training sample by sample and in one call disagree"
    );
    Ok((expect, w))
}

/// The lines `learn` prints for these results.
pub fn learn_lines(expect: &[LearnExpect], final_crc: u32) -> String {
    let mut s = String::new();
    for (i, e) in expect.iter().enumerate() {
        let _ = writeln!(s, "learn {i} winners {} crc {:#010x}", e.winners, e.crc);
    }
    let _ = writeln!(s, "final crc {final_crc:#010x}");
    s
}

/// Builds the learning fixture: the first layer of a preset with `spec.maps` maps and fresh
/// start weights, trained by the host on `images`.
pub fn learn_fixture(
    model: &Model<'_>,
    rows: usize,
    cols: usize,
    images: &[u8],
    spec: &LearnSpec,
) -> Result<LearnFile> {
    let preset = match &spec.preset {
        Some(p) => p.clone(),
        None if TrainConfig::preset(model.provenance.preset).is_ok() => {
            model.provenance.preset.to_owned()
        }
        None => "mcu".to_owned(),
    };
    let mut cfg = TrainConfig::preset(&preset)?;
    ensure!(
        [cfg.input[0] as usize, cfg.input[1] as usize] == [rows, cols],
        "preset {preset} takes {}×{} images, the data set has {rows}×{cols}",
        cfg.input[0],
        cfg.input[1]
    );
    cfg.layers.truncate(1);
    cfg.layers[0].maps = spec.maps;
    let net = Net::from_config(&cfg, &mut Rng::new(spec.seed))?;
    let mut train = layer_train(&cfg.layers[0], 0)?;
    if let Some(d) = spec.double_every {
        train.double_every = d;
    }
    let prov = ProvenanceOwned {
        preset: format!("{preset} layer 1 ({} maps), learning fixture", spec.maps),
        dataset: model.provenance.dataset.to_owned(),
        seed: spec.seed,
        epochs: vec![0],
        test_accuracy: f32::NAN,
    };
    let start = net.to_bytes(&prov, &[], 16)?;
    let steps = net.encoder.steps();
    let lr = LrState {
        current: train.stdp,
        samples: 0,
    };
    let (expect, w) = learn_expectations(&start, &train, steps, lr, images)?;
    Ok(LearnFile {
        rows,
        cols,
        steps,
        train,
        lr,
        model: start,
        images: images.to_vec(),
        expect,
        final_crc: crc_weights(&w),
    })
}

/// Writes the firmware fixtures for `model_bytes` into `out_dir` (see the module docs):
/// the first `n_infer` test images for inference, the next `n_learn` for on-device learning.
pub fn write_fixtures(
    model_bytes: &[u8],
    test: &Dataset,
    out_dir: &Path,
    n_infer: usize,
    n_learn: usize,
) -> Result<FixtureSummary> {
    write_fixtures_with(
        model_bytes,
        test,
        out_dir,
        n_infer,
        n_learn,
        &LearnSpec::default(),
    )
}

/// [`write_fixtures`] with explicit learning-fixture parameters.
pub fn write_fixtures_with(
    model_bytes: &[u8],
    test: &Dataset,
    out_dir: &Path,
    n_infer: usize,
    n_learn: usize,
    spec: &LearnSpec,
) -> Result<FixtureSummary> {
    ensure!(
        n_infer >= 1 && n_learn >= 1,
        "need at least one sample of each kind"
    );
    ensure!(
        n_infer + n_learn <= test.len(),
        "{n_infer} + {n_learn} samples requested, the test set has {}",
        test.len()
    );
    ensure!(n_infer <= usize::from(u16::MAX) && n_learn <= usize::from(u16::MAX));
    let m = Model::decode(model_bytes).context("decoding the model")?;
    let (rows, cols) = (test.rows, test.cols);
    ensure!(
        (m.encoder.h() as usize, m.encoder.w() as usize) == (rows, cols),
        "the model takes {}×{} images, the test set has {rows}×{cols}",
        m.encoder.h(),
        m.encoder.w()
    );
    let px = rows * cols;
    let images = &test.images[..n_infer * px];
    let labels = &test.labels[..n_infer];
    let m8 = export8(model_bytes)?;
    let e16 = infer_expectations(model_bytes, images, labels)?;
    let e8 = infer_expectations(&m8, images, labels)?;
    let learn_images = &test.images[n_infer * px..(n_infer + n_learn) * px];
    let learn = learn_fixture(&m, rows, cols, learn_images, spec)?;

    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let files: Vec<(&str, Vec<u8>)> = vec![
        (MODEL16, model_bytes.to_vec()),
        (MODEL8, m8.clone()),
        (
            SAMPLES16,
            samples_bin(model_bytes, rows, cols, images, &e16)?,
        ),
        (SAMPLES8, samples_bin(&m8, rows, cols, images, &e8)?),
        (LEARN, learn_bin(&learn)?),
        (EXPECT16, infer_lines(&e16).into_bytes()),
        (EXPECT8, infer_lines(&e8).into_bytes()),
        (
            EXPECT_LEARN,
            learn_lines(&learn.expect, learn.final_crc).into_bytes(),
        ),
    ];
    let mut written = Vec::new();
    for (name, bytes) in files {
        let p = out_dir.join(name);
        crate::io::write_atomic(&p, &bytes).with_context(|| format!("writing {}", p.display()))?;
        written.push(p);
    }
    let correct = |e: &[InferExpect]| e.iter().filter(|x| x.class == x.label).count();
    Ok(FixtureSummary {
        n_infer,
        n_learn,
        model_bytes: model_bytes.len(),
        model8_bytes: m8.len(),
        correct16: correct(&e16),
        correct8: correct(&e8),
        agree: e16
            .iter()
            .zip(&e8)
            .filter(|(a, b)| a.class == b.class)
            .count(),
        learn_winners: learn.expect.iter().map(|e| u64::from(e.winners)).sum(),
        learn_crc: learn.final_crc,
        files: written,
    })
}

/// Recomputes every expectation stored in the fixtures of `dir` with the host's paths and
/// fails on the first difference: the model and its 8-bit export, both sample files and their
/// printed lines, and the learning fixture (re-trained by `CpuBackend::train`).
pub fn check_fixtures(dir: &Path) -> Result<()> {
    let read = |n: &str| -> Result<Vec<u8>> {
        let p = dir.join(n);
        std::fs::read(&p).with_context(|| format!("reading {}", p.display()))
    };
    let m16 = read(MODEL16)?;
    let m8 = read(MODEL8)?;
    ensure!(
        export8(&m16)? == m8,
        "{MODEL8} is not the 8-bit export of {MODEL16}"
    );
    for (model, samples, lines) in [(&m16, SAMPLES16, EXPECT16), (&m8, SAMPLES8, EXPECT8)] {
        let s = parse_samples(&read(samples)?)?;
        ensure!(
            s.model_crc == body_crc(model)?,
            "{samples} belongs to another model"
        );
        let labels: Vec<u8> = s.expect.iter().map(|e| e.label).collect();
        let host = infer_expectations(model, &s.images, &labels)?;
        for (i, (h, f)) in host.iter().zip(&s.expect).enumerate() {
            ensure!(
                h == f,
                "{samples} sample {i}: host computes {h:?}, file has {f:?}"
            );
        }
        ensure!(
            String::from_utf8(read(lines)?)? == infer_lines(&host),
            "{lines} differs from the host's results"
        );
    }
    let l = parse_learn(&read(LEARN)?)?;
    let (expect, w) = learn_expectations(&l.model, &l.train, l.steps, l.lr, &l.images)?;
    for (i, (h, f)) in expect.iter().zip(&l.expect).enumerate() {
        ensure!(
            h == f,
            "{LEARN} sample {i}: host computes {h:?}, file has {f:?}"
        );
    }
    ensure!(
        expect.len() == l.expect.len() && crc_weights(&w) == l.final_crc,
        "{LEARN}: final weights differ from the host's"
    );
    ensure!(
        String::from_utf8(read(EXPECT_LEARN)?)? == learn_lines(&expect, l.final_crc),
        "{EXPECT_LEARN} differs from the host's results"
    );
    Ok(())
}
