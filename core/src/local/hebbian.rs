//! Storage rules of attractor memories: one-shot Hebbian (and anti-Hebbian) outer-product
//! storage, exact in integers, and the Storkey rule for correlated patterns.
//!
//! **Hebbian.** For `P` patterns `ξ_p ∈ {−1, +1}^N` the weights are
//! `W = ±(1/P) Σ_p T_p T_pᵀ` with `T_p = ξ_p` (no mean subtraction), `ξ_p − ρ` with one global
//! mean `ρ = m / (P N)` (`m` = sum of every entry, as the CANNs trainer does), or `ξ_p − ρ_p` with
//! each pattern's own mean. Scaled by `D = 1`, `P N` or `N`, every `T_p` is an integer vector and
//! `V = Σ_p (D T_p)(D T_p)ᵀ` an integer matrix, computed from `C_ij = Σ_p ξ_pi ξ_pj`
//! (`P − 2·popcount` of the neurons' pattern bits) plus rank-one corrections, so storage costs
//! `N²·⌈P/64⌉` word operations and no rounding. The stored integer is `V_ij` shifted right
//! (rounded to nearest, ties away from zero, so `W` stays exactly symmetric) by the fewest bits
//! that keep `N · max|W_ij|` within `i32`: then a recall field is an exact `i32` sum. The real
//! weight is `W_int · 2^shift / den` ([`Scale`]); without mean subtraction and up to
//! 2³¹/N patterns, `shift` is 0 and nothing is rounded at all.
//!
//! **Storkey** (1997): `W ← W + (1/N)(ξξᵀ − ξ hᵀ − h ξᵀ)` with the local fields
//! `h_ij = Σ_{k≠i,j} W_ik ξ_k`, in fixed point `W_int = W · 2^frac`, each update rounded to
//! nearest and clamped to the same recall bound. It stores correlated patterns (digits) that
//! plain Hebbian storage merges into one spurious state.

use crate::error::{Error, Result, head, head_mut};
use serde::{Deserialize, Serialize};

/// How the patterns' mean is removed before the outer products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Mean {
    /// Store the patterns as they are.
    None,
    /// Subtract one mean over every entry of every pattern (the CANNs default).
    Global,
    /// Subtract each pattern's own mean.
    PerPattern,
}

/// Options of Hebbian storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StoreOptions {
    /// Mean subtraction.
    pub mean: Mean,
    /// Set `W_ii = 0`.
    pub zero_diagonal: bool,
    /// Divide by the number of patterns (changes the scale only; kept for the reported
    /// weights and the threshold's units).
    pub normalize: bool,
    /// Anti-Hebbian: store `−W`.
    pub anti: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            mean: Mean::Global,
            zero_diagonal: true,
            normalize: true,
            anti: false,
        }
    }
}

/// Scale of stored integer weights: `W_real = W_int · 2^shift / den`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Scale {
    /// Denominator.
    pub den: u64,
    /// Right shift applied when storing.
    pub shift: u32,
}

impl Scale {
    /// The real value of `W_int = 1`.
    pub fn unit(&self) -> f64 {
        libm::ldexp(1.0, self.shift as i32) / self.den as f64
    }
}

/// Largest `|W_ij|` that keeps every recall field of an `n`-neuron network an exact `i32` sum.
pub fn weight_bound(n: usize) -> i32 {
    let n = i64::try_from(n.max(1)).unwrap_or(i64::MAX);
    i32::try_from(i64::from(i32::MAX) / n).unwrap_or(0)
}

/// Checks that `patterns` (`p` rows of `n`) holds only ±1.
pub fn check_patterns(patterns: &[i8], n: usize, p: usize) -> Result<()> {
    let len = n
        .checked_mul(p)
        .ok_or(Error::Overflow("patterns × neurons"))?;
    let pat = head("patterns", patterns, len)?;
    if pat.iter().any(|&v| v != 1 && v != -1) {
        return Err(Error::InvalidParam("a pattern value is not -1 or +1"));
    }
    Ok(())
}

/// A Hebbian storage of `p` patterns of `n` neurons, planned from the patterns' sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hebbian {
    n: usize,
    p: usize,
    words: usize,
    opts: StoreOptions,
    d: i128,
    m: i128,
    m2: i128,
    shift: u32,
    scale: Scale,
    /// Every entry's value and intermediate fits `i64` (the fast path of [`Hebbian::rows`]).
    fits64: bool,
}

