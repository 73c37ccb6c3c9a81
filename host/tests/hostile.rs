//! Hostile but realistic use of the CLI: two runs on one folder, a new run over an interrupted
//! one, data that does not fit the model, Ctrl-C in the final phase, flags that would change a
//! resumed run, crafted checkpoints, crashes between an epoch's files, memory that cannot be
//! had, closed pipes and full disks, names that are paths, stale temporary files. Each case
//! checks the exit code, the message and that nothing already written changed.

mod common;

use common::{
    TINY_TOML, assert_unchanged, hebb_bin, in_process, snapshot, write_data, write_tiny_data,
};
use hebb::family::conv_stdp::{TrainState, read_checkpoint};
use hebb::net::ProvenanceOwned;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// An edit of a checkpoint's training state and network.
type Edit = dyn Fn(&mut TrainState, &mut hebb::net::Net);

struct Fx {
    dir: tempfile::TempDir,
}

impl Fx {
    /// Tiny config, tiny data (28×28) and an empty `runs/`.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_data(&dir.path().join("data"));
        std::fs::write(dir.path().join("tiny.toml"), TINY_TOML).unwrap();
        std::fs::create_dir(dir.path().join("runs")).unwrap();
        Self { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn p(&self, rel: &str) -> String {
        self.root().join(rel).to_str().unwrap().to_owned()
    }

    fn train_args(&self, name: &str) -> Vec<String> {
        common::train_args(self.root(), "tiny.toml", "data", name)
    }

    /// Trains `name` with `config` (written to `NAME.toml`) on the data folder `data`; must
    /// succeed.
    fn train_with(&self, name: &str, config: &str, data: &str) {
        let file = format!("{name}.toml");
        std::fs::write(self.root().join(&file), config).unwrap();
        let a = common::train_args(self.root(), &file, data, name);
        let out = self.hebb(&a);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }

    /// Resumes from checkpoint `ck` (see [`resume_args`]) in the fixture's folder.
    fn resume(&self, ck: &str, extra: &[&str]) -> Output {
        self.hebb(&resume_args(ck, extra))
    }

    fn hebb(&self, args: &[String]) -> Output {
        Command::new(hebb_bin())
            .args(args)
            .current_dir(self.root())
            .output()
            .unwrap()
    }

    /// Trains `name` to the end (in-process).
    fn trained(&self, name: &str) -> PathBuf {
        let a = self.train_args(name);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        assert_eq!(in_process(&a), Ok(0));
        self.root().join("runs").join(name)
    }

    /// A run of `name` interrupted after `samples` samples (through the binary: exit 130).
    fn interrupted(&self, name: &str, samples: u64) -> PathBuf {
        let mut a = self.train_args(name);
        a.extend(["--stop-after-samples".into(), samples.to_string()]);
        let out = self.hebb(&a);
        assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
        self.root().join("runs").join(name)
    }

    /// `args` fail with `needle` in stderr, without a panic and without changing any file.
    fn fails(&self, args: &[String], needle: &str) -> String {
        let before = snapshot(self.root());
        let out = self.hebb(args);
        let err = stderr(&out);
        assert!(
            !out.status.success() && out.status.code().is_some(),
            "hebb {args:?} exited with {:?}\n{err}",
            out.status
        );
        assert!(
            err.contains(needle),
            "hebb {args:?}: `{needle}` not in:\n{err}"
        );
        assert!(!err.contains("panicked"), "hebb {args:?} panicked:\n{err}");
        assert_unchanged(&before, &snapshot(self.root()), &format!("hebb {args:?}"));
        err
    }
}

/// `train --resume CK` on the CPU without progress bars, then `extra`.
fn resume_args(ck: &str, extra: &[&str]) -> Vec<String> {
    let mut a = s(&["train", "--resume", ck, "--device", "cpu", "--no-progress"]);
    a.extend(s(extra));
    a
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// (layer, epoch) of every metrics record.
fn epochs_of(run: &Path) -> Vec<(String, u64)> {
    lines(&run.join("metrics.jsonl"))
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["layer"].as_str().unwrap().to_owned(),
                v["epoch"].as_u64().unwrap(),
            )
        })
        .collect()
}

// 1. Two runs on one folder.
#[test]
fn a_locked_run_folder_refuses_a_second_run() {
    let f = Fx::new();
    let dir = f.root().join("runs/A");
    std::fs::create_dir_all(&dir).unwrap();
    // This process holds the run folder, as a running `hebb train` does.
    let held = hebb::run::RunFolder::open(&dir).unwrap();
    f.fails(&f.train_args("A"), "is in use by another hebb run");
    drop(held);
    // Once released, the same folder trains.
    f.trained("A");
}

