//! Storage of a layer's weight matrix (`[c_in][ky][kx][c_out]`, Q0.16 on read): host slices,
//! little-endian bytes borrowed from a model in flash, and the 8-bit export, behind one
//! [`WeightRow`] trait the kernels read through.

use crate::q::widen8;

/// Adds `dst.len() / $lanes` blocks of `$lanes` values read from `$src` (`$per` source elements
/// per value, read by `$val` from the block array `$s` at lane `$i`) to `dst`; evaluates to the
/// remainders of both. The blocks are fixed-size arrays: the lane index is below their length,
/// so the indexing cannot fail and its checks compile away.
macro_rules! add_blocks {
    ($dst:expr, $src:expr, $lanes:expr, $per:expr, |$s:ident, $i:ident| $val:expr) => {{
        let mut dc = $dst.chunks_exact_mut($lanes);
        let mut sc = $src.chunks_exact($per * $lanes);
        for (d, s) in (&mut dc).zip(&mut sc) {
            if let (Ok(d), Ok($s)) = (
                <&mut [i32; $lanes]>::try_from(d),
                <&[_; $per * $lanes]>::try_from(s),
            ) {
                // `$i < $lanes` and `$per · $i + $per − 1 < $per · $lanes`: the array lengths.
                #[allow(clippy::indexing_slicing)]
                for $i in 0..$lanes {
                    d[$i] += $val;
                }
            }
        }
        (dc.into_remainder(), sc.remainder())
    }};
}

/// Read access to a weight matrix in the `[c_in][ky][kx][c_out]` layout, whatever its storage.
///
/// Implemented for `[u16]` (host, RAM), [`Le16`] (little-endian bytes borrowed from a model in
/// flash) and [`Q8`] (8-bit export). Every implementation yields Q0.16 values. Reads outside the
/// matrix never panic: [`get`](Self::get) gives 0 there and [`add_row`](Self::add_row) adds
/// nothing (the core's kernels check the matrix length against the geometry first).
pub trait WeightRow {
    /// Number of weights.
    fn len(&self) -> usize;
    /// True when there are no weights.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Weight `i` in Q0.16, or 0 when `i >= len()`.
    fn get(&self, i: usize) -> u16;
    /// Adds weights `start .. start + dst.len()` to `dst`; adds nothing when that range is not
    /// inside the matrix.
    #[inline]
    fn add_row(&self, start: usize, dst: &mut [i32]) {
        if start
            .checked_add(dst.len())
            .is_none_or(|end| end > self.len())
        {
            return;
        }
        for (j, d) in dst.iter_mut().enumerate() {
            *d += i32::from(self.get(start + j));
        }
    }
}

/// `start .. start + len` when that range lies inside `0..n`.
#[inline]
fn row_range(start: usize, len: usize, n: usize) -> Option<core::ops::Range<usize>> {
    let end = start.checked_add(len)?;
    (end <= n).then_some(start..end)
}

impl WeightRow for [u16] {
    fn len(&self) -> usize {
        <[u16]>::len(self)
    }
    #[inline]
    fn get(&self, i: usize) -> u16 {
        <[u16]>::get(self, i).copied().unwrap_or(0)
    }
    #[inline]
    fn add_row(&self, start: usize, dst: &mut [i32]) {
        let Some(src) = self.get(start..).and_then(|s| s.get(..dst.len())) else {
            return;
        };
        // Fixed-width blocks of 16, then of 8 lanes: LLVM vectorises these reliably (the plain
        // zip loop stayed scalar, and so did a remainder of up to 15 lanes).
        let (d, s) = add_blocks!(dst, src, LANES, 1, |s, i| i32::from(s[i]));
        let (d, s) = add_blocks!(d, s, LANES / 2, 1, |s, i| i32::from(s[i]));
        for (d, &s) in d.iter_mut().zip(s) {
            *d += i32::from(s);
        }
    }
}

/// Block width of the row additions.
const LANES: usize = 16;

impl<T: WeightRow + ?Sized> WeightRow for &T {
    fn len(&self) -> usize {
        (**self).len()
    }
    #[inline]
    fn get(&self, i: usize) -> u16 {
        (**self).get(i)
    }
    #[inline]
    fn add_row(&self, start: usize, dst: &mut [i32]) {
        (**self).add_row(start, dst);
    }
}

/// 16-bit weights as little-endian bytes (zero-copy view of a model blob).
#[derive(Debug, Clone, Copy)]
pub struct Le16<'a>(pub &'a [u8]);

impl WeightRow for Le16<'_> {
    fn len(&self) -> usize {
        self.0.len() / 2
    }
    #[inline]
    fn get(&self, i: usize) -> u16 {
        match i
            .checked_mul(2)
            .and_then(|j| self.0.get(j..)?.first_chunk::<2>())
        {
            Some(b) => u16::from_le_bytes(*b),
            None => 0,
        }
    }
    #[inline]
    fn add_row(&self, start: usize, dst: &mut [i32]) {
        // `2·start` and `2·len` cannot overflow when the row lies inside the bytes.
        let Some(src) = row_range(start, dst.len(), self.len())
            .and_then(|r| self.0.get(2 * r.start..)?.get(..2 * dst.len()))
        else {
            return;
        };
        // Fixed-width blocks, as for the other storages (fewer bounds checks and loop steps).
        let (d, s) = add_blocks!(dst, src, LANES, 2, |s, i| i32::from(u16::from_le_bytes([
            s[2 * i],
            s[2 * i + 1]
        ])));
        let (d, s) = add_blocks!(d, s, LANES / 2, 2, |s, i| i32::from(u16::from_le_bytes([
            s[2 * i],
            s[2 * i + 1]
        ])));
        for (d, b) in d.iter_mut().zip(s.chunks_exact(2)) {
            if let Ok(b) = <[u8; 2]>::try_from(b) {
                *d += i32::from(u16::from_le_bytes(b));
            }
        }
    }
}

/// 8-bit weights (Q0.8), widened to Q0.16 on read.
#[derive(Debug, Clone, Copy)]
pub struct Q8<'a>(pub &'a [u8]);

impl WeightRow for Q8<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    #[inline]
    fn get(&self, i: usize) -> u16 {
        self.0.get(i).map_or(0, |&w| widen8(w))
    }
    #[inline]
    fn add_row(&self, start: usize, dst: &mut [i32]) {
        let Some(src) = self.0.get(start..).and_then(|s| s.get(..dst.len())) else {
            return;
        };
        let (d, s) = add_blocks!(dst, src, LANES, 1, |s, i| i32::from(widen8(s[i])));
        for (d, &s) in d.iter_mut().zip(s) {
            *d += i32::from(widen8(s));
        }
    }
}
