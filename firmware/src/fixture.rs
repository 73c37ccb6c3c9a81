//! Readers of the fixture files the host writes beside the model (`samples.bin`, `learn.bin`)
//! and of the local-rule fixtures (`hopfield.bin`, `oja.bin`, `sanger.bin`).
//!
//! This file is compiled twice: into the firmware library and, through `#[path]`, into
//! `build.rs` (which sizes the static buffers from the fixtures). It uses only `core` and
//! `hebb-core`. The writer is `hebb::firmware` on the host; `firmware/README.md` documents the
//! byte layout. Every integer is little-endian; every file ends with a CRC-32 (ISO-HDLC, as
//! zlib, [`hebb_core::model::CRC`]) of all the bytes before it.

use hebb_core::model::CRC;

/// Magic of `samples.bin`.
pub const SAMPLES_MAGIC: [u8; 4] = *b"HBSM";
/// Magic of `learn.bin`.
pub const LEARN_MAGIC: [u8; 4] = *b"HBLN";
/// Magic of `hopfield.bin`.
pub const HOPFIELD_MAGIC: [u8; 4] = *b"HBHF";
/// Magic of `oja.bin` and `sanger.bin`.
pub const RATE_MAGIC: [u8; 4] = *b"HBRT";
/// Version of every fixture format.
pub const FIXTURE_VERSION: u16 = 1;
/// Bytes before the sample records in `samples.bin`.
pub const SAMPLES_HEADER_LEN: usize = 20;
/// Bytes after the image of one `samples.bin` record.
pub const SAMPLE_TAIL_LEN: usize = 8;
/// Bytes before the embedded model in `learn.bin`.
pub const LEARN_HEADER_LEN: usize = 60;
/// Bytes of one per-sample expectation in `learn.bin`.
pub const LEARN_EXPECT_LEN: usize = 8;
/// Bytes before the patterns in `hopfield.bin`.
pub const HOPFIELD_HEADER_LEN: usize = 56;
/// Bytes of a `hopfield.bin` cue record besides its `n` states.
pub const CUE_EXTRA_LEN: usize = 40;
/// Bytes before the start weights in `oja.bin` / `sanger.bin`.
pub const RATE_HEADER_LEN: usize = 40;

/// What is wrong with a fixture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(target_os = "none", derive(defmt::Format))]
pub enum FixtureError {
    /// The file does not start with the expected magic.
    BadMagic,
    /// Written by a format version this build does not read.
    UnsupportedVersion(u16),
    /// The file is shorter or longer than its header says.
    BadLength {
        /// Bytes the header implies.
        expected: usize,
        /// Bytes present.
        got: usize,
    },
    /// The trailing CRC-32 does not match the contents.
    CrcMismatch {
        /// CRC stored in the file.
        stored: u32,
        /// CRC computed over the file.
        computed: u32,
    },
    /// A header field is out of range.
    Invalid(&'static str),
}

#[inline]
fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

#[inline]
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

#[inline]
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from(u32_at(b, o)) | (u64::from(u32_at(b, o + 4)) << 32)
}

/// Checks magic, version and the trailing CRC; returns the bytes before the CRC.
fn frame(b: &[u8], magic: [u8; 4], header: usize) -> Result<&[u8], FixtureError> {
    if b.len() < 4 || b[..4] != magic {
        return Err(FixtureError::BadMagic);
    }
    if b.len() < header + 4 {
        return Err(FixtureError::BadLength {
            expected: header + 4,
            got: b.len(),
        });
    }
    let v = u16_at(b, 4);
    if v != FIXTURE_VERSION {
        return Err(FixtureError::UnsupportedVersion(v));
    }
    let (body, tail) = b.split_at(b.len() - 4);
    let stored = u32_at(tail, 0);
    let computed = CRC.checksum(body);
    if stored != computed {
        return Err(FixtureError::CrcMismatch { stored, computed });
    }
    Ok(body)
}