impl Hebbian {
    /// Plans the storage of `patterns` (`p` rows of `n` values, each ±1).
    pub fn plan(patterns: &[i8], n: usize, p: usize, opts: StoreOptions) -> Result<Self> {
        if n == 0 {
            return Err(Error::Zero("neurons"));
        }
        if p == 0 {
            return Err(Error::Zero("patterns"));
        }
        check_patterns(patterns, n, p)?;
        let pn = (n as u128) * (p as u128);
        if pn > 1 << 40 {
            return Err(Error::Overflow("patterns × neurons"));
        }
        let rows = patterns.chunks_exact(n).take(p);
        let sums = rows.map(|r| r.iter().map(|&v| i128::from(v)).sum::<i128>());
        let (m, m2) = sums.fold((0i128, 0i128), |(a, b), s| (a + s, b + s * s));
        let d: i128 = match opts.mean {
            Mean::None => 1,
            Mean::Global => pn as i128,
            Mean::PerPattern => n as i128,
        };
        // |V_ij| ≤ P (2D)² bounds every entry; shift until N·|W| fits i32.
        let bound = (p as i128) * (2 * d) * (2 * d);
        let limit = i128::from(weight_bound(n));
        let mut shift = 0u32;
        while (bound >> shift) > limit {
            shift += 1;
        }
        let base = u128::try_from(d * d).map_err(|_| Error::Overflow("weight scale"))?;
        let den = if opts.normalize {
            base * p as u128
        } else {
            base
        };
        let den = u64::try_from(den).map_err(|_| Error::Overflow("weight scale"))?;
        Ok(Self {
            n,
            p,
            words: p.div_ceil(64),
            opts,
            d,
            m,
            m2,
            shift,
            scale: Scale { den, shift },
            fits64: bound < (1i128 << 61),
        })
    }

    /// The scale of the stored integers.
    pub fn scale(&self) -> Scale {
        self.scale
    }
    /// Words of pattern bits per neuron ([`pack`](Self::pack)'s `bits` holds `n · words`).
    pub fn words(&self) -> usize {
        self.words
    }

    /// Transposes the patterns into per-neuron bit sets (`bits`, `n · words`) and per-neuron sums
    /// (`sums`, `n`) that [`rows`](Self::rows) reads.
    pub fn pack(&self, patterns: &[i8], bits: &mut [u64], sums: &mut [i64]) -> Result<()> {
        let (n, p) = (self.n, self.p);
        let pat = head("patterns", patterns, n * p)?;
        let bits = head_mut("bits", bits, n * self.words)?;
        let sums = head_mut("sums", sums, n)?;
        bits.fill(0);
        sums.fill(0);
        for (k, row) in pat.chunks_exact(n).enumerate() {
            let mk: i64 = row.iter().map(|&v| i64::from(v)).sum();
            let (word, bit) = (k / 64, k % 64);
            for ((b, s), &v) in bits
                .chunks_exact_mut(self.words)
                .zip(sums.iter_mut())
                .zip(row)
            {
                if v > 0
                    && let Some(x) = b.get_mut(word)
                {
                    *x |= 1 << bit;
                }
                // Global: a_i = Σ_p ξ_pi; per pattern: b_i = Σ_p m_p ξ_pi.
                *s += match self.opts.mean {
                    Mean::PerPattern => mk * i64::from(v),
                    _ => i64::from(v),
                };
            }
        }
        Ok(())
    }

