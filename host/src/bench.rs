//! `hebb bench`: throughput of every stage of a preset on the chosen device, and peak memory.

use crate::backend::{LayerState, LrState, TrainJob, TrainStats};
use crate::config::TrainConfig;
use crate::family::conv_stdp::{epoch_order, layer_inputs};
use crate::log::Level;
use crate::net::{Net, layer_train};
use anyhow::{Context, Result};
use hebb_core::rng::Rng;
use std::time::Instant;

/// Peak resident memory of this process in bytes (`VmHWM`), if the OS reports it.
pub fn peak_memory() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time this thread has run, in seconds (`/proc/thread-self/schedstat`), if the OS reports
/// it: per-CPU-second rates are comparable on a loaded machine where wall rates are not.
pub fn thread_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 * 1e-9)
}

/// `hebb bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Preset to measure (`local-rules`: every local rule on one core, beside CANNs;
    /// `diehl2015`: the Diehl & Cook network at N = 100 and 400, beside BindsNET and Brian2;
    /// `dp-homeostatic`: the E/I network's simulated seconds per CPU-second, beside Brian2).
    #[arg(long, visible_alias = "preset", default_value = "kheradpisheh2018")]
    pub paper: String,
    /// Data set.
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// Training samples per layer measurement (default: one epoch of the training split); for
    /// `dp-homeostatic`, simulated seconds per case (default 10).
    #[arg(long, default_value_t = usize::MAX)]
    pub samples: usize,
    /// Write the results as JSON here too.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
    /// Mini-batch sizes to time each layer's training with (comma-separated, e.g. `1,16,64`);
    /// each starts from the same weights, and the first one's result feeds the next layer.
    #[arg(long, value_delimiter = ',', default_value = "1",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::config::MAX_BATCH)))]
    pub batch: Vec<u32>,
    /// Times the feature extraction stage is run; the table shows the median run (shared
    /// machines are noisy), the line below it the fastest and slowest.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    /// Compute device: auto (a GPU when usable), cpu or cuda.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// Runs the benchmark.
