//! The Diehl & Cook family end to end through the `hebb` binary, on the embedded MNIST digits:
//! a short run writes the documented run folder and plots; learning beats the same network
//! with plasticity off by a wide margin; the model's `predict_batch` reproduces the test pass
//! the run scored; a run stopped mid-epoch and resumed ends with a byte-identical
//! `model.hebb`; bad configs, flags the family does not use and damaged checkpoints are refused
//! with the problem named, before a run folder is created.

use hebb::data::DataSource;
use hebb::family::diehl_cook::DiehlCook;
use hebb::family::diehl_cook::model::ModelFile;
use hebb::run::Trainer;
use std::path::Path;

mod common;
use common::{Dir, hebb, stderr};

fn read_model(path: &Path) -> ModelFile {
    ModelFile::from_bytes(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()))
}

fn final_of(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("metrics_final.json")).unwrap()).unwrap()
}

/// A small network on the first digits of the embedded set (a second or two per run).
const SMALL: &str = r#"
preset = "diehl2015"
neurons = 30
epochs = 2
train_samples = 400
test_samples = 200
block = 100
"#;

#[test]
fn a_run_writes_its_folder_and_plots() {
    let d = Dir::new();
    let cfg = d.write("small.toml", SMALL);
    let o = d.train(&cfg, "small", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("test accuracy"), "{out}");
    let run = d.run("small");
    for f in [
        "config.toml",
        "metrics.jsonl",
        "metrics_final.json",
        "model.hebb",
        "checkpoints/checkpoint_latest.hebb",
        "checkpoints/checkpoint_best.hebb",
        "checkpoints/checkpoint_epoch001_train.hebb",
        "checkpoints/checkpoint_epoch002_train.hebb",
        "plots/weights.png",
        "plots/theta.png",
        "plots/assignments.png",
        "plots/confusion.png",
        "plots/learning_curve.png",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["digits"], 800);
    let m = &lines[1]["metrics"];
    assert_eq!(m["test_digits"], 200);
    let per_class: u64 = m["neurons_per_class"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(per_class + m["unassigned"].as_u64().unwrap(), 30);
    // The exported model holds no training state and carries the assignment the run scored.
    let model = read_model(&run.join("model.hebb"));
    assert!(model.state.is_empty());
    assert_eq!(model.net.n, 30);
    let fin = final_of(&run);
    assert_eq!(fin["family"], "diehl-cook");
    assert_eq!(fin["history"].as_array().unwrap().len(), 2);
    // 8 blocks of 100 digits; the first has no assignment to be scored with.
    assert_eq!(fin["curve"].as_array().unwrap().len(), 7);
}

/// Test accuracy (all-activity vote, frozen assignment) of the last epoch of a run.
fn accuracy(run: &Path) -> f64 {
    final_of(run)["history"].as_array().unwrap().last().unwrap()["test_frozen"]["all"]
        .as_f64()
        .unwrap()
}

#[test]
fn learning_beats_the_frozen_network_and_chance() {
    let d = Dir::new();
    let base = "preset = \"diehl2015\"\nneurons = 50\ntrain_samples = 1000\ntest_samples = 400\n";
    let learn = d.write("learn.toml", base);
    // The same network, digits and assignment pass with STDP and θ adaptation off.
    let frozen = d.write(
        "frozen.toml",
        &format!("{base}[physical]\nnu_pre = 0.0\nnu_post = 0.0\ntheta_plus = 0.0\n"),
    );
    for (cfg, name) in [(&learn, "learn"), (&frozen, "frozen")] {
        let o = d.train(cfg, name, &[]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
    }
    let (a, b) = (accuracy(&d.run("learn")), accuracy(&d.run("frozen")));
    // Measured: about 0.64 after 1,000 digits at N = 100; random weights stay far lower.
    assert!(a >= 0.5, "learned network: {a}");
    assert!(a >= b + 0.15, "learned {a} against frozen {b}");
}

#[test]
fn predict_batch_reproduces_the_scored_test_pass() {
    let d = Dir::new();
    let cfg = d.write(
        "p.toml",
        "preset = \"diehl2015\"\nneurons = 20\ntrain_samples = 300\ntest_samples = 60\n",
    );
    let o = d.train(&cfg, "p", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = d.run("p");
    let ck = run.join("checkpoints/checkpoint_latest.hebb");
    let t = DiehlCook::resume(read_model(&ck)).unwrap();
    let split = DataSource::EmbeddedMnist.load().unwrap();
    let digits: Vec<&[u8]> = (0..60).map(|i| split.test.image(i)).collect();
    let preds = t.predict_batch(&digits).unwrap();
    let mut conf = vec![vec![0u64; 10]; 10];
    for (p, &l) in preds.iter().zip(&split.test.labels) {
        if let Some(k) = p.class {
            conf[usize::from(l)][usize::from(k)] += 1;
        }
    }
    let stored: Vec<Vec<u64>> =
        serde_json::from_value(final_of(&run)["confusion"].clone()).unwrap();
    assert_eq!(conf, stored);
    // One digit alone gives the batch's answer for index 0.
    assert_eq!(t.predict(digits[0]).unwrap(), preds[0]);
}

#[test]
fn resume_mid_epoch_is_byte_identical() {
    let d = Dir::new();
    let cfg = d.write("small.toml", SMALL);
    let o = d.train(&cfg, "whole", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Stopped inside the second epoch, inside a block.
    let o = d.train(&cfg, "resumed", &["--stop-after-samples", "550"]);
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let run = d.run("resumed");
    assert!(!run.join("model.hebb").exists());
    let latest = run.join("checkpoints/checkpoint_latest.hebb");
    assert!(!read_model(&latest).state.is_empty());
    let o = hebb(&[
        "train",
        "--resume",
        latest.to_str().unwrap(),
        "--no-progress",
        "--no-tensorboard",
    ]);
    assert!(o.status.success(), "resume: {}", stderr(&o));
    let a = std::fs::read(d.run("whole").join("model.hebb")).unwrap();
    let b = std::fs::read(run.join("model.hebb")).unwrap();
    assert!(a == b, "model.hebb differs after a resume");
    let (fa, fb) = (final_of(&d.run("whole")), final_of(&run));
    for k in ["history", "curve", "confusion", "digits"] {
        assert_eq!(fa[k], fb[k], "{k}");
    }
}

#[test]
fn bad_input_is_refused_before_a_run_folder_exists() {
    let d = Dir::new();
    for (text, what) in [
        ("preset = \"diehl2015\"\nneurons = 0\n", "neurons"),
        ("preset = \"diehl2015\"\nneuronz = 5\n", "neuronz"),
        (
            "preset = \"diehl2015\"\n[physical]\ndt_ms = -1.0\n",
            "physical",
        ),
        (
            "preset = \"diehl2015\"\n[physical.exc]\ntau_ms = \"x\"\n",
            "tau_ms",
        ),
        (
            "preset = \"diehl2015\"\ndata = \"/no/such/folder\"\n",
            "/no/such/folder",
        ),
        (
            "preset = \"diehl2015\"\n[init]\nscale = 5.0\noffset = 0.0\n",
            "init",
        ),
    ] {
        let cfg = d.write("bad.toml", text);
        let o = d.train(&cfg, "bad", &[]);
        assert!(!o.status.success(), "{text}");
        assert!(stderr(&o).contains(what), "{text}: {}", stderr(&o));
        assert!(!o.stderr.is_empty() && !stderr(&o).contains("panicked"));
    }
    let cfg = d.write("ok.toml", SMALL);
    for (flag, extra) in [
        ("--batch", &["--batch", "4"][..]),
        ("--n-classes", &["--n-classes", "3"][..]),
        ("--device cuda", &["--device", "cuda"][..]),
    ] {
        let o = d.train(&cfg, "bad", extra);
        assert!(!o.status.success(), "{flag}");
        assert!(
            stderr(&o).contains(flag.split(' ').next().unwrap()),
            "{flag}: {}",
            stderr(&o)
        );
    }
    assert!(!d.runs_exist());
    // A damaged checkpoint is named and refused.
    let o = d.train(&cfg, "ok", &["--stop-after-samples", "50"]);
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let latest = d.run("ok").join("checkpoints/checkpoint_latest.hebb");
    let mut bytes = std::fs::read(&latest).unwrap();
    let k = bytes.len() / 2;
    bytes[k] ^= 0x40;
    let bad = d.path("bad.hebb");
    std::fs::write(&bad, &bytes).unwrap();
    let o = hebb(&["train", "--resume", &bad, "--no-progress"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("bad.hebb") && !e.contains("panicked"), "{e}");
}
