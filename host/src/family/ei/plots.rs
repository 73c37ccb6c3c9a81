//! Figures of a run, named as the reference names them: per figure epoch into
//! `figures/epoch_XXXX/`, and of the final measurement into `plots/`.

use super::stats::{Stats, Trains};
use super::{EiNetwork, EpochStats, PROBE_MS};
use crate::plot::{encode_png, line_chart};
use anyhow::Result;
use std::path::Path;

/// Counts of `values` in `bins` equal bins over `[lo, hi)`, as `(bin centre, count)` points.
fn binned(values: impl Iterator<Item = f64>, lo: f64, hi: f64, bins: usize) -> Vec<(f64, f64)> {
    let w = (hi - lo) / bins as f64;
    let mut c = vec![0u32; bins];
    for v in values.filter(|v| v.is_finite()) {
        let b = ((v - lo) / w).floor();
        if b >= 0.0 && (b as usize) < bins {
            c[b as usize] += 1;
        }
    }
    c.iter()
        .enumerate()
        .map(|(i, &n)| (lo + (i as f64 + 0.5) * w, f64::from(n)))
        .collect()
}

fn max_of(values: impl Iterator<Item = f64>) -> f64 {
    values.filter(|v| v.is_finite()).fold(0.0, f64::max)
}

/// A spike raster: `rows` cells × `steps` steps into a `w × h` PNG, one colour per type.
fn raster(
    path: &Path,
    spikes: &[(u32, u32)],
    rows: &[(u32, u8)],
    steps: u64,
    w: u32,
    h: u32,
) -> Result<()> {
    const COLOURS: [[u8; 3]; 4] = [[200, 40, 40], [40, 80, 200], [40, 150, 60], [120, 60, 160]];
    let mut img = vec![255u8; (w * h * 3) as usize];
    let mut row_of = std::collections::HashMap::new();
    for (r, &(cell, t)) in rows.iter().enumerate() {
        row_of.insert(cell, (r, t));
    }
    for &(t, j) in spikes {
        let Some(&(r, ty)) = row_of.get(&j) else {
            continue;
        };
        let x = (u64::from(t) * u64::from(w) / steps.max(1)).min(u64::from(w) - 1) as u32;
        let y = (r as u64 * u64::from(h) / rows.len().max(1) as u64) as u32;
        let i = ((y * w + x) * 3) as usize;
        if let Some(px) = img.get_mut(i..i + 3) {
            px.copy_from_slice(&COLOURS[ty as usize % COLOURS.len()]);
        }
    }
    std::fs::write(path, encode_png(w, h, &img)?)?;
    Ok(())
}

/// A heat map of a `k × k` matrix (rows = presynaptic group), scaled up to about 400 px.
fn heat(path: &Path, m: &[f64], k: usize) -> Result<()> {
    let s = (400 / k.max(1)).max(1);
    let side = (k * s) as u32;
    let top = max_of(m.iter().copied()).max(1e-12);
    let mut img = vec![0u8; (side * side * 3) as usize];
    for r in 0..k {
        for c in 0..k {
            let v = (m[r * k + c] / top).clamp(0.0, 1.0);
            let px = [
                (255.0 * v.sqrt()) as u8,
                (255.0 * v * v) as u8,
                (255.0 * (1.0 - v) * 0.6) as u8,
            ];
            for y in r * s..(r + 1) * s {
                for x in c * s..(c + 1) * s {
                    let i = (y * k * s + x) * 3;
                    img[i..i + 3].copy_from_slice(&px);
                }
            }
        }
    }
    std::fs::write(path, encode_png(side, side, &img)?)?;
    Ok(())
}

