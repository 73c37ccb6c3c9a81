//! `hebb bench --paper dp-homeostatic`: simulated seconds per CPU-second of the reference's
//! default network, without and with the local rules, beside Brian2's figure for the same
//! network on this machine kind.

use super::EiNetwork;
use super::config::EiConfig;
use crate::bench::{peak_memory, thread_cpu_seconds};
use crate::run::Trainer;
use anyhow::Result;

/// Brian2 2.11, C++ standalone, one thread, the same network forward (no plasticity), on this
/// project's 2-vCPU machine kind.
const BRIAN2_SIM_S_PER_CPU_S: f64 = 5.8;

/// Runs the benchmark on preset `paper` for `seconds` of simulated time per case.
pub fn run(paper: &str, seconds: f64, json: Option<&std::path::Path>) -> Result<i32> {
    let mut rows = Vec::new();
    for (case, rules) in [("forward", false), ("learning", true)] {
        let mut cfg = EiConfig::preset(paper)?;
        if !rules {
            cfg.hebb.istdp = None;
            cfg.hebb.threshold.clear();
            cfg.hebb.scaling.clear();
        }
        cfg.simulation.chunk_size = seconds * 1000.0;
        cfg.simulation.epochs = 1;
        cfg.hebb.figures = false;
        cfg.hebb.eval_seconds = 0.0;
        let t0 = thread_cpu_seconds();
        let mut t = EiNetwork::new(cfg)?;
        let build = match (t0, thread_cpu_seconds()) {
            (Some(a), Some(b)) => b - a,
            _ => f64::NAN,
        };
        t.configure_progress(crate::run::ProgressConfig { show: false });
        t.train(&())?;
        let cpu = t.state().train_seconds;
        let spikes = t
            .state()
            .history
            .first()
            .map_or(0.0, |e| e.stats.mean_firing_rate);
        let rate = seconds / cpu.max(1e-9);
        println!(
            "{case:>9}: {seconds} s simulated in {cpu:.2} CPU-s = {rate:.2} simulated s per CPU-s ({:.2}× Brian2's {BRIAN2_SIM_S_PER_CPU_S}); build {build:.2} CPU-s; mean rate {spikes:.3} Hz",
            rate / BRIAN2_SIM_S_PER_CPU_S
        );
        rows.push(serde_json::json!({
            "case": case,
            "simulated_seconds": seconds,
            "cpu_seconds": cpu,
            "sim_s_per_cpu_s": rate,
            "brian2_sim_s_per_cpu_s": BRIAN2_SIM_S_PER_CPU_S,
            "build_cpu_seconds": build,
            "mean_rate_hz": spikes,
        }));
    }
    let mem = peak_memory();
    if let Some(m) = mem {
        println!("peak memory {:.1} MiB", m as f64 / (1u64 << 20) as f64);
    }
    if let Some(p) = json {
        let v = serde_json::json!({ "paper": paper, "cases": rows, "peak_memory_bytes": mem });
        crate::io::write_atomic(p, serde_json::to_string_pretty(&v)?.as_bytes())?;
    }
    Ok(0)
}
