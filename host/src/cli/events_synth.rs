//! `hebb events synth`: generated event data sets.
//!
//! * `nmnist`: N-MNIST-like recordings of still digits ([`saccade`]), one per image, in
//!   N-MNIST's layout `DIR/Train/<label>/<index>.bin` and `DIR/Test/<label>/<index>.bin`
//!   (`<index>` is the image's index in its split, five digits);
//! * `satellites`: EBSSA-like sky recordings ([`satellites`]) as `DIR/<sensor>_<NNNN>_labelled.mat`
//!   (`TD` events and `Obj` labels).
//!
//! Both write `DIR/manifest.json` (the seed of every recording; for the sky, each file's truth:
//! satellites' speed, direction, start and end, stars, event counts by source). Recording `i`
//! gets the seed `mix(seed) ⊕ key(i)` with `mix` a bijection (SplitMix64's finaliser) and
//! `key` distinct per recording (for digits `2·index` in the training split and `2·index + 1`
//! in the test split), so no two recordings of a data set share a seed and the same flags give
//! the same bytes. Files are written atomically; a non-empty `DIR` is refused unless
//! `--overwrite`.

use super::{out, parse_data};
use crate::data::events::saccade::{self, SaccadeParams};
use crate::data::events::satellites::{self, SatelliteParams, Sensor};
use crate::data::events::{Recording, nmnist};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use hebb_core::rng::Rng;
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SynthKind {
    /// N-MNIST-like digit recordings (`.bin`, N-MNIST's folder layout).
    Nmnist,
    /// EBSSA-like sky recordings with satellites (`_labelled.mat` with `TD` and `Obj`).
    Satellites,
}

/// Which split of the digits to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitChoice {
    /// The training split (`Train/`).
    Train,
    /// The test split (`Test/`).
    Test,
    /// Both.
    Both,
}

/// A sensor preset of the sky recordings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SensorChoice {
    /// DAVIS240C, 240 × 180.
    Davis240c,
    /// ATIS, 304 × 240.
    Atis,
    /// DAVIS346, 346 × 260.
    Davis346,
}

impl From<SensorChoice> for Sensor {
    fn from(s: SensorChoice) -> Self {
        match s {
            SensorChoice::Davis240c => Self::Davis240c,
            SensorChoice::Atis => Self::Atis,
            SensorChoice::Davis346 => Self::Davis346,
        }
    }
}

/// `hebb events synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// What to generate: nmnist or satellites.
    #[arg(value_enum)]
    pub kind: SynthKind,
    /// Output folder (created if missing; must be empty unless --overwrite).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the data set (every recording's seed is derived from it).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Recordings to write: nmnist, the first N images of each split (default all);
    /// satellites, N files (default 10).
    #[arg(long)]
    pub count: Option<usize>,
    /// Write into a non-empty folder, replacing files of the same names (other recordings
    /// there are left, and counted in a note).
    #[arg(long)]
    pub overwrite: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// nmnist: the images: `mnist` (embedded), `fashion-mnist`, or a folder of IDX files.
    #[arg(long)]
    pub digits: Option<String>,
    /// nmnist: which split to record (default both).
    #[arg(long, value_enum)]
    pub split: Option<SplitChoice>,
    /// satellites: the sensor (default davis240c).
    #[arg(long, value_enum)]
    pub sensor: Option<SensorChoice>,
    /// satellites: length of each recording in ms (default 3000).
    #[arg(long)]
    pub duration_ms: Option<u64>,
    /// satellites: satellites per recording (default 1).
    #[arg(long)]
    pub n_sat: Option<usize>,
    /// satellites: seed of the sensor's hot pixels and thresholds (default 1).
    #[arg(long)]
    pub sensor_seed: Option<u64>,
}