/// `samples.bin`: test images with the host's expected prediction and feature checksum.
#[derive(Debug, Clone, Copy)]
pub struct Samples<'a> {
    /// Number of samples.
    pub n: u16,
    /// Image rows.
    pub rows: u16,
    /// Image columns.
    pub cols: u16,
    /// CRC of the model body these expectations belong to (bytes 10..14 of the `.hebb` file).
    pub model_crc: u32,
    /// Classes of the readout.
    pub n_classes: u16,
    /// Words of the feature bit set.
    pub feature_words: u16,
    records: &'a [u8],
}

/// One record of `samples.bin`.
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    /// `rows × cols` pixels, row-major.
    pub image: &'a [u8],
    /// True label.
    pub label: u8,
    /// Class the host predicts.
    pub expected_class: u8,
    /// Active features the host counts.
    pub expected_active: u16,
    /// CRC-32 of the host's feature bit-set words as little-endian bytes.
    pub expected_crc: u32,
}

impl<'a> Samples<'a> {
    /// Parses and checks a `samples.bin` image.
    pub fn parse(b: &'a [u8]) -> Result<Self, FixtureError> {
        let body = frame(b, SAMPLES_MAGIC, SAMPLES_HEADER_LEN)?;
        let (n, rows, cols) = (u16_at(body, 6), u16_at(body, 8), u16_at(body, 10));
        if rows == 0 || cols == 0 {
            return Err(FixtureError::Invalid("empty images"));
        }
        let rec = rows as usize * cols as usize + SAMPLE_TAIL_LEN;
        let expected = SAMPLES_HEADER_LEN + n as usize * rec;
        if body.len() != expected {
            return Err(FixtureError::BadLength {
                expected: expected + 4,
                got: b.len(),
            });
        }
        Ok(Self {
            n,
            rows,
            cols,
            model_crc: u32_at(body, 12),
            n_classes: u16_at(body, 16),
            feature_words: u16_at(body, 18),
            records: &body[SAMPLES_HEADER_LEN..],
        })
    }

    /// Record `i` (`i < n`).
    pub fn get(&self, i: usize) -> Sample<'a> {
        let px = self.rows as usize * self.cols as usize;
        let r = &self.records[i * (px + SAMPLE_TAIL_LEN)..(i + 1) * (px + SAMPLE_TAIL_LEN)];
        Sample {
            image: &r[..px],
            label: r[px],
            expected_class: r[px + 1],
            expected_active: u16_at(r, px + 2),
            expected_crc: u32_at(r, px + 4),
        }
    }
}

/// `learn.bin`: a one-layer start model, its training parameters, samples and expectations.
#[derive(Debug, Clone, Copy)]
pub struct Learn<'a> {
    /// Number of training samples.
    pub n: u16,
    /// Image rows.
    pub rows: u16,
    /// Image columns.
    pub cols: u16,
    /// Time steps of the simulation.
    pub steps: u8,
    /// STDP rule: 0 multiplicative, 1 additive.
    pub rule: u8,
    /// WTA mode: 0 global, 1 local, 2 both.
    pub wta_mode: u8,
    /// WTA inhibition radius.
    pub wta_radius: u8,
    /// Winners per sample.
    pub wta_k: u16,
    /// Pointwise inhibition before selection.
    pub wta_pointwise: bool,
    /// Base `a+` (Q0.32).
    pub a_plus: u32,
    /// Base `|a−|` (Q0.32).
    pub a_minus: u32,
    /// Cap of the doubled `a+` (Q0.32).
    pub a_plus_cap: u32,
    /// Double `a+` every this many samples (0: never).
    pub double_every: u32,
    /// Learning-rate state at the start: samples seen.
    pub lr_samples: u64,
    /// Learning-rate state at the start: current `a+`.
    pub lr_a_plus: u32,
    /// Learning-rate state at the start: current `|a−|`.
    pub lr_a_minus: u32,
    /// CRC-32 of the final weights (`u16` LE, `[c_in][ky][kx][c_out]`) the host computed.
    pub expected_final_crc: u32,
    /// The start model (`.hebb`, one learned layer, 16-bit weights).
    pub model: &'a [u8],
    images: &'a [u8],
    expect: &'a [u8],
}

