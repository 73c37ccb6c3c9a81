//! The network builder: cell types by proportion at shuffled positions, equal-size
//! assemblies, the configuration model with exact degrees per (assembly pair, type pair),
//! lognormal weights from linear-space mean and variance, and the feedforward graph.

use super::config::{EiConfig, Synapses};
use anyhow::{Result, bail};
use hebb_core::ei::{CellParams, Csr, Model, PeakNorm, SynapseParams, net::Spec};
use hebb_core::rng::Rng;

/// Seed streams of the builder and the inputs, derived from the config's seed.
pub const TAG_TYPES: u64 = 1;
/// Recurrent graph.
pub const TAG_GRAPH: u64 = 2;
/// Feedforward graph.
pub const TAG_FF: u64 = 3;
/// Inputs of training epoch `e` use `TAG_INPUT + e`.
pub const TAG_INPUT: u64 = 1 << 32;
/// Inputs of the final measurement.
pub const TAG_EVAL: u64 = 1 << 48;

/// A stream of the seed.
pub fn stream(seed: u64, tag: u64) -> Rng {
    let mut r = Rng::new(seed ^ tag.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    r.next_u64();
    r
}

/// What the builder makes beside the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Type of each recurrent cell.
    pub cell_type: Vec<u8>,
    /// Assembly of each cell (`num_assemblies` for leftovers).
    pub assembly: Vec<u16>,
    /// Input type of each input cell.
    pub ff_type: Vec<u8>,
}

/// Counts per type from proportions: rounded, the last type takes the remainder.
fn counts(n: usize, prop: &[f64]) -> Vec<usize> {
    let mut c: Vec<usize> = prop
        .iter()
        .map(|p| (p * n as f64).round() as usize)
        .collect();
    let head: usize = c.iter().take(c.len().saturating_sub(1)).sum();
    if let Some(last) = c.last_mut() {
        *last = n.saturating_sub(head);
    }
    c
}

/// Types at shuffled positions.
fn assign_types(n: usize, prop: &[f64], rng: &mut Rng) -> Vec<u8> {
    let mut t = Vec::with_capacity(n);
    for (i, c) in counts(n, prop).into_iter().enumerate() {
        t.extend(std::iter::repeat_n(i as u8, c));
    }
    t.truncate(n);
    rng.shuffle(&mut t);
    t
}

/// A lognormal draw with linear-space mean `m` and variance `v`.
fn lognormal(rng: &mut Rng, m: f64, v: f64) -> f32 {
    if m <= 0.0 {
        return 0.0;
    }
    let s2 = (1.0 + v / (m * m)).ln();
    let mu = m.ln() - s2 / 2.0;
    (mu + s2.sqrt() * rng.normal()).exp() as f32
}

/// Configuration-model edges from `src` to `tgt` with probability `p`: every source gets
/// `round(p·|tgt|)` out-stubs and every target `round(p·|src|)` in-stubs; both shuffled, cut to
/// the shorter and matched; self-loops and duplicates dropped.
fn configuration(src: &[u32], tgt: &[u32], p: f64, rng: &mut Rng, out: &mut Vec<(u32, u32)>) {
    if p <= 0.0 || src.is_empty() || tgt.is_empty() {
        return;
    }
    let k_out = (p * tgt.len() as f64).round() as usize;
    let k_in = (p * src.len() as f64).round() as usize;
    let mut a: Vec<u32> = src
        .iter()
        .flat_map(|&s| std::iter::repeat_n(s, k_out))
        .collect();
    let mut b: Vec<u32> = tgt
        .iter()
        .flat_map(|&t| std::iter::repeat_n(t, k_in))
        .collect();
    rng.shuffle(&mut a);
    rng.shuffle(&mut b);
    let start = out.len();
    out.extend(
        a.iter()
            .zip(&b)
            .filter(|(s, t)| s != t)
            .map(|(&s, &t)| (s, t)),
    );
    let block = &mut out[start..];
    block.sort_unstable();
    let mut keep = start;
    for i in start..out.len() {
        if i == start || out[i] != out[keep - 1] {
            out[keep] = out[i];
            keep += 1;
        }
    }
    out.truncate(keep);
}

fn syn_params(s: &Synapses) -> Vec<SynapseParams> {
    (0..s.names.len())
        .map(|i| SynapseParams {
            tau_rise: s.tau_rise[i],
            tau_decay: s.tau_decay[i],
            e_syn: s.e_syn[i],
            g_bar: s.g_bar[i],
        })
        .collect()
}

/// The cell types' membranes.
pub fn cell_params(cfg: &EiConfig) -> Result<Vec<CellParams>> {
    cfg.type_names()
        .iter()
        .map(|n| {
            let p = cfg
                .recurrent
                .physiology
                .get(n)
                .ok_or_else(|| anyhow::anyhow!("no physiology for `{n}`"))?;
            Ok(CellParams {
                tau_mem: p.tau_mem,
                theta: p.theta,
                u_reset: p.u_reset,
                e_l: p.e_l,
                g_l: p.g_l,
                tau_ref: p.tau_ref,
            })
        })
        .collect()
}

