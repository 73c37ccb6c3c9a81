//! Firmware fixture of the Diehl & Cook family (`diehl.bin`, `diehl.expected.txt`): a trained
//! network run on the device for inference and label assignment, and a small network that
//! learns on the device.
//!
//! Three parts, all with the host's expectations inside:
//! * **inference**: the trained network (`Params` as postcard bytes, Q8.24 weights, θ,
//!   assignments, proportions) and test digits; each digit from rest, its Poisson stream seeded
//!   `digit_seed(seed, TAG_TEST, index, 0)` as the family's test pass and `predict` seed it;
//!   expected: presentations, spikes, the CRC of the spike counts and both votes
//!   ([`DiehlCook::predict_seeded`]);
//! * **assignment**: labelled training digits answered by the frozen network (seeds
//!   `digit_seed(seed, TAG_ASSIGN, index, 0)`, [`Network::respond`]), accumulated with
//!   `assign::accumulate`, assigned with [`Network::assign_from`]; expected: each digit's
//!   counts CRC and the CRCs of the assignments and proportions;
//! * **learning**: a network of `n_learn` neurons with the same constants from start weights
//!   drawn as the trainer draws them (`Network::new`, seed `digit_seed(seed, TAG_INIT, 0, 0)`),
//!   taught training digits in order (seeds `digit_seed(seed, TAG_TRAIN, 0, position)`, as the
//!   trainer's first epoch without shuffling, [`Network::learn`]); expected: the outcome and the
//!   CRCs of the weights and of θ after every digit.
//!
//! [`check_diehl_fixture`] recomputes every expectation from the file.
//!
//! Byte layout (integers little-endian; the `i32` arrays start at multiples of 4 so that the
//! device reads the weights in place; the file ends with a CRC-32 of all bytes before it):
//!
//! ```text
//!  0  b"HBDC"                    24  u64 seed of the digit streams (the model's config seed)
//!  4  u16 version (1)            32  P bytes: postcard `diehl_cook::Params`, zero-padded to 4
//!  6  u16 rows   8 u16 cols       …  n_in × n i32 weights (Q8.24, input-major)
//! 10  u16 classes                 …  n i32 θ (Q16.16)
//! 12  u16 n (trained network)     …  n × classes u32 proportions (Q16)
//! 14  u16 n_learn                 …  n u8 assignments (255: none), zero-padded to 4
//! 16  u16 inference digits        …  n_in × n_learn i32 start weights of the learning network
//! 18  u16 assignment digits       …  inference records, assignment records, learning records
//! 20  u16 learning digits         …  u32 host CRC of the assignments, u32 of the proportions
//! 22  u16 P                       …  u32 CRC-32 of the file so far
//! ```
//! Every record: u32 digit index (in its split), u64 stream seed, n_in pixels, u8 label,
//! 3 × u8 0, then the host's outcome: inference u32 presentations, u32 spikes, u32 counts CRC,
//! u8 class, u8 proportion class (255: no vote), u16 0; assignment u32 presentations,
//! u32 spikes, u32 counts CRC; learning u32 presentations, u32 spikes, u32 input spikes,
//! u32 weights CRC, u32 θ CRC. CRCs are CRC-32 of the `u32`/`i32` values (or the `u8`
//! assignments) as little-endian bytes.