impl<'a> Learn<'a> {
    /// Parses and checks a `learn.bin` image.
    pub fn parse(b: &'a [u8]) -> Result<Self, FixtureError> {
        let body = frame(b, LEARN_MAGIC, LEARN_HEADER_LEN)?;
        let (n, rows, cols) = (u16_at(body, 6), u16_at(body, 8), u16_at(body, 10));
        if rows == 0 || cols == 0 {
            return Err(FixtureError::Invalid("empty images"));
        }
        let model_len = u32_at(body, 56) as usize;
        let px = rows as usize * cols as usize;
        let expected = LEARN_HEADER_LEN + model_len + n as usize * (px + LEARN_EXPECT_LEN);
        if body.len() != expected {
            return Err(FixtureError::BadLength {
                expected: expected + 4,
                got: b.len(),
            });
        }
        if body[13] > 1 {
            return Err(FixtureError::Invalid("STDP rule"));
        }
        if body[14] > 2 {
            return Err(FixtureError::Invalid("WTA mode"));
        }
        if body[18] > 1 {
            return Err(FixtureError::Invalid("pointwise flag"));
        }
        if u16_at(body, 16) == 0 {
            return Err(FixtureError::Invalid("WTA k"));
        }
        let rest = &body[LEARN_HEADER_LEN..];
        let (model, rest) = rest.split_at(model_len);
        let (images, expect) = rest.split_at(n as usize * px);
        Ok(Self {
            n,
            rows,
            cols,
            steps: body[12],
            rule: body[13],
            wta_mode: body[14],
            wta_radius: body[15],
            wta_k: u16_at(body, 16),
            wta_pointwise: body[18] == 1,
            a_plus: u32_at(body, 20),
            a_minus: u32_at(body, 24),
            a_plus_cap: u32_at(body, 28),
            double_every: u32_at(body, 32),
            lr_samples: u64_at(body, 36),
            lr_a_plus: u32_at(body, 44),
            lr_a_minus: u32_at(body, 48),
            expected_final_crc: u32_at(body, 52),
            model,
            images,
            expect,
        })
    }

    /// Image of sample `i` (`i < n`).
    pub fn image(&self, i: usize) -> &'a [u8] {
        let px = self.rows as usize * self.cols as usize;
        &self.images[i * px..(i + 1) * px]
    }

    /// Host expectation after sample `i`: (winners, CRC-32 of the weights).
    pub fn expected(&self, i: usize) -> (u16, u32) {
        let e = &self.expect[i * LEARN_EXPECT_LEN..(i + 1) * LEARN_EXPECT_LEN];
        (u16_at(e, 0), u32_at(e, 4))
    }

    /// The STDP rule.
    pub fn stdp_rule(&self) -> hebb_core::stdp::StdpRule {
        if self.rule == 1 {
            hebb_core::stdp::StdpRule::Additive
        } else {
            hebb_core::stdp::StdpRule::Multiplicative
        }
    }

    /// The competition parameters (`k` must be at least 1).
    pub fn wta(&self) -> Result<hebb_core::wta::WtaParams, FixtureError> {
        use hebb_core::wta::WtaMode;
        let mode = match self.wta_mode {
            0 => WtaMode::Global,
            1 => WtaMode::Local,
            _ => WtaMode::Both,
        };
        hebb_core::wta::WtaParams::new(mode, self.wta_k, self.wta_radius, self.wta_pointwise)
            .map_err(|_| FixtureError::Invalid("WTA k"))
    }
}

