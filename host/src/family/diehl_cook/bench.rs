//! `hebb bench --paper diehl2015`: training and inference digits per second of the Diehl &
//! Cook network on one core at N = 100 and 400 (the authors' protocol: 350 + 150 ms at
//! dt = 0.5 ms, re-presentation below 5 spikes), inference on every core, and peak memory,
//! beside BindsNET 0.3.4 and Brian2 measured on this machine kind (per CPU-second).

use super::model::{NetState, Network, TraceTables, Work};
use super::{TAG_TEST, TAG_TRAIN, config::DiehlCookConfig, digit_seed};
use crate::data::Split;
use anyhow::{Context, Result};
use hebb_core::rng::Rng;
use rayon::prelude::*;
use std::time::Instant;

/// One measured configuration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    /// Excitatory neurons.
    pub neurons: usize,
    /// Training digits per second, one core (wall).
    pub train: f64,
    /// Training digits per CPU-second.
    pub train_cpu: f64,
    /// Inference digits per second, one core (wall).
    pub infer: f64,
    /// Inference digits per CPU-second.
    pub infer_cpu: f64,
    /// Inference digits per second, every core.
    pub infer_all_cores: f64,
    /// Mean presentations per training digit.
    pub presentations: f64,
    /// Mean input spikes per training digit.
    pub input_spikes: f64,
    /// BindsNET training / inference per CPU-second (`None` where not measured).
    pub bindsnet: Option<(f64, f64)>,
    /// Brian2 (original protocol) training / inference per CPU-second.
    pub brian2: Option<(f64, f64)>,
}

fn cpu() -> f64 {
    crate::bench::thread_cpu_seconds().unwrap_or(f64::NAN)
}

/// Measures N = 100 and 400 on the first `samples` training digits (and as many test digits).
// Brian2's measured 3.14 digits per CPU-second is a measurement, not π.
#[allow(clippy::approx_constant)]
pub fn measure(split: &Split, samples: usize) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    for (preset, bindsnet, brian2) in [
        ("diehl2015", Some((8.45, 12.9)), Some((3.14, 3.47))),
        ("diehl2015-400", Some((5.61, 7.94)), None),
    ] {
        let cfg = DiehlCookConfig::preset(preset)?;
        let mut net = Network::new(
            cfg.params()?,
            (split.train.rows, split.train.cols),
            cfg.neurons,
            split.train.n_classes,
            (cfg.init.scale, cfg.init.offset),
            cfg.seed,
        )?;
        let tables = TraceTables::new(&net.params)?;
        let m = samples.min(split.train.len()).max(1);
        let mut work = Work::new(net.n_in, net.n);
        let (mut pres, mut inputs) = (0u64, 0u64);
        let t = Instant::now();
        let c0 = cpu();
        for i in 0..m {
            let mut rng = Rng::new(digit_seed(cfg.seed, TAG_TRAIN, 0, i as u64));
            let o = net.learn(&tables, &mut work, split.train.image(i), &mut rng)?;
            pres += u64::from(o.presentations);
            inputs += u64::from(o.input_spikes);
        }
        let train = m as f64 / t.elapsed().as_secs_f64();
        let train_cpu = m as f64 / (cpu() - c0).max(1e-9);
        let mt = m.min(split.test.len()).max(1);
        let infer_pass = |net: &Network| -> Result<f64> {
            let t = Instant::now();
            (0..mt).into_par_iter().try_for_each_init(
                || (Work::new(net.n_in, net.n), NetState::new(net.n_in, net.n)),
                |(w, s), i| -> Result<()> {
                    let mut rng = Rng::new(digit_seed(cfg.seed, TAG_TEST, i as u64, 0));
                    net.respond(&tables, w, s, split.test.image(i), &mut rng)?;
                    Ok(())
                },
            )?;
            Ok(mt as f64 / t.elapsed().as_secs_f64())
        };
        // On the one-thread pool, whose only thread does the work: its CPU time is the cost.
        let (infer, infer_cpu) = one.install(|| -> Result<(f64, f64)> {
            let c0 = cpu();
            let r = infer_pass(&net)?;
            Ok((r, mt as f64 / (cpu() - c0).max(1e-9)))
        })?;
        let infer_all_cores = infer_pass(&net)?;
        rows.push(Row {
            neurons: net.n,
            train,
            train_cpu,
            infer,
            infer_cpu,
            infer_all_cores,
            presentations: pres as f64 / m as f64,
            input_spikes: inputs as f64 / m as f64,
            bindsnet,
            brian2,
        });
    }
    Ok(rows)
}

/// Prints the table (and writes JSON when asked).
pub fn run(data: &str, samples: usize, json: Option<&std::path::Path>) -> Result<i32> {
    use crate::cli::out;
    let source: crate::data::DataSource = match data.parse() {
        Ok(d) => d,
        Err(e) => match e {},
    };
    let split = source
        .load()
        .with_context(|| format!("loading `{source}`"))?;
    let samples = if samples == usize::MAX { 1000 } else { samples };
    let t = Instant::now();
    let rows = measure(&split, samples)?;
    out!(
        "{:<8} {:>9} {:>9} {:>9} {:>9} {:>14} {:>16} {:>16} {:>9} {:>9}",
        "neurons",
        "train/s",
        "train/cpu",
        "infer/s",
        "infer/cpu",
        "infer/s (all)",
        "BindsNET tr/inf",
        "Brian2 tr/inf",
        "×BN tr",
        "×BN inf"
    )?;
    let pair =
        |p: Option<(f64, f64)>| p.map_or("–".to_owned(), |(a, b)| format!("{a:.2}/{b:.2}"));
    for r in &rows {
        let (xt, xi) = r.bindsnet.map_or((f64::NAN, f64::NAN), |(a, b)| {
            (r.train_cpu / a, r.infer_cpu / b)
        });
        out!(
            "{:<8} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>14.1} {:>16} {:>16} {:>9.0} {:>9.0}",
            r.neurons,
            r.train,
            r.train_cpu,
            r.infer,
            r.infer_cpu,
            r.infer_all_cores,
            pair(r.bindsnet),
            pair(r.brian2),
            xt,
            xi
        )?;
    }
    let peak = crate::bench::peak_memory().map_or("?".into(), |b| {
        format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
    });
    out!(
        "(digits per second of wall time and per CPU-second on one core, and of wall time on every core; ×BN compares CPU-seconds; {samples} training digits from fresh weights, as many test digits; presentations per digit {}; peak memory {peak}, data included; BindsNET 0.3.4 and Brian2 per CPU-second on a 2-vCPU machine of this kind; {:.1} s in all)",
        rows.iter()
            .map(|r| format!("{:.2}", r.presentations))
            .collect::<Vec<_>>()
            .join(" / "),
        t.elapsed().as_secs_f64()
    )?;
    if let Some(p) = json {
        let text = serde_json::to_string_pretty(&rows)?;
        crate::io::write_atomic(p, text.as_bytes())?;
    }
    Ok(0)
}