pub fn run(a: &BenchArgs) -> Result<i32> {
    crate::log::init(Level::Info);
    // The output path is checked before the work, not after it.
    if let Some(p) = &a.json {
        crate::io::check_writable(p)?;
    }
    if a.paper == "local-rules" {
        return crate::family::rules::bench::run(a.json.as_deref());
    }
    if crate::family::ei::config::PRESETS.contains(&a.paper.as_str()) {
        let seconds = if a.samples == usize::MAX {
            10.0
        } else {
            a.samples as f64
        };
        return crate::family::ei::bench::run(&a.paper, seconds, a.json.as_deref());
    }
    if crate::family::diehl_cook::config::PRESETS.contains(&a.paper.as_str()) {
        return crate::family::diehl_cook::bench::run(&a.data, a.samples, a.json.as_deref());
    }
    let cfg = TrainConfig::preset(&a.paper)?;
    let data: crate::data::DataSource = match a.data.parse() {
        Ok(d) => d,
        Err(e) => match e {},
    };
    let split = data.load().with_context(|| format!("loading `{data}`"))?;
    let choice = a.device.parse().map_err(anyhow::Error::msg)?;
    let (mut be, why) = crate::backend::open(choice)?;
    if let Some(why) = why {
        tracing::info!("no usable GPU ({why}); using the CPU");
    }
    let mut net = Net::from_config(&cfg, &mut Rng::new(cfg.seed))?;
    let mut rows: Vec<(String, f64, usize, f64)> = Vec::new();
    let n_train = split.train.len();
    let t = Instant::now();
    let enc = be.encode(&net, &split.train.images)?;
    let s = t.elapsed().as_secs_f64();
    rows.push(("encode".into(), n_train as f64 / s, n_train, s));
    let n = a.samples.min(n_train).max(1);
    let order: Vec<u32> = epoch_order(n_train, cfg.seed, 0, 0)
        .into_iter()
        .take(n)
        .collect();
    for l in 0..net.arch.len() {
        let inputs = if l == 0 {
            enc.clone()
        } else {
            let t = Instant::now();
            let c = layer_inputs(be.as_mut(), &cfg, &net, &enc, l, None)?;
            let s = t.elapsed().as_secs_f64();
            rows.push((
                format!("{} input (frozen layers)", cfg.layers[l].name),
                n_train as f64 / s,
                n_train,
                s,
            ));
            c
        };
        let mut trained = None;
        for &b in &a.batch {
            let mut lt = layer_train(&cfg.layers[l], l)?;
            lt.batch = b;
            let job = TrainJob {
                arch: &net.arch[l],
                train: &lt,
                steps: net.encoder.steps(),
                inputs: &inputs,
            };
            let mut lr = LrState::start(&lt.schedule());
            let mut wins = vec![0u32; net.arch[l].conv.out_c() as usize];
            let mut st = TrainStats::default();
            let mut w = net.weights[l].clone();
            let mut th = net.thresholds[l].clone();
            let t = Instant::now();
            be.train(
                &job,
                &order,
                &mut LayerState {
                    weights: &mut w,
                    thresholds: &mut th,
                    lr: &mut lr,
                    wins: &mut wins,
                    stats: &mut st,
                },
            )?;
            let s = t.elapsed().as_secs_f64();
            let name = if b == 1 {
                format!("{} training", cfg.layers[l].name)
            } else {
                format!("{} training (batch {b})", cfg.layers[l].name)
            };
            rows.push((name, n as f64 / s, n, s));
            trained.get_or_insert(w);
        }
        if let Some(w) = trained {
            net.weights[l] = w;
        }
    }
    let all: Vec<u8> = split
        .train
        .images
        .iter()
        .chain(&split.test.images)
        .copied()
        .collect();
    let nall = split.train.len() + split.test.len();
    let mut runs = Vec::with_capacity(a.repeat as usize);
    for _ in 0..a.repeat.max(1) {
        let t = Instant::now();
        let f = be.features(&net, &all)?;
        runs.push(t.elapsed().as_secs_f64());
        drop(f);
    }
    runs.sort_by(f64::total_cmp);
    let s = runs[runs.len() / 2];
    let name = if runs.len() > 1 {
        format!("feature extraction (median of {})", runs.len())
    } else {
        "feature extraction".into()
    };
    rows.push((name, nall as f64 / s, nall, s));
    let (fast, slow) = (runs[0], runs[runs.len() - 1]);
    let peak = peak_memory();
    println!(
        "hebb bench: preset `{}`, data `{data}`, device {}",
        a.paper,
        be.name()
    );
    println!(
        "{:<34} {:>14} {:>9} {:>9}",
        "stage", "samples/s", "samples", "seconds"
    );
    for (name, rate, n, s) in &rows {
        println!("{name:<34} {rate:>14.0} {n:>9} {s:>9.3}");
    }
    if runs.len() > 1 {
        println!(
            "feature extraction over {} runs: fastest {:.0}, slowest {:.0} samples/s",
            runs.len(),
            nall as f64 / fast,
            nall as f64 / slow
        );
    }
    if let Some(p) = peak {
        println!(
            "peak memory (VmHWM): {:.1} MiB",
            p as f64 / (1024.0 * 1024.0)
        );
    }
    if let Some(path) = &a.json {
        let j = serde_json::json!({
            "preset": a.paper,
            "data": data.to_string(),
            "device": be.name(),
            "threads": rayon::current_num_threads(),
            "stages": rows.iter().map(|(n, r, c, s)| serde_json::json!({"stage": n, "samples_per_sec": r, "samples": c, "seconds": s})).collect::<Vec<_>>(),
            "peak_memory_bytes": peak,
            "feature_extraction_runs_samples_per_sec": runs.iter().map(|s| nall as f64 / s).collect::<Vec<_>>(),
        });
        crate::io::write_atomic(path, serde_json::to_string_pretty(&j)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(0)
}
