//! `rate_target` homeostasis: after an epoch each map's threshold moves by
//! `lr·(rate − target)·θ` (rate = the map's wins per sample that epoch), clamped; checked against
//! an f64 model of the rule on the thresholds the checkpoint stores.

mod common;

use common::{in_process, write_tiny_data};
use hebb::family::conv_stdp::read_checkpoint;

const CONFIG: &str = r#"
preset = "kheradpisheh2018"
[[layers]]
maps = 8
epochs = 1
rate_target = { rate = 0.5, lr = 0.5, theta_min = 2.0, theta_max = 12.0 }
[[layers]]
maps = 8
epochs = 1
[readout]
epochs = 2
shift_augment = 0
"#;

#[test]
fn thresholds_move_toward_the_target_win_rate() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_data(&dir.path().join("data"));
    std::fs::write(dir.path().join("rt.toml"), CONFIG).unwrap();
    let args = common::train_args(dir.path(), "rt.toml", "data", "R");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(in_process(&args), Ok(0));
    let run = dir.path().join("runs/R");
    let rec: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let samples = rec["samples"].as_f64().unwrap();
    let wins: Vec<f64> = rec["wins_per_map"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let (net, _) =
        read_checkpoint(&run.join("checkpoints/checkpoint_epoch001_conv1.hebb")).unwrap();
    let theta0 = 10.0; // the preset's conv1 threshold, in potential units
    let (mut up, mut down) = (0, 0);
    for (m, (&w, &t)) in wins.iter().zip(&net.thresholds[0]).enumerate() {
        let rate = w / samples;
        let want = (theta0 + 0.5 * (rate - 0.5) * theta0).clamp(2.0, 12.0);
        let got = hebb_core::q::potential_to_f64(t);
        // The rule rounds once in fixed point (Q16 rate, Q0.32 rate of change).
        assert!(
            (got - want).abs() < 1e-3,
            "map {m}: rate {rate}: {got} vs {want}"
        );
        if rate > 0.5 {
            up += 1;
        } else if rate < 0.5 {
            down += 1;
        }
    }
    // With 5 winners per sample over 8 maps some maps are above the target and some below.
    assert!(up > 0 && down > 0, "{wins:?}");
}
