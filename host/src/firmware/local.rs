//! Firmware fixtures of the local-rule family: a Hopfield memory (`hopfield.bin`) and two rate
//! rules on a Gaussian stream (`oja.bin`, `sanger.bin`), each with the lines the firmware must
//! print (`*.expected.txt`).
//!
//! The data come from the family's own generator ([`Task::build`]): random ±1 patterns with
//! noisy cues, and zero-mean Gaussian samples with known leading variances. The expectations
//! come from the host's paths: Hopfield storage by `Hebbian::plan`/`pack`/`rows` and recall by
//! [`Hopfield::recall`] (the family's `predict`, including its per-cue order seed), Oja and
//! Sanger by `oja_step`/`sanger_step` with `RateSchedule::rate(t)`, exactly the core calls the
//! device makes. [`check_local_fixtures`] recomputes everything from the files.
//!
//! Byte layouts (all integers little-endian; each file ends with a CRC-32 of all bytes before
//! it):
//!
//! ```text
//! hopfield.bin                                  oja.bin / sanger.bin
//!  0  b"HBHF"                                    0  b"HBRT"
//!  4  u16 version (1)                            4  u16 version (1)
//!  6  u16 n neurons                              6  u16 n inputs
//!  8  u16 p patterns                             8  u16 k outputs
//! 10  u16 c cues                                10  u16 m samples
//! 12  u8 mean (0 none, 1 global, 2 per pattern) 12  u16 a checkpoint every this many samples
//! 13  u8 zero diagonal 14 u8 normalize 15 u8 anti 14  u8 rule (0 Oja, 1 Sanger)
//! 16  u8 tie (0 keep, 1 plus, 2 zero)           15  u8 normalise rows (0/1)
//! 17  u8 0 ×3                                   16  u8 decay (0 constant, 1 1/t, 2 exponential)
//! 20  u32 max sweeps                            17  u8 0 ×3
//! 24  i64 threshold (field units)               20  i32 η0 (Q5.26)   24 i32 η min (Q5.26)
//! 32  u32 host CRC of the weights               28  u32 t0 (1/t) or γ (Q0.32, exponential)
//! 36  u32 scale shift  40 u64 scale denominator 32  u32 decay period (exponential, else 0)
//! 48  u64 seed of the cue order seeds           36  u32 host CRC of the final weights
//! 56  p × n i8 patterns                         40  k × n i32 start weights (Q5.26)
//!  …  n × n i32 weights (host storage)
//!  …  c × (n + 40) cue records:                  …  m × n i32 samples (Q5.26)
//!       u8 update (0 sync, 1 async), u8 0        …  ⌊m / every⌋ × u32 weights CRC after
//!       u16 target pattern, u16 flipped bits,         samples every−1, 2·every−1, …
//!       u16 0, u64 order seed, n × i8 cue        …  u32 CRC-32 of the file so far
//!       u32 sweeps, u8 converged, u8 cycle,
//!       u16 0, u32 final state CRC,
//!       i32 overlap Σ s·ξ with the target,
//!       i64 2·energy of the final state
//!  …  u32 CRC-32 of the file so far
//! ```
//! Weights CRC: CRC-32 of the `i32` weights (row-major) as little-endian bytes; state CRC the
//! same of the final `i32` state.

use super::frame;
use crate::family::rules::config::TaskConfig;
use crate::family::rules::model::{Hopfield, cue_seed};
use crate::family::rules::task::{CueKind, Task};
use anyhow::{Context, Result, bail, ensure};
use hebb_core::local::fixed;
use hebb_core::local::hebbian::{Hebbian, Mean, StoreOptions};
use hebb_core::local::hopfield::{Activation, Dynamics, RecallOutcome, Tie, Update, overlap};
use hebb_core::local::oja;
use hebb_core::model::CRC;
use hebb_core::rng::Rng;
use hebb_core::schedule::{Decay, RateSchedule};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Magic of `hopfield.bin`.
pub const HOPFIELD_MAGIC: [u8; 4] = *b"HBHF";
/// Magic of `oja.bin` and `sanger.bin`.
pub const RATE_MAGIC: [u8; 4] = *b"HBRT";
/// Hopfield fixture.
pub const HOPFIELD: &str = "hopfield.bin";
/// Oja fixture.
pub const OJA: &str = "oja.bin";
/// Sanger fixture.
pub const SANGER: &str = "sanger.bin";
/// Lines `hopfield` prints.
pub const EXPECT_HOPFIELD: &str = "hopfield.expected.txt";
/// Lines `oja` prints.
pub const EXPECT_OJA: &str = "oja.expected.txt";
/// Lines `sanger` prints.
pub const EXPECT_SANGER: &str = "sanger.expected.txt";
/// Bytes before the patterns in `hopfield.bin`.
pub const HOPFIELD_HEADER_LEN: usize = 56;
/// Bytes of a cue record besides its `n` states.
pub const CUE_EXTRA_LEN: usize = 40;
/// Bytes before the start weights in `oja.bin` / `sanger.bin`.
pub const RATE_HEADER_LEN: usize = 40;

