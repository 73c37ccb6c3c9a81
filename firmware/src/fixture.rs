//! Readers of the fixture files the host writes beside the model (`samples.bin`, `learn.bin`).
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
/// Version of both fixture formats.
pub const FIXTURE_VERSION: u16 = 1;
/// Bytes before the sample records in `samples.bin`.
pub const SAMPLES_HEADER_LEN: usize = 20;
/// Bytes after the image of one `samples.bin` record.
pub const SAMPLE_TAIL_LEN: usize = 8;
/// Bytes before the embedded model in `learn.bin`.
pub const LEARN_HEADER_LEN: usize = 60;
/// Bytes of one per-sample expectation in `learn.bin`.
pub const LEARN_EXPECT_LEN: usize = 8;

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
pub fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

#[inline]
pub fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

#[inline]
pub fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from(u32_at(b, o)) | (u64::from(u32_at(b, o + 4)) << 32)
}

/// Checks magic, version and the trailing CRC; returns the bytes before the CRC.
pub fn frame(b: &[u8], magic: [u8; 4], header: usize) -> Result<&[u8], FixtureError> {
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
