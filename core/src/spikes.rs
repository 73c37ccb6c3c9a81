//! Spike-time maps and bit sets.
//!
//! Time-to-first-spike coding: a neuron is represented by the step of its first spike, or
//! [`NEVER`]. With integrate-and-fire neurons this carries all the information of the cumulative
//! spike waves that SpykeTorch-style code keeps as dense `T × C × H × W` tensors.

/// Spike time of a neuron that never fired.
pub const NEVER: u8 = u8::MAX;

/// Largest supported number of time steps (`NEVER` must stay out of range).
pub const MAX_STEPS: u8 = 254;

/// Bit `i` set iff `cells[i]` is not [`NEVER`], for up to 64 cells (later cells are ignored).
///
/// Eight cells per step with word arithmetic (a per-cell shift-or loop compiles to a slow
/// lane-by-lane gather): per byte, the high bit of `((b & 0x7f) + 0x7f) | b` says `b != 0`
/// (with `b` the complemented cell, zero for `NEVER`), and one multiplication moves the eight
/// high bits into the top byte.
#[inline]
pub fn spiking_mask(cells: &[u8]) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let cells = cells.get(..64).unwrap_or(cells);
    let mut mask = 0u64;
    let mut chunks = cells.chunks_exact(8);
    for (j, c) in (&mut chunks).enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        let x = !u64::from_le_bytes(b);
        let nonzero = (((x & LOW7) + LOW7) | x) & !LOW7;
        mask |= ((nonzero >> 7).wrapping_mul(GATHER) >> 56) << (8 * j);
    }
    let base = cells.len() - chunks.remainder().len();
    for (i, &t) in chunks.remainder().iter().enumerate() {
        mask |= u64::from(t != NEVER) << (base + i);
    }
    mask
}

/// Sorts the spiking entries of `times` by time (counting sort): `order` receives their indices,
/// `starts[t]..starts[t + 1]` delimits step `t`. Returns the number of spiking entries.
///
/// `starts` must hold `steps + 1` entries, `order` as many as there are spikes (at most
/// `times.len()`). Entries with a time `>= steps` are treated as silent.
pub fn sort_events(
    times: &[u8],
    steps: u8,
    order: &mut [u32],
    starts: &mut [u32],
) -> crate::Result<usize> {
    let t = steps as usize;
    if u32::try_from(times.len()).is_err() {
        // Counts and indices are `u32`.
        return Err(crate::Error::Overflow("more than 2^32 spike times"));
    }
    let starts = crate::error::head_mut("starts", starts, t + 1)?;
    starts.fill(0);
    for &s in times {
        // In bounds: `s < t`, so `s + 1 <= t < starts.len()`.
        if (s as usize) < t
            && let Some(c) = starts.get_mut(s as usize + 1)
        {
            *c += 1;
        }
    }
    // Prefix sums: `starts[i]` becomes the number of spikes before step `i`.
    let mut acc = 0u32;
    for c in starts.iter_mut() {
        acc += *c;
        *c = acc;
    }
    let n = acc as usize;
    crate::error::need("order", order, n)?;
    // Second pass fills each step's slot; `starts[t]` is used as a cursor and restored after.
    for (i, &s) in times.iter().enumerate() {
        if (s as usize) < t
            && let Some(slot) = starts.get_mut(s as usize)
        {
            // In bounds: the cursor of step `s` stays below the spikes up to step `s`, `<= n`.
            if let Some(o) = order.get_mut(*slot as usize) {
                *o = i as u32;
            }
            *slot += 1;
        }
    }
    // Cursors now point at the start of the next step: shift back by one.
    starts.rotate_right(1);
    if let Some(first) = starts.first_mut() {
        *first = 0;
    }
    Ok(n)
}

/// Words needed for a bit set of `n` bits.
pub const fn words(n: usize) -> usize {
    n.div_ceil(32)
}

/// Reads bit `i` (`false` beyond the end of the set).
#[inline]
pub fn bit(set: &[u32], i: usize) -> bool {
    set.get(i / 32).is_some_and(|w| w >> (i % 32) & 1 == 1)
}

/// Sets bit `i` (a bit beyond the end of the set is ignored).
#[inline]
pub fn set_bit(set: &mut [u32], i: usize) {
    if let Some(w) = set.get_mut(i / 32) {
        *w |= 1 << (i % 32);
    }
}
/// Iterates the indices of set bits.
pub fn ones(set: &[u32]) -> impl Iterator<Item = usize> + '_ {
    set.iter().enumerate().flat_map(|(w, &bits)| {
        let mut b = bits;
        core::iter::from_fn(move || {
            if b == 0 {
                None
            } else {
                let i = b.trailing_zeros() as usize;
                b &= b - 1;
                Some(w * 32 + i)
            }
        })
    })
}
