//! The `hebb` command line end to end: every bad input (corrupt IDX folders, corrupt
//! checkpoints and models, invalid configs and flags, a missing GPU) fails with a non-zero exit
//! code and a message that names the problem, and leaves every existing file as it was; the
//! good paths (inspect, predict, eval, export) work on a tiny trained model; presets resolve
//! to the same config through every entry point.
//!
//! Exit codes and messages are checked on the real binary (built once per test process with
//! the test's profile) and, where the command gets that far without a GPU, in-process through
//! `hebb::cli::run` too.

use hebb::backend::{self, DeviceChoice};
use hebb::config::{PRESETS, TrainConfig};
use hebb::data::DataSource;
use hebb::data::idx::{encode_images, encode_labels};
use hebb_core::model::{HEADER_LEN, Model};
use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{
    N_TRAIN, TINY_TOML, assert_unchanged, hebb_bin, in_process, snapshot, write_tiny_data,
};

/// A temporary folder with the tiny config, a tiny IDX data set (the first images of the
/// embedded MNIST subset) and a finished run `runs/A`.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let f = Self::untrained();
        let code = in_process(&f.train_args("A"));
        assert_eq!(code, Ok(0));
        f
    }

    fn untrained() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        write_tiny_data(&data);
        std::fs::write(dir.path().join("tiny.toml"), TINY_TOML).unwrap();
        std::fs::create_dir(dir.path().join("runs")).unwrap();
        Self { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// An absolute path inside the fixture, as an argument.
    fn p(&self, rel: &str) -> &'static str {
        let s = self.root().join(rel).to_str().unwrap().to_owned();
        Box::leak(s.into_boxed_str())
    }

    fn train_args(&self, name: &str) -> Vec<&'static str> {
        vec![
            "train",
            "-c",
            self.p("tiny.toml"),
            "--data",
            self.p("data"),
            "-o",
            self.p("runs"),
            "-n",
            Box::leak(name.to_owned().into_boxed_str()),
            "--seed",
            "42",
            "--device",
            "cpu",
            "--no-progress",
        ]
    }

    /// Runs the binary in the fixture's folder.
    fn hebb(&self, args: &[&str]) -> Output {
        Command::new(hebb_bin())
            .args(args)
            .current_dir(self.root())
            .output()
            .expect("running hebb")
    }

    /// Asserts that `args` fail through the binary with `needle` in the message and without
    /// touching any file in the fixture; with `also_in_process`, the same through `cli::run`.
    fn fails(&self, args: &[&str], needle: &str, also_in_process: bool) {
        let before = snapshot(self.root());
        let out = self.hebb(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && out.status.code().is_some(),
            "hebb {args:?} exited with {:?}\nstderr:\n{stderr}",
            out.status
        );
        assert!(
            stderr.contains(needle),
            "hebb {args:?}: `{needle}` not in stderr:\n{stderr}"
        );
        assert!(
            !stderr.contains("panicked"),
            "hebb {args:?} panicked:\n{stderr}"
        );
        assert_unchanged(&before, &snapshot(self.root()), &format!("hebb {args:?}"));
        if also_in_process {
            match in_process(args) {
                Err(e) => assert!(
                    e.contains(needle),
                    "in-process {args:?}: `{needle}` not in {e}"
                ),
                Ok(code) => panic!("in-process {args:?} returned {code}"),
            }
            assert_unchanged(
                &before,
                &snapshot(self.root()),
                &format!("in-process {args:?}"),
            );
        }
    }

    /// Runs the binary and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.hebb(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "hebb {args:?} failed:\n{stderr}"
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> &'static str {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        self.p(rel)
    }

    fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.root().join(rel)).unwrap()
    }
}

/// Corruptions of a model or checkpoint file and the message each must produce.
fn corruptions(good: &[u8]) -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let flip = |at: usize| {
        let mut b = good.to_vec();
        b[at] ^= 0x10;
        b
    };
    let mut longer = good.to_vec();
    longer.extend_from_slice(b"junk");
    let mut version = good.to_vec();
    version[4] = version[4].wrapping_add(7);
    vec![
        (
            "truncated-half",
            good[..good.len() / 2].to_vec(),
            "truncated",
        ),
        (
            "truncated-header",
            good[..HEADER_LEN - 4].to_vec(),
            "truncated",
        ),
        (
            "truncated-last-byte",
            good[..good.len() - 1].to_vec(),
            "truncated",
        ),
        ("empty", Vec::new(), "truncated"),
        ("flip-body", flip(good.len() - 3), "CRC mismatch"),
        ("flip-body-start", flip(HEADER_LEN), "CRC mismatch"),
        ("flip-crc", flip(HEADER_LEN - 1), "CRC mismatch"),
        ("flip-magic", flip(0), "bad magic"),
        ("trailing", longer, "trailing bytes"),
        ("version", version, "unsupported model format version"),
        ("text", b"HELLO, not a model".to_vec(), "bad magic"),
    ]
}

