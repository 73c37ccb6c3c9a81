//! Readers of the local-rule fixtures the host writes (`hopfield.bin`, `oja.bin`,
//! `sanger.bin`; writer `hebb::firmware::local`, layout in firmware/README.md).
//!
//! Compiled into the `hopfield`, `oja` and `sanger` binaries and, through `#[path]`, into
//! `build.rs`; both name the library's fixture reader `crate::fixture` (whose framing, CRC check
//! and little-endian readers this file reuses). The local-rule code stays out of the library so
//! that the other binaries are, byte for byte, what they were.

use crate::fixture::{FixtureError, frame, u16_at, u32_at, u64_at};
use hebb_core::model::CRC;

/// Magic of `hopfield.bin`.
pub const HOPFIELD_MAGIC: [u8; 4] = *b"HBHF";
/// Magic of `oja.bin` and `sanger.bin`.
pub const RATE_MAGIC: [u8; 4] = *b"HBRT";
/// Bytes before the patterns in `hopfield.bin`.
pub const HOPFIELD_HEADER_LEN: usize = 56;
/// Bytes of a `hopfield.bin` cue record besides its `n` states.
pub const CUE_EXTRA_LEN: usize = 40;
/// Bytes before the start weights in `oja.bin` / `sanger.bin`.
pub const RATE_HEADER_LEN: usize = 40;

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
    pub fn schedule(&self) -> hebb_core::Result<hebb_core::schedule::RateSchedule> {
        use hebb_core::schedule::{Decay, RateSchedule};
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
