//! Interrupted training resumes exactly: a run stopped with `--stop-after-samples` (the hidden
//! flag that acts like Ctrl-C) exits with 130 and leaves `checkpoint_latest.hebb`; resuming it
//! ends with a `model.hebb` byte-identical to an uninterrupted run with the same seed. Also
//! checks the run folder layout the README documents.
//!
//! The interrupted run of one case goes through the real `hebb` binary (exit code and stderr);
//! the others call `hebb::cli::run` in-process.

use clap::Parser;
use hebb::cli::{Cli, run};
use hebb::config::TrainConfig;
use hebb_core::model::Model;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{N_TEST, N_TRAIN, TINY_TOML, hebb_bin};

/// Runs the real binary.
fn hebb(args: &[&str]) -> Output {
    Command::new(hebb_bin())
        .args(args)
        .output()
        .expect("running hebb")
}

/// Runs the CLI in-process; returns its exit code.
fn hebb_in_process(args: &[&str]) -> i32 {
    let cli = Cli::try_parse_from(std::iter::once("hebb").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("parsing {args:?}: {e}"));
    match run(cli) {
        Ok(code) => code,
        Err(e) => panic!("hebb {args:?} failed: {e:#}"),
    }
}

/// A temporary folder with the tiny config and a tiny IDX data set (the first images of the
/// embedded MNIST subset).
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        common::write_tiny_data(&dir.path().join("data"));
        std::fs::write(dir.path().join("tiny.toml"), TINY_TOML).unwrap();
        Self { dir }
    }

    fn run_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join("runs").join(name)
    }

    /// `train` arguments for a fresh run called `name`.
    fn train_args(&self, name: &str) -> Vec<String> {
        common::train_args(self.dir.path(), "tiny.toml", "data", name)
    }

    fn latest(&self, name: &str) -> String {
        self.run_dir(name)
            .join("checkpoints/checkpoint_latest.hebb")
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// Trains run `name` without interruption.
    fn train_uninterrupted(&self, name: &str) {
        let args = self.train_args(name);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(hebb_in_process(&args), 0);
    }

    /// Trains run `name` in-process, stopping after `n` samples.
    fn train_stopped(&self, name: &str, n: u64) {
        let mut args = self.train_args(name);
        args.extend(["--stop-after-samples".into(), n.to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(hebb_in_process(&args), 130, "stop after {n}");
        self.assert_interrupted(name);
    }

    /// Resumes run `name` in-process from its latest checkpoint, optionally stopping again.
    fn resume(&self, name: &str, stop_after: Option<u64>) -> i32 {
        let latest = self.latest(name);
        let mut args = vec![
            "train",
            "--resume",
            &latest,
            "--device",
            "cpu",
            "--no-progress",
        ];
        let n = stop_after.map(|n| n.to_string());
        if let Some(n) = &n {
            args.extend(["--stop-after-samples", n]);
        }
        hebb_in_process(&args)
    }

    fn assert_interrupted(&self, name: &str) {
        let run = self.run_dir(name);
        assert!(run.join("checkpoints/checkpoint_latest.hebb").is_file());
        assert!(
            !run.join("model.hebb").exists(),
            "an interrupted run has no model"
        );
        let bytes = std::fs::read(run.join("checkpoints/checkpoint_latest.hebb")).unwrap();
        let m = Model::decode(&bytes).expect("the checkpoint decodes");
        assert!(!m.state.is_empty(), "a checkpoint holds training state");
    }
}

fn files_under(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// `metrics.jsonl` without the wall-clock fields, which differ between runs.
fn metrics_without_timing(run: &Path) -> Vec<serde_json::Value> {
    json_lines(&run.join("metrics.jsonl"))
        .into_iter()
        .map(|mut v| {
            let o = v.as_object_mut().unwrap();
            o.remove("seconds");
            o.remove("samples_per_sec");
            v
        })
        .collect()
}

fn is_number(v: &serde_json::Value) -> bool {
    v.as_f64().is_some_and(f64::is_finite)
}

/// Checks the run folder against the layout in the README.
fn check_run_folder(run: &Path, resumed: bool, batch: u32) {
    let top = files_under(run);
    for f in [
        "config.toml",
        "checkpoints",
        "model.hebb",
        "metrics.jsonl",
        "metrics_final.json",
        "logs",
        "events",
        "plots",
    ] {
        assert!(top.contains(f), "{} lacks {f}: {top:?}", run.display());
    }
    assert!(
        top.iter().all(|f| !f.contains(".tmp.")),
        "temp files left: {top:?}"
    );

    // config.toml: the resolved config, which parses back to the tiny config with seed 42.
    let text = std::fs::read_to_string(run.join("config.toml")).unwrap();
    let cfg = TrainConfig::from_toml_str(&text).unwrap();
    let mut want = TrainConfig::from_toml_str(TINY_TOML).unwrap();
    want.seed = 42;
    want.layers.iter_mut().for_each(|l| l.batch = batch);
    assert_eq!(cfg, want);
    assert_eq!(text, want.to_toml());

    // Checkpoints: one per layer and epoch, best and latest; all decode and hold state.
    let ck = files_under(&run.join("checkpoints"));
    let want_ck: BTreeSet<String> = [
        "checkpoint_epoch001_conv1.hebb",
        "checkpoint_epoch001_conv2.hebb",
        "checkpoint_best.hebb",
        "checkpoint_latest.hebb",
    ]
    .map(String::from)
    .into();
    assert_eq!(ck, want_ck, "{}", run.display());
    for f in &ck {
        let p = run.join("checkpoints").join(f);
        let (_, st) = hebb::family::conv_stdp::read_checkpoint(&p).unwrap();
        assert_eq!(st.config, want.to_toml(), "{f}");
    }
    let (net, st) =
        hebb::family::conv_stdp::read_checkpoint(&run.join("checkpoints/checkpoint_latest.hebb"))
            .unwrap();
    assert_eq!(st.layer, 2, "the latest checkpoint is past the last layer");
    assert!(
        net.readout.is_some(),
        "the final checkpoint has the readout"
    );
    assert_eq!(st.total_samples, 2 * N_TRAIN as u64);

    // The model: decodes, no training state, with a readout.
    let bytes = std::fs::read(run.join("model.hebb")).unwrap();
    let m = Model::decode(&bytes).unwrap();
    assert!(m.state.is_empty());
    assert!(m.readout.is_some());
    assert_eq!(m.layers.len(), 2);
    assert_eq!(m.provenance.seed, 42);
    assert_eq!(m.provenance.epochs.as_slice(), &[1, 1]);

    // metrics.jsonl: one line per layer and epoch.
    let lines = json_lines(&run.join("metrics.jsonl"));
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (v, layer) in lines.iter().zip(["conv1", "conv2"]) {
        assert_eq!(v["layer"], layer);
        assert_eq!(v["epoch"], 1);
        assert!(is_number(&v["convergence"]), "{v}");
        assert_eq!(v["samples"], N_TRAIN as u64);
    }

    // metrics_final.json.
    let fin: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("metrics_final.json")).unwrap()).unwrap();
    for k in ["test_accuracy", "train_accuracy"] {
        let a = fin[k].as_f64().unwrap_or_else(|| panic!("{k} in {fin}"));
        assert!((0.0..=1.0).contains(&a), "{k} = {a}");
    }
    let layers = fin["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    for l in layers {
        for k in ["convergence", "seconds", "samples_per_sec"] {
            assert!(is_number(&l[k]), "layers[].{k} in {l}");
        }
        assert_eq!(l["epochs"], 1);
    }
    assert_eq!(fin["n_train"], N_TRAIN as u64);
    assert_eq!(fin["n_test"], N_TEST as u64);
    // The readout's C was chosen on the preset's grid, every candidate scored.
    let grid = [0.0003, 0.001, 0.003, 0.01, 2.4];
    let c = fin["readout"]["c"].as_f64().unwrap();
    assert!(grid.contains(&c), "chosen C {c}");
    let scored: Vec<f64> = fin["readout"]["validation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["c"].as_f64().unwrap())
        .collect();
    assert_eq!(scored, grid);

    // Log, TensorBoard events (one file per process), plots.
    let log = std::fs::read_to_string(run.join("logs/train.log")).unwrap();
    assert!(log.contains("test accuracy"), "{log}");
    assert_eq!(log.contains("interrupted"), resumed, "{log}");
    let events = files_under(&run.join("events"));
    assert!(
        !events.is_empty() && events.iter().all(|f| f.starts_with("events.out.tfevents.")),
        "{events:?}"
    );
    let plots = files_under(&run.join("plots"));
    for p in [
        "kernels_conv1.png",
        "kernels_conv2.png",
        "wins_conv1.png",
        "wins_conv2.png",
        "convergence.png",
        "readout_c.png",
    ] {
        assert!(plots.contains(p), "plots/{p} missing: {plots:?}");
    }
    for p in &plots {
        assert!(p.ends_with(".png"), "{p}");
        let b = std::fs::read(run.join("plots").join(p)).unwrap();
        assert!(
            b.starts_with(b"\x89PNG\r\n\x1a\n"),
            "plots/{p} is not a PNG"
        );
    }
}

/// Asserts that the resumed run B ended exactly like the uninterrupted run A.
fn assert_same_run(f: &Fixture, a: &str, b: &str) {
    assert_same_run_batch(f, a, b, 1);
}

/// [`assert_same_run`] for runs trained with mini-batches of `batch`.
fn assert_same_run_batch(f: &Fixture, a: &str, b: &str, batch: u32) {
    let (ra, rb) = (f.run_dir(a), f.run_dir(b));
    let ma = std::fs::read(ra.join("model.hebb")).unwrap();
    let mb = std::fs::read(rb.join("model.hebb")).unwrap();
    assert!(ma == mb, "model.hebb of {a} and {b} differ");
    for ck in [
        "checkpoint_epoch001_conv1.hebb",
        "checkpoint_epoch001_conv2.hebb",
        "checkpoint_latest.hebb",
    ] {
        let (na, sa) =
            hebb::family::conv_stdp::read_checkpoint(&ra.join("checkpoints").join(ck)).unwrap();
        let (nb, sb) =
            hebb::family::conv_stdp::read_checkpoint(&rb.join("checkpoints").join(ck)).unwrap();
        assert_eq!(na.weights, nb.weights, "{ck}");
        assert_eq!(na.thresholds, nb.thresholds, "{ck}");
        assert_eq!(sa.lr, sb.lr, "{ck}");
        assert_eq!(sa.wins, sb.wins, "{ck}");
        assert_eq!(sa.layer_epochs, sb.layer_epochs, "{ck}");
        assert_eq!(sa.total_samples, sb.total_samples, "{ck}");
    }
    assert_eq!(metrics_without_timing(&ra), metrics_without_timing(&rb));
    let fin = |r: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(r.join("metrics_final.json")).unwrap()).unwrap()
    };
    let (fa, fb) = (fin(&ra), fin(&rb));
    for k in ["test_accuracy", "train_accuracy", "confusion", "n_features"] {
        assert_eq!(fa[k], fb[k], "metrics_final.json: {k}");
    }
    check_run_folder(&ra, false, batch);
    check_run_folder(&rb, true, batch);
}

