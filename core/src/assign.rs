//! Label assignment by response (Diehl & Cook 2015): each neuron takes the class it answers
//! most, on average over that class's samples; a digit is the class whose neurons answer it
//! most. Integers only: responses are summed spike counts, and every "highest mean" is a
//! comparison of cross-multiplied fractions, so it runs the same on the device (where labels
//! can be assigned from labelled samples without a host).
//!
//! Ties go to the lower class; a neuron that never answered any class is unassigned
//! ([`UNASSIGNED`]) and takes no part in votes.

use crate::error::{Error, Result, head, head_mut};

/// Assignment of a neuron that never spiked.
pub const UNASSIGNED: u8 = u8::MAX;
/// Fractional bits of proportions.
pub const PROP_FRAC: u32 = 16;

/// Adds one labelled sample's spike counts to the responses (`n × classes`, neuron-major)
/// and to the per-class sample counts.
pub fn accumulate(resp: &mut [u32], class_n: &mut [u32], counts: &[u32], label: u8) -> Result<()> {
    let c = class_n.len();
    let l = usize::from(label);
    if l >= c {
        return Err(Error::OutOfRange("label"));
    }
    let resp = head_mut("responses", resp, counts.len() * c)?;
    for (row, &k) in resp.chunks_exact_mut(c).zip(counts) {
        if let Some(x) = row.get_mut(l) {
            *x = x.saturating_add(k);
        }
    }
    if let Some(x) = class_n.get_mut(l) {
        *x = x.saturating_add(1);
    }
    Ok(())
}

/// `a / b > c / d` for non-negative fractions (a zero denominator is a zero mean).
fn greater(a: u64, b: u64, c: u64, d: u64) -> bool {
    match (b, d) {
        (0, _) => false,
        (_, 0) => a > 0,
        _ => u128::from(a) * u128::from(d) > u128::from(c) * u128::from(b),
    }
}

/// Each neuron's class: the highest mean response per sample of the class.
pub fn assign(resp: &[u32], class_n: &[u32], out: &mut [u8]) -> Result<()> {
    let c = class_n.len();
    if c == 0 || c >= usize::from(UNASSIGNED) {
        return Err(Error::InvalidParam("classes must be in 1..=254"));
    }
    let resp = head("responses", resp, out.len() * c)?;
    for (a, row) in out.iter_mut().zip(resp.chunks_exact(c)) {
        let mut best: Option<(usize, u64, u64)> = None;
        for (k, (&r, &m)) in row.iter().zip(class_n).enumerate() {
            if r > 0 && m > 0 && best.is_none_or(|(_, br, bm)| greater(r.into(), m.into(), br, bm))
            {
                best = Some((k, r.into(), m.into()));
            }
        }
        *a = best.map_or(UNASSIGNED, |(k, _, _)| k as u8);
    }
    Ok(())
}

/// Each neuron's share of its mean responses per class (Q16, rows sum to about 1).
pub fn proportions(resp: &[u32], class_n: &[u32], out: &mut [u32]) -> Result<()> {
    let c = class_n.len();
    if c == 0 || !out.len().is_multiple_of(c) {
        return Err(Error::ShapeMismatch(
            "proportions are not neurons × classes",
        ));
    }
    let resp = head("responses", resp, out.len())?;
    for (row, p) in resp.chunks_exact(c).zip(out.chunks_exact_mut(c)) {
        // Mean responses in Q16, then their shares.
        let mut total = 0u64;
        for ((x, &r), &m) in p.iter_mut().zip(row).zip(class_n) {
            let mean = if m == 0 {
                0
            } else {
                (u64::from(r) << PROP_FRAC) / u64::from(m)
            };
            *x = mean.min(u64::from(u32::MAX)) as u32;
            total += u64::from(*x);
        }
        for x in p.iter_mut() {
            *x = (u64::from(*x) << PROP_FRAC)
                .checked_div(total)
                .map_or(0, |v| v as u32);
        }
    }
    Ok(())
}

/// The class of a sample from its spike counts: with `prop` (proportion weighting) each
/// neuron's count is weighted by its proportion for its class; without (all activity) counts
/// are taken as they are. Either way the score of a class is the mean over its assigned
/// neurons; `scores` (`classes × 2`) is working memory. `None` when no class has a neuron.
pub fn predict(
    counts: &[u32],
    assignments: &[u8],
    prop: Option<&[u32]>,
    scores: &mut [u64],
) -> Result<Option<u8>> {
    let c = scores.len() / 2;
    if c == 0 {
        return Err(Error::BufferTooSmall {
            what: "class scores",
            need: 2,
            got: scores.len(),
        });
    }
    if assignments.len() != counts.len() {
        return Err(Error::ShapeMismatch(
            "assignments and counts differ in length",
        ));
    }
    if let Some(p) = prop
        && p.len() != counts.len() * c
    {
        return Err(Error::ShapeMismatch(
            "proportions are not neurons × classes",
        ));
    }
    let (sum, members) = scores.split_at_mut(c);
    sum.fill(0);
    members.fill(0);
    for (j, (&k, &a)) in counts.iter().zip(assignments).enumerate() {
        let a = usize::from(a);
        let (Some(s), Some(m)) = (sum.get_mut(a), members.get_mut(a)) else {
            continue;
        };
        let weight = match prop {
            Some(p) => u64::from(p.get(j * c + a).copied().unwrap_or(0)),
            None => 1,
        };
        *s = s.saturating_add(u64::from(k) * weight);
        *m += 1;
    }
    let mut best: Option<(usize, u64, u64)> = None;
    for (k, (&s, &m)) in sum.iter().zip(members.iter()).enumerate() {
        if m > 0 && best.is_none_or(|(_, bs, bm)| greater(s, m, bs, bm)) {
            best = Some((k, s, m));
        }
    }
    Ok(best.map(|(k, _, _)| k as u8))
}