    /// Writes weight rows `first ..` into `out` (a whole number of rows of `n`), from
    /// [`pack`](Self::pack)'s output. Rows are independent, so callers may split the matrix.
    pub fn rows(&self, bits: &[u64], sums: &[i64], first: usize, out: &mut [i32]) -> Result<()> {
        let n = self.n;
        let bits = head("bits", bits, n * self.words)?;
        let sums = head("sums", sums, n)?;
        let count = out.len() / n;
        if !out.len().is_multiple_of(n) || first.checked_add(count).is_none_or(|e| e > n) {
            return Err(Error::OutOfRange("weight rows"));
        }
        let p = self.p as i128;
        let (d, m, m2) = (self.d, self.m, self.m2);
        let sign: i128 = if self.opts.anti { -1 } else { 1 };
        let per_neuron = bits.chunks_exact(self.words).zip(sums);
        for (r, out_row) in out.chunks_exact_mut(n).enumerate() {
            let i = first + r;
            let (bi, &si) = match per_neuron.clone().nth(i) {
                Some(x) => x,
                None => return Err(Error::OutOfRange("weight rows")),
            };
            let si = i128::from(si);
            // The same exact formula in i64 when the plan's bound allows (the common case) and
            // in i128 otherwise; both give the same integers.
            macro_rules! fill {
                ($t:ty) => {{
                    let (p, d, m, m2, si) = (p as $t, d as $t, m as $t, m2 as $t, si as $t);
                    let (sign, shift) = (sign as $t, self.shift);
                    for (j, (o, (bj, &sj))) in
                        out_row.iter_mut().zip(per_neuron.clone()).enumerate()
                    {
                        if i == j && self.opts.zero_diagonal {
                            *o = 0;
                            continue;
                        }
                        let diff: u32 = bi.iter().zip(bj).map(|(a, b)| (a ^ b).count_ones()).sum();
                        let c = p - 2 * diff as $t;
                        let sj = sj as $t;
                        let v = match self.opts.mean {
                            Mean::None => c,
                            Mean::Global => d * d * c - d * m * (si + sj) + p * m * m,
                            Mean::PerPattern => d * d * c - d * (si + sj) + m2,
                        };
                        // Rounded to nearest, ties away from zero (symmetric in i, j); the
                        // shift keeps |v| within the i32 bound.
                        let q = if shift == 0 {
                            v
                        } else {
                            let half: $t = 1 << (shift - 1);
                            let q = (v.abs() + half) >> shift;
                            if v < 0 { -q } else { q }
                        };
                        *o = (sign * q) as i32;
                    }
                }};
            }
            if self.fits64 { fill!(i64) } else { fill!(i128) }
        }
        Ok(())
    }
}

/// Adds one pattern to fixed-point weights `w` (`n × n`, `W_real = w / 2^frac`) by the Storkey
/// rule. `h` is scratch of `n`. The diagonal is kept at zero; entries are clamped to
/// [`weight_bound`]`(n)`.
pub fn storkey_add(w: &mut [i32], n: usize, xi: &[i8], frac: u32, h: &mut [i64]) -> Result<()> {
    if n == 0 {
        return Err(Error::Zero("neurons"));
    }
    if frac > 30 {
        return Err(Error::InvalidParam("Storkey fraction bits must be <= 30"));
    }
    let nn = n.checked_mul(n).ok_or(Error::Overflow("neurons²"))?;
    let w = head_mut("weights", w, nn)?;
    check_patterns(xi, n, 1)?;
    let xi = head("pattern", xi, n)?;
    let h = head_mut("fields", h, n)?;
    for (hi, row) in h.iter_mut().zip(w.chunks_exact(n)) {
        *hi = row
            .iter()
            .zip(xi)
            .map(|(&a, &x)| i64::from(a) * i64::from(x))
            .sum();
    }
    let s = 1i128 << frac;
    let nd = n as i128;
    let bound = i128::from(weight_bound(n));
    // Only the upper triangle is computed; the lower one mirrors it, so W stays symmetric.
    for i in 0..n {
        let (xi_i, h_i) = match (xi.get(i), h.get(i)) {
            (Some(&a), Some(&b)) => (i128::from(a), i128::from(b)),
            _ => return Err(Error::OutOfRange("neuron")),
        };
        for j in (i + 1)..n {
            let (xi_j, h_j) = match (xi.get(j), h.get(j)) {
                (Some(&a), Some(&b)) => (i128::from(a), i128::from(b)),
                _ => return Err(Error::OutOfRange("neuron")),
            };
            let wij = w.get(i * n + j).copied().map(i128::from).unwrap_or(0);
            let wji = w.get(j * n + i).copied().map(i128::from).unwrap_or(0);
            let num = s * xi_i * xi_j - xi_i * h_j - h_i * xi_j + wij + wji;
            // Rounded to nearest, ties away from zero.
            let q = (num.abs() + nd / 2) / nd;
            let dw = if num < 0 { -q } else { q };
            let v = (wij + dw).clamp(-bound, bound) as i32;
            if let Some(x) = w.get_mut(i * n + j) {
                *x = v;
            }
            if let Some(x) = w.get_mut(j * n + i) {
                *x = v;
            }
        }
        if let Some(x) = w.get_mut(i * n + i) {
            *x = 0;
        }
    }
    Ok(())
}

/// Fraction bits of Storkey weights for `n` neurons: the largest that lets real weights up to
/// ±4 stay within [`weight_bound`].
pub fn storkey_frac(n: usize) -> u32 {
    let b = weight_bound(n).max(1) / 4;
    (31 - b.max(1).leading_zeros()).min(30)
}