/// CRC-32 of `i32` values as little-endian bytes (weights and states).
pub fn crc_i32(v: &[i32]) -> u32 {
    let mut d = CRC.digest();
    for x in v {
        d.update(&x.to_le_bytes());
    }
    d.finalize()
}

fn le16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn le64(b: &[u8], o: usize) -> u64 {
    u64::from(le32(b, o)) | (u64::from(le32(b, o + 4)) << 32)
}

fn seal(mut b: Vec<u8>) -> Vec<u8> {
    let crc = CRC.checksum(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

// --- Hopfield ----------------------------------------------------------------------------------

/// Parameters of the Hopfield fixture.
#[derive(Debug, Clone, PartialEq)]
pub struct HopfieldSpec {
    /// Neurons (RAM on the device: `4 n²` bytes of weights).
    pub neurons: usize,
    /// Random ±1 patterns stored.
    pub patterns: usize,
    /// Flipped fractions of the cues: one cue per pattern and fraction, recalled synchronously.
    pub noise: Vec<f64>,
    /// Of each fraction's cues, the first this many are also recalled asynchronously.
    pub async_cues: usize,
    /// Storage options.
    pub store: StoreOptions,
    /// Sweep cap of recall.
    pub max_sweeps: u32,
    /// Seed of the patterns, the cues and the asynchronous orders.
    pub seed: u64,
}

impl Default for HopfieldSpec {
    fn default() -> Self {
        Self {
            neurons: 100,
            patterns: 10,
            noise: vec![0.10, 0.25],
            async_cues: 3,
            store: StoreOptions {
                mean: Mean::Global,
                ..StoreOptions::default()
            },
            max_sweeps: 20,
            seed: 11,
        }
    }
}

/// One recall cue of the fixture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CueRecord {
    /// Update order.
    pub update: Update,
    /// The stored pattern it was made from.
    pub target: u16,
    /// Bits flipped.
    pub flipped: u16,
    /// Seed of the asynchronous update orders (`cue_seed(model seed, cue)`).
    pub seed: u64,
    /// The cue (±1).
    pub state: Vec<i8>,
    /// What the host's recall gives.
    pub expect: CueExpect,
}

/// What the host computes for one cue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CueExpect {
    /// How the recall ended.
    pub outcome: RecallOutcome,
    /// CRC-32 of the final state.
    pub crc: u32,
    /// `2E` of the final state (`Dynamics::energy2`).
    pub energy2: i64,
    /// `Σ s_i ξ_i` of the final state with the target pattern.
    pub overlap: i64,
}

/// A parsed (or to be written) `hopfield.bin`.
#[derive(Debug, Clone, PartialEq)]
pub struct HopfieldFile {
    /// Neurons.
    pub n: usize,
    /// Storage options.
    pub store: StoreOptions,
    /// Zero-field rule.
    pub tie: Tie,
    /// Sweep cap.
    pub max_sweeps: u32,
    /// Threshold, field units.
    pub theta: i64,
    /// The memory's seed: each cue's order seed is `cue_seed(seed, cue)`.
    pub seed: u64,
    /// Stored patterns (`p × n`, ±1).
    pub patterns: Vec<i8>,
    /// The host's weights (`n × n`).
    pub weights: Vec<i32>,
    /// Cues with expectations.
    pub cues: Vec<CueRecord>,
}

impl HopfieldFile {
    /// Patterns stored.
    pub fn p(&self) -> usize {
        self.patterns.len() / self.n.max(1)
    }
}

fn mean_code(m: Mean) -> u8 {
    match m {
        Mean::None => 0,
        Mean::Global => 1,
        Mean::PerPattern => 2,
    }
}

