//! Training on event data end to end through the binary: generated recordings
//! (`hebb events synth`) → `hebb train --data events:DIR` → the run folder's metrics.

use std::path::Path;
use std::process::Command;

fn hebb(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hebb"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running hebb");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "hebb {args:?} failed:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// Per-epoch records of a run folder's `metrics.jsonl`.
fn epochs(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v.get("layer").is_some())
        .collect()
}

/// The authors' igarss2023 settings (on a 64×64 raster, so a debug build trains it in seconds)
/// on generated sky recordings: every layer's neurons spike, maps win, and STDP moves the
/// weights away from their initial 0.8 ± 0.01 (C_l = mean w(1 − w) leaves 0.16).
#[test]
fn igarss2023_layers_spike_win_and_learn_on_generated_sky() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    hebb(
        d,
        &[
            "events",
            "synth",
            "satellites",
            "--out",
            "sky",
            "--count",
            "5",
            "--duration-ms",
            "900",
            "--seed",
            "3",
            "--no-progress",
        ],
    );
    std::fs::write(
        d.join("ig.toml"),
        "preset = \"igarss2023\"\ninput = [64, 64]\n[[layers]]\nepochs = 3\n[[layers]]\nepochs = 3\n",
    )
    .unwrap();
    let out = hebb(
        d,
        &[
            "train",
            "-c",
            "ig.toml",
            "--data",
            "events:sky",
            "-o",
            "runs",
            "-n",
            "ig",
            "--device",
            "cpu",
            "--no-progress",
            "--no-tensorboard",
        ],
    );
    assert!(out.contains("test accuracy"), "{out}");
    let e = epochs(&d.join("runs/ig"));
    for layer in ["conv2", "conv3"] {
        let rows: Vec<_> = e.iter().filter(|v| v["layer"] == layer).collect();
        assert!(!rows.is_empty(), "no epoch of {layer}: {e:?}");
        for r in &rows {
            assert!(
                r["spikes_per_sample"].as_f64().unwrap() > 0.0,
                "{layer} silent: {r}"
            );
            assert!(
                r["winners_per_sample"].as_f64().unwrap() > 0.0,
                "{layer} never won: {r}"
            );
        }
        let last = rows.last().unwrap();
        let wins: Vec<u64> = last["wins_per_map"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_u64().unwrap())
            .collect();
        assert!(wins.iter().any(|&w| w > 0), "{layer}: no map won: {last}");
        let c = last["convergence"].as_f64().unwrap();
        assert!(
            (c - 0.16).abs() > 0.002,
            "{layer}: weights did not move (C_l {c})"
        );
    }
}

/// N-MNIST-style recordings of the embedded digits train the nmnist-events network, and its
/// readout beats chance on held-out recordings.
#[test]
fn nmnist_events_learns_from_generated_saccades() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    hebb(
        d,
        &[
            "events",
            "synth",
            "nmnist",
            "--out",
            "nm",
            "--count",
            "100",
            "--seed",
            "5",
            "--no-progress",
        ],
    );
    std::fs::write(
        d.join("nm.toml"),
        "preset = \"nmnist-events\"\n[[layers]]\nepochs = 1\n[[layers]]\nepochs = 2\n[readout]\nc_grid = []\nc = 0.01\n",
    )
    .unwrap();
    let out = hebb(
        d,
        &[
            "train",
            "-c",
            "nm.toml",
            "--data",
            "events:nm",
            "-o",
            "runs",
            "-n",
            "nm",
            "--device",
            "cpu",
            "--no-progress",
            "--no-tensorboard",
        ],
    );
    let acc: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("test accuracy: "))
        .and_then(|s| s.trim_end_matches(" %").parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in {out}"));
    // Ten classes: chance is 10 %.
    assert!(acc > 25.0, "test accuracy {acc} %");
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("runs/nm/metrics_final.json")).unwrap())
            .unwrap();
    assert!(m.to_string().contains("events:nm"), "{m}");
}