use super::frame;
use super::local::crc_i32;
use crate::data::Split;
use crate::family::diehl_cook::config::DiehlCookConfig;
use crate::family::diehl_cook::model::{ModelFile, NetState, Network, TraceTables, Work};
use crate::family::diehl_cook::{DiehlCook, TAG_ASSIGN, TAG_INIT, TAG_TEST, TAG_TRAIN, digit_seed};
use crate::run::{ProgressConfig, RunOptions, RunOutcome, Trainer, run};
use anyhow::{Context, Result, bail, ensure};
use hebb_core::assign::{self, UNASSIGNED};
use hebb_core::diehl_cook::Params;
use hebb_core::model::CRC;
use hebb_core::rng::Rng;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Magic of `diehl.bin`.
pub const DIEHL_MAGIC: [u8; 4] = *b"HBDC";
/// The fixture.
pub const DIEHL: &str = "diehl.bin";
/// Lines `diehl` prints.
pub const EXPECT_DIEHL: &str = "diehl.expected.txt";
/// Bytes before the params.
pub const DIEHL_HEADER_LEN: usize = 32;
/// Bytes of a record besides its pixels, before the outcome.
pub const RECORD_HEAD_LEN: usize = 16;
/// Outcome bytes of an inference record.
pub const INFER_TAIL_LEN: usize = 16;
/// Outcome bytes of an assignment record.
pub const ASSIGN_TAIL_LEN: usize = 12;
/// Outcome bytes of a learning record.
pub const LEARN_TAIL_LEN: usize = 20;

/// CRC-32 of `u32` values as little-endian bytes (spike counts, proportions).
pub fn crc_u32(v: &[u32]) -> u32 {
    let mut d = CRC.digest();
    for x in v {
        d.update(&x.to_le_bytes());
    }
    d.finalize()
}

/// Parameters of the fixture.
#[derive(Debug, Clone, PartialEq)]
pub struct DiehlSpec {
    /// Test digits classified on the device (the first of the test split).
    pub infer: usize,
    /// Training digits the device assigns labels from (the first of the training split).
    pub assign: usize,
    /// Training digits the small network learns on the device (the next ones).
    pub learn: usize,
    /// Neurons of the learning network (RAM on the device: `4 · 784 · n` bytes of weights).
    pub learn_neurons: usize,
    /// Start weights of the learning network, `scale · (U + offset)` (the config's `init`).
    pub init: (f64, f64),
}

impl Default for DiehlSpec {
    fn default() -> Self {
        Self {
            infer: 8,
            assign: 20,
            learn: 4,
            learn_neurons: 20,
            init: (0.3, 0.01),
        }
    }
}

/// One digit of the fixture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digit {
    /// Index in its split.
    pub index: u32,
    /// Seed of its Poisson stream.
    pub seed: u64,
    /// Pixels.
    pub pixels: Vec<u8>,
    /// Label.
    pub label: u8,
}

/// What the host computes for one inference digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InferOutcome {
    /// Presentations.
    pub presentations: u32,
    /// Excitatory spikes of the last presentation.
    pub spikes: u32,
    /// CRC of the spike counts.
    pub crc: u32,
    /// All-activity vote ([`UNASSIGNED`]: none).
    pub class: u8,
    /// Proportion vote ([`UNASSIGNED`]: none).
    pub class_proportion: u8,
}

/// What the host computes for one assignment digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AssignOutcome {
    /// Presentations.
    pub presentations: u32,
    /// Excitatory spikes of the last presentation.
    pub spikes: u32,
    /// CRC of the spike counts.
    pub crc: u32,
}

/// What the host's learning reaches after one digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LearnOutcome {
    /// Presentations.
    pub presentations: u32,
    /// Excitatory spikes of the last presentation.
    pub spikes: u32,
    /// Input spikes over all presentations.
    pub input_spikes: u32,
    /// CRC of the weights after the digit.
    pub weights_crc: u32,
    /// CRC of θ after the digit.
    pub theta_crc: u32,
}

/// Every expectation of the fixture.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiehlExpect {
    /// Per inference digit.
    pub infer: Vec<InferOutcome>,
    /// Per assignment digit.
    pub assign: Vec<AssignOutcome>,
    /// CRC of the assignments made from the assignment digits.
    pub assignments_crc: u32,
    /// CRC of their proportions.
    pub proportions_crc: u32,
    /// Per learning digit.
    pub learn: Vec<LearnOutcome>,
}

