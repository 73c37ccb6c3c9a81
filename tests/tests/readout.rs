//! The readout: its solver against a long reference solve, its choice of C on a held-out
//! validation split, and its independence of the thread count.

use hebb::backend::FeatureSet;
use hebb::readout::{Sparse, evaluate, fit, select_c, train};
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

/// Noisy prototypes: each class owns 12 of the 120 features and lights each with probability
/// 0.6, on top of 8 random features; 10 % of the labels are wrong, so no C separates the
/// classes and the hinge stays active.
fn prototypes(n: usize, n_classes: usize, seed: u64) -> (FeatureSet, Vec<u8>) {
    let mut rng = Rng::new(seed);
    let n_features = 120;
    let mut labels = Vec::with_capacity(n);
    let rows: Vec<Vec<usize>> = (0..n)
        .map(|_| {
            let k = rng.below(n_classes as u64) as usize;
            let mut r: Vec<usize> = (0..12)
                .filter(|_| rng.next_f64() < 0.6)
                .map(|f| 12 * k + f)
                .collect();
            r.extend((0..8).map(|_| rng.below(n_features as u64) as usize));
            r.sort_unstable();
            r.dedup();
            let noisy = rng.next_f64() < 0.1;
            labels.push(if noisy {
                rng.below(n_classes as u64) as u8
            } else {
                k as u8
            });
            r
        })
        .collect();
    (feature_set(n_features, &rows), labels)
}

/// The readout's primal objective for one class: `½ (‖w‖² + b²) + C Σ max(0, 1 − y (w·x + b))²`.
fn primal(x: &Sparse, labels: &[u8], class: usize, c: f64, w: &[f64], b: f64) -> f64 {
    let reg = 0.5 * (w.iter().map(|v| v * v).sum::<f64>() + b * b);
    let loss: f64 = (0..x.len())
        .map(|i| {
            let y = if labels[i] as usize == class {
                1.0
            } else {
                -1.0
            };
            let m = 1.0 - y * (x.row(i).iter().map(|&f| w[f as usize]).sum::<f64>() + b);
            m.max(0.0).powi(2)
        })
        .sum();
    reg + c * loss
}

/// Plain dual coordinate descent in file order, no shrinking, no early stop: the reference.
/// Returns (w, b, dual objective).
fn reference(
    x: &Sparse,
    labels: &[u8],
    class: usize,
    c: f64,
    epochs: usize,
) -> (Vec<f64>, f64, f64) {
    let d = 1.0 / (2.0 * c);
    let mut w = vec![0f64; x.n_features];
    let mut b = 0f64;
    let mut alpha = vec![0f64; x.len()];
    for _ in 0..epochs {
        for i in 0..x.len() {
            let y = if labels[i] as usize == class {
                1.0
            } else {
                -1.0
            };
            let row = x.row(i);
            let g = y * (row.iter().map(|&f| w[f as usize]).sum::<f64>() + b) - 1.0 + d * alpha[i];
            let new = (alpha[i] - g / (row.len() as f64 + 1.0 + d)).max(0.0);
            let delta = (new - alpha[i]) * y;
            alpha[i] = new;
            for &f in row {
                w[f as usize] += delta;
            }
            b += delta;
        }
    }
    let dual = 0.5 * (w.iter().map(|v| v * v).sum::<f64>() + b * b)
        + 0.5 * d * alpha.iter().map(|a| a * a).sum::<f64>()
        - alpha.iter().sum::<f64>();
    (w, b, dual)
}

#[test]
fn the_fit_reaches_the_optimum_of_a_long_reference_solve() {
    let (fs, labels) = prototypes(600, 3, 11);
    let x = Sparse::from_features(&fs);
    for c in [1e-3, 0.05, 2.0] {
        // A budget of passes the tolerance, not the budget, ends (large C converges slowly).
        let fitted = fit(&x, &labels, 3, c, 5000, 4);
        assert_eq!(fitted.len(), 3);
        for (k, (w, b)) in fitted.iter().enumerate() {
            let (rw, rb, dual) = reference(&x, &labels, k, c, 5000);
            let p_ref = primal(&x, &labels, k, c, &rw, rb);
            // The reference is at the optimum: its primal and dual objectives meet.
            assert!(
                (p_ref + dual).abs() <= 1e-9 * p_ref,
                "C {c}, class {k}: reference gap {}",
                p_ref + dual
            );
            let p = primal(&x, &labels, k, c, w, *b);
            assert!(
                p >= p_ref * (1.0 - 1e-9) && p <= p_ref * (1.0 + 1e-6),
                "C {c}, class {k}: objective {p} against the optimum {p_ref}"
            );
        }
    }
}

