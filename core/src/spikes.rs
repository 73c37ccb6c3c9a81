//! Spike-time maps and bit sets.
//!
//! Time-to-first-spike coding: a neuron is represented by the step of its first spike, or
//! [`NEVER`]. With integrate-and-fire neurons this carries all the information of the cumulative
//! spike waves that SpykeTorch-style code keeps as dense `T × C × H × W` tensors.

/// Spike time of a neuron that never fired.
pub const NEVER: u8 = u8::MAX;

/// Largest supported number of time steps (`NEVER` must stay out of range).
pub const MAX_STEPS: u8 = 254;

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
    crate::error::need("starts", starts, t + 1)?;
    starts[..=t].fill(0);
    for &s in times {
        if (s as usize) < t {
            starts[s as usize + 1] += 1;
        }
    }
    for i in 0..t {
        starts[i + 1] += starts[i];
    }
    let n = starts[t] as usize;
    crate::error::need("order", order, n)?;
    // Second pass fills each step's slot; `starts[t]` is used as a cursor and restored after.
    for (i, &s) in times.iter().enumerate() {
        if (s as usize) < t {
            let slot = &mut starts[s as usize];
            order[*slot as usize] = i as u32;
            *slot += 1;
        }
    }
    // Cursors now point at the start of the next step: shift back by one.
    for i in (1..=t).rev() {
        starts[i] = starts[i - 1];
    }
    starts[0] = 0;
    Ok(n)
}

/// Words needed for a bit set of `n` bits.
pub const fn words(n: usize) -> usize {
    n.div_ceil(32)
}

/// Reads bit `i`.
#[inline]
pub fn bit(set: &[u32], i: usize) -> bool {
    set[i / 32] >> (i % 32) & 1 == 1
}

/// Sets bit `i`.
#[inline]
pub fn set_bit(set: &mut [u32], i: usize) {
    set[i / 32] |= 1 << (i % 32);
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