/// A parsed (or to be written) `diehl.bin`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiehlFile {
    /// Image rows, columns.
    pub shape: (usize, usize),
    /// Classes.
    pub classes: usize,
    /// Seed of the digit streams.
    pub seed: u64,
    /// The trained network (its carried state is unused: every digit starts from rest).
    pub net: Network,
    /// Start weights of the learning network (`n_in × n_learn`).
    pub learn_start: Vec<i32>,
    /// Neurons of the learning network.
    pub learn_neurons: usize,
    /// Inference digits (test split).
    pub infer: Vec<Digit>,
    /// Assignment digits (training split).
    pub assign: Vec<Digit>,
    /// Learning digits (training split).
    pub learn: Vec<Digit>,
    /// The host's results.
    pub expect: DiehlExpect,
}

fn option_class(c: Option<u8>) -> u8 {
    c.unwrap_or(UNASSIGNED)
}

/// The learning network at its start: `learn_start`, θ = 0, the state of a new network.
pub fn learning_network(f: &DiehlFile) -> Result<Network> {
    let (n_in, n) = (f.net.n_in, f.learn_neurons);
    let mut theta = vec![0; n];
    let mut state = NetState::new(n_in, n);
    state.view(&mut theta).init(&f.net.params);
    let net = Network {
        n_in,
        shape: f.shape,
        n,
        classes: f.classes,
        params: f.net.params,
        w: f.learn_start.clone(),
        theta,
        state,
        assignments: vec![UNASSIGNED; n],
        proportions: vec![0; n * f.classes],
    };
    net.validate().context("learning network")?;
    Ok(net)
}

/// Recomputes every expectation of `f` with the family's host paths.
pub fn diehl_expectations(f: &DiehlFile) -> Result<DiehlExpect> {
    let net = &f.net;
    net.validate().context("trained network")?;
    let tables = TraceTables::new(&net.params)?;
    let mut e = DiehlExpect::default();
    for d in &f.infer {
        ensure!(
            d.seed == digit_seed(f.seed, TAG_TEST, u64::from(d.index), 0),
            "inference digit {}: seed is not the test pass's",
            d.index
        );
        let p = DiehlCook::predict_seeded(net, &tables, &d.pixels, d.seed)?;
        e.infer.push(InferOutcome {
            presentations: p.presentations,
            spikes: p.counts.iter().sum(),
            crc: crc_u32(&p.counts),
            class: option_class(p.class),
            class_proportion: option_class(p.class_proportion),
        });
    }
    let (n_in, n) = (net.n_in, net.n);
    let mut work = Work::new(n_in, n);
    let mut state = NetState::new(n_in, n);
    let mut resp = vec![0u32; n * f.classes];
    let mut class_n = vec![0u32; f.classes];
    for d in &f.assign {
        ensure!(
            d.seed == digit_seed(f.seed, TAG_ASSIGN, u64::from(d.index), 0),
            "assignment digit {}: seed is not the assignment pass's",
            d.index
        );
        let mut rng = Rng::new(d.seed);
        let o = net.respond(&tables, &mut work, &mut state, &d.pixels, &mut rng)?;
        assign::accumulate(&mut resp, &mut class_n, &work.counts, d.label)?;
        e.assign.push(AssignOutcome {
            presentations: o.presentations,
            spikes: o.spikes,
            crc: crc_u32(&work.counts),
        });
    }
    let mut assigned = net.clone();
    assigned.assign_from(&resp, &class_n)?;
    e.assignments_crc = CRC.checksum(&assigned.assignments);
    e.proportions_crc = crc_u32(&assigned.proportions);
    let mut ln = learning_network(f)?;
    let mut work = Work::new(n_in, ln.n);
    for (pos, d) in f.learn.iter().enumerate() {
        ensure!(
            d.seed == digit_seed(f.seed, TAG_TRAIN, 0, pos as u64),
            "learning digit {pos}: seed is not the trainer's"
        );
        let mut rng = Rng::new(d.seed);
        let o = ln.learn(&tables, &mut work, &d.pixels, &mut rng)?;
        e.learn.push(LearnOutcome {
            presentations: o.presentations,
            spikes: o.spikes,
            input_spikes: o.input_spikes,
            weights_crc: crc_i32(&ln.w),
            theta_crc: crc_i32(&ln.theta),
        });
    }
    Ok(e)
}