fn tie_code(t: Tie) -> u8 {
    match t {
        Tie::Keep => 0,
        Tie::Plus => 1,
        Tie::Zero => 2,
    }
}

/// Hebbian storage of `patterns` on the host: `Hebbian::plan`, `pack`, `rows` (all rows).
pub fn hebbian_weights(
    patterns: &[i8],
    n: usize,
    opts: StoreOptions,
) -> Result<(Vec<i32>, Hebbian)> {
    ensure!(
        n > 0 && patterns.len().is_multiple_of(n),
        "patterns are not rows of {n}"
    );
    let p = patterns.len() / n;
    let plan = Hebbian::plan(patterns, n, p, opts)?;
    let mut bits = vec![0u64; n * plan.words()];
    let mut sums = vec![0i64; n];
    plan.pack(patterns, &mut bits, &mut sums)?;
    let mut w = vec![0i32; n * n];
    plan.rows(&bits, &sums, 0, &mut w)?;
    Ok((w, plan))
}

/// The host's recall of one cue: the family's [`Hopfield::recall`] for the cue's update order,
/// then `energy2` and `overlap` of the final state.
pub fn recall_expectation(f: &HopfieldFile, unit: f64, cue: &CueRecord) -> Result<CueExpect> {
    let seed = f.seed;
    let n = f.n;
    let dynamics = Dynamics::new(n, cue.update, Activation::Sign, f.tie, f.theta, 1)?;
    let h = Hopfield {
        n,
        w: f.weights.clone(),
        unit,
        dynamics,
        max_sweeps: f.max_sweeps,
        stored: f.patterns.clone(),
        labels: Vec::new(),
        side: None,
        seed,
    };
    let s: Vec<i32> = cue.state.iter().map(|&v| i32::from(v)).collect();
    ensure!(
        cue_seed(seed, &s) == cue.seed,
        "cue order seed is not the family's seed of this cue"
    );
    let r = h.recall(&s)?;
    let e2 = dynamics.energy2(&f.weights, &r.state)?;
    let t = usize::from(cue.target);
    ensure!(t < f.p(), "cue target {t} beyond the {} patterns", f.p());
    let target: Vec<i32> = h.pattern(t).iter().map(|&v| i32::from(v)).collect();
    Ok(CueExpect {
        outcome: r.outcome,
        crc: crc_i32(&r.state),
        energy2: i64::try_from(e2).context("energy beyond i64")?,
        overlap: overlap(&r.state, &target),
    })
}

/// Builds the Hopfield fixture: patterns and cues from the family's random-pattern task,
/// weights by Hebbian storage, expectations by the family's recall.
pub fn hopfield_fixture(spec: &HopfieldSpec) -> Result<HopfieldFile> {
    let n = spec.neurons;
    let task = Task::build(
        &TaskConfig::RandomPatterns {
            neurons: n,
            patterns: spec.patterns,
            noise: spec.noise.clone(),
            cues_per_pattern: 1,
        },
        spec.seed,
    )?;
    let Task::Patterns { stored, cues, .. } = task else {
        bail!("internal: the random-pattern task gave no patterns");
    };
    let (weights, plan) = hebbian_weights(&stored, n, spec.store)?;
    let mut f = HopfieldFile {
        n,
        store: spec.store,
        tie: Tie::Keep,
        max_sweeps: spec.max_sweeps,
        theta: 0,
        seed: spec.seed,
        patterns: stored,
        weights,
        cues: Vec::new(),
    };
    let mut records = Vec::new();
    for update in [Update::Synchronous, Update::Asynchronous] {
        for (k, c) in cues.iter().enumerate() {
            let CueKind::Noisy(frac) = c.kind else {
                continue;
            };
            if update == Update::Asynchronous && k % spec.patterns >= spec.async_cues {
                continue;
            }
            let s: Vec<i32> = c.state.iter().map(|&v| i32::from(v)).collect();
            let target = &f.patterns[c.target * n..(c.target + 1) * n];
            let flipped = c.state.iter().zip(target).filter(|(a, b)| a != b).count();
            ensure!(
                flipped == ((frac * n as f64).floor() as usize).min(n),
                "cue {k}: {flipped} flipped bits"
            );
            records.push(CueRecord {
                update,
                target: u16::try_from(c.target)?,
                flipped: u16::try_from(flipped)?,
                seed: cue_seed(spec.seed, &s),
                state: c.state.clone(),
                expect: CueExpect {
                    outcome: RecallOutcome::default(),
                    crc: 0,
                    energy2: 0,
                    overlap: 0,
                },
            });
        }
    }
    let unit = plan.scale().unit();
    for r in &mut records {
        r.expect = recall_expectation(&f, unit, r)?;
    }
    f.cues = records;
    Ok(f)
}

