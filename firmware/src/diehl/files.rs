//! Reader of the Diehl & Cook fixture the host writes (`diehl.bin`; writer
//! `hebb::firmware::diehl_cook`, layout in firmware/README.md).
//!
//! Compiled into the `diehl` binary and, through `#[path]`, into `build.rs`; both name the
//! library's fixture reader `crate::fixture` (framing, CRC check, little-endian readers).

use crate::fixture::{FixtureError, frame, u16_at, u32_at, u64_at};
use hebb_core::model::CRC;

/// Magic of `diehl.bin`.
pub const DIEHL_MAGIC: [u8; 4] = *b"HBDC";
/// Bytes before the params.
pub const DIEHL_HEADER_LEN: usize = 32;
/// Bytes of a record before its pixels (index, seed) plus the label word after them.
pub const RECORD_HEAD_LEN: usize = 16;
/// Host outcome bytes of an inference record.
pub const INFER_TAIL_LEN: usize = 16;
/// Host outcome bytes of an assignment record.
pub const ASSIGN_TAIL_LEN: usize = 12;
/// Host outcome bytes of a learning record.
pub const LEARN_TAIL_LEN: usize = 20;

/// `diehl.bin`: a trained network with its test digits, labelled digits to assign from, and a
/// small network's start weights with the digits it learns, each with the host's outcome.
#[derive(Debug, Clone, Copy)]
pub struct Diehl<'a> {
    /// Image rows.
    pub rows: u16,
    /// Image columns.
    pub cols: u16,
    /// Classes.
    pub classes: u16,
    /// Neurons of the trained network.
    pub n: u16,
    /// Neurons of the learning network.
    pub n_learn: u16,
    /// Inference digits.
    pub n_infer: u16,
    /// Assignment digits.
    pub n_assign: u16,
    /// Learning digits.
    pub n_learn_digits: u16,
    /// Seed of the digit streams.
    pub seed: u64,
    /// Postcard bytes of `diehl_cook::Params`.
    pub params: &'a [u8],
    /// `n_in × n` `i32` LE weights (Q8.24), at a multiple of 4 in the file.
    pub weights: &'a [u8],
    /// `n` `i32` LE thresholds.
    pub theta: &'a [u8],
    /// `n × classes` `u32` LE proportions.
    pub proportions: &'a [u8],
    /// `n` class assignments.
    pub assignments: &'a [u8],
    /// `n_in × n_learn` `i32` LE start weights of the learning network.
    pub learn_start: &'a [u8],
    /// CRC-32 of the assignments the host makes from the assignment digits.
    pub assignments_crc: u32,
    /// CRC-32 of their proportions.
    pub proportions_crc: u32,
    infer: &'a [u8],
    assign: &'a [u8],
    learn: &'a [u8],
}

/// One digit with the host's outcome (`tail`, laid out by its part).
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Index in its split.
    pub index: u32,
    /// Seed of its Poisson stream.
    pub seed: u64,
    /// Pixels.
    pub pixels: &'a [u8],
    /// Label.
    pub label: u8,
    /// The host's outcome.
    pub tail: &'a [u8],
}

impl Record<'_> {
    /// `u32` number `k` of the outcome.
    pub fn word(&self, k: usize) -> u32 {
        self.tail.get(4 * k..4 * k + 4).map_or(0, |b| u32_at(b, 0))
    }
    /// Byte `k` of the outcome.
    pub fn byte(&self, k: usize) -> u8 {
        self.tail.get(k).copied().unwrap_or(0)
    }
}

fn pad4(x: u64) -> u64 {
    x.div_ceil(4) * 4
}