/// Builds the model of `cfg` around given synapses (a new or a restored network).
pub fn model(cfg: &EiConfig, layout: &Layout, rec: Csr, ff: Csr) -> Result<Model> {
    let cells = cell_params(cfg)?;
    let nt = cells.len();
    let mut synapses = Vec::new();
    let mut excitatory = Vec::new();
    let rest = cells.iter().map(|c| c.e_l).fold(f64::MIN, f64::max);
    for n in cfg
        .type_names()
        .iter()
        .map(|n| (&cfg.recurrent.synapses, n))
        .chain(
            cfg.feedforward
                .cell_types
                .names
                .iter()
                .map(|n| (&cfg.feedforward.synapses, n)),
        )
    {
        let s =
            n.0.get(n.1)
                .ok_or_else(|| anyhow::anyhow!("no synapses for `{}`", n.1))?;
        let p = syn_params(s);
        // A source excites when all its reversals lie above every cell's rest.
        excitatory.push(p.iter().all(|q| q.e_syn > rest));
        synapses.push(p);
    }
    let refractory = cfg.hebb.refractory.unwrap_or(!cfg.reference_mode());
    let mut cells_used = cells.clone();
    if !refractory {
        cells_used.iter_mut().for_each(|c| c.tau_ref = 0.0);
    }
    let m = Model::new(Spec {
        dt: cfg.simulation.dt,
        cells: &cells_used,
        cell_type: layout.cell_type.clone(),
        synapses: &synapses,
        excitatory: &excitatory,
        rec,
        ff,
        ff_source: layout.ff_type.iter().map(|&t| t + nt as u8).collect(),
        norm: if cfg.reference_mode() {
            PeakNorm::Reference
        } else {
            PeakNorm::Exact
        },
        reference: cfg.reference_mode(),
    })?;
    Ok(m)
}

/// Builds a new network from the config's seed.
pub fn build(cfg: &EiConfig) -> Result<(Model, Layout)> {
    let seed = cfg.simulation.seed;
    let r = &cfg.recurrent;
    let n = r.topology.num_neurons;
    let nt = r.cell_types.names.len();
    let mut rng = stream(seed, TAG_TYPES);
    let cell_type = assign_types(n, &r.cell_types.proportion, &mut rng);
    let na = r.topology.num_assemblies;
    let size = n / na;
    let assembly: Vec<u16> = (0..n)
        .map(|j| {
            if j / size < na {
                (j / size) as u16
            } else {
                na as u16
            }
        })
        .collect();
    // Cells per (assembly, type), leftovers in group `na`.
    let mut groups = vec![vec![Vec::<u32>::new(); nt]; na + 1];
    for j in 0..n {
        groups[assembly[j] as usize][cell_type[j] as usize].push(j as u32);
    }
    let mut rng = stream(seed, TAG_GRAPH);
    let mut edges = Vec::new();
    for a in 0..=na {
        for b in 0..=na {
            for s in 0..nt {
                for t in 0..nt {
                    let within = a == b && a < na;
                    let p = if within {
                        r.topology.conn_within[s][t]
                    } else {
                        r.topology.conn_between[s][t]
                    };
                    configuration(&groups[a][s], &groups[b][t], p, &mut rng, &mut edges);
                }
            }
        }
    }
    let mut wrng = stream(seed, TAG_GRAPH + 100);
    let weighted: Vec<(u32, u32, f32)> = edges
        .iter()
        .map(|&(i, j)| {
            let (s, t) = (
                cell_type[i as usize] as usize,
                cell_type[j as usize] as usize,
            );
            let w = lognormal(&mut wrng, r.weights.w_mu[s][t], r.weights.w_sigma[s][t]);
            (i, j, w)
        })
        .collect();
    let rec = Csr::from_edges(n, &weighted)?;
    let f = &cfg.feedforward;
    let nf = f.topology.num_neurons;
    let mut rng = stream(seed, TAG_FF);
    let ff_type = assign_types(nf, &f.cell_types.proportion, &mut rng);
    let mut by_type = vec![Vec::<u32>::new(); f.cell_types.names.len()];
    for (i, &t) in ff_type.iter().enumerate() {
        by_type[t as usize].push(i as u32);
    }
    let mut by_rec = vec![Vec::<u32>::new(); nt];
    for (j, &t) in cell_type.iter().enumerate() {
        by_rec[t as usize].push(j as u32);
    }
    let mut ff_edges = Vec::new();
    for (fi, src) in by_type.iter().enumerate() {
        for (t, tgt) in by_rec.iter().enumerate() {
            // Sources and targets are different populations: offset the sources so the
            // self-loop filter never applies.
            let shifted: Vec<u32> = src.iter().map(|&s| s + n as u32).collect();
            let mut e = Vec::new();
            configuration(
                &shifted,
                tgt,
                f.topology.conn_inputs[fi][t],
                &mut rng,
                &mut e,
            );
            ff_edges.extend(e.into_iter().map(|(s, t)| (s - n as u32, t)));
        }
    }
    let mut wrng = stream(seed, TAG_FF + 100);
    let ff_weighted: Vec<(u32, u32, f32)> = ff_edges
        .iter()
        .map(|&(i, j)| {
            let (s, t) = (ff_type[i as usize] as usize, cell_type[j as usize] as usize);
            let w = lognormal(&mut wrng, f.weights.w_mu[s][t], f.weights.w_sigma[s][t]);
            (i, j, w)
        })
        .collect();
    let ff = Csr::from_edges(nf, &ff_weighted)?;
    if n > 1 && rec.is_empty() && ff.is_empty() {
        bail!("the network has no synapse at all: raise the connection probabilities");
    }
    let layout = Layout {
        cell_type,
        assembly,
        ff_type,
    };
    let m = model(cfg, &layout, rec, ff)?;
    Ok((m, layout))
}

/// Spike probability per step of each input cell.
pub fn input_probabilities(cfg: &EiConfig, layout: &Layout) -> Vec<f64> {
    let f = &cfg.feedforward;
    layout
        .ff_type
        .iter()
        .map(|&t| {
            let name = &f.cell_types.names[t as usize];
            let hz = f.activity.get(name).map_or(0.0, |a| a.firing_rate);
            (hz * cfg.simulation.dt / 1000.0).clamp(0.0, 1.0)
        })
        .collect()
}