/// Builds the fixture for the trained network `net` (whose digit streams were seeded from
/// `seed`) on `split`: the first `spec.infer` test digits, the first `spec.assign` training
/// digits and the `spec.learn` after them.
pub fn diehl_fixture(
    net: &Network,
    seed: u64,
    split: &Split,
    spec: &DiehlSpec,
) -> Result<DiehlFile> {
    net.validate()?;
    ensure!(
        (split.test.rows, split.test.cols) == net.shape && split.train.n_classes == net.classes,
        "the data does not fit the network"
    );
    ensure!(
        spec.infer >= 1 && spec.assign >= 1 && spec.learn >= 1,
        "need at least one digit of each kind"
    );
    ensure!(
        spec.infer <= split.test.len() && spec.assign + spec.learn <= split.train.len(),
        "more digits requested than the data set has"
    );
    let digit = |d: &crate::data::Dataset, i: usize, s: u64| Digit {
        index: i as u32,
        seed: s,
        pixels: d.image(i).to_vec(),
        label: d.labels[i],
    };
    let infer = (0..spec.infer)
        .map(|i| digit(&split.test, i, digit_seed(seed, TAG_TEST, i as u64, 0)))
        .collect();
    let assign = (0..spec.assign)
        .map(|i| digit(&split.train, i, digit_seed(seed, TAG_ASSIGN, i as u64, 0)))
        .collect();
    let learn = (0..spec.learn)
        .map(|p| {
            digit(
                &split.train,
                spec.assign + p,
                digit_seed(seed, TAG_TRAIN, 0, p as u64),
            )
        })
        .collect();
    let start = Network::new(
        net.params,
        net.shape,
        spec.learn_neurons,
        net.classes,
        spec.init,
        digit_seed(seed, TAG_INIT, 0, 0),
    )?;
    let mut f = DiehlFile {
        shape: net.shape,
        classes: net.classes,
        seed,
        net: net.clone(),
        learn_start: start.w,
        learn_neurons: spec.learn_neurons,
        infer,
        assign,
        learn,
        expect: DiehlExpect::default(),
    };
    f.expect = diehl_expectations(&f)?;
    Ok(f)
}

fn pad4(b: &mut Vec<u8>) {
    while !b.len().is_multiple_of(4) {
        b.push(0);
    }
}

fn put_digit(b: &mut Vec<u8>, d: &Digit) {
    b.extend_from_slice(&d.index.to_le_bytes());
    b.extend_from_slice(&d.seed.to_le_bytes());
    b.extend_from_slice(&d.pixels);
    b.extend_from_slice(&[d.label, 0, 0, 0]);
}