#[test]
fn default_run_names_are_unique_within_one_second() {
    let f = Fx::new();
    let out = f.root().join("runs");
    let a = hebb::run::RunFolder::create(&out, None, false).unwrap();
    let b = hebb::run::RunFolder::create(&out, None, false).unwrap();
    let c = hebb::run::RunFolder::create(&out, None, false).unwrap();
    let names: std::collections::BTreeSet<_> = [a.root(), b.root(), c.root()]
        .iter()
        .map(|p| p.to_path_buf())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

// 2. A new run over an interrupted one.
#[test]
fn a_new_run_does_not_overwrite_an_interrupted_one() {
    let f = Fx::new();
    let run = f.interrupted("A", 120);
    let err = f.fails(&f.train_args("A"), "holds an unfinished run");
    assert!(
        err.contains("--resume") && err.contains("--overwrite"),
        "{err}"
    );
    assert!(run.join("checkpoints/checkpoint_latest.hebb").exists());
    // --overwrite starts afresh: one record per epoch, as a clean run.
    let mut a = f.train_args("A");
    a.push("--overwrite".into());
    assert_eq!(f.hebb(&a).status.code(), Some(0));
    assert_eq!(
        epochs_of(&run),
        vec![("conv1".into(), 1), ("conv2".into(), 1)]
    );
}

// 3. Data that does not fit the model.
#[test]
fn eval_and_predict_check_image_size_and_labels() {
    let f = Fx::new();
    let run = f.trained("A");
    write_data(&f.root().join("big"), 40, 20, Some(32));
    let run_s = run.to_str().unwrap();
    for cmd in ["eval", "predict"] {
        f.fails(
            &s(&[cmd, run_s, "--data", &f.p("big")]),
            "has 32×32 images but the model takes 28×28",
        );
    }
    // A 32×32 model on 28×28 data.
    f.train_with(
        "B",
        &TINY_TOML.replace(
            "preset = \"kheradpisheh2018\"",
            "preset = \"kheradpisheh2018\"\ninput = [32, 32]",
        ),
        "big",
    );
    f.fails(
        &s(&["eval", &f.p("runs/B"), "--data", &f.p("data")]),
        "has 28×28 images but the model takes 32×32",
    );
    // Labels beyond the readout's classes.
    write_few_classes(&f.root().join("three"), 3);
    f.train_with(
        "C",
        &TINY_TOML.replace(
            "preset = \"kheradpisheh2018\"",
            "preset = \"kheradpisheh2018\"\nn_classes = 3",
        ),
        "three",
    );
    f.fails(
        &s(&["eval", &f.p("runs/C"), "--data", &f.p("data")]),
        "but the model's readout has 3 classes",
    );
}

/// An IDX folder of embedded images whose labels are `< k`.
fn write_few_classes(dir: &Path, k: u8) {
    let split = hebb::data::DataSource::EmbeddedMnist.load().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    for (prefix, set) in [("train", &split.train), ("t10k", &split.test)] {
        let idx: Vec<usize> = (0..set.len())
            .filter(|&i| set.labels[i] < k)
            .take(120)
            .collect();
        let px: Vec<u8> = idx.iter().flat_map(|&i| set.image(i).to_vec()).collect();
        let lab: Vec<u8> = idx.iter().map(|&i| set.labels[i]).collect();
        let images = hebb::data::idx::encode_images(idx.len(), 28, 28, &px).unwrap();
        let labels = hebb::data::idx::encode_labels(&lab).unwrap();
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }
}

// 4. Ctrl-C in the final phase.
#[test]
fn an_interruption_in_the_readout_fit_saves_and_resumes_exactly() {
    let f = Fx::new();
    let full = f.trained("full");
    let mut a = f.train_args("cut");
    a.push("--stop-before-final".into());
    let out = f.hebb(&a);
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let run = f.root().join("runs/cut");
    assert!(!run.join("model.hebb").exists());
    let (_, st) = read_checkpoint(&run.join("checkpoints/checkpoint_latest.hebb")).unwrap();
    assert_eq!(st.layer, 2, "all layers trained before the readout");
    let ck = f.p("runs/cut/checkpoints/checkpoint_latest.hebb");
    let out = f.resume(&ck, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(run.join("model.hebb")).unwrap(),
        std::fs::read(full.join("model.hebb")).unwrap()
    );
    assert_eq!(epochs_of(&run), epochs_of(&full));
}

// 5. Flags that would change a resumed run; --data that says where the data is now.
#[test]
fn resume_refuses_config_changes_and_honours_data() {
    let f = Fx::new();
    // Started with a relative --data, from the fixture's folder.
    let mut a = f.train_args("A");
    a[4] = "data".into();
    a.extend(["--stop-after-samples".into(), "120".into()]);
    assert_eq!(f.hebb(&a).status.code(), Some(130));
    let ck = f.p("runs/A/checkpoints/checkpoint_latest.hebb");
    for (flag, val) in [
        ("--seed", "7"),
        ("--epochs", "3"),
        ("--n-classes", "5"),
        ("--batch", "4"),
        ("-c", "tiny.toml"),
        ("-n", "other"),
    ] {
        f.fails(
            &resume_args(&ck, &[flag, val]),
            "--resume continues a run as it was configured",
        );
    }
    // From another folder the relative path does not resolve: the message says what to do.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(hebb_bin())
        .args(resume_args(&ck, &[]))
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("pass --data"), "{}", stderr(&out));
    // With --data naming where the data is, it resumes (and -o/-n naming its own run are fine).
    let out = Command::new(hebb_bin())
        .args(resume_args(
            &ck,
            &["--data", &f.p("data"), "-o", &f.p("runs"), "-n", "A"],
        ))
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

// 6 and 15. Crafted (CRC-valid) checkpoints.
#[test]
fn inconsistent_checkpoint_states_are_refused() {
    let f = Fx::new();
    let run = f.interrupted("A", 120);
    let good = run.join("checkpoints/checkpoint_latest.hebb");
    let (net, st) = read_checkpoint(&good).unwrap();
    let prov = ProvenanceOwned {
        preset: "kheradpisheh2018".into(),
        dataset: st.data.clone(),
        seed: 42,
        epochs: Vec::new(),
        test_accuracy: f32::NAN,
    };
    let craft = |name: &str, edit: &dyn Fn(&mut TrainState, &mut hebb::net::Net)| -> String {
        let (mut n, mut s) = (net.clone(), st.clone());
        edit(&mut s, &mut n);
        let bytes = n
            .to_bytes(&prov, &postcard::to_stdvec(&s).unwrap(), 16)
            .unwrap();
        let p = f.root().join(format!("{name}.hebb"));
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let cases: Vec<(&str, Box<Edit>, &str)> = vec![
        (
            "epoch",
            Box::new(|s, _| s.epoch = 65535),
            "past layer conv1's budget",
        ),
        ("wins", Box::new(|s, _| s.wins.truncate(1)), "win counters"),
        (
            "layer",
            Box::new(|s, _| s.layer = 99),
            "past the network's 2 layers",
        ),
        (
            "pos",
            Box::new(|s, _| s.pos = 1_000_000_000_000),
            "past the 300 training samples",
        ),
        (
            "config",
            Box::new(|s, _| {
                let mut c = hebb::config::TrainConfig::from_toml_str(&s.config).unwrap();
                c.layers.truncate(1);
                s.config = c.to_toml();
            }),
            // The preset fills in the missing layer, and the result is not this network.
            "disagrees with its stored config",
        ),
        (
            "encoder",
            Box::new(|_, n| {
                let e = n.encoder;
                n.encoder = hebb_core::encode::EncoderParams::new(
                    e.h(),
                    e.w(),
                    e.n_filters(),
                    e.k(),
                    e.threshold(),
                    e.norm_radius(),
                    9,
                    e.mode(),
                )
                .unwrap();
            }),
            "disagrees with its stored config",
        ),
        (
            "finished",
            Box::new(|s, _| s.layer_epochs.push(1)),
            "entries for 0 finished layers",
        ),
    ];
    for (name, edit, needle) in &cases {
        let p = craft(name, edit.as_ref());
        f.fails(&resume_args(&p, &["-n", name, "-o", &f.p("runs")]), needle);
    }
}

// 7. predict runs leaky-neuron models as eval does.
#[test]
fn predict_runs_leaky_models_as_eval_does() {
    let f = Fx::new();
    f.train_with(
        "L",
        &TINY_TOML.replace(
            "epochs = 1\n",
            "epochs = 1\nneuron = \"lif-sub\"\nleak = 0.5\n",
        ),
        "data",
    );
    let run = f.p("runs/L");
    let out = f.hebb(&s(&[
        "predict",
        &run,
        "--data",
        &f.p("data"),
        "--index",
        "0,1,2,3",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let preds: Vec<usize> = text
        .lines()
        .map(|l| {
            l.split("predicted ")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    // The same classes as the evaluation path computes.
    let (net, _) = {
        let b = std::fs::read(f.root().join("runs/L/model.hebb")).unwrap();
        let m = hebb_core::model::Model::decode(&b).unwrap();
        (hebb::net::Net::from_model(&m), ())
    };
    assert!(net.arch.iter().any(|l| !l.neuron.time_free()));
    let split = hebb::data::DataSource::IdxDir(f.root().join("data"))
        .load()
        .unwrap();
    let imgs: Vec<u8> = (0..4).flat_map(|i| split.test.image(i).to_vec()).collect();
    use hebb::backend::Backend;
    let feats = hebb::backend::cpu::CpuBackend::new()
        .features(&net, &imgs)
        .unwrap();
    let want = hebb::readout::predict_all(net.readout.as_ref().unwrap(), &feats);
    assert_eq!(preds, want);
}

// 8. A crash between an epoch's checkpoint and its metrics record, or before the checkpoint.
#[test]
fn metrics_are_repaired_on_resume_after_a_crash_between_files() {
    let f = Fx::new();
    let two = TINY_TOML.replacen("epochs = 1", "epochs = 2", 1);
    std::fs::write(f.root().join("two.toml"), two).unwrap();
    let args = |name: &str| {
        let mut a = f.train_args(name);
        a[2] = f.p("two.toml");
        a
    };
    assert_eq!(f.hebb(&args("full")).status.code(), Some(0));
    let want = epochs_of(&f.root().join("runs/full"));
    assert_eq!(want.len(), 3);
    // Interrupted in conv1's second epoch; the record of epoch 1 is there.
    for (name, damage) in [("dup", 0), ("lost", 1)] {
        let mut a = args(name);
        a.extend(["--stop-after-samples".into(), "450".into()]);
        assert_eq!(f.hebb(&a).status.code(), Some(130));
        let run = f.root().join("runs").join(name);
        let m = run.join("metrics.jsonl");
        let mut l = lines(&m);
        assert_eq!(l.len(), 1);
        if damage == 0 {
            // A record written whose checkpoint never was (an epoch redone after resume).
            l.push(l[0].replace("\"epoch\":1", "\"epoch\":2"));
        } else {
            // The checkpoint written, the record lost.
            l.clear();
        }
        std::fs::write(&m, l.join("\n") + if l.is_empty() { "" } else { "\n" }).unwrap();
        let ck = run.join("checkpoints/checkpoint_latest.hebb");
        let out = f.resume(ck.to_str().unwrap(), &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(epochs_of(&run), want, "{name}");
    }
}

#[test]
fn resuming_a_finished_run_needs_overwrite() {
    let f = Fx::new();
    let run = f.trained("A");
    let ck = run.join("checkpoints/checkpoint_epoch001_conv1.hebb");
    let ck = ck.to_str().unwrap();
    f.fails(&resume_args(ck, &[]), "is finished: resuming from");
    let out = f.resume(ck, &["--overwrite"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

// 9. Memory and one range check per quantity.
#[test]
fn memory_is_estimated_before_allocating() {
    let f = Fx::new();
    std::fs::write(
        f.root().join("huge.toml"),
        TINY_TOML.replacen("maps = 4", "maps = 4096", 1),
    )
    .unwrap();
    let mut a = f.train_args("H");
    a[2] = f.p("huge.toml");
    let before = snapshot(f.root());
    let out = Command::new(hebb_bin())
        .args(&a)
        .env("HEBB_MEMORY_LIMIT", "100000000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("GiB are available"),
        "{}",
        stderr(&out)
    );
    assert_unchanged(&before, &snapshot(f.root()), "refused run");
    let run = f.trained("A");
    f.fails(
        &s(&[
            "eval",
            run.to_str().unwrap(),
            "--data",
            &f.p("data"),
            "--refit-c",
            "1",
            "--refit-shift",
            "255",
        ]),
        "--refit-shift",
    );
}

// 10. Output streams.
#[test]
fn closed_pipes_end_quietly_and_full_disks_are_errors() {
    let f = Fx::new();
    let run = f.trained("A");
    let model = run.join("model.hebb");
    for args in [
        vec!["inspect".to_owned(), model.to_str().unwrap().to_owned()],
        s(&["predict", run.to_str().unwrap(), "--data", &f.p("data")]),
    ] {
        let mut child = Command::new(hebb_bin())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        if Path::new("/dev/full").exists() {
            let out = Command::new(hebb_bin())
                .args(&args)
                .stdout(
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open("/dev/full")
                        .unwrap(),
                )
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            assert!(
                stderr(&out).contains("writing to stdout"),
                "{}",
                stderr(&out)
            );
            assert!(!stderr(&out).contains("panicked"));
        }
    }
}

// 11. A name is a name.
#[test]
fn run_names_that_are_paths_are_refused() {
    let f = Fx::new();
    for name in ["../escaped", "/abs/x", "a/b", "..", "."] {
        let mut a = f.train_args(name);
        a[6] = f.p("runs/nonexistent");
        f.fails(&a, "run name");
    }
    assert!(!f.root().join("escaped").exists());
}

// 12. Temporary files a crash left.
#[test]
fn stale_temporary_files_are_removed_on_resume() {
    let f = Fx::new();
    let run = f.interrupted("A", 120);
    let stale = run.join("checkpoints/.checkpoint_latest.hebb.tmp.99999.0");
    std::fs::write(&stale, b"half a checkpoint").unwrap();
    let ck = run.join("checkpoints/checkpoint_latest.hebb");
    let out = f.resume(ck.to_str().unwrap(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stale.exists());
}

// 13. Errors that repeat themselves or name nothing.
#[test]
fn errors_state_their_cause_once_and_name_the_path() {
    let f = Fx::new();
    let d = f.root().join("data");
    let p = d.join("train-images-idx3-ubyte");
    let b = std::fs::read(&p).unwrap();
    std::fs::write(&p, &b[..b.len() / 2]).unwrap();
    let err = f.fails(&f.train_args("A"), "truncated IDX");
    assert_eq!(err.matches("truncated").count(), 1, "{err}");
    std::fs::write(&p, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]).unwrap();
    let err = f.fails(&f.train_args("A"), "bad gzip stream");
    assert_eq!(err.matches("gzip").count(), 1, "{err}");
    let err = f.fails(
        &s(&[
            "bench",
            "--device",
            "cpu",
            "--json",
            &f.p("nodir/x.json"),
            "--samples",
            "10",
        ]),
        "nodir",
    );
    assert!(err.contains("does not exist"), "{err}");
}

// 14. export --firmware rejects bad data before writing anything.
#[test]
fn export_firmware_checks_data_before_writing() {
    let f = Fx::new();
    let run = f.trained("A");
    write_data(&f.root().join("big"), 10, 70, Some(32));
    f.fails(
        &s(&[
            "export",
            run.to_str().unwrap(),
            "--firmware",
            &f.p("fw"),
            "--data",
            &f.p("big"),
        ]),
        "has 32×32 images but the model takes 28×28",
    );
    assert!(!run.join("model-export.hebb").exists());
}

// 15. Headers first; n_classes against the data.
#[test]
fn files_are_checked_by_their_header_first_and_classes_by_the_data() {
    let f = Fx::new();
    if Path::new("/dev/zero").exists() {
        f.fails(
            &s(&["inspect", "/dev/zero"]),
            "not a hebb model (bad magic)",
        );
    }
    let mut a = f.train_args("A");
    a.extend(["--n-classes".into(), "1000".into()]);
    f.fails(&a, "n_classes is 1000 but data set");
}

// 15. SIGTERM is treated as Ctrl-C: a checkpoint, exit code 130, and resume finishes the run.
#[cfg(unix)]
#[test]
fn sigterm_saves_a_checkpoint_like_ctrl_c() {
    use std::io::{BufRead, BufReader};
    let f = Fx::new();
    // The whole embedded set, so that the run is still training when the signal comes.
    let mut a = f.train_args("T");
    a[4] = "mnist".into();
    let mut child = Command::new(hebb_bin())
        .args(&a)
        .current_dir(f.root())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    // The handler is installed once the run folder is announced; the encoding comes after.
    while err.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.contains("encoded") {
            break;
        }
        line.clear();
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen}{rest}");
    assert!(rest.contains("checkpoint saved"), "{rest}");
    let run = f.root().join("runs/T");
    assert!(run.join("checkpoints/checkpoint_latest.hebb").exists());
    assert!(!run.join("model.hebb").exists());
    let (_, st) = read_checkpoint(&run.join("checkpoints/checkpoint_latest.hebb")).unwrap();
    assert!(
        st.total_samples < 7_996 * 22,
        "stopped early: {}",
        st.total_samples
    );
}