/// The figures of one epoch.
pub fn epoch(t: &EiNetwork, es: &EpochStats, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let cfg = &t.cfg;
    let m = &t.model;
    let lay = &t.layout;
    let n = m.n();
    let steps = cfg.epoch_steps();
    let dt = cfg.simulation.dt;
    // Connectivity between assemblies: synapse counts and summed weights.
    let k = lay
        .assembly
        .iter()
        .copied()
        .max()
        .map_or(1, |a| a as usize + 1);
    let (mut count, mut weight) = (vec![0.0; k * k], vec![0.0; k * k]);
    let mut in_deg = vec![0u32; n];
    let mut in_w = vec![0.0f64; n];
    for i in 0..n {
        for s in m.rec.row(i) {
            let j = m.rec.target[s] as usize;
            let c = lay.assembly[i] as usize * k + lay.assembly[j] as usize;
            count[c] += 1.0;
            weight[c] += f64::from(m.rec.w[s]);
            in_deg[j] += 1;
            in_w[j] += f64::from(m.rec.w[s]);
        }
    }
    heat(&dir.join("assembly_graph.png"), &count, k)?;
    heat(&dir.join("weighted_connectivity.png"), &weight, k)?;
    let mut ff_deg = vec![0u32; n];
    for s in 0..m.ff.len() {
        ff_deg[m.ff.target[s] as usize] += 1;
    }
    let top = max_of(in_deg.iter().map(|&d| f64::from(d))) + 1.0;
    let deg = binned(in_deg.iter().map(|&d| f64::from(d)), 0.0, top, 40);
    line_chart(
        &dir.join("input_count_histogram.png"),
        "recurrent inputs per cell",
        &[("cells", &deg)],
        "inputs",
        "cells",
    )?;
    let top = max_of(in_w.iter().copied()) * 1.01 + 1e-9;
    let wh = binned(in_w.iter().copied(), 0.0, top, 40);
    line_chart(
        &dir.join("synaptic_input_histogram.png"),
        "summed recurrent input weight per cell",
        &[("cells", &wh)],
        "summed weight",
        "cells",
    )?;
    let top = max_of(ff_deg.iter().map(|&d| f64::from(d))) + 1.0;
    let fd = binned(ff_deg.iter().map(|&d| f64::from(d)), 0.0, top, 40);
    line_chart(
        &dir.join("feedforward_connectivity.png"),
        "input (mitral) synapses per cell",
        &[("cells", &fd)],
        "inputs",
        "cells",
    )?;
    // Rasters over the probe stretch (the epoch's first second).
    let probe_steps = t.probe_steps().min(steps);
    let mut order: Vec<(u32, u8)> = (0..n.min(1000))
        .map(|j| (j as u32, lay.cell_type[j]))
        .collect();
    order.sort_by_key(|&(_, ty)| ty);
    let early: Vec<(u32, u32)> =
        t.st.spikes
            .iter()
            .filter(|(s, _)| u64::from(*s) < probe_steps)
            .copied()
            .collect();
    raster(
        &dir.join("dp_network_spikes.png"),
        &early,
        &order,
        probe_steps,
        1000,
        500,
    )?;
    let ff_rows: Vec<(u32, u8)> = (0..m.ff.pre().min(500)).map(|i| (i as u32, 2)).collect();
    raster(
        &dir.join("mitral_cell_spikes.png"),
        &t.st.input_spikes,
        &ff_rows,
        probe_steps,
        1000,
        400,
    )?;
    // Probe traces.
    let nc = m.channels.len();
    let per = 1 + nc;
    let np = t.probes.len();
    let recorded = t.st.probe.len() / (per * np).max(1);
    let vseries: Vec<(String, Vec<(f64, f64)>)> = t
        .probes
        .iter()
        .enumerate()
        .map(|(p, &j)| {
            let name = format!("{} {j}", cfg.type_names()[lay.cell_type[j] as usize]);
            let pts = (0..recorded)
                .map(|s| (s as f64 * dt, f64::from(t.st.probe[(s * np + p) * per])))
                .collect();
            (name, pts)
        })
        .collect();
    let refs: Vec<(&str, &[(f64, f64)])> = vseries
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_slice()))
        .collect();
    line_chart(
        &dir.join("membrane_voltages.png"),
        &format!("membrane potentials, first {PROBE_MS} ms of the epoch"),
        &refs,
        "time (ms)",
        "v (mV)",
    )?;
    let gseries: Vec<(String, Vec<(f64, f64)>)> = (0..nc)
        .map(|c| {
            let j = t.probes.first().copied().unwrap_or(0);
            let pts = (0..recorded)
                .map(|s| (s as f64 * dt, f64::from(t.st.probe[s * np * per + 1 + c])))
                .collect();
            (
                format!("channel {c} (E = {} mV), cell {j}", m.channels[c].e_syn),
                pts,
            )
        })
        .collect();
    let refs: Vec<(&str, &[(f64, f64)])> = gseries
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_slice()))
        .collect();
    line_chart(
        &dir.join("synaptic_conductances.png"),
        "synaptic conductances of the first probe cell",
        &refs,
        "time (ms)",
        "g (nS)",
    )?;
    let tr = super::stats::trains(&t.st.spikes, n, steps, dt);
    distributions(cfg, &lay.cell_type, &tr, dt, dir)?;
    let fano = super::stats::fano_curve(&tr, steps, dt, &[10.0, 30.0, 100.0, 300.0, 1000.0]);
    line_chart(
        &dir.join("fano_factor.png"),
        &format!("Fano factor against window, epoch {}", es.epoch),
        &[("mean over cells", &fano)],
        "window (ms)",
        "Fano factor",
    )?;
    Ok(())
}