#[test]
fn corrupt_idx_folders_fail_without_touching_runs() {
    let f = Fixture::new();
    let good = f.root().join("data");
    let bad_dir = |name: &str, edit: &dyn Fn(&Path)| -> &'static str {
        let d = f.root().join("bad").join(name);
        write_tiny_data(&d);
        edit(&d);
        f.p(&format!("bad/{name}"))
    };
    let edit = |file: &'static str, g: fn(&mut Vec<u8>)| {
        move |d: &Path| {
            let p = d.join(file);
            let mut b = std::fs::read(&p).unwrap();
            g(&mut b);
            std::fs::write(&p, b).unwrap();
        }
    };
    type Edit = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "magic",
            Box::new(edit("train-images-idx3-ubyte", |b| b[3] = 0x01)),
            "bad IDX magic",
        ),
        (
            "labels-as-images",
            Box::new(|d: &Path| {
                std::fs::copy(
                    d.join("t10k-labels-idx1-ubyte"),
                    d.join("t10k-images-idx3-ubyte"),
                )
                .unwrap();
            }),
            "bad IDX magic",
        ),
        (
            "truncated-images",
            Box::new(edit("train-images-idx3-ubyte", |b| {
                b.truncate(b.len() - 100)
            })),
            "truncated IDX",
        ),
        (
            "truncated-header",
            Box::new(edit("t10k-labels-idx1-ubyte", |b| b.truncate(6))),
            "truncated IDX",
        ),
        (
            "count-mismatch",
            Box::new(|d: &Path| {
                let p = d.join("train-labels-idx1-ubyte");
                let b = std::fs::read(&p).unwrap();
                let labels = &b[8..8 + N_TRAIN - 1];
                std::fs::write(&p, encode_labels(labels).unwrap()).unwrap();
            }),
            "300 images but 299 labels",
        ),
        (
            "trailing",
            Box::new(edit("train-labels-idx1-ubyte", |b| b.push(0))),
            "trailing bytes",
        ),
        (
            "bad-gzip",
            Box::new(|d: &Path| {
                std::fs::remove_file(d.join("train-images-idx3-ubyte")).unwrap();
                let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
                gz.extend_from_slice(b"definitely not deflate");
                std::fs::write(d.join("train-images-idx3-ubyte.gz"), gz).unwrap();
            }),
            "bad gzip stream",
        ),
        (
            "missing",
            Box::new(|d: &Path| std::fs::remove_file(d.join("t10k-labels-idx1-ubyte")).unwrap()),
            "not found",
        ),
    ];
    for (name, e, needle) in &cases {
        let dir = bad_dir(name, e);
        let mut args = f.train_args("new");
        args[4] = dir;
        f.fails(&args, needle, true);
        // The same data through eval and export --firmware.
        let model = f.p("runs/A/model.hebb");
        f.fails(
            &["eval", model, "--data", dir, "--device", "cpu"],
            needle,
            true,
        );
        let fw = f.p("fw");
        f.fails(
            &[
                "export",
                model,
                "-o",
                f.p("x.hebb"),
                "--firmware",
                fw,
                "--data",
                dir,
            ],
            needle,
            false,
        );
    }
    // A data set that parses but does not fit the config: other image size, more classes.
    let small = f.root().join("bad/small");
    std::fs::create_dir_all(&small).unwrap();
    for prefix in ["train", "t10k"] {
        let images = encode_images(20, 20, 20, &[7; 20 * 20 * 20]).unwrap();
        std::fs::write(small.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        let labels = encode_labels(&[1; 20]).unwrap();
        std::fs::write(small.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }
    let mut args = f.train_args("new");
    args[4] = f.p("bad/small");
    f.fails(&args, "20×20 images but the config expects 28×28", true);
    let mut args = f.train_args("new");
    args.extend(["--n-classes", "5"]);
    f.fails(&args, "but n_classes is 5", true);
    assert!(good.is_dir());
}

#[test]
fn corrupt_checkpoints_fail_resume_without_touching_the_run() {
    let f = Fixture::new();
    // An interrupted run B, resumable from its latest checkpoint.
    let mut args = f.train_args("B");
    args.extend(["--stop-after-samples", "450"]);
    assert_eq!(in_process(&args), Ok(130));
    let good = f.read("runs/B/checkpoints/checkpoint_latest.hebb");
    for (name, bytes, needle) in corruptions(&good) {
        let ck = f.write(&format!("runs/B/checkpoints/{name}.hebb"), &bytes);
        let args = [
            "train",
            "--resume",
            ck,
            "-o",
            f.p("runs"),
            "--device",
            "cpu",
            "--no-progress",
        ];
        f.fails(&args, needle, true);
        // Inspect names the same problem.
        f.fails(&["inspect", ck], needle, true);
    }
    // Not a checkpoint: a model (no training state), a folder, a missing file.
    let resume =
        |p: &'static str| vec!["train", "--resume", p, "-o", f.p("runs"), "--device", "cpu"];
    f.fails(
        &resume(f.p("runs/A/model.hebb")),
        "is an exported model, not a checkpoint",
        true,
    );
    f.fails(
        &resume(f.p("runs/B/checkpoints/nope.hebb")),
        "reading checkpoint",
        true,
    );
    // The untouched checkpoint still resumes.
    let out = f.ok(&[
        "train",
        "--resume",
        f.p("runs/B/checkpoints/checkpoint_latest.hebb"),
        "--device",
        "cpu",
        "--no-progress",
    ]);
    assert!(out.contains("test accuracy"), "{out}");
    assert_eq!(f.read("runs/A/model.hebb"), f.read("runs/B/model.hebb"));
}

#[test]
fn corrupt_models_fail_eval_inspect_export_predict() {
    let f = Fixture::new();
    let good = f.read("runs/A/model.hebb");
    for (name, bytes, needle) in corruptions(&good) {
        let m = f.write(&format!("runs/A/{name}.hebb"), &bytes);
        let data = f.p("data");
        f.fails(
            &["eval", m, "--data", data, "--device", "cpu"],
            needle,
            true,
        );
        f.fails(&["inspect", m], needle, true);
        f.fails(&["export", m, "--bits", "8"], needle, true);
        f.fails(&["export", m, "-o", f.p("runs/A/out.hebb")], needle, true);
        f.fails(&["predict", m, "--data", data], needle, true);
    }
    // A run folder whose model.hebb is corrupt.
    let corrupt = f.root().join("runs/C");
    std::fs::create_dir_all(&corrupt).unwrap();
    std::fs::write(corrupt.join("model.hebb"), &good[..good.len() - 9]).unwrap();
    f.fails(&["export", f.p("runs/C")], "truncated", true);
    f.fails(
        &[
            "eval",
            f.p("runs/C"),
            "--data",
            f.p("data"),
            "--device",
            "cpu",
        ],
        "truncated",
        true,
    );
    // A checkpoint from the middle of training has no readout to evaluate or predict with.
    let mut args = f.train_args("B");
    args.extend(["--stop-after-samples", "10"]);
    assert_eq!(in_process(&args), Ok(130));
    let ck = f.p("runs/B/checkpoints/checkpoint_latest.hebb");
    f.fails(
        &["eval", ck, "--data", f.p("data"), "--device", "cpu"],
        "has no readout",
        true,
    );
    f.fails(
        &["predict", ck, "--data", f.p("data")],
        "has no readout",
        true,
    );
    // Missing files.
    f.fails(&["inspect", f.p("runs/A/nope.hebb")], "reading", true);
    f.fails(&["export", f.p("runs/nope")], "reading", true);
}

#[test]
fn invalid_configs_and_flags_are_rejected() {
    let f = Fixture::new();
    let cases: &[(&str, &str, &str)] = &[
        (
            "unknown-top",
            "preset = \"mcu\"\nfoo = 1\n",
            "unknown field `foo`",
        ),
        (
            "unknown-top-no-preset",
            "seed = 1\nbar = true\n",
            "unknown field `bar`",
        ),
        (
            "unknown-layer",
            "preset = \"mcu\"\n[[layers]]\nmapz = 4\n",
            "unknown field `mapz`",
        ),
        (
            "unknown-nested",
            "preset = \"mcu\"\n[[layers]]\nstdp = { a_pluss = 0.1 }\n",
            "unknown field `a_pluss`",
        ),
        (
            "unknown-encoder",
            "preset = \"mcu\"\n[encoder]\nsteps2 = 3\n",
            "unknown field `steps2`",
        ),
        (
            "negative-rate",
            "preset = \"mcu\"\n[[layers]]\nstdp = { a_plus = -0.1 }\n",
            "layers[0].stdp.a_plus",
        ),
        (
            "negative-rate-2",
            "preset = \"mcu\"\n[[layers]]\n[[layers]]\nstdp = { a_minus = -0.1 }\n",
            "layers[1].stdp.a_minus",
        ),
        (
            "threshold-0",
            "preset = \"mcu\"\n[[layers]]\nthreshold = 0.0\n",
            "layers[0].threshold",
        ),
        (
            "epochs-0",
            "preset = \"mcu\"\n[[layers]]\n[[layers]]\nepochs = 0\n",
            "layers[1].epochs",
        ),
        (
            "batch-0",
            "preset = \"mcu\"\n[[layers]]\nbatch = 0\n",
            "layers[0].batch",
        ),
        (
            "batch-huge",
            "preset = \"mcu\"\n[[layers]]\n[[layers]]\nbatch = 4096\n",
            "layers[1].batch",
        ),
        (
            "batch-with-homeostasis",
            "preset = \"igarss2023\"\n[[layers]]\nbatch = 8\n",
            "do not combine",
        ),
        (
            "readout-c",
            "preset = \"mcu\"\n[readout]\nc = 0.0\n",
            "readout.c",
        ),
        (
            "readout-c-grid",
            "preset = \"mcu\"\n[readout]\nc_grid = [0.1, -1.0]\n",
            "readout.c_grid[1]",
        ),
        (
            "readout-validation",
            "preset = \"mcu\"\n[readout]\nvalidation = 0.9\n",
            "readout.validation",
        ),
        (
            "n-classes",
            "preset = \"mcu\"\nn_classes = 1\n",
            "n_classes",
        ),
        (
            "wrong-type",
            "preset = \"mcu\"\nseed = \"forty-two\"\n",
            "invalid type",
        ),
        (
            "wrong-type-layer",
            "preset = \"mcu\"\n[[layers]]\nmaps = \"many\"\n",
            "invalid type",
        ),
        (
            "wrong-type-int-for-float",
            "preset = \"mcu\"\n[[layers]]\nthreshold = true\n",
            "invalid type",
        ),
        (
            "unknown-preset",
            "preset = \"kheradpisheh2019\"\n",
            "unknown preset `kheradpisheh2019`",
        ),
        ("not-toml", "preset = \n[[", "TOML parse error"),
        ("empty", "", "missing field"),
    ];
    for (name, text, needle) in cases {
        let cfg = f.write(&format!("configs/{name}.toml"), text.as_bytes());
        let mut args = f.train_args("new");
        args[2] = cfg;
        f.fails(&args, needle, true);
    }
    let flag_cases: &[(&[&str], &str)] = &[
        (&["--epochs", "0"], "--epochs must be >= 1"),
        (&["--batch", "0"], "layers[0].batch"),
        (&["--device", "nonsense"], "unknown device `nonsense`"),
        (&["--n-classes", "1"], "n_classes"),
        (&["--log-level", "loud"], "unknown log level `loud`"),
        // A seed TOML cannot hold would make config.toml and checkpoints unreadable.
        (&["--seed", "18446744073709551615"], "invalid `seed`"),
    ];
    for (extra, needle) in flag_cases {
        let mut args = f.train_args("new");
        // Replace a flag train_args already sets, else append it.
        match args.iter().position(|a| *a == extra[0]) {
            Some(i) => args[i + 1] = extra[1],
            None => args.extend_from_slice(extra),
        }
        f.fails(&args, needle, true);
    }
    // Presets by name, a missing config file, a finished run folder.
    let base = ["train", "-o", f.p("runs"), "--device", "cpu", "-n", "new"];
    f.fails(
        &[&base[..], &["--paper", "nope"]].concat(),
        "unknown preset `nope`",
        true,
    );
    f.fails(
        &[&base[..], &["-c", f.p("configs/missing.toml")]].concat(),
        "reading config",
        true,
    );
    f.fails(&f.train_args("A"), "already holds a finished run", true);
    // Export: --bits must be 8 or 16.
    for bits in ["7", "0", "32"] {
        f.fails(
            &["export", f.p("runs/A"), "--bits", bits],
            "--bits must be 8 or 16",
            true,
        );
    }
    // Flags clap rejects: exit code 2 and a usage message.
    for extra in [&["--epochs", "-1"][..], &["--epochs", "many"], &["--bogus"]] {
        let mut args = f.train_args("new");
        args.extend_from_slice(extra);
        let before = snapshot(f.root());
        let out = f.hebb(&args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(in_process(&args).is_err());
        assert_unchanged(&before, &snapshot(f.root()), &format!("{extra:?}"));
    }
    f.fails(&["export", f.p("runs/A"), "--bits", "256"], "256", false);
}

#[test]
fn cuda_without_a_gpu_fails_with_a_reason() {
    if backend::open(DeviceChoice::Cuda).is_ok() {
        eprintln!("a CUDA GPU is usable here: nothing to check");
        return;
    }
    let f = Fixture::new();
    let mut args = f.train_args("new");
    let dev = args.iter().position(|a| *a == "cpu").unwrap();
    args[dev] = "cuda";
    // Not in-process: probing CUDA swaps the process's panic hook.
    f.fails(&args, "cuda: ", false);
    f.fails(
        &[
            "eval",
            f.p("runs/A"),
            "--data",
            f.p("data"),
            "--device",
            "cuda",
        ],
        "cuda: ",
        false,
    );
    // auto falls back to the CPU and says why.
    let out = f.hebb(&[
        "eval",
        f.p("runs/A"),
        "--data",
        f.p("data"),
        "--device",
        "auto",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no usable GPU"), "{stderr}");
}

/// The whole trainer on the GPU writes the very bytes of the CPU run's model: exact training,
/// mini-batches, and a layer with adaptive thresholds. Skipped (and said so) without a usable
/// GPU, unless `HEBB_REQUIRE_CUDA=1`.
#[test]
#[ignore = "needs a CUDA GPU or scripts/cuda-emu.sh; run with --include-ignored"]
fn cuda_trains_the_cpu_model_byte_for_byte() {
    if let Err(e) = backend::open(DeviceChoice::Cuda) {
        assert_ne!(
            std::env::var("HEBB_REQUIRE_CUDA").as_deref(),
            Ok("1"),
            "HEBB_REQUIRE_CUDA=1 but no usable GPU: {e}"
        );
        eprintln!("skipped: {e}");
        return;
    }
    let f = Fixture::new();
    let homeo = TINY_TOML.replacen(
        "maps = 4\n",
        "maps = 4\nhomeostasis = { theta_plus = 2.0, tau = 50.0, theta_max = 30.0, dead_rate = 0.0, recovery_sigma = 0.0 }\n",
        1,
    );
    assert_ne!(homeo, TINY_TOML);
    f.write("homeo.toml", homeo.as_bytes());
    // (name, config, extra flags); run A (exact, CPU) exists already.
    let cases: [(&str, &str, &[&str]); 3] = [
        ("A", "tiny.toml", &[]),
        ("B16", "tiny.toml", &["--batch", "16"]),
        ("H", "homeo.toml", &[]),
    ];
    for (name, cfg, extra) in cases {
        let with = |dev: &str, run: &str| -> Vec<&'static str> {
            let mut args = f.train_args(run);
            args[2] = f.p(cfg);
            let d = args.iter().position(|a| *a == "cpu").unwrap();
            args[d] = Box::leak(dev.to_owned().into_boxed_str());
            args.extend_from_slice(extra);
            args
        };
        if name != "A" {
            assert_eq!(in_process(&with("cpu", name)), Ok(0), "{name} on the CPU");
        }
        let gpu_run: &'static str = Box::leak(format!("{name}-cuda").into_boxed_str());
        // Not in-process: probing CUDA swaps the process's panic hook.
        let out = f.hebb(&with("cuda", gpu_run));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{name}: {stderr}");
        let log = String::from_utf8_lossy(&f.read(&format!("runs/{gpu_run}/logs/train.log")))
            .into_owned();
        assert!(
            log.contains("cuda: "),
            "{name}: the run should say it used CUDA:\n{log}"
        );
        assert!(
            f.read(&format!("runs/{gpu_run}/model.hebb"))
                == f.read(&format!("runs/{name}/model.hebb")),
            "{name}: CUDA and CPU trained different models"
        );
    }
}

#[test]
fn inspect_predict_eval_export_work_on_a_trained_model() {
    let f = Fixture::new();
    let fin: serde_json::Value =
        serde_json::from_slice(&f.read("runs/A/metrics_final.json")).unwrap();
    let acc = fin["test_accuracy"].as_f64().unwrap();
    let acc_line = format!("test accuracy: {:.2} %", 100.0 * acc);

    // inspect: a model and checkpoints.
    let out = f.ok(&["inspect", f.p("runs/A/model.hebb")]);
    for s in [
        "layer 1: ",
        "layer 2: ",
        "4 maps 5×5",
        "8 maps 2×2",
        "readout: 648 features × 10 classes",
        "kind: exported model",
        "seed 42",
        &acc_line,
    ] {
        assert!(out.contains(s), "`{s}` not in:\n{out}");
    }
    assert!(!out.contains("layer 3"), "{out}");
    let out = f.ok(&[
        "inspect",
        f.p("runs/A/checkpoints/checkpoint_epoch001_conv1.hebb"),
    ]);
    for s in [
        "layer 1: ",
        "layer 2: ",
        "readout: none",
        "kind: checkpoint at layer 2 epoch 0",
    ] {
        assert!(out.contains(s), "`{s}` not in:\n{out}");
    }
    let out = f.ok(&["inspect", f.p("runs/A/checkpoints/checkpoint_latest.hebb")]);
    assert!(out.contains("kind: checkpoint at layer 3"), "{out}");

    // predict: labels are the data set's.
    let split = DataSource::IdxDir(f.root().join("data")).load().unwrap();
    let out = f.ok(&[
        "predict",
        f.p("runs/A"),
        "--data",
        f.p("data"),
        "--index",
        "0,7,99",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    for (line, i) in lines.iter().zip([0usize, 7, 99]) {
        assert!(
            line.starts_with(&format!("image {i}: predicted ")),
            "{line}"
        );
        assert!(
            line.contains(&format!("label {},", split.test.labels[i])),
            "{line}"
        );
    }
    assert_eq!(
        f.ok(&["predict", f.p("runs/A/model.hebb"), "--data", f.p("data")])
            .lines()
            .count(),
        10
    );
    f.fails(
        &[
            "predict",
            f.p("runs/A"),
            "--data",
            f.p("data"),
            "--index",
            "100",
        ],
        "index 100 out of range",
        true,
    );

    // eval: the accuracy the run measured.
    let out = f.ok(&[
        "eval",
        f.p("runs/A"),
        "--data",
        f.p("data"),
        "--device",
        "cpu",
    ]);
    assert!(out.contains(&acc_line), "`{acc_line}` not in:\n{out}");
    assert!(out.contains("confusion matrix"), "{out}");
    let out = f.ok(&[
        "eval",
        f.p("runs/A/model.hebb"),
        "--data",
        f.p("data"),
        "--device",
        "cpu",
        "--train",
    ]);
    let train_acc = fin["train_accuracy"].as_f64().unwrap();
    assert!(
        out.contains(&format!("train accuracy: {:.2} %", 100.0 * train_acc)),
        "{out}"
    );
    // The final checkpoint holds the same network and readout.
    let out = f.ok(&[
        "eval",
        f.p("runs/A/checkpoints/checkpoint_latest.hebb"),
        "--data",
        f.p("data"),
        "--device",
        "cpu",
    ]);
    assert!(out.contains(&acc_line), "{out}");

    // export --bits 8: a model that decodes, holds 8-bit weights and no state, and evaluates.
    let before = f.read("runs/A/model.hebb");
    let out = f.ok(&["export", f.p("runs/A"), "--bits", "8", "-o", f.p("m8.hebb")]);
    assert!(out.contains("8-bit weights"), "{out}");
    let b8 = f.read("m8.hebb");
    let m8 = Model::decode(&b8).expect("the 8-bit export decodes");
    assert!(m8.state.is_empty());
    assert!(m8.layers.iter().all(|l| l.bits == 8));
    assert!(m8.readout.is_some());
    assert!(b8.len() < before.len());
    let out = f.ok(&[
        "eval",
        f.p("m8.hebb"),
        "--data",
        f.p("data"),
        "--device",
        "cpu",
    ]);
    let a8: f64 = out
        .strip_prefix("test accuracy: ")
        .and_then(|s| s.split(" %").next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in:\n{out}"));
    assert!(a8 > 20.0, "8-bit accuracy {a8} % (chance is 10 %)");
    let out = f.ok(&["inspect", f.p("m8.hebb")]);
    assert!(out.contains("8-bit weights"), "{out}");
    let out = f.ok(&[
        "predict",
        f.p("m8.hebb"),
        "--data",
        f.p("data"),
        "--index",
        "3",
    ]);
    assert!(out.starts_with("image 3: predicted "), "{out}");

    // export (16-bit, default name next to the input) of the model and of the final
    // checkpoint: both are the model itself.
    f.ok(&["export", f.p("runs/A")]);
    assert_eq!(f.read("runs/A/model-export.hebb"), before);
    f.ok(&[
        "export",
        f.p("runs/A/checkpoints/checkpoint_latest.hebb"),
        "-o",
        f.p("from-ck.hebb"),
    ]);
    assert_eq!(f.read("from-ck.hebb"), before);
    f.ok(&["export", f.p("runs/A"), "--bits", "8"]);
    assert_eq!(f.read("runs/A/model-export-8bit.hebb"), b8);
    assert_eq!(
        f.read("runs/A/model.hebb"),
        before,
        "export changed model.hebb"
    );
}

/// A preset resolves to the same config by name in the library, through a config file that
/// names it, and through the CLI (the config.toml a run writes and the config its checkpoint
/// stores).
#[test]
fn presets_resolve_identically_through_every_entry_point() {
    let f = Fixture::untrained();
    // Event presets train on generated recordings.
    let synth = |args: &[&str]| assert_eq!(in_process(args), Ok(0), "{args:?}");
    let (sky, nm) = (f.p("sky"), f.p("nm"));
    synth(&[
        "events",
        "synth",
        "satellites",
        "--out",
        sky,
        "--count",
        "5",
        "--duration-ms",
        "400",
        "--no-progress",
    ]);
    synth(&[
        "events",
        "synth",
        "nmnist",
        "--out",
        nm,
        "--count",
        "20",
        "--no-progress",
    ]);
    let (sky, nm) = (
        Box::leak(format!("events:{sky}").into_boxed_str()) as &str,
        Box::leak(format!("events:{nm}").into_boxed_str()) as &str,
    );
    for &name in PRESETS {
        let data = match name {
            "igarss2023" => sky,
            "nmnist-events" => nm,
            _ => f.p("data"),
        };
        let by_name = TrainConfig::preset(name).unwrap();
        assert_eq!(by_name.preset, name);
        let text = format!("preset = \"{name}\"\n");
        let by_toml = TrainConfig::from_toml_str(&text).unwrap();
        assert_eq!(by_toml, by_name, "{name}");
        let resolved = by_name.to_toml();
        assert_eq!(
            TrainConfig::from_toml_str(&resolved).unwrap(),
            by_name,
            "{name}"
        );
        assert_eq!(by_toml.to_toml(), resolved, "{name}");

        let cfg = f.write(&format!("{name}.toml"), text.as_bytes());
        let via_paper = format!("{name}-paper");
        let via_config = format!("{name}-config");
        for (run_name, how) in [(&via_paper, ["--paper", name]), (&via_config, ["-c", cfg])] {
            let args = [
                "train",
                how[0],
                how[1],
                "--data",
                data,
                "-o",
                f.p("runs"),
                "-n",
                run_name,
                "--device",
                "cpu",
                "--no-progress",
                "--no-tensorboard",
                "--stop-after-samples",
                "1",
            ];
            assert_eq!(in_process(&args), Ok(130), "{args:?}");
            let run = f.root().join("runs").join(run_name);
            let written = std::fs::read_to_string(run.join("config.toml")).unwrap();
            assert_eq!(written, resolved, "{run_name}: config.toml");
            assert_eq!(
                TrainConfig::from_toml_str(&written).unwrap(),
                by_name,
                "{run_name}"
            );
            let (_, st) = hebb::family::conv_stdp::read_checkpoint(
                &run.join("checkpoints/checkpoint_latest.hebb"),
            )
            .unwrap();
            assert_eq!(st.config, resolved, "{run_name}: checkpoint config");
            assert_eq!(st.total_samples, 1);
        }
    }
    // The CLI's default preset is kheradpisheh2018.
    let args = [
        "train",
        "--data",
        f.p("data"),
        "-o",
        f.p("runs"),
        "-n",
        "default",
        "--device",
        "cpu",
        "--no-progress",
        "--no-tensorboard",
        "--stop-after-samples",
        "1",
    ];
    assert_eq!(in_process(&args), Ok(130));
    let written = std::fs::read_to_string(f.root().join("runs/default/config.toml")).unwrap();
    assert_eq!(
        written,
        TrainConfig::preset("kheradpisheh2018").unwrap().to_toml()
    );
}

/// The seed corpus of the `config` fuzz target: the presets exactly as `to_toml` prints them,
/// overrides that parse and round-trip, broken configs that are rejected.
#[test]
fn config_fuzz_corpus_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/config");
    let mut seen = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&p).unwrap();
        let parsed = TrainConfig::from_toml_str(&text);
        if let Some(preset) = name
            .strip_prefix("preset-")
            .and_then(|n| n.strip_suffix(".toml"))
        {
            assert_eq!(
                text,
                TrainConfig::preset(preset).unwrap().to_toml(),
                "{name}"
            );
        }
        if name.starts_with("broken-") {
            assert!(parsed.is_err(), "{name} parses: {parsed:?}");
        } else {
            let cfg = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
            let back = TrainConfig::from_toml_str(&cfg.to_toml()).unwrap();
            assert_eq!(back, cfg, "{name}");
        }
        seen += 1;
    }
    assert!(seen >= 10, "{seen} seeds in {}", dir.display());
}

/// `hebb events inspect` on the AEDAT4 fixture (values from the Python `aedat` package, see
/// `tests/data/README.md`), on the EBSSA MAT fixture, and on damaged files: a bad file exits
/// non-zero with the named error and prints nothing on stdout.
#[test]
fn events_inspect_reports_and_refuses() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data");
    let run = |args: &[&str]| -> Output {
        Command::new(hebb_bin())
            .args(args)
            .output()
            .expect("run hebb")
    };
    let json = |args: &[&str]| -> serde_json::Value {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "hebb {args:?}: {stderr}");
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("hebb {args:?}: {e}"))
    };
    let aedat = data.join("davis346_head.aedat4");
    let aedat = aedat.to_str().unwrap();
    let j = json(&["events", "inspect", aedat, "--json"]);
    assert_eq!(j["format"], "aedat4");
    assert_eq!(
        (j["width"].as_u64(), j["height"].as_u64()),
        (Some(346), Some(260))
    );
    assert_eq!(j["sensor_from"], "declared");
    assert_eq!(
        (j["events"].as_u64(), j["on"].as_u64()),
        (Some(4752), Some(2540))
    );
    assert_eq!(j["t_first"].as_u64(), Some(1_589_163_147_368_868));
    assert_eq!(j["t_last"].as_u64(), Some(1_589_163_147_488_817));
    let rate = j["rate_hz"].as_f64().unwrap();
    assert!((rate - 4752.0 / 0.119_949).abs() < 1e-6 * rate, "{rate}");
    assert!(j.get("labels").is_none());
    let text = String::from_utf8(run(&["events", "inspect", aedat]).stdout).unwrap();
    assert!(
        text.contains("sensor: 346×260 (declared by the file)"),
        "{text}"
    );
    assert!(text.contains("events: 4752 (2540 ON, 2212 OFF)"), "{text}");

    let mat = data.join("ebssa_tiny.mat");
    let mat = mat.to_str().unwrap();
    let j = json(&["events", "inspect", mat, "--json"]);
    assert_eq!(j["format"], "mat-ebssa");
    assert_eq!(j["sensor_from"], "max-coordinate");
    assert_eq!(
        (j["width"].as_u64(), j["height"].as_u64()),
        (Some(240), Some(180))
    );
    assert_eq!(
        (j["events"].as_u64(), j["on"].as_u64(), j["labels"].as_u64()),
        (Some(3), Some(2), Some(2))
    );
    assert_eq!(
        (j["t_first"].as_u64(), j["t_last"].as_u64()),
        (Some(10), Some(30))
    );
    let j = json(&["events", "inspect", mat, "--json", "--sensor", "304x240"]);
    assert_eq!(
        (j["width"].as_u64(), j["sensor_from"].as_str()),
        (Some(304), Some("given"))
    );
    let text = String::from_utf8(run(&["events", "inspect", mat]).stdout).unwrap();
    assert!(text.contains("pass --sensor WxH"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(data.join("davis346_head.aedat4")).unwrap();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "cut.aedat4",
            good[..100].to_vec(),
            "AEDAT4: truncated header",
        ),
        (
            "cut_packet.aedat4",
            good[..good.len() - 5].to_vec(),
            "remain",
        ),
        (
            "bad.aedat4",
            b"not an event file".to_vec(),
            "no `#!AER-DAT4.0` line",
        ),
        ("notes.txt.md", b"x".to_vec(), "cannot tell the format"),
    ];
    for (name, bytes, needle) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        for extra in [&[][..], &["--json"][..]] {
            let mut args = vec!["events", "inspect", p.to_str().unwrap()];
            args.extend_from_slice(extra);
            let out = run(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
            assert!(out.stdout.is_empty(), "{name}: stdout {:?}", out.stdout);
            assert!(
                stderr.contains(needle),
                "{name}: `{needle}` not in {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        }
    }
    let out = run(&["events", "inspect", aedat, "--sensor", "0x3"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}
