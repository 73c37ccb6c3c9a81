//! Helpers of the CLI end-to-end tests: the `hebb` binary, a tiny training config and data
//! set, in-process runs, and snapshots of a folder to prove that a failed command changed
//! nothing.
#![allow(dead_code)]

use hebb::cli::{Cli, run};
use hebb::data::DataSource;
use hebb::data::idx::{encode_images, encode_labels};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A small network on top of the kheradpisheh2018 preset: one epoch per layer, few maps.
pub const TINY_TOML: &str = r#"
preset = "kheradpisheh2018"
[[layers]]
maps = 4
epochs = 1
[[layers]]
maps = 8
epochs = 1
[readout]
epochs = 5
shift_augment = 0
"#;

/// Training images in the tiny data set (one epoch of a layer).
pub const N_TRAIN: usize = 300;
/// Test images in the tiny data set.
pub const N_TEST: usize = 100;

/// The `hebb` binary cargo built for these tests.
pub fn hebb_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_hebb"))
}

/// `hebb train` arguments for run `name` in `root/runs`, with the config file and data folder
/// (both relative to `root`), seed 42, on the CPU, without progress bars.
pub fn train_args(root: &Path, config: &str, data: &str, name: &str) -> Vec<String> {
    let p = |r: &str| root.join(r).to_str().unwrap().to_owned();
    [
        "train",
        "-c",
        &p(config),
        "--data",
        &p(data),
        "-o",
        &p("runs"),
        "-n",
        name,
        "--seed",
        "42",
        "--device",
        "cpu",
        "--no-progress",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Runs the CLI in-process: `Err` carries the error as `main` prints it.
pub fn in_process(args: &[&str]) -> Result<i32, String> {
    use clap::Parser;
    let cli = Cli::try_parse_from(std::iter::once("hebb").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    run(cli).map_err(|e| format!("{e:#}"))
}

/// Every file (with its bytes) and folder under `root`.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if p.is_dir() {
                out.insert(rel, None);
                walk(root, &p, out);
            } else {
                out.insert(rel, Some(std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Asserts that two snapshots are equal, naming the files that differ.
pub fn assert_unchanged(
    before: &BTreeMap<PathBuf, Option<Vec<u8>>>,
    after: &BTreeMap<PathBuf, Option<Vec<u8>>>,
    what: &str,
) {
    let changed: Vec<_> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(changed.is_empty(), "{what} changed files: {changed:?}");
}

/// Writes the first `N_TRAIN` / `N_TEST` embedded MNIST images as an IDX folder.
pub fn write_tiny_data(dir: &Path) {
    write_data(dir, N_TRAIN, N_TEST, None);
}

/// Writes an IDX folder of `n_train` / `n_test` embedded images; with `size`, each image is
/// padded (zeros, centred) or cropped to `size × size`; `label_offset` is added to the labels.
pub fn write_data(dir: &Path, n_train: usize, n_test: usize, size: Option<usize>) {
    let split = DataSource::EmbeddedMnist.load().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    for (prefix, set, n) in [
        ("train", &split.train, n_train),
        ("t10k", &split.test, n_test),
    ] {
        let (r, c) = (set.rows, set.cols);
        let s = size.unwrap_or(r);
        let mut px = Vec::with_capacity(n * s * s);
        for i in 0..n {
            let img = set.image(i);
            for y in 0..s {
                for x in 0..s {
                    let (sy, sx) = (
                        y as isize + (r as isize - s as isize) / 2,
                        x as isize + (c as isize - s as isize) / 2,
                    );
                    let v = if sy >= 0 && sx >= 0 && (sy as usize) < r && (sx as usize) < c {
                        img[sy as usize * c + sx as usize]
                    } else {
                        0
                    };
                    px.push(v);
                }
            }
        }
        let images = encode_images(n, s, s, &px).unwrap();
        let labels = encode_labels(&set.labels[..n]).unwrap();
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }
}

/// Runs the real binary.
pub fn hebb(args: &[&str]) -> Output {
    Command::new(hebb_bin())
        .args(args)
        .output()
        .expect("running hebb")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A temporary folder (for the family tests) holding config files and the `runs` output folder.
pub struct Dir(pub tempfile::TempDir);

impl Dir {
    pub fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }
    pub fn path(&self, rel: &str) -> String {
        self.0.path().join(rel).to_str().unwrap().to_owned()
    }
    pub fn run(&self, name: &str) -> PathBuf {
        self.0.path().join("runs").join(name)
    }
    pub fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.0.path().join(name), text).unwrap();
        self.path(name)
    }
    /// `hebb train -c <config> -o runs -n <name> --no-progress` plus `extra`.
    pub fn train(&self, config: &str, name: &str, extra: &[&str]) -> Output {
        let runs = self.path("runs");
        let mut args = vec![
            "train",
            "-c",
            config,
            "-o",
            &runs,
            "-n",
            name,
            "--no-progress",
        ];
        args.extend_from_slice(extra);
        hebb(&args)
    }
    pub fn runs_exist(&self) -> bool {
        self.0.path().join("runs").exists()
            && std::fs::read_dir(self.0.path().join("runs"))
                .unwrap()
                .next()
                .is_some()
    }
}