/// Bytes of `hopfield.bin`.
pub fn hopfield_bin(f: &HopfieldFile) -> Result<Vec<u8>> {
    let n = f.n;
    ensure!(f.weights.len() == n * n, "weights are not n × n");
    let p = f.p();
    let plan = Hebbian::plan(&f.patterns, n, p, f.store)?;
    let mut b = Vec::new();
    b.extend_from_slice(&HOPFIELD_MAGIC);
    b.extend_from_slice(&super::FIXTURE_VERSION.to_le_bytes());
    for v in [n, p, f.cues.len()] {
        b.extend_from_slice(&u16::try_from(v)?.to_le_bytes());
    }
    let s = f.store;
    b.extend_from_slice(&[
        mean_code(s.mean),
        u8::from(s.zero_diagonal),
        u8::from(s.normalize),
        u8::from(s.anti),
        tie_code(f.tie),
        0,
        0,
        0,
    ]);
    b.extend_from_slice(&f.max_sweeps.to_le_bytes());
    b.extend_from_slice(&f.theta.to_le_bytes());
    b.extend_from_slice(&crc_i32(&f.weights).to_le_bytes());
    b.extend_from_slice(&plan.scale().shift.to_le_bytes());
    b.extend_from_slice(&plan.scale().den.to_le_bytes());
    b.extend_from_slice(&f.seed.to_le_bytes());
    debug_assert_eq!(b.len(), HOPFIELD_HEADER_LEN);
    b.extend(f.patterns.iter().map(|&v| v as u8));
    for w in &f.weights {
        b.extend_from_slice(&w.to_le_bytes());
    }
    for c in &f.cues {
        ensure!(c.state.len() == n, "cue of {} values", c.state.len());
        b.push(u8::from(c.update == Update::Asynchronous));
        b.push(0);
        b.extend_from_slice(&c.target.to_le_bytes());
        b.extend_from_slice(&c.flipped.to_le_bytes());
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&c.seed.to_le_bytes());
        b.extend(c.state.iter().map(|&v| v as u8));
        let e = &c.expect;
        b.extend_from_slice(&e.outcome.sweeps.to_le_bytes());
        b.extend_from_slice(&[
            u8::from(e.outcome.converged),
            u8::from(e.outcome.cycle),
            0,
            0,
        ]);
        b.extend_from_slice(&e.crc.to_le_bytes());
        b.extend_from_slice(&i32::try_from(e.overlap)?.to_le_bytes());
        b.extend_from_slice(&e.energy2.to_le_bytes());
    }
    Ok(seal(b))
}