/// Runs `hebb events synth`.
pub fn run(a: &SynthArgs) -> Result<i32> {
    let wrong = |flag: &str, set: bool, kind: &str| -> Result<()> {
        if set {
            bail!("{flag} applies to `{kind}` recordings only");
        }
        Ok(())
    };
    match a.kind {
        SynthKind::Nmnist => {
            wrong("--sensor", a.sensor.is_some(), "satellites")?;
            wrong("--duration-ms", a.duration_ms.is_some(), "satellites")?;
            wrong("--n-sat", a.n_sat.is_some(), "satellites")?;
            wrong("--sensor-seed", a.sensor_seed.is_some(), "satellites")?;
        }
        SynthKind::Satellites => {
            wrong("--digits", a.digits.is_some(), "nmnist")?;
            wrong("--split", a.split.is_some(), "nmnist")?;
        }
    }
    // Check the parameters before touching the folder.
    let sky = match a.kind {
        SynthKind::Satellites => Some(sky_params(a)?),
        SynthKind::Nmnist => None,
    };
    prepare(&a.out, a.overwrite)?;
    let started = Instant::now();
    let (n, events) = match sky {
        Some(p) => synth_satellites(a, &p)?,
        None => synth_nmnist(a)?,
    };
    out!(
        "wrote {n} recordings ({events} events) to {} in {:.1} s",
        a.out.display(),
        started.elapsed().as_secs_f64()
    )?;
    Ok(0)
}

/// SplitMix64's finaliser: a bijection of u64.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of recording `key` of a data set of seed `seed` (distinct keys, distinct seeds).
pub fn recording_seed(seed: u64, key: u64) -> u64 {
    mix(seed) ^ key
}

