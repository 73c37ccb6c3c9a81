//! The trainer stops each layer exactly when, and for the reason, the core's `StopState` says:
//! replaying the per-epoch C_l and win ratio of `metrics.jsonl` through the core rule gives the
//! same stop epoch and reason the run recorded.

mod common;

use common::{in_process, write_tiny_data};
use hebb::config::TrainConfig;
use hebb::family::conv_stdp::{stop_rule, stop_text};
use hebb_core::convergence::StopState;

const CONFIG: &str = r#"
preset = "kheradpisheh2018"
[[layers]]
maps = 4
epochs = 4
stop = { c_l = 0.19, min_wins = 10, target_ratio = 0.0, patience = 0 }
[[layers]]
maps = 8
epochs = 5
stop = { c_l = 0.0, min_wins = 10, target_ratio = 0.0, patience = 1 }
[readout]
epochs = 2
shift_augment = 0
"#;

#[test]
fn the_trainer_stops_where_the_core_rule_says() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_data(&dir.path().join("data"));
    std::fs::write(dir.path().join("stop.toml"), CONFIG).unwrap();
    let p = |r: &str| dir.path().join(r).to_str().unwrap().to_owned();
    let args = [
        "train",
        "-c",
        &p("stop.toml"),
        "--data",
        &p("data"),
        "-o",
        &p("runs"),
        "-n",
        "S",
        "--device",
        "cpu",
        "--no-progress",
        "--no-tensorboard",
    ];
    assert_eq!(in_process(&args), Ok(0));
    let cfg = TrainConfig::from_toml_str(CONFIG).unwrap();
    let text = std::fs::read_to_string(dir.path().join("runs/S/metrics.jsonl")).unwrap();
    let recs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let fin: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("runs/S/metrics_final.json")).unwrap(),
    )
    .unwrap();
    let mut reasons = Vec::new();
    for (l, name) in ["conv1", "conv2"].into_iter().enumerate() {
        let rule = stop_rule(&cfg, l);
        let mut s = StopState::new(rule).unwrap();
        let layer: Vec<&serde_json::Value> = recs.iter().filter(|r| r["layer"] == name).collect();
        let mut stopped = None;
        for (e, r) in layer.iter().enumerate() {
            let v = s.after_epoch(
                r["convergence"].as_f64().unwrap(),
                r["win_ratio"].as_f64().unwrap(),
                e as u16,
            );
            // Only the last epoch of a layer carries a stop reason, and it is the core's.
            assert_eq!(
                r.get("stop_reason")
                    .and_then(|x| x.as_str())
                    .map(str::to_owned),
                v.map(|v| stop_text(&v, &rule)),
                "{name} epoch {}",
                e + 1
            );
            if let Some(v) = v {
                stopped = Some((e + 1, stop_text(&v, &rule)));
                break;
            }
        }
        let (epochs, reason) = stopped.expect("the core rule stops every layer");
        assert_eq!(layer.len(), epochs, "{name}: no epoch after the stop");
        assert_eq!(fin["layers"][l]["epochs"], epochs as u64);
        assert_eq!(fin["layers"][l]["stop_reason"], reason.as_str());
        reasons.push(reason);
    }
    // The two layers stopped for the two reasons the config sets up.
    assert!(reasons[0].starts_with("converged"), "{reasons:?}");
    assert!(reasons[1].starts_with("no better win ratio"), "{reasons:?}");
}