impl<'a> Diehl<'a> {
    /// Parses and checks a `diehl.bin` image.
    pub fn parse(b: &'a [u8]) -> Result<Self, FixtureError> {
        let body = frame(b, DIEHL_MAGIC, DIEHL_HEADER_LEN)?;
        let h = |k: usize| u16_at(body, 6 + 2 * k);
        let (rows, cols, classes, n, nl) = (h(0), h(1), h(2), h(3), h(4));
        let (ni, na, nd, plen) = (h(5), h(6), h(7), h(8));
        if rows == 0 || cols == 0 || classes == 0 || n == 0 || nl == 0 {
            return Err(FixtureError::Invalid("empty image, class set or network"));
        }
        let [n_in, c, n64, nl64] = [
            u64::from(rows) * u64::from(cols),
            u64::from(classes),
            u64::from(n),
            u64::from(nl),
        ];
        let rec = RECORD_HEAD_LEN as u64 + n_in;
        let head = pad4(DIEHL_HEADER_LEN as u64 + u64::from(plen));
        let net = 4 * (n_in * n64 + n64 + n64 * c) + pad4(n64) + 4 * n_in * nl64;
        let records = u64::from(ni) * (rec + INFER_TAIL_LEN as u64)
            + u64::from(na) * (rec + ASSIGN_TAIL_LEN as u64)
            + u64::from(nd) * (rec + LEARN_TAIL_LEN as u64);
        let expected = head + net + records + 8;
        if body.len() as u64 != expected {
            return Err(FixtureError::BadLength {
                expected: usize::try_from(expected + 4).unwrap_or(usize::MAX),
                got: b.len(),
            });
        }
        let (n_in, n, nl, c) = (n_in as usize, n as usize, nl as usize, c as usize);
        let rec = rec as usize;
        let params = &body[DIEHL_HEADER_LEN..DIEHL_HEADER_LEN + plen as usize];
        let rest = &body[head as usize..];
        let (weights, rest) = rest.split_at(4 * n_in * n);
        let (theta, rest) = rest.split_at(4 * n);
        let (proportions, rest) = rest.split_at(4 * n * c);
        let (assignments, rest) = rest.split_at(pad4(n as u64) as usize);
        let (learn_start, rest) = rest.split_at(4 * n_in * nl);
        let (infer, rest) = rest.split_at(usize::from(ni) * (rec + INFER_TAIL_LEN));
        let (assign, rest) = rest.split_at(usize::from(na) * (rec + ASSIGN_TAIL_LEN));
        let (learn, tail) = rest.split_at(usize::from(nd) * (rec + LEARN_TAIL_LEN));
        Ok(Self {
            rows,
            cols,
            classes,
            n: n as u16,
            n_learn: nl as u16,
            n_infer: ni,
            n_assign: na,
            n_learn_digits: nd,
            seed: u64_at(body, 24),
            params,
            weights,
            theta,
            proportions,
            assignments: &assignments[..n],
            learn_start,
            assignments_crc: u32_at(tail, 0),
            proportions_crc: u32_at(tail, 4),
            infer,
            assign,
            learn,
        })
    }

    /// Pixels per digit.
    pub fn n_in(&self) -> usize {
        usize::from(self.rows) * usize::from(self.cols)
    }

    fn record(&self, part: &'a [u8], tail: usize, i: usize) -> Option<Record<'a>> {
        let len = RECORD_HEAD_LEN + self.n_in() + tail;
        let r = part.get(i * len..(i + 1) * len)?;
        let px = 12 + self.n_in();
        Some(Record {
            index: u32_at(r, 0),
            seed: u64_at(r, 4),
            pixels: &r[12..px],
            label: r[px],
            tail: &r[px + 4..],
        })
    }

    /// Inference digit `i`: tail u32 presentations, spikes, counts CRC; u8 class, proportion
    /// class.
    pub fn infer(&self, i: usize) -> Option<Record<'a>> {
        self.record(self.infer, INFER_TAIL_LEN, i)
    }

    /// Assignment digit `i`: tail u32 presentations, spikes, counts CRC.
    pub fn assign(&self, i: usize) -> Option<Record<'a>> {
        self.record(self.assign, ASSIGN_TAIL_LEN, i)
    }

    /// Learning digit `i`: tail u32 presentations, spikes, input spikes, weights CRC, θ CRC.
    pub fn learn(&self, i: usize) -> Option<Record<'a>> {
        self.record(self.learn, LEARN_TAIL_LEN, i)
    }
}

/// CRC-32 of `u32` values as little-endian bytes (spike counts, proportions).
pub fn crc_u32(v: &[u32]) -> u32 {
    let mut d = CRC.digest();
    for x in v {
        d.update(&x.to_le_bytes());
    }
    d.finalize()
}

/// CRC-32 of `i32` values as little-endian bytes (weights, θ).
pub fn crc_i32(v: &[i32]) -> u32 {
    let mut d = CRC.digest();
    for x in v {
        d.update(&x.to_le_bytes());
    }
    d.finalize()
}