/// Bytes of `diehl.bin`.
pub fn diehl_bin(f: &DiehlFile) -> Result<Vec<u8>> {
    let net = &f.net;
    let (n_in, n, nl, c) = (net.n_in, net.n, f.learn_neurons, f.classes);
    ensure!(
        f.learn_start.len() == n_in * nl,
        "learning weights are not inputs × neurons"
    );
    ensure!(
        f.expect.infer.len() == f.infer.len()
            && f.expect.assign.len() == f.assign.len()
            && f.expect.learn.len() == f.learn.len(),
        "expectations do not match the digits"
    );
    let params = postcard::to_stdvec(&net.params).context("encoding the params")?;
    let mut b = Vec::new();
    b.extend_from_slice(&DIEHL_MAGIC);
    b.extend_from_slice(&super::FIXTURE_VERSION.to_le_bytes());
    for v in [
        f.shape.0,
        f.shape.1,
        c,
        n,
        nl,
        f.infer.len(),
        f.assign.len(),
        f.learn.len(),
        params.len(),
    ] {
        b.extend_from_slice(&u16::try_from(v)?.to_le_bytes());
    }
    b.extend_from_slice(&f.seed.to_le_bytes());
    debug_assert_eq!(b.len(), DIEHL_HEADER_LEN);
    b.extend_from_slice(&params);
    pad4(&mut b);
    for x in net.w.iter().chain(&net.theta) {
        b.extend_from_slice(&x.to_le_bytes());
    }
    for x in &net.proportions {
        b.extend_from_slice(&x.to_le_bytes());
    }
    b.extend_from_slice(&net.assignments);
    pad4(&mut b);
    for x in &f.learn_start {
        b.extend_from_slice(&x.to_le_bytes());
    }
    for (d, e) in f.infer.iter().zip(&f.expect.infer) {
        ensure!(d.pixels.len() == n_in, "digit of {} pixels", d.pixels.len());
        put_digit(&mut b, d);
        for v in [e.presentations, e.spikes, e.crc] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&[e.class, e.class_proportion, 0, 0]);
    }
    for (d, e) in f.assign.iter().zip(&f.expect.assign) {
        ensure!(d.pixels.len() == n_in, "digit of {} pixels", d.pixels.len());
        put_digit(&mut b, d);
        for v in [e.presentations, e.spikes, e.crc] {
            b.extend_from_slice(&v.to_le_bytes());
        }
    }
    for (d, e) in f.learn.iter().zip(&f.expect.learn) {
        ensure!(d.pixels.len() == n_in, "digit of {} pixels", d.pixels.len());
        put_digit(&mut b, d);
        for v in [
            e.presentations,
            e.spikes,
            e.input_spikes,
            e.weights_crc,
            e.theta_crc,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
    }
    b.extend_from_slice(&f.expect.assignments_crc.to_le_bytes());
    b.extend_from_slice(&f.expect.proportions_crc.to_le_bytes());
    let crc = CRC.checksum(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    Ok(b)
}

/// A little-endian reader over a fixture body.
struct Reader<'a> {
    b: &'a [u8],
    o: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, k: usize) -> Result<&'a [u8]> {
        let s = self
            .b
            .get(self.o..self.o + k)
            .with_context(|| format!("{DIEHL}: truncated at byte {}", self.o))?;
        self.o += k;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from(self.u32()?) | (u64::from(self.u32()?) << 32))
    }
    fn i32s(&mut self, k: usize) -> Result<Vec<i32>> {
        (0..k).map(|_| Ok(self.u32()? as i32)).collect()
    }
    fn align4(&mut self) {
        self.o = self.o.next_multiple_of(4);
    }
    fn digit(&mut self, n_in: usize) -> Result<Digit> {
        let index = self.u32()?;
        let seed = self.u64()?;
        let pixels = self.take(n_in)?.to_vec();
        let label = self.take(4)?[0];
        Ok(Digit {
            index,
            seed,
            pixels,
            label,
        })
    }
}