/// Parses `hopfield.bin`.
pub fn parse_hopfield(b: &[u8]) -> Result<HopfieldFile> {
    let body = frame(b, HOPFIELD_MAGIC, HOPFIELD_HEADER_LEN, HOPFIELD)?;
    let (n, p, c) = (
        le16(body, 6) as usize,
        le16(body, 8) as usize,
        le16(body, 10) as usize,
    );
    let rec = n + CUE_EXTRA_LEN;
    ensure!(
        body.len() == HOPFIELD_HEADER_LEN + p * n + 4 * n * n + c * rec,
        "{HOPFIELD}: length does not match its header"
    );
    let mean = match body[12] {
        0 => Mean::None,
        1 => Mean::Global,
        2 => Mean::PerPattern,
        m => bail!("{HOPFIELD}: unknown mean {m}"),
    };
    let flag = |o: usize| -> Result<bool> {
        match body[o] {
            0 => Ok(false),
            1 => Ok(true),
            v => bail!("{HOPFIELD}: flag {v} at {o}"),
        }
    };
    let store = StoreOptions {
        mean,
        zero_diagonal: flag(13)?,
        normalize: flag(14)?,
        anti: flag(15)?,
    };
    let tie = match body[16] {
        0 => Tie::Keep,
        1 => Tie::Plus,
        2 => Tie::Zero,
        t => bail!("{HOPFIELD}: unknown tie rule {t}"),
    };
    let mut o = HOPFIELD_HEADER_LEN;
    let patterns: Vec<i8> = body[o..o + p * n].iter().map(|&v| v as i8).collect();
    o += p * n;
    let weights: Vec<i32> = body[o..o + 4 * n * n]
        .chunks_exact(4)
        .map(|x| i32::from_le_bytes([x[0], x[1], x[2], x[3]]))
        .collect();
    o += 4 * n * n;
    ensure!(
        crc_i32(&weights) == le32(body, 32),
        "{HOPFIELD}: weights CRC differs from the header's"
    );
    let cues = body[o..]
        .chunks_exact(rec)
        .map(|r| {
            let e = &r[16 + n..];
            Ok(CueRecord {
                update: match r[0] {
                    0 => Update::Synchronous,
                    1 => Update::Asynchronous,
                    u => bail!("{HOPFIELD}: unknown update order {u}"),
                },
                target: le16(r, 2),
                flipped: le16(r, 4),
                seed: le64(r, 8),
                state: r[16..16 + n].iter().map(|&v| v as i8).collect(),
                expect: CueExpect {
                    outcome: RecallOutcome {
                        sweeps: le32(e, 0),
                        converged: e[4] == 1,
                        cycle: e[5] == 1,
                    },
                    crc: le32(e, 8),
                    overlap: i64::from(le32(e, 12) as i32),
                    energy2: le64(e, 16) as i64,
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(HopfieldFile {
        n,
        store,
        tie,
        max_sweeps: le32(body, 20),
        theta: le64(body, 24) as i64,
        seed: le64(body, 48),
        patterns,
        weights,
        cues,
    })
}

/// The lines `hopfield` prints.
pub fn hopfield_lines(f: &HopfieldFile) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "store crc {:#010x}", crc_i32(&f.weights));
    for (i, c) in f.cues.iter().enumerate() {
        let e = &c.expect;
        let _ = writeln!(
            s,
            "cue {i} {} target {} flipped {} sweeps {} converged {} cycle {} overlap {} crc {:#010x} energy2 {}",
            match c.update {
                Update::Synchronous => "sync",
                Update::Asynchronous => "async",
            },
            c.target,
            c.flipped,
            e.outcome.sweeps,
            u8::from(e.outcome.converged),
            u8::from(e.outcome.cycle),
            e.overlap,
            e.crc,
            e.energy2
        );
    }
    s
}

// --- Oja and Sanger ----------------------------------------------------------------------------

/// The rate rule of a fixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateRule {
    /// `oja_step`.
    Oja,
    /// `sanger_step`.
    Sanger,
}

impl RateRule {
    /// The name the firmware prints.
    pub fn name(self) -> &'static str {
        match self {
            Self::Oja => "oja",
            Self::Sanger => "sanger",
        }
    }
}

/// Parameters of a rate-rule fixture.
#[derive(Debug, Clone, PartialEq)]
pub struct RateSpec {
    /// The rule.
    pub rule: RateRule,
    /// Outputs (rows).
    pub outputs: usize,
    /// Input dimension.
    pub dim: usize,
    /// Leading variances of the Gaussian stream.
    pub variances: Vec<f64>,
    /// Variance of the other dimensions.
    pub rest: f64,
    /// Samples.
    pub samples: usize,
    /// Checkpoint every this many samples.
    pub every: usize,
    /// Initial rate.
    pub eta0: f64,
    /// `1/t` half-life (`η = η0 t0 / (t0 + t)`).
    pub t0: u32,
    /// Renormalise rows after each step.
    pub normalize: bool,
    /// Seed of the stream and of the start weights.
    pub seed: u64,
}

impl RateSpec {
    /// The Oja fixture: one row on a 16-D stream with variances 9.25, 4.25, 2.25, 13 × 0.25.
    pub fn oja() -> Self {
        Self {
            rule: RateRule::Oja,
            outputs: 1,
            dim: 16,
            variances: vec![9.25, 4.25, 2.25],
            rest: 0.25,
            samples: 500,
            every: 50,
            eta0: 0.01,
            t0: 100,
            normalize: false,
            seed: 21,
        }
    }
    /// The Sanger fixture: three rows on the same kind of stream (another seed).
    pub fn sanger() -> Self {
        Self {
            rule: RateRule::Sanger,
            outputs: 3,
            seed: 22,
            ..Self::oja()
        }
    }
}

/// A parsed (or to be written) `oja.bin` / `sanger.bin`.
#[derive(Debug, Clone, PartialEq)]
pub struct RateFile {
    /// The rule.
    pub rule: RateRule,
    /// Inputs.
    pub n: usize,
    /// Outputs.
    pub k: usize,
    /// Checkpoint period.
    pub every: usize,
    /// Row renormalisation.
    pub normalize: bool,
    /// The schedule.
    pub schedule: RateSchedule,
    /// Start weights (`k × n`, Q5.26).
    pub start: Vec<i32>,
    /// Samples (`m × n`, Q5.26).
    pub samples: Vec<i32>,
    /// Weights CRC at each checkpoint.
    pub checkpoints: Vec<u32>,
    /// Final weights CRC.
    pub final_crc: u32,
}

/// The host's run of a rate fixture: `rule` step per sample with `schedule.rate(t)`; the CRC at
/// every checkpoint and the final weights.
pub fn rate_expectations(f: &RateFile) -> Result<(Vec<u32>, Vec<i32>)> {
    let (n, k) = (f.n, f.k);
    ensure!(n > 0 && k > 0 && f.every > 0, "empty layer or period");
    ensure!(
        f.start.len() == k * n && f.samples.len().is_multiple_of(n),
        "shapes"
    );
    let mut w = f.start.clone();
    let mut resid = vec![0i128; n];
    let mut y = vec![0i32; k];
    let mut checkpoints = Vec::new();
    for (t, x) in f.samples.chunks_exact(n).enumerate() {
        let eta = f.schedule.rate(t as u64);
        match f.rule {
            RateRule::Oja => oja::oja_step(&mut w, n, x, eta, f.normalize)?,
            RateRule::Sanger => {
                oja::sanger_step(&mut w, n, x, eta, f.normalize, &mut resid, &mut y)?
            }
        }
        if (t + 1) % f.every == 0 {
            checkpoints.push(crc_i32(&w));
        }
    }
    Ok((checkpoints, w))
}

/// Builds a rate fixture: the family's Gaussian task, start weights `N(0, 1/dim)`, the host's
/// run. Also returns `|cos|` of each final row with the generating component of its rank.
pub fn rate_fixture(spec: &RateSpec) -> Result<(RateFile, Vec<f64>)> {
    let d = spec.dim;
    let task = Task::build(
        &TaskConfig::Gaussian {
            dim: d,
            variances: spec.variances.clone(),
            rest: spec.rest,
            samples: spec.samples,
        },
        spec.seed,
    )?;
    let Task::Vectors { x, components, .. } = task else {
        bail!("internal: the Gaussian task gave no vectors");
    };
    let mut rng = Rng::new(spec.seed ^ 0x5EED);
    let sd = 1.0 / (d as f64).sqrt();
    let start = (0..spec.outputs * d)
        .map(|_| fixed::from_f64(sd * rng.normal()))
        .collect::<hebb_core::Result<Vec<i32>>>()?;
    let mut f = RateFile {
        rule: spec.rule,
        n: d,
        k: spec.outputs,
        every: spec.every,
        normalize: spec.normalize,
        schedule: RateSchedule::new(
            fixed::from_f64(spec.eta0)?,
            0,
            Decay::InverseTime { t0: spec.t0 },
        )?,
        start,
        samples: x,
        checkpoints: Vec::new(),
        final_crc: 0,
    };
    let (cp, w) = rate_expectations(&f)?;
    f.checkpoints = cp;
    f.final_crc = crc_i32(&w);
    let cos = w
        .chunks_exact(d)
        .zip(components.chunks_exact(d))
        .map(|(r, c)| {
            let r: Vec<f64> = r.iter().map(|&v| fixed::to_f64(v)).collect();
            let dot: f64 = r.iter().zip(c).map(|(a, b)| a * b).sum();
            let nr = r.iter().map(|a| a * a).sum::<f64>().sqrt();
            (dot / nr.max(1e-300)).abs()
        })
        .collect();
    Ok((f, cos))
}

/// Bytes of `oja.bin` / `sanger.bin`.
pub fn rate_bin(f: &RateFile) -> Result<Vec<u8>> {
    let m = f.samples.len() / f.n.max(1);
    ensure!(
        f.checkpoints.len() == m / f.every.max(1),
        "checkpoint count"
    );
    let mut b = Vec::new();
    b.extend_from_slice(&RATE_MAGIC);
    b.extend_from_slice(&super::FIXTURE_VERSION.to_le_bytes());
    for v in [f.n, f.k, m, f.every] {
        b.extend_from_slice(&u16::try_from(v)?.to_le_bytes());
    }
    let (decay, a, c) = match f.schedule.decay() {
        Decay::Constant => (0u8, 0u32, 0u32),
        Decay::InverseTime { t0 } => (1, t0, 0),
        Decay::Exponential { gamma, every } => (2, gamma, every),
    };
    b.extend_from_slice(&[
        match f.rule {
            RateRule::Oja => 0,
            RateRule::Sanger => 1,
        },
        u8::from(f.normalize),
        decay,
        0,
        0,
        0,
    ]);
    b.extend_from_slice(&f.schedule.eta0().to_le_bytes());
    b.extend_from_slice(&f.schedule.eta_min().to_le_bytes());
    b.extend_from_slice(&a.to_le_bytes());
    b.extend_from_slice(&c.to_le_bytes());
    b.extend_from_slice(&f.final_crc.to_le_bytes());
    debug_assert_eq!(b.len(), RATE_HEADER_LEN);
    for v in f.start.iter().chain(&f.samples) {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for c in &f.checkpoints {
        b.extend_from_slice(&c.to_le_bytes());
    }
    Ok(seal(b))
}

/// Parses `oja.bin` / `sanger.bin`.
pub fn parse_rate(b: &[u8], what: &str) -> Result<RateFile> {
    let body = frame(b, RATE_MAGIC, RATE_HEADER_LEN, what)?;
    let (n, k, m, every) = (
        le16(body, 6) as usize,
        le16(body, 8) as usize,
        le16(body, 10) as usize,
        le16(body, 12) as usize,
    );
    ensure!(n > 0 && k > 0 && every > 0, "{what}: empty layer or period");
    let cps = m / every;
    ensure!(
        body.len() == RATE_HEADER_LEN + 4 * (k * n + m * n + cps),
        "{what}: length does not match its header"
    );
    let rule = match body[14] {
        0 => RateRule::Oja,
        1 => RateRule::Sanger,
        r => bail!("{what}: unknown rule {r}"),
    };
    let (a, c) = (le32(body, 28), le32(body, 32));
    let decay = match body[16] {
        0 => Decay::Constant,
        1 => Decay::InverseTime { t0: a },
        2 => Decay::Exponential { gamma: a, every: c },
        d => bail!("{what}: unknown decay {d}"),
    };
    let schedule = RateSchedule::new(le32(body, 20) as i32, le32(body, 24) as i32, decay)?;
    let words: Vec<i32> = body[RATE_HEADER_LEN..]
        .chunks_exact(4)
        .map(|x| i32::from_le_bytes([x[0], x[1], x[2], x[3]]))
        .collect();
    let (start, rest) = words.split_at(k * n);
    let (samples, cp) = rest.split_at(m * n);
    Ok(RateFile {
        rule,
        n,
        k,
        every,
        normalize: body[15] == 1,
        schedule,
        start: start.to_vec(),
        samples: samples.to_vec(),
        checkpoints: cp.iter().map(|&v| v as u32).collect(),
        final_crc: le32(body, 36),
    })
}

/// The lines `oja` / `sanger` print.
pub fn rate_lines(f: &RateFile) -> String {
    let mut s = String::new();
    for (i, c) in f.checkpoints.iter().enumerate() {
        let _ = writeln!(
            s,
            "{} {} crc {c:#010x}",
            f.rule.name(),
            (i + 1) * f.every - 1
        );
    }
    let _ = writeln!(s, "final crc {:#010x}", f.final_crc);
    s
}

// --- Writing and checking ----------------------------------------------------------------------

/// Parameters of all local-rule fixtures.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalSpec {
    /// Hopfield memory.
    pub hopfield: HopfieldSpec,
    /// Oja.
    pub oja: RateSpec,
    /// Sanger.
    pub sanger: RateSpec,
}

impl Default for LocalSpec {
    fn default() -> Self {
        Self {
            hopfield: HopfieldSpec::default(),
            oja: RateSpec::oja(),
            sanger: RateSpec::sanger(),
        }
    }
}

/// What [`write_local_fixtures`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalSummary {
    /// Hopfield cues.
    pub cues: usize,
    /// Cues that end on their target pattern (overlap `n`).
    pub recalled: usize,
    /// CRC-32 of the stored weights.
    pub weights_crc: u32,
    /// `|cos|` of the Oja row with the top component.
    pub oja_cos: Vec<f64>,
    /// `|cos|` of each Sanger row with the component of its rank.
    pub sanger_cos: Vec<f64>,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// Writes `hopfield.bin`, `oja.bin`, `sanger.bin` and their `*.expected.txt` into `out_dir`.
pub fn write_local_fixtures(out_dir: &Path, spec: &LocalSpec) -> Result<LocalSummary> {
    let h = hopfield_fixture(&spec.hopfield)?;
    let (o, oja_cos) = rate_fixture(&spec.oja)?;
    let (s, sanger_cos) = rate_fixture(&spec.sanger)?;
    ensure!(
        o.rule == RateRule::Oja && s.rule == RateRule::Sanger,
        "rules swapped"
    );
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let files: Vec<(&str, Vec<u8>)> = vec![
        (HOPFIELD, hopfield_bin(&h)?),
        (EXPECT_HOPFIELD, hopfield_lines(&h).into_bytes()),
        (OJA, rate_bin(&o)?),
        (EXPECT_OJA, rate_lines(&o).into_bytes()),
        (SANGER, rate_bin(&s)?),
        (EXPECT_SANGER, rate_lines(&s).into_bytes()),
    ];
    let mut written = Vec::new();
    for (name, bytes) in files {
        let p = out_dir.join(name);
        crate::io::write_atomic(&p, &bytes).with_context(|| format!("writing {}", p.display()))?;
        written.push(p);
    }
    Ok(LocalSummary {
        cues: h.cues.len(),
        recalled: h
            .cues
            .iter()
            .filter(|c| c.expect.overlap == h.n as i64)
            .count(),
        weights_crc: crc_i32(&h.weights),
        oja_cos,
        sanger_cos,
        files: written,
    })
}

/// Recomputes every expectation of the local-rule fixtures in `dir` with the host and fails on
/// the first difference: Hopfield weights, scale and every recall, the Oja and Sanger
/// checkpoints, and the three `*.expected.txt` files.
pub fn check_local_fixtures(dir: &Path) -> Result<()> {
    let read = |n: &str| -> Result<Vec<u8>> {
        let p = dir.join(n);
        std::fs::read(&p).with_context(|| format!("reading {}", p.display()))
    };
    let bytes = read(HOPFIELD)?;
    let h = parse_hopfield(&bytes)?;
    let (w, plan) = hebbian_weights(&h.patterns, h.n, h.store)?;
    ensure!(
        w == h.weights,
        "{HOPFIELD}: weights differ from the host's storage"
    );
    let body = &bytes[..bytes.len() - 4];
    ensure!(
        (le32(body, 36), le64(body, 40)) == (plan.scale().shift, plan.scale().den),
        "{HOPFIELD}: weight scale differs from the host's plan"
    );
    let unit = plan.scale().unit();
    for (i, c) in h.cues.iter().enumerate() {
        let e = recall_expectation(&h, unit, c)?;
        ensure!(
            e == c.expect,
            "{HOPFIELD} cue {i}: host computes {e:?}, file has {:?}",
            c.expect
        );
    }
    ensure!(hopfield_bin(&h)? == bytes, "{HOPFIELD} does not round-trip");
    ensure!(
        String::from_utf8(read(EXPECT_HOPFIELD)?)? == hopfield_lines(&h),
        "{EXPECT_HOPFIELD} differs from the host's results"
    );
    for (name, lines, rule) in [
        (OJA, EXPECT_OJA, RateRule::Oja),
        (SANGER, EXPECT_SANGER, RateRule::Sanger),
    ] {
        let bytes = read(name)?;
        let f = parse_rate(&bytes, name)?;
        ensure!(f.rule == rule, "{name} holds the {} rule", f.rule.name());
        let (cp, w) = rate_expectations(&f)?;
        for (i, (h, c)) in cp.iter().zip(&f.checkpoints).enumerate() {
            ensure!(
                h == c,
                "{name} checkpoint {i}: host computes {h:#010x}, file has {c:#010x}"
            );
        }
        ensure!(
            cp.len() == f.checkpoints.len() && crc_i32(&w) == f.final_crc,
            "{name}: final weights differ from the host's"
        );
        ensure!(rate_bin(&f)? == bytes, "{name} does not round-trip");
        ensure!(
            String::from_utf8(read(lines)?)? == rate_lines(&f),
            "{lines} differs from the host's results"
        );
    }
    Ok(())
}
