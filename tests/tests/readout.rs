//! The readout's choice of C on a held-out validation split.

use hebb::backend::FeatureSet;
use hebb::readout::{Sparse, select_c};
use hebb_core::rng::Rng;

/// Bit sets from lists of active features.
fn feature_set(n_features: usize, rows: &[Vec<usize>]) -> FeatureSet {
    let words = n_features.div_ceil(32);
    let mut bits = vec![0u32; rows.len() * words];
    for (i, r) in rows.iter().enumerate() {
        for &f in r {
            bits[i * words + f / 32] |= 1 << (f % 32);
        }
    }
    FeatureSet {
        n_features,
        words,
        bits,
    }
}

/// Random labels, and features that only identify the sample (one private feature each) plus
/// shared noise: nothing generalises, so honest validation accuracy stays near chance
/// (1/4), while a fit that saw a validation sample (or a copy of it) would recall it.
fn memorise_only(n: usize, copies: usize, seed: u64) -> (FeatureSet, FeatureSet, Vec<u8>) {
    let mut rng = Rng::new(seed);
    let n_features = n + 64;
    let labels: Vec<u8> = (0..n).map(|_| (rng.next_u64() % 4) as u8).collect();
    let rows: Vec<Vec<usize>> = (0..n)
        .map(|i| {
            let mut r = vec![i];
            r.extend((0..8).map(|_| n + (rng.next_u64() % 64) as usize));
            r.sort_unstable();
            r.dedup();
            r
        })
        .collect();
    let orig = feature_set(n_features, &rows);
    // Copies as `augment` lays them out: all originals, then each copy of every sample.
    let mut all = rows.clone();
    for _ in 0..copies {
        all.extend(rows.iter().cloned());
    }
    let fit = feature_set(n_features, &all);
    let mut all_labels = labels.clone();
    for _ in 0..copies {
        all_labels.extend_from_slice(&labels);
    }
    (orig, fit, all_labels)
}

#[test]
fn held_out_samples_and_their_copies_never_reach_the_fit() {
    for copies in [0, 4] {
        let (orig, fit, labels) = memorise_only(400, copies, 3);
        let x = Sparse::from_features(&fit);
        let grid = [1e-3, 1.0, 100.0];
        let (c, scores) = select_c(&x, &labels, &orig, 4, &grid, 0.25, 30, 1, |_| {});
        assert!(grid.contains(&c));
        assert_eq!(scores.len(), 3);
        for s in &scores {
            // Chance is 0.25; a leak would push large C towards 1.0 (the private feature recalls
            // the label). 100 held-out samples: 0.45 is far beyond chance noise.
            assert!(
                s.accuracy < 0.45,
                "copies {copies}: C {} scored {}",
                s.c,
                s.accuracy
            );
        }
    }
}

#[test]
fn the_best_validation_score_wins_and_ties_go_to_the_smaller_c() {
    // Two classes told apart by feature 0 (class 1) vs feature 1 (class 0), plus noise.
    let mut rng = Rng::new(9);
    let n = 300;
    let labels: Vec<u8> = (0..n).map(|i| (i % 2) as u8).collect();
    let rows: Vec<Vec<usize>> = labels
        .iter()
        .map(|&l| {
            let mut r = vec![if l == 1 { 0 } else { 1 }];
            r.extend((0..5).map(|_| 2 + (rng.next_u64() % 40) as usize));
            r.sort_unstable();
            r.dedup();
            r
        })
        .collect();
    let fs = feature_set(42, &rows);
    let x = Sparse::from_features(&fs);
    let mut seen = Vec::new();
    let grid = [10.0, 0.01, 1.0];
    let (c, scores) = select_c(&x, &labels, &fs, 2, &grid, 0.1, 40, 5, |s| seen.push(s));
    // Separable data: every C classifies the held-out samples perfectly, so the tie goes to the
    // smallest C; scores come back sorted by C and were reported once each as they finished.
    assert!(scores.iter().all(|s| s.accuracy == 1.0), "{scores:?}");
    assert_eq!(c, 0.01);
    assert_eq!(
        scores.iter().map(|s| s.c).collect::<Vec<_>>(),
        vec![0.01, 1.0, 10.0]
    );
    assert_eq!(seen.len(), 3);
}

#[test]
fn nothing_to_hold_out_scores_nothing() {
    let empty = feature_set(8, &[]);
    let x = Sparse::from_features(&feature_set(8, &[vec![1], vec![2]]));
    // No originals behind the rows: no split, no score, the smallest candidate, no panic.
    let (c, scores) = select_c(&x, &[0, 1], &empty, 2, &[0.5, 0.1], 0.1, 5, 1, |_| {});
    assert_eq!(c, 0.1);
    assert!(scores.is_empty());
}