/// Parses `diehl.bin` (the params are validated on decoding, the network by
/// [`Network::validate`]).
pub fn parse_diehl(b: &[u8]) -> Result<DiehlFile> {
    let body = frame(b, DIEHL_MAGIC, DIEHL_HEADER_LEN, DIEHL)?;
    let h = |k: usize| u16::from_le_bytes([body[6 + 2 * k], body[7 + 2 * k]]) as usize;
    let (rows, cols, c, n, nl) = (h(0), h(1), h(2), h(3), h(4));
    let (ni, na, nlearn, plen) = (h(5), h(6), h(7), h(8));
    let n_in = rows * cols;
    let mut r = Reader {
        b: body,
        o: DIEHL_HEADER_LEN,
    };
    let seed = {
        let mut s = Reader { b: body, o: 24 };
        s.u64()?
    };
    let params: Params = postcard::from_bytes(r.take(plen)?)
        .map_err(|e| anyhow::anyhow!("{DIEHL}: params malformed or invalid ({e})"))?;
    r.align4();
    let w = r.i32s(n_in * n)?;
    let theta = r.i32s(n)?;
    let proportions = (0..n * c).map(|_| r.u32()).collect::<Result<Vec<_>>>()?;
    let assignments = r.take(n)?.to_vec();
    r.align4();
    let learn_start = r.i32s(n_in * nl)?;
    let mut expect = DiehlExpect::default();
    let mut infer = Vec::new();
    for _ in 0..ni {
        infer.push(r.digit(n_in)?);
        let (presentations, spikes, crc) = (r.u32()?, r.u32()?, r.u32()?);
        let v = r.take(4)?;
        expect.infer.push(InferOutcome {
            presentations,
            spikes,
            crc,
            class: v[0],
            class_proportion: v[1],
        });
    }
    let mut assign = Vec::new();
    for _ in 0..na {
        assign.push(r.digit(n_in)?);
        expect.assign.push(AssignOutcome {
            presentations: r.u32()?,
            spikes: r.u32()?,
            crc: r.u32()?,
        });
    }
    let mut learn = Vec::new();
    for _ in 0..nlearn {
        learn.push(r.digit(n_in)?);
        expect.learn.push(LearnOutcome {
            presentations: r.u32()?,
            spikes: r.u32()?,
            input_spikes: r.u32()?,
            weights_crc: r.u32()?,
            theta_crc: r.u32()?,
        });
    }
    expect.assignments_crc = r.u32()?;
    expect.proportions_crc = r.u32()?;
    ensure!(
        r.o == body.len(),
        "{DIEHL}: length does not match its header"
    );
    let mut state = NetState::new(n_in, n);
    let mut th = theta.clone();
    state.view(&mut th).rest(&params);
    let net = Network {
        n_in,
        shape: (rows, cols),
        n,
        classes: c,
        params,
        w,
        theta,
        state,
        assignments,
        proportions,
    };
    net.validate().context(DIEHL)?;
    Ok(DiehlFile {
        shape: (rows, cols),
        classes: c,
        seed,
        net,
        learn_start,
        learn_neurons: nl,
        infer,
        assign,
        learn,
        expect,
    })
}

/// The lines `diehl` prints (class 255: no vote).
pub fn diehl_lines(f: &DiehlFile) -> String {
    let mut s = String::new();
    for (i, (d, e)) in f.infer.iter().zip(&f.expect.infer).enumerate() {
        let _ = writeln!(
            s,
            "infer {i} index {} label {} class {} proportion {} presentations {} spikes {} crc {:#010x}",
            d.index, d.label, e.class, e.class_proportion, e.presentations, e.spikes, e.crc
        );
    }
    for (i, (d, e)) in f.assign.iter().zip(&f.expect.assign).enumerate() {
        let _ = writeln!(
            s,
            "assign {i} index {} label {} presentations {} spikes {} crc {:#010x}",
            d.index, d.label, e.presentations, e.spikes, e.crc
        );
    }
    let _ = writeln!(
        s,
        "assigned crc {:#010x} proportions {:#010x}",
        f.expect.assignments_crc, f.expect.proportions_crc
    );
    for (i, (d, e)) in f.learn.iter().zip(&f.expect.learn).enumerate() {
        let _ = writeln!(
            s,
            "learn {i} index {} presentations {} spikes {} inputs {} weights {:#010x} theta {:#010x}",
            d.index, e.presentations, e.spikes, e.input_spikes, e.weights_crc, e.theta_crc
        );
    }
    s
}

/// What [`write_diehl_fixture`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct DiehlSummary {
    /// Inference digits whose all-activity vote is right.
    pub correct: usize,
    /// Of the proportion vote.
    pub correct_proportion: usize,
    /// Inference digits.
    pub infer: usize,
    /// Bytes of `diehl.bin`.
    pub bytes: usize,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// Writes `diehl.bin` and `diehl.expected.txt` for `net` into `out_dir`.
