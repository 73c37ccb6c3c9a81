//! The local-rule family end to end through the `hebb` binary: a Hopfield run writes the
//! documented run folder; a run stopped with `--stop-after-samples` and resumed ends with a
//! `model.hebb` byte-identical to an uninterrupted run (Oja and trace STDP); bad configs and
//! flags the family does not use are refused with the key or flag named, before any run
//! folder is created.

use hebb::family::rules::config::RulesConfig;
use hebb::family::rules::model::{Model, ModelFile};
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{Dir, hebb, hebb_bin, stderr};

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn read_model(path: &Path) -> ModelFile {
    ModelFile::from_bytes(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()))
}

/// `metrics.jsonl` without the wall-clock fields.
fn metrics(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("seconds");
            o.remove("samples_per_sec");
            v
        })
        .collect()
}

const HOPFIELD_SMALL: &str = r#"
preset = "hopfield-random"
[task]
neurons = 64
patterns = 3
noise = [0.1, 0.25]
cues_per_pattern = 2
"#;

/// `hebb train` on a small `hopfield-random` override: the run folder holds the resolved
/// config (the preset with the overrides), checkpoints, the model (a 64-neuron memory of the 3
/// patterns, no training state), one metrics record with the recall of each noise level,
/// `metrics_final.json` and PNG plots; the stored patterns are recalled perfectly (load 0.05).
#[test]
fn hopfield_random_writes_the_run_folder() {
    let d = Dir::new();
    let cfg = d.write("hop.toml", HOPFIELD_SMALL);
    let o = d.train(&cfg, "hop", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = d.run("hop");
    let top = names(&run);
    for f in [
        "config.toml",
        "checkpoints",
        "model.hebb",
        "metrics.jsonl",
        "metrics_final.json",
        "plots",
    ] {
        assert!(
            top.contains(&f.to_owned()),
            "{} lacks {f}: {top:?}",
            run.display()
        );
    }
    assert!(top.iter().all(|f| !f.contains(".tmp")), "{top:?}");

    // The resolved config parses back to the preset with the overrides.
    let text = std::fs::read_to_string(run.join("config.toml")).unwrap();
    let got = RulesConfig::from_toml_str(&text).unwrap();
    assert_eq!(got, RulesConfig::from_toml_str(HOPFIELD_SMALL).unwrap());
    assert_eq!(got.preset, "hopfield-random");

    let ck = names(&run.join("checkpoints"));
    assert!(ck.contains(&"checkpoint_latest.hebb".to_owned()), "{ck:?}");
    for f in &ck {
        let m = read_model(&run.join("checkpoints").join(f));
        assert!(!m.state.is_empty(), "{f} holds training state");
    }

    let m = read_model(&run.join("model.hebb"));
    assert!(
        m.state.is_empty(),
        "an exported model holds no training state"
    );
    let Model::Hopfield(h) = &m.model else {
        panic!("a Hopfield memory")
    };
    assert_eq!((h.n, h.patterns()), (64, 3));
    assert_eq!(h.w.len(), 64 * 64);
    assert!((0..64).all(|i| h.w[i * 65] == 0), "zero diagonal");

    let lines = metrics(&run);
    assert_eq!(lines.len(), 1, "one-shot storage: one epoch record");
    let recall = lines[0]["metrics"]["recall"].as_array().unwrap();
    assert_eq!(recall.len(), 2, "one summary per noise level");
    for r in recall {
        assert_eq!(r["count"], 6);
        assert_eq!(r["mean_overlap"].as_f64(), Some(1.0), "{r}");
    }
    let fin: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics_final.json")).unwrap())
            .unwrap();
    assert_eq!(fin["family"], "local-rules");
    assert_eq!(fin["preset"], "hopfield-random");
    assert_eq!(fin["stats"]["neurons"], 64);
    assert_eq!(fin["stats"]["stable_patterns"], 3);

    let plots: Vec<String> = names(&run.join("plots"))
        .into_iter()
        .filter(|p| p.ends_with(".png"))
        .collect();
    assert!(!plots.is_empty(), "no plots");
    for p in &plots {
        let bytes = std::fs::read(run.join("plots").join(p)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{p} is not a PNG");
    }
}

/// `--paper hopfield-random` as it is (500 neurons, 50 patterns): finishes and recalls the
/// 10 %-noise cues with a mean overlap ≥ 0.99.
#[test]
fn hopfield_random_preset_runs_as_is() {
    let d = Dir::new();
    let runs = d.path("runs");
    let o = hebb(&[
        "train",
        "--paper",
        "hopfield-random",
        "-o",
        &runs,
        "-n",
        "p",
        "--no-progress",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = metrics(&d.run("p"));
    let r = &lines[0]["metrics"]["recall"][0];
    assert_eq!(r["cues"], "noise 0.10");
    assert!(r["mean_overlap"].as_f64().unwrap() >= 0.99, "{r}");
}

/// Stops run `name` after `n` units (exit 130, a checkpoint, no model), resumes it and
/// returns the finished run folder.
fn stop_and_resume(d: &Dir, cfg: &str, name: &str, n: u64) -> PathBuf {
    let o = d.train(cfg, name, &["--stop-after-samples", &n.to_string()]);
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let run = d.run(name);
    let latest = run.join("checkpoints/checkpoint_latest.hebb");
    assert!(latest.is_file());
    assert!(
        !run.join("model.hebb").exists(),
        "an interrupted run has no model"
    );
    assert!(!read_model(&latest).state.is_empty());
    let o = hebb(&[
        "train",
        "--resume",
        latest.to_str().unwrap(),
        "--no-progress",
    ]);
    assert!(o.status.success(), "resume: {}", stderr(&o));
    run
}

fn assert_resume_exact(cfg_text: &str, stop: u64) {
    let d = Dir::new();
    let cfg = d.write("c.toml", cfg_text);
    let o = d.train(&cfg, "whole", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let whole = d.run("whole");
    let resumed = stop_and_resume(&d, &cfg, "resumed", stop);
    let (a, b) = (
        std::fs::read(whole.join("model.hebb")).unwrap(),
        std::fs::read(resumed.join("model.hebb")).unwrap(),
    );
    assert!(a == b, "model.hebb differs after a resume at {stop}");
    assert_eq!(metrics(&whole), metrics(&resumed));
    let final_of = |r: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(r.join("metrics_final.json")).unwrap())
            .unwrap()
    };
    assert_eq!(final_of(&whole), final_of(&resumed));
}

/// Oja, two epochs of 3000 samples, stopped mid-way through the second epoch (3500) and
/// resumed: the same bytes as an uninterrupted run.
#[test]
fn oja_resume_is_byte_identical() {
    assert_resume_exact(
        r#"
preset = "oja-gaussian"
epochs = 2
[task]
dim = 10
variances = [4.0, 2.0]
samples = 3000
"#,
        3500,
    );
}

/// Trace STDP, 12 000 steps, stopped at step 7001 (inside a pattern block and a chunk) and
/// resumed: potentials, traces and adaptation are checkpointed, so the bytes are the same.
#[test]
fn stdp_resume_is_byte_identical() {
    assert_resume_exact(
        r#"
preset = "stdp-pattern"
[task]
inputs = 30
steps = 12000
test_steps = 2000
"#,
        7001,
    );
}

/// Bad values name their key and exit non-zero without creating a run folder; so does an
/// unknown key; `--batch` on a local-rules run is refused by name.
#[test]
fn bad_configs_and_flags_are_refused_by_name() {
    let d = Dir::new();
    for (text, key) in [
        (
            "preset = \"hopfield-random\"\n[task]\nneurons = 0\n",
            "task.neurons",
        ),
        (
            "preset = \"oja-gaussian\"\n[rule.rate]\nrate = -1.0\n",
            "rule.rate.rate",
        ),
        (
            "preset = \"sanger-gaussian\"\n[rule]\noutputs = 0\n",
            "rule.outputs",
        ),
        (
            "preset = \"hopfield-random\"\n[task]\nnoise = [1.5]\n",
            "task.noise",
        ),
        ("preset = \"bcm-bars\"\n[rule]\ntau = 0.0\n", "rule.tau"),
        ("preset = \"hopfield-random\"\n[rule]\nbogus = 1\n", "bogus"),
        (
            "preset = \"oja-gaussian\"\nlearning_rate = 0.1\n",
            "learning_rate",
        ),
        ("preset = \"no-such-preset\"\n", "no-such-preset"),
    ] {
        let cfg = d.write("bad.toml", text);
        let o = d.train(&cfg, "bad", &[]);
        let err = stderr(&o);
        assert!(!o.status.success(), "{text:?} was accepted");
        assert!(
            err.contains(key),
            "{text:?}: stderr does not name {key}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(!d.runs_exist(), "{text:?} created a run folder");
    }
    let cfg = d.write("hop.toml", HOPFIELD_SMALL);
    let o = d.train(&cfg, "b", &["--batch", "4"]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("--batch") && err.contains("local-rules"),
        "{err}"
    );
    assert!(!d.runs_exist(), "a refused flag created a run folder");
}

/// A task larger than the memory budget is refused before anything is allocated or written
/// (here 60,000 neurons: a 14 GB weight matrix, against a 1 GB budget).
#[test]
fn a_task_beyond_the_memory_budget_is_refused() {
    let d = Dir::new();
    let cfg = d.write(
        "big.toml",
        "preset = \"hopfield-random\"\n[task]\nneurons = 60000\npatterns = 10\n",
    );
    let runs = d.path("runs");
    let o = Command::new(hebb_bin())
        .args([
            "train",
            "-c",
            &cfg,
            "-o",
            &runs,
            "-n",
            "big",
            "--no-progress",
        ])
        .env("HEBB_MEMORY_LIMIT", (1u64 << 30).to_string())
        .output()
        .expect("running hebb");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("this task needs about") && e.contains("GiB are available"),
        "{e}"
    );
    assert!(!d.runs_exist(), "a run folder was created");
}

/// `hebb predict` recalls a trained memory from noisy cues and writes every trajectory; `hebb
/// inspect` describes the file; `eval` (a classifier command) and bad `predict` values are
/// refused with messages that say why.
#[test]
fn predict_recalls_and_inspect_describes_a_memory() {
    let d = Dir::new();
    let cfg = d.write("hop.toml", HOPFIELD_SMALL);
    assert!(d.train(&cfg, "hop", &[]).status.success());
    let run = d.run("hop");
    let run_s = run.to_str().unwrap();
    let csv = d.path("traj.csv");
    let o = hebb(&[
        "predict", run_s, "--index", "0,2", "--noise", "0.25", "--out", &csv,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    // 3 patterns at load 0.05 are recalled exactly from 25 % flipped cues.
    assert!(out.contains("cue 0: overlap 0.500 -> 1.000"), "{out}");
    assert!(out.contains("cue 2: overlap 0.500 -> 1.000"), "{out}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows[0], "cue,sweep,energy,overlap,state");
    // Each cue: its start state, then one row per sweep; states are 64 signs.
    let first: Vec<&str> = rows[1].split(',').collect();
    assert_eq!((first[0], first[1], first[3]), ("0", "0", "0.5"));
    assert_eq!(first[4].len(), 64);
    let last_of_cue0 = rows.iter().rfind(|r| r.starts_with("0,")).unwrap();
    assert_eq!(last_of_cue0.split(',').nth(3), Some("1"));
    // Energy falls along the recall.
    let e: Vec<f64> = rows[1..]
        .iter()
        .filter(|r| r.starts_with("0,"))
        .map(|r| r.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    assert!(e.windows(2).all(|w| w[1] <= w[0]), "{e:?}");

    let o = hebb(&["inspect", &format!("{run_s}/model.hebb")]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        out.contains("Hopfield memory: 64 neurons, 3 patterns"),
        "{out}"
    );
    assert!(out.contains("exported model (no training state)"), "{out}");

    for (args, want) in [
        (
            vec!["predict", run_s, "--index", "3"],
            "index 3 out of range (the memory stores 3 patterns)",
        ),
        (
            vec!["predict", run_s, "--noise", "1.5"],
            "--noise must be a fraction in [0, 1]",
        ),
        (vec!["eval", run_s], "is a local-rules model"),
    ] {
        let o = hebb(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
}

/// A checkpoint whose training state points past its epoch (a hand-edited file, re-framed
/// with a valid CRC) is refused on resume with a message, before any training: never an index
/// panic inside the epoch.
#[test]
fn a_checkpoint_past_its_epoch_is_refused() {
    let d = Dir::new();
    let cfg = d.write(
        "oja.toml",
        "preset = \"oja-gaussian\"\nepochs = 2\n[task]\ndim = 10\nvariances = [4.0]\nsamples = 3000\n",
    );
    let o = d.train(&cfg, "o", &["--stop-after-samples", "1000"]);
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let latest = d.run("o").join("checkpoints/checkpoint_latest.hebb");
    let mut f = read_model(&latest);
    let mut st: hebb::family::rules::TrainState = postcard::from_bytes(&f.state).unwrap();
    st.pos = 3001;
    f.state = postcard::to_stdvec(&st).unwrap();
    let forged = d.path("forged.hebb");
    std::fs::write(&forged, f.to_bytes().unwrap()).unwrap();
    let runs = d.path("runs");
    let o = hebb(&[
        "train",
        "--resume",
        &forged,
        "-o",
        &runs,
        "-n",
        "again",
        "--no-progress",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("unit 3001 of an epoch of 3000"),
        "{}",
        stderr(&o)
    );
    assert!(!d.run("again").exists());
}