/// `hopfield.bin`: patterns to store, the host's weights and scale, and recall cues with the
/// host's outcome.
#[derive(Debug, Clone, Copy)]
pub struct Hopfield<'a> {
    /// Neurons.
    pub n: u16,
    /// Patterns.
    pub p: u16,
    /// Cues.
    pub cues: u16,
    /// Mean subtraction: 0 none, 1 global, 2 per pattern.
    pub mean: u8,
    /// Zero the diagonal.
    pub zero_diagonal: bool,
    /// Divide by the number of patterns.
    pub normalize: bool,
    /// Anti-Hebbian.
    pub anti: bool,
    /// Zero-field rule: 0 keep, 1 plus, 2 zero.
    pub tie: u8,
    /// Sweep cap of recall.
    pub max_sweeps: u32,
    /// Threshold, field units.
    pub theta: i64,
    /// CRC-32 of the host's weights (`i32` LE, row-major).
    pub weights_crc: u32,
    /// Shift of the host's weight scale.
    pub scale_shift: u32,
    /// Denominator of the host's weight scale.
    pub scale_den: u64,
    /// `p × n` pattern values (±1 as `i8` bytes).
    pub patterns: &'a [u8],
    /// `n × n` host weights, `i32` LE.
    pub weights: &'a [u8],
    records: &'a [u8],
}

/// One cue of `hopfield.bin` with the host's outcome.
#[derive(Debug, Clone, Copy)]
pub struct CueRecord<'a> {
    /// Recall asynchronously (else synchronously).
    pub asynchronous: bool,
    /// The pattern the cue was made from.
    pub target: u16,
    /// Bits flipped from it.
    pub flipped: u16,
    /// Seed of the asynchronous update orders.
    pub seed: u64,
    /// `n` cue values (±1 as `i8` bytes).
    pub state: &'a [u8],
    /// Sweeps the host ran.
    pub sweeps: u32,
    /// The host's recall reached a fixed point.
    pub converged: bool,
    /// The host's recall ended in a 2-cycle.
    pub cycle: bool,
    /// CRC-32 of the host's final state (`i32` LE).
    pub crc: u32,
    /// `Σ s_i ξ_i` of the host's final state with the target.
    pub overlap: i32,
    /// `2E` of the host's final state.
    pub energy2: i64,
}

/// `BadLength` for a body of `expected` bytes (the file adds its 4-byte CRC).
fn bad_length(expected: u64, got: usize) -> FixtureError {
    FixtureError::BadLength {
        expected: usize::try_from(expected + 4).unwrap_or(usize::MAX),
        got,
    }
}

fn flag(b: u8, what: &'static str) -> Result<bool, FixtureError> {
    match b {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(FixtureError::Invalid(what)),
    }
}

impl<'a> Hopfield<'a> {
    /// Parses and checks a `hopfield.bin` image.
    pub fn parse(b: &'a [u8]) -> Result<Self, FixtureError> {
        let body = frame(b, HOPFIELD_MAGIC, HOPFIELD_HEADER_LEN)?;
        let (n, p, c) = (u16_at(body, 6), u16_at(body, 8), u16_at(body, 10));
        if n == 0 || p == 0 {
            return Err(FixtureError::Invalid("no neurons or no patterns"));
        }
        let (nu, pu) = (n as usize, p as usize);
        // In u64: n² alone may exceed a 32-bit usize.
        let (n64, p64, c64) = (u64::from(n), u64::from(p), u64::from(c));
        let expected = HOPFIELD_HEADER_LEN as u64
            + p64 * n64
            + 4 * n64 * n64
            + c64 * (n64 + CUE_EXTRA_LEN as u64);
        if body.len() as u64 != expected {
            return Err(bad_length(expected, b.len()));
        }
        if body[12] > 2 {
            return Err(FixtureError::Invalid("mean"));
        }
        if body[16] > 2 {
            return Err(FixtureError::Invalid("tie rule"));
        }
        let rest = &body[HOPFIELD_HEADER_LEN..];
        let (patterns, rest) = rest.split_at(pu * nu);
        let (weights, records) = rest.split_at(4 * nu * nu);
        Ok(Self {
            n,
            p,
            cues: c,
            mean: body[12],
            zero_diagonal: flag(body[13], "zero-diagonal flag")?,
            normalize: flag(body[14], "normalize flag")?,
            anti: flag(body[15], "anti flag")?,
            tie: body[16],
            max_sweeps: u32_at(body, 20),
            theta: u64_at(body, 24) as i64,
            weights_crc: u32_at(body, 32),
            scale_shift: u32_at(body, 36),
            scale_den: u64_at(body, 40),
            patterns,
            weights,
            records,
        })
    }