/// Rate, CV and ISI distributions, per type.
fn distributions(
    cfg: &super::config::EiConfig,
    cell_type: &[u8],
    tr: &Trains,
    dt: f64,
    dir: &Path,
) -> Result<()> {
    let names = cfg.type_names();
    let per_type =
        |f: &dyn Fn(usize) -> Vec<f64>, lo: f64, hi: f64| -> Vec<(String, Vec<(f64, f64)>)> {
            (0..names.len())
                .map(|t| {
                    let vals: Vec<f64> = (0..cell_type.len())
                        .filter(|&j| cell_type[j] as usize == t)
                        .flat_map(f)
                        .collect();
                    (names[t].clone(), binned(vals.into_iter(), lo, hi, 40))
                })
                .collect()
        };
    let draw = |file: &str, title: &str, s: &[(String, Vec<(f64, f64)>)], x: &str| -> Result<()> {
        let refs: Vec<(&str, &[(f64, f64)])> =
            s.iter().map(|(n, p)| (n.as_str(), p.as_slice())).collect();
        line_chart(&dir.join(file), title, &refs, x, "cells")?;
        Ok(())
    };
    let top = max_of(tr.rates.iter().copied()).max(1.0) * 1.01;
    let fr = per_type(&|j| vec![tr.rates[j]], 0.0, top);
    draw(
        "firing_rate_distribution.png",
        "firing rates",
        &fr,
        "rate (Hz)",
    )?;
    let cv = per_type(&|j| tr.cvs[j].into_iter().collect(), 0.0, 3.0);
    draw(
        "cv_histogram.png",
        "ISI CV (cells with >= 3 spikes)",
        &cv,
        "CV",
    )?;
    let isi = per_type(
        &|j| {
            tr.times[j]
                .windows(2)
                .map(|p| (p[1] - p[0]) as f64 * dt)
                .collect()
        },
        0.0,
        10_000.0,
    );
    let refs: Vec<(&str, &[(f64, f64)])> = isi
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_slice()))
        .collect();
    line_chart(
        &dir.join("isi_histogram.png"),
        "inter-spike intervals",
        &refs,
        "ISI (ms)",
        "intervals",
    )?;
    Ok(())
}

/// Plots of the final measurement and of the training history.
pub fn final_measure(
    t: &EiNetwork,
    _s: &Stats,
    tr: &Trains,
    fano: &[(f64, f64)],
    dir: &Path,
) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    distributions(&t.cfg, &t.layout.cell_type, tr, t.cfg.simulation.dt, dir)?;
    line_chart(
        &dir.join("fano_factor.png"),
        "Fano factor against window (final measurement)",
        &[("mean over cells", fano)],
        "window (ms)",
        "Fano factor",
    )?;
    let h = &t.st.history;
    let pts = |f: &dyn Fn(&EpochStats) -> f64| -> Vec<(f64, f64)> {
        h.iter().map(|e| (f64::from(e.epoch), f(e))).collect()
    };
    let total = pts(&|e| e.stats.loss_total);
    let fr = pts(&|e| e.stats.loss_firing_rate);
    let cv = pts(&|e| e.stats.loss_cv);
    line_chart(
        &dir.join("losses.png"),
        "the reference's losses per epoch",
        &[("total", &total), ("firing rate", &fr), ("CV", &cv)],
        "epoch",
        "loss",
    )?;
    let names = t.cfg.type_names();
    let rates: Vec<(String, Vec<(f64, f64)>)> = (0..names.len())
        .map(|k| {
            (
                format!("{} (target {} Hz)", names[k], t.cfg.target_hz(k)),
                pts(&|e| e.stats.types.get(k).map_or(f64::NAN, |x| x.mean_fr)),
            )
        })
        .collect();
    let refs: Vec<(&str, &[(f64, f64)])> = rates
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_slice()))
        .collect();
    line_chart(
        &dir.join("rates.png"),
        "mean rate per type",
        &refs,
        "epoch",
        "Hz",
    )?;
    let cvs = pts(&|e| e.stats.mean_cv);
    line_chart(
        &dir.join("cv.png"),
        "mean ISI CV per epoch (one chunk; short windows bias it low)",
        &[("mean CV", &cvs)],
        "epoch",
        "CV",
    )?;
    Ok(())
}