/// Creates `dir` or checks that it may be written into.
fn prepare(dir: &Path, overwrite: bool) -> Result<()> {
    if dir.exists() {
        if !dir.is_dir() {
            bail!("{} exists and is not a folder", dir.display());
        }
        let non_empty = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_some();
        if non_empty && !overwrite {
            bail!(
                "{} is not empty: choose another --out, or pass --overwrite to replace the files \
                 of the same names",
                dir.display()
            );
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

/// Says on stderr how many recordings (`*.bin`, `*_labelled.mat`, down to `Train/<label>/`)
/// the folder holds besides the ones just written (left from an earlier run with --overwrite):
/// they are not in the manifest, but a loader that lists the folder would read them.
fn note_stale(dir: &Path, written: &HashSet<PathBuf>) -> Result<()> {
    fn walk(d: &Path, depth: u32, written: &HashSet<PathBuf>, n: &mut usize) {
        let Ok(entries) = std::fs::read_dir(d) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() && depth < 2 {
                walk(&p, depth + 1, written, n);
            } else if (name.ends_with(".bin") || name.ends_with("_labelled.mat"))
                && !written.contains(&p)
            {
                *n += 1;
            }
        }
    }
    let mut n = 0;
    walk(dir, 0, written, &mut n);
    if n > 0 {
        use std::io::Write as _;
        writeln!(
            std::io::stderr().lock(),
            "note: {} also holds {n} recordings this run did not write (not in its manifest)",
            dir.display()
        )?;
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::io::write_atomic(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn progress(a: &SynthArgs, len: usize, msg: &str) -> indicatif::ProgressBar {
    crate::run::runner::bar(!a.no_progress, len as u64, msg.into())
}

fn sky_params(a: &SynthArgs) -> Result<SatelliteParams> {
    let sensor: Sensor = a.sensor.unwrap_or(SensorChoice::Davis240c).into();
    let mut p = SatelliteParams::for_sensor(sensor);
    if let Some(ms) = a.duration_ms {
        if ms == 0 || ms > 3_600_000 {
            bail!("--duration-ms must be 1–3,600,000 (an hour), not {ms}");
        }
        p.duration_us = ms * 1000;
    }
    if let Some(n) = a.n_sat {
        p.n_sat = n;
    }
    if let Some(s) = a.sensor_seed {
        p.sensor_seed = s;
    }
    p.validate()?;
    Ok(p)
}

fn synth_satellites(a: &SynthArgs, p: &SatelliteParams) -> Result<(usize, usize)> {
    let sensor: Sensor = a.sensor.unwrap_or(SensorChoice::Davis240c).into();
    let count = a.count.unwrap_or(10);
    let bar = progress(a, count, "recordings");
    let events = AtomicUsize::new(0);
    let files: Vec<(String, u64, satellites::Truth)> = (0..count)
        .into_par_iter()
        .map(|i| -> Result<_> {
            let seed = recording_seed(a.seed, i as u64);
            let sky = satellites::record(p, &mut Rng::new(seed))
                .with_context(|| format!("generating recording {i}"))?;
            let name = format!("{}_{i:04}_labelled.mat", sensor.name());
            write(
                &a.out.join(&name),
                &satellites::write_ebssa(&sky.recording, &sky.labels),
            )?;
            events.fetch_add(sky.recording.events.len(), Ordering::Relaxed);
            bar.inc(1);
            Ok((name, seed, sky.truth))
        })
        .collect::<Result<_>>()?;
    bar.finish_and_clear();
    let hot = files
        .first()
        .map(|f| f.2.hot_pixels.clone())
        .unwrap_or_default();
    let manifest = serde_json::json!({
        "kind": "satellites",
        "generator": "hebb satellites (see hebb::data::events::satellites)",
        "seed": a.seed,
        "seed_rule": "file i: splitmix64_finalizer(seed) xor i",
        "sensor": sensor.name(),
        "width": p.width,
        "height": p.height,
        "duration_us": p.duration_us,
        "n_sat": p.n_sat,
        "sensor_seed": p.sensor_seed,
        "hot_pixels": hot,
        "label_interval_us": p.label_us,
        "coordinates": "files: 1-based (MATLAB); manifest: 0-based",
        "files": files.iter().map(|(name, seed, t)| serde_json::json!({
            "file": name,
            "seed": seed,
            "counts": t.counts,
            "satellites": t.satellites,
            "stars": t.stars,
        })).collect::<Vec<_>>(),
    });
    write(
        &a.out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    let written: HashSet<PathBuf> = files.iter().map(|f| a.out.join(&f.0)).collect();
    note_stale(&a.out, &written)?;
    Ok((count, events.into_inner()))
}

fn synth_nmnist(a: &SynthArgs) -> Result<(usize, usize)> {
    let source = a.digits.as_deref().unwrap_or("mnist");
    let data = parse_data(source)
        .load()
        .with_context(|| format!("loading the images `{source}`"))?;
    if (data.train.rows, data.train.cols) != (28, 28) {
        bail!(
            "N-MNIST-like recordings need 28×28 images; `{source}` has {}×{}",
            data.train.rows,
            data.train.cols
        );
    }
    let split = a.split.unwrap_or(SplitChoice::Both);
    let mut jobs: Vec<(&str, u64, &crate::data::Dataset)> = Vec::new();
    if split != SplitChoice::Test {
        jobs.push(("Train", 0, &data.train));
    }
    if split != SplitChoice::Train {
        jobs.push(("Test", 1, &data.test));
    }
    let p = SaccadeParams::default();
    let mut written = serde_json::Map::new();
    let mut paths = HashSet::new();
    let (mut total, mut events) = (0, 0);
    for (folder, tag, set) in jobs {
        let n = a.count.unwrap_or(set.len()).min(set.len());
        for label in 0..set.n_classes {
            let d = a.out.join(folder).join(label.to_string());
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
        }
        let bar = progress(a, n, folder);
        let file = |i: usize, label: u8| {
            a.out
                .join(folder)
                .join(label.to_string())
                .join(format!("{i:05}.bin"))
        };
        let counts: Vec<usize> = (0..n)
            .into_par_iter()
            .map(|i| -> Result<usize> {
                let (img, label) = set.get(i).context("image index out of range")?;
                let seed = recording_seed(a.seed, 2 * i as u64 + tag);
                let r: Recording = saccade::record(img, 28, 28, &p, &mut Rng::new(seed))
                    .with_context(|| format!("recording {folder} image {i}"))?;
                let bytes = nmnist::encode(&r.events)
                    .with_context(|| format!("encoding {folder} image {i}"))?;
                write(&file(i, label), &bytes)?;
                bar.inc(1);
                Ok(r.events.len())
            })
            .collect::<Result<_>>()?;
        bar.finish_and_clear();
        paths.extend((0..n).filter_map(|i| set.get(i).map(|(_, l)| file(i, l))));
        total += n;
        events += counts.iter().sum::<usize>();
        written.insert(folder.into(), serde_json::json!(n));
    }
    let manifest = serde_json::json!({
        "kind": "nmnist",
        "generator": "hebb saccade (see hebb::data::events::saccade)",
        "images": data.name,
        "seed": a.seed,
        "seed_rule": "image i: splitmix64_finalizer(seed) xor (2 i) in Train, xor (2 i + 1) in Test",
        "sensor": [34, 34],
        "recordings": written,
    });
    write(
        &a.out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    note_stale(&a.out, &paths)?;
    Ok((total, events))
}