#[test]
fn the_warm_started_c_path_scores_as_separate_fits_do() {
    // `select_c` fits the grid in increasing C, each class starting from its last solution; a
    // separate fit of each C on the same split (from zero) must score the same.
    let (fs, labels) = prototypes(900, 3, 21);
    let x = Sparse::from_features(&fs);
    let grid = [3e-4, 3e-3, 0.03, 0.3, 3.0];
    let (_, scores) = select_c(&x, &labels, &fs, 3, &grid, 0.2, 200, 8, |_| {});
    // The split as `select_c` makes it: the last ⌊0.2 · n_class⌋ of each class held out.
    let mut held = vec![false; labels.len()];
    for k in 0..3u8 {
        let of_k: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == k).collect();
        let m = (of_k.len() as f64 * 0.2) as usize;
        for &i in &of_k[of_k.len() - m..] {
            held[i] = true;
        }
    }
    let (fit_rows, val_rows): (Vec<usize>, Vec<usize>) = (0..labels.len()).partition(|&i| !held[i]);
    let x_fit = x.subset(&fit_rows);
    let y_fit: Vec<u8> = fit_rows.iter().map(|&i| labels[i]).collect();
    let val = feature_set(
        fs.n_features,
        &val_rows
            .iter()
            .map(|&i| fs.active(i).collect())
            .collect::<Vec<_>>(),
    );
    let y_val: Vec<u8> = val_rows.iter().map(|&i| labels[i]).collect();
    for s in &scores {
        let r = train(&x_fit, &y_fit, 3, s.c, 200, 8);
        let (acc, _) = evaluate(&r, &val, &y_val);
        // Both are at the optimum up to the tolerance; allow one validation sample to flip.
        assert!(
            (acc - s.accuracy).abs() <= 1.0 / y_val.len() as f64 + 1e-12,
            "C {}: path {} against a separate fit {acc}",
            s.c,
            s.accuracy
        );
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count_or_the_grid_order() {
    let (fs, labels) = prototypes(700, 4, 5);
    let x = Sparse::from_features(&fs);
    let run = |threads: usize, grid: &[f64]| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let (c, scores) = select_c(&x, &labels, &fs, 4, grid, 0.1, 40, 3, |_| {});
                (c, scores, train(&x, &labels, 4, c, 40, 3))
            })
    };
    let one = run(1, &[0.01, 0.1, 1.0]);
    for (threads, grid) in [
        (2, [1.0, 0.01, 0.1]),
        (3, [0.1, 1.0, 0.01]),
        (4, [0.01, 0.1, 1.0]),
    ] {
        assert_eq!(run(threads, &grid), one, "{threads} threads, grid {grid:?}");
    }
}

#[test]
fn sparse_rows_are_the_active_features() {
    // 70 features: the last word has bits past the end, which are not features.
    let mut rng = Rng::new(2);
    let n = 1300; // more than one block of rows
    let mut fs = FeatureSet {
        n_features: 70,
        words: 3,
        bits: (0..n * 3).map(|_| rng.next_u64() as u32).collect(),
    };
    fs.bits[5] = 0; // an empty word
    fs.bits[6..9].fill(0); // an empty row
    let x = Sparse::from_features(&fs);
    assert_eq!(x.len(), n);
    assert_eq!(x.n_features, 70);
    for i in 0..n {
        let want: Vec<u32> = fs.active(i).map(|f| f as u32).collect();
        assert_eq!(x.row(i), want.as_slice(), "row {i}");
    }
    assert!(x.row(2).is_empty());
}