pub fn write_diehl_fixture(
    net: &Network,
    seed: u64,
    split: &Split,
    out_dir: &Path,
    spec: &DiehlSpec,
) -> Result<DiehlSummary> {
    let f = diehl_fixture(net, seed, split, spec)?;
    let bin = diehl_bin(&f)?;
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut files = Vec::new();
    for (name, bytes) in [
        (DIEHL, bin.clone()),
        (EXPECT_DIEHL, diehl_lines(&f).into_bytes()),
    ] {
        let p = out_dir.join(name);
        crate::io::write_atomic(&p, &bytes).with_context(|| format!("writing {}", p.display()))?;
        files.push(p);
    }
    let hits = |g: fn(&InferOutcome) -> u8| {
        f.infer
            .iter()
            .zip(&f.expect.infer)
            .filter(|(d, e)| g(e) == d.label)
            .count()
    };
    Ok(DiehlSummary {
        correct: hits(|e| e.class),
        correct_proportion: hits(|e| e.class_proportion),
        infer: f.infer.len(),
        bytes: bin.len(),
        files,
    })
}

/// The network and seed of a Diehl & Cook model file (`hebb train --preset diehl2015`).
pub fn read_model(bytes: &[u8]) -> Result<(Network, u64)> {
    let m = ModelFile::from_bytes(bytes)?;
    let cfg = DiehlCookConfig::from_toml_str(&m.config).context("the model's config")?;
    Ok((m.net, cfg.seed))
}

/// Trains `preset` (e.g. `diehl2015`) on the first `train_samples` training digits of `split`
/// with the family's trainer (one epoch, scored on `test_samples` test digits) and returns the
/// exported network and its seed.
pub fn train_model(
    preset: &str,
    split: &Split,
    train_samples: usize,
    test_samples: usize,
) -> Result<(Network, u64)> {
    let mut cfg = DiehlCookConfig::preset(preset)?;
    cfg.train_samples = train_samples;
    cfg.test_samples = test_samples;
    cfg.epochs = 1;
    let toml = cfg.to_toml();
    let mut t = DiehlCook::new(cfg, split)?;
    t.configure_progress(ProgressConfig { show: false });
    let opts = RunOptions {
        config_toml: toml,
        ..RunOptions::default()
    };
    match run(&mut t, split, None, &opts)? {
        RunOutcome::Done(report) => read_model(&report.model),
        RunOutcome::Interrupted(_) => bail!("training was interrupted"),
    }
}

/// Recomputes every expectation of `dir/diehl.bin` with the host and fails on the first
/// difference; checks `diehl.expected.txt` too.
pub fn check_diehl_fixture(dir: &Path) -> Result<()> {
    let read = |n: &str| -> Result<Vec<u8>> {
        let p = dir.join(n);
        std::fs::read(&p).with_context(|| format!("reading {}", p.display()))
    };
    let bytes = read(DIEHL)?;
    let f = parse_diehl(&bytes)?;
    let e = diehl_expectations(&f)?;
    let x = &f.expect;
    for (i, (h, s)) in e.infer.iter().zip(&x.infer).enumerate() {
        ensure!(
            h == s,
            "{DIEHL} inference digit {i}: host computes {h:?}, file has {s:?}"
        );
    }
    for (i, (h, s)) in e.assign.iter().zip(&x.assign).enumerate() {
        ensure!(
            h == s,
            "{DIEHL} assignment digit {i}: host computes {h:?}, file has {s:?}"
        );
    }
    ensure!(
        (e.assignments_crc, e.proportions_crc) == (x.assignments_crc, x.proportions_crc),
        "{DIEHL}: assignments differ from the host's"
    );
    for (i, (h, s)) in e.learn.iter().zip(&x.learn).enumerate() {
        ensure!(
            h == s,
            "{DIEHL} learning digit {i}: host computes {h:?}, file has {s:?}"
        );
    }
    ensure!(&e == x, "{DIEHL}: expectations differ from the host's");
    ensure!(diehl_bin(&f)? == bytes, "{DIEHL} does not round-trip");
    ensure!(
        String::from_utf8(read(EXPECT_DIEHL)?)? == diehl_lines(&f),
        "{EXPECT_DIEHL} differs from the host's results"
    );
    Ok(())
}