    /// Storage options of the patterns.
    pub fn store_options(&self) -> hebb_core::local::hebbian::StoreOptions {
        use hebb_core::local::hebbian::Mean;
        hebb_core::local::hebbian::StoreOptions {
            mean: match self.mean {
                0 => Mean::None,
                1 => Mean::Global,
                _ => Mean::PerPattern,
            },
            zero_diagonal: self.zero_diagonal,
            normalize: self.normalize,
            anti: self.anti,
        }
    }

    /// Zero-field rule of recall.
    pub fn tie_rule(&self) -> hebb_core::local::hopfield::Tie {
        use hebb_core::local::hopfield::Tie;
        match self.tie {
            0 => Tie::Keep,
            1 => Tie::Plus,
            _ => Tie::Zero,
        }
    }

    /// Cue `i` (`i < cues`); `Invalid` for an unknown update order.
    pub fn cue(&self, i: usize) -> Result<CueRecord<'a>, FixtureError> {
        let n = self.n as usize;
        let len = n + CUE_EXTRA_LEN;
        let r = self
            .records
            .get(i * len..(i + 1) * len)
            .ok_or(FixtureError::Invalid("cue index"))?;
        let e = &r[16 + n..];
        Ok(CueRecord {
            asynchronous: flag(r[0], "update order")?,
            target: u16_at(r, 2),
            flipped: u16_at(r, 4),
            seed: u64_at(r, 8),
            state: &r[16..16 + n],
            sweeps: u32_at(e, 0),
            converged: flag(e[4], "converged flag")?,
            cycle: flag(e[5], "cycle flag")?,
            crc: u32_at(e, 8),
            overlap: u32_at(e, 12) as i32,
            energy2: u64_at(e, 16) as i64,
        })
    }
}

/// `oja.bin` / `sanger.bin`: a linear layer's start weights, its rate schedule, a sample
/// stream, and the host's weight CRC at every checkpoint.
#[derive(Debug, Clone, Copy)]
pub struct Rate<'a> {
    /// Inputs.
    pub n: u16,
    /// Outputs (rows).
    pub k: u16,
    /// Samples.
    pub m: u16,
    /// A checkpoint after every this many samples.
    pub every: u16,
    /// 0 Oja, 1 Sanger.
    pub rule: u8,
    /// Renormalise rows after each step.
    pub normalize: bool,
    /// 0 constant, 1 inverse time, 2 exponential.
    pub decay: u8,
    /// Initial rate, Q5.26.
    pub eta0: i32,
    /// Rate floor, Q5.26.
    pub eta_min: i32,
    /// `t0` (inverse time) or `γ` (exponential, Q0.32).
    pub decay_a: u32,
    /// Period of the exponential decay.
    pub decay_every: u32,
    /// CRC-32 of the host's final weights (`i32` LE).
    pub final_crc: u32,
    /// `k × n` start weights, `i32` LE.
    pub start: &'a [u8],
    samples: &'a [u8],
    checkpoints: &'a [u8],
}