/// Stopped in the middle of layer 2's first epoch, through the real binary: exit code 130,
/// the checkpoint, then `--resume` finishes with the same bytes.
#[test]
fn resume_mid_layer2_binary_is_byte_identical() {
    let f = Fixture::new();
    f.train_uninterrupted("A");
    let stop = (N_TRAIN + N_TRAIN / 2).to_string();
    let mut args = f.train_args("B");
    args.extend(["--stop-after-samples".into(), stop]);
    let out = Command::new(hebb_bin()).args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "stderr:\n{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    f.assert_interrupted("B");
    let (_, st) = hebb::family::conv_stdp::read_checkpoint(Path::new(&f.latest("B"))).unwrap();
    assert_eq!((st.layer, st.epoch, st.pos), (1, 0, N_TRAIN as u64 / 2));
    // Layer 1 finished before the interruption: its epoch checkpoint and metrics exist.
    let ck = files_under(&f.run_dir("B").join("checkpoints"));
    assert!(ck.contains("checkpoint_epoch001_conv1.hebb"), "{ck:?}");
    assert!(!ck.contains("checkpoint_epoch001_conv2.hebb"), "{ck:?}");
    assert_eq!(json_lines(&f.run_dir("B").join("metrics.jsonl")).len(), 1);

    let latest = f.latest("B");
    let out = hebb(&[
        "train",
        "--resume",
        &latest,
        "--device",
        "cpu",
        "--no-progress",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("test accuracy"));
    assert_same_run(&f, "A", "B");
}

/// Stopped in the middle of layer 1 (in-process).
#[test]
fn resume_mid_layer1_is_byte_identical() {
    let f = Fixture::new();
    f.train_stopped("B", N_TRAIN as u64 / 2);
    let (_, st) = hebb::family::conv_stdp::read_checkpoint(Path::new(&f.latest("B"))).unwrap();
    assert_eq!((st.layer, st.epoch, st.pos), (0, 0, N_TRAIN as u64 / 2));
    assert_eq!(f.resume("B", None), 0);
    // Trained after the interrupted run in the same process: the stop must not leak into it.
    f.train_uninterrupted("A");
    assert_same_run(&f, "A", "B");
}

/// Stops exactly at the end of an epoch's samples (before the epoch's bookkeeping), at the
/// very first sample and at the last sample of layer 2, and a run interrupted twice.
#[test]
fn resume_at_edges_and_twice_is_byte_identical() {
    let f = Fixture::new();
    f.train_uninterrupted("A");
    for (name, stop) in [
        ("first", 1),
        ("end1", N_TRAIN as u64),
        ("end2", 2 * N_TRAIN as u64),
    ] {
        f.train_stopped(name, stop);
        assert_eq!(f.resume(name, None), 0, "{name}");
        assert_same_run(&f, "A", name);
    }
    // Interrupted in layer 1, resumed and interrupted again in layer 2, resumed to the end.
    f.train_stopped("twice", 100);
    assert_eq!(f.resume("twice", Some(N_TRAIN as u64 + 50)), 130);
    f.assert_interrupted("twice");
    let (_, st) = hebb::family::conv_stdp::read_checkpoint(Path::new(&f.latest("twice"))).unwrap();
    assert_eq!(
        (st.layer, st.pos, st.total_samples),
        (1, 50, N_TRAIN as u64 + 50)
    );
    assert_eq!(f.resume("twice", None), 0);
    assert_same_run(&f, "A", "twice");
}

/// Mini-batch training stopped at a sample count that is not a multiple of the batch: the stop
/// rounds up to the batch boundary, and the resumed run forms the same batches as an
/// uninterrupted one.
#[test]
fn resume_with_mini_batches_is_byte_identical() {
    let f = Fixture::new();
    let with_batch = |name: &str, stop: Option<u64>| -> i32 {
        let mut args = f.train_args(name);
        args.extend(["--batch".into(), "16".into()]);
        if let Some(n) = stop {
            args.extend(["--stop-after-samples".into(), n.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        hebb_in_process(&args)
    };
    assert_eq!(with_batch("A", None), 0);
    assert_eq!(with_batch("B", Some(37)), 130);
    f.assert_interrupted("B");
    let (_, st) = hebb::family::conv_stdp::read_checkpoint(Path::new(&f.latest("B"))).unwrap();
    assert_eq!(
        (st.layer, st.pos),
        (0, 48),
        "stops on the next batch boundary"
    );
    assert_eq!(f.resume("B", None), 0);
    assert_same_run_batch(&f, "A", "B", 16);
    // The batch changes what is learned: the sequential run differs.
    f.train_uninterrupted("S");
    assert_ne!(
        std::fs::read(f.run_dir("S").join("model.hebb")).unwrap(),
        std::fs::read(f.run_dir("A").join("model.hebb")).unwrap()
    );
}