impl<'a> Rate<'a> {
    /// Parses and checks an `oja.bin` / `sanger.bin` image.
    pub fn parse(b: &'a [u8]) -> Result<Self, FixtureError> {
        let body = frame(b, RATE_MAGIC, RATE_HEADER_LEN)?;
        let (n, k, m, every) = (
            u16_at(body, 6),
            u16_at(body, 8),
            u16_at(body, 10),
            u16_at(body, 12),
        );
        if n == 0 || k == 0 || every == 0 {
            return Err(FixtureError::Invalid(
                "no inputs, outputs or checkpoint period",
            ));
        }
        let (nu, ku, mu) = (n as usize, k as usize, m as usize);
        let (n64, k64, m64) = (u64::from(n), u64::from(k), u64::from(m));
        let expected =
            RATE_HEADER_LEN as u64 + 4 * (k64 * n64 + m64 * n64 + m64 / u64::from(every));
        if body.len() as u64 != expected {
            return Err(bad_length(expected, b.len()));
        }
        if body[14] > 1 {
            return Err(FixtureError::Invalid("rule"));
        }
        if body[16] > 2 {
            return Err(FixtureError::Invalid("decay"));
        }
        let rest = &body[RATE_HEADER_LEN..];
        let (start, rest) = rest.split_at(4 * ku * nu);
        let (samples, checkpoints) = rest.split_at(4 * mu * nu);
        Ok(Self {
            n,
            k,
            m,
            every,
            rule: body[14],
            normalize: flag(body[15], "normalize flag")?,
            decay: body[16],
            eta0: u32_at(body, 20) as i32,
            eta_min: u32_at(body, 24) as i32,
            decay_a: u32_at(body, 28),
            decay_every: u32_at(body, 32),
            final_crc: u32_at(body, 36),
            start,
            samples,
            checkpoints,
        })
    }

    /// The rate schedule (validated by the core).
    pub fn schedule(&self) -> hebb_core::Result<hebb_core::local::schedule::RateSchedule> {
        use hebb_core::local::schedule::{Decay, RateSchedule};
        let decay = match self.decay {
            0 => Decay::Constant,
            1 => Decay::InverseTime { t0: self.decay_a },
            _ => Decay::Exponential {
                gamma: self.decay_a,
                every: self.decay_every,
            },
        };
        RateSchedule::new(self.eta0, self.eta_min, decay)
    }

    /// Sample `i` (`i < m`) as `n` `i32` LE.
    pub fn sample(&self, i: usize) -> &'a [u8] {
        let len = 4 * self.n as usize;
        self.samples.get(i * len..(i + 1) * len).unwrap_or(&[])
    }

    /// Checkpoints (`m / every`).
    pub fn checkpoints(&self) -> usize {
        self.checkpoints.len() / 4
    }

    /// The host's weights CRC at checkpoint `c`.
    pub fn checkpoint(&self, c: usize) -> Option<u32> {
        self.checkpoints.get(4 * c..4 * c + 4).map(|b| u32_at(b, 0))
    }
}

/// Decodes `i32` LE bytes into `out` (as many as both hold); returns how many.
pub fn read_i32s(bytes: &[u8], out: &mut [i32]) -> usize {
    let mut k = 0;
    for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *o = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k += 1;
    }
    k
}

/// CRC-32 of `i32` values as little-endian bytes (Hopfield and rate-rule weights, states).
pub fn crc_i32(v: &[i32]) -> u32 {
    let mut d = CRC.digest();
    for x in v {
        d.update(&x.to_le_bytes());
    }
    d.finalize()
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

/// CRC of the body stored in a `.hebb` header (bytes 10..14), if the header is there.
pub fn model_body_crc(model: &[u8]) -> Option<u32> {
    (model.len() >= hebb_core::model::HEADER_LEN).then(|| u32_at(model, 10))
}

/// Lengths of the two spike-time maps `network::features` ping-pongs between: the encoder
/// writes the first (`a`), layer `l` writes `b` when `l` is even and `a` when it is odd.
/// `max_map` bounds both, but the exact pair saves RAM (for the 28×28 `kheradpisheh2018`
/// network 12,150 + 7,200 bytes instead of 2 × 12,150). Should the core change the order, its
/// size checks fail with `BufferTooSmall`, never silently.
pub fn pingpong(m: &hebb_core::model::Model<'_>) -> (usize, usize) {
    let mut a = m.encoder.n_out();
    let mut b = 0;
    for (l, arch) in m.arch.iter().enumerate() {
        let o = arch.out_shape().len();
        if l % 2 == 0 {
            b = b.max(o);
        } else {
            a = a.max(o);
        }
    }
    (a, b)
}
