//! `hebb inspect`.

use super::out;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

/// `hebb inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Model or checkpoint file.
    pub file: PathBuf,
}

/// Runs `hebb inspect`.
pub fn run(a: &InspectArgs) -> Result<i32> {
    let bytes = crate::io::read_hebb(&a.file, "model")?;
    if hebb_core::frame::peek(&bytes)
        .is_ok_and(|h| h.family == hebb_core::frame::FAMILY_LOCAL_RULES)
    {
        return inspect_rules(a, &bytes);
    }
    if hebb_core::frame::peek(&bytes).is_ok_and(|h| h.family == hebb_core::frame::FAMILY_DIEHL_COOK)
    {
        return inspect_diehl_cook(a, &bytes);
    }
    let m = hebb_core::model::Model::decode(&bytes)
        .with_context(|| format!("{} is not a valid model", a.file.display()))?;
    let p = &m.provenance;
    out!(
        "{}: {} bytes, format v{}",
        a.file.display(),
        bytes.len(),
        hebb_core::model::FORMAT_VERSION
    )?;
    out!(
        "written by {}; preset `{}`, data `{}`, seed {}, epochs per layer {:?}",
        p.writer,
        p.preset,
        p.dataset,
        p.seed,
        p.epochs.as_slice()
    )?;
    if p.test_accuracy.is_finite() {
        out!("test accuracy: {:.2} %", 100.0 * p.test_accuracy)?;
    }
    let e = &m.encoder;
    out!(
        "encoder: {}×{} image, {} filters {}×{}, threshold {:.1}, normalisation radius {}, {} steps, {:?}",
        e.h(),
        e.w(),
        e.n_filters(),
        e.k(),
        e.k(),
        hebb_core::q::potential_to_f64(e.threshold()),
        e.norm_radius(),
        e.steps(),
        e.mode()
    )?;
    for (i, (a, l)) in m.arch.iter().zip(m.layers.iter()).enumerate() {
        let g = &a.conv;
        let th: Vec<i32> = (0..g.out_c() as usize)
            .filter_map(|j| hebb_core::model::le_i32(l.thresholds, j))
            .collect();
        let w: Vec<u16> = match l.view() {
            hebb_core::model::LayerWeights::W16(v) => (0..g.n_weights())
                .map(|j| hebb_core::weights::WeightRow::get(&v, j))
                .collect(),
            hebb_core::model::LayerWeights::W8(v) => (0..g.n_weights())
                .map(|j| hebb_core::weights::WeightRow::get(&v, j))
                .collect(),
        };
        out!(
            "layer {}: {:?} → {} maps {}×{} stride {} pad {} → {:?}{}; {:?}; {}-bit weights, C_l {:.4}, thresholds {:.3}..{:.3}",
            i + 1,
            g.input(),
            g.out_c(),
            g.k(),
            g.k(),
            g.stride(),
            g.pad(),
            g.output(),
            a.pool.map_or(String::new(), |p| format!(
                " → pool {}/{}/{} → {:?}",
                p.k(),
                p.stride(),
                p.pad(),
                p.output()
            )),
            a.neuron,
            l.bits,
            hebb_core::convergence::c_l(&w),
            hebb_core::q::potential_to_f64(th.iter().copied().min().unwrap_or(0)),
            hebb_core::q::potential_to_f64(th.iter().copied().max().unwrap_or(0)),
        )?;
    }
    match &m.readout {
        Some(r) => out!(
            "readout: {} features × {} classes, {}-bit",
            r.n_features,
            r.n_classes,
            r.bits
        )?,
        None => out!("readout: none")?,
    }
    if m.state.is_empty() {
        out!("kind: exported model")?;
    } else {
        match postcard::from_bytes::<crate::family::conv_stdp::TrainState>(m.state) {
            Ok(st) => out!(
                "kind: checkpoint at layer {} epoch {} sample {} ({} samples trained in total)",
                st.layer + 1,
                st.epoch,
                st.pos,
                st.total_samples
            )?,
            Err(e) => out!("kind: checkpoint with unreadable training state ({e})")?,
        }
    }
    Ok(0)
}

/// Describes a Diehl & Cook network or checkpoint.
fn inspect_diehl_cook(a: &InspectArgs, bytes: &[u8]) -> Result<i32> {
    use crate::family::diehl_cook::{TrainState, model::ModelFile};
    use hebb_core::assign::UNASSIGNED;
    let f = ModelFile::from_bytes(bytes)
        .with_context(|| format!("{} is not a valid model", a.file.display()))?;
    let cfg = crate::family::diehl_cook::config::DiehlCookConfig::from_toml_str(&f.config)
        .context("stored config")?;
    let net = &f.net;
    out!(
        "{}: {} bytes, diehl-cook network (format v2); preset `{}`, data `{}`, seed {}",
        a.file.display(),
        bytes.len(),
        cfg.preset,
        cfg.data,
        cfg.seed
    )?;
    out!(
        "{} Poisson inputs ({}×{}) → {} conductance LIF excitatory neurons ↔ {} inhibitory; {} classes",
        net.n_in,
        net.shape.0,
        net.shape.1,
        net.n,
        net.n,
        net.classes
    )?;
    let p = &cfg.physical;
    out!(
        "dt {} ms, {} + {} ms per digit, intensity {} (max {}), θ+ {} mV, ν {} / {}, w_ei {}, w_ie {}, column sum {}",
        p.dt_ms,
        p.present_ms,
        p.rest_ms,
        p.intensity,
        p.max_intensity,
        p.theta_plus,
        p.nu_pre,
        p.nu_post,
        p.w_ei,
        p.w_ie,
        p.norm_sum
    )?;
    let one = f64::from(hebb_core::diehl_cook::W_ONE);
    let w_mean = net.w.iter().map(|&x| f64::from(x)).sum::<f64>() / net.w.len().max(1) as f64 / one;
    let w_max = net
        .w
        .iter()
        .copied()
        .max()
        .map_or(0.0, |x| f64::from(x) / one);
    let th: Vec<f64> = net.theta.iter().map(|&t| f64::from(t) / 65536.0).collect();
    out!(
        "weights: mean {w_mean:.4}, max {w_max:.4}; θ mean {:.2} mV, max {:.2} mV",
        th.iter().sum::<f64>() / th.len().max(1) as f64,
        th.iter().copied().fold(0.0, f64::max)
    )?;
    let mut per_class = vec![0usize; net.classes];
    for &c in &net.assignments {
        if let Some(x) = per_class.get_mut(usize::from(c)) {
            *x += 1;
        }
    }
    let unassigned = net.assignments.iter().filter(|&&c| c == UNASSIGNED).count();
    out!("neurons per assigned class: {per_class:?}, unassigned {unassigned}")?;
    if f.state.is_empty() {
        out!("exported model (no training state)")?;
    } else {
        let st: TrainState = postcard::from_bytes(&f.state)
            .map_err(|e| anyhow::anyhow!("training state malformed ({e})"))?;
        out!(
            "checkpoint: epoch {} of {}, digit {} of the epoch, {} digits trained",
            st.epoch,
            cfg.epochs,
            st.pos,
            st.done
        )?;
        if let Some(s) = st.history.last() {
            out!(
                "last epoch: test {:.2} % / {:.2} % (all activity / proportion, frozen assignment)",
                100.0 * s.test_frozen.all,
                100.0 * s.test_frozen.proportion
            )?;
        }
    }
    Ok(0)
}

/// Describes a local-rules model or checkpoint.
fn inspect_rules(a: &InspectArgs, bytes: &[u8]) -> Result<i32> {
    use crate::family::rules::{TrainState, analyze, model::Model, model::ModelFile};
    use hebb_core::local::fixed::to_f64;
    let f = ModelFile::from_bytes(bytes)
        .with_context(|| format!("{} is not a valid model", a.file.display()))?;
    let cfg = crate::family::rules::config::RulesConfig::from_toml_str(&f.config)
        .context("stored config")?;
    out!(
        "{}: {} bytes, local-rules model (format v2); preset `{}`, seed {}",
        a.file.display(),
        bytes.len(),
        cfg.preset,
        cfg.seed
    )?;
    out!(
        "rule: {}",
        toml::to_string(&cfg.rule)
            .unwrap_or_default()
            .trim()
            .replace('\n', ", ")
    )?;
    match &f.model {
        Model::Hopfield(h) => {
            let st = analyze::stats(h)?;
            out!(
                "Hopfield memory: {} neurons, {} patterns (load {:.3}, capacity ≈ {:.0}), {} stable; {:?} {:?} updates, threshold {} (field units), at most {} sweeps",
                st.neurons,
                st.patterns,
                st.load,
                st.capacity,
                st.stable_patterns,
                h.dynamics.activation(),
                h.dynamics.update(),
                h.dynamics.theta(),
                h.max_sweeps
            )?;
            out!(
                "weights: integer unit {:.3e}, mean |w| {:.4}, max |w| {:.4}, symmetry error {:.2e}",
                h.unit,
                st.weight_mean_abs,
                st.weight_max_abs,
                st.symmetry_error
            )?;
        }
        Model::Linear(l) => {
            let norms: Vec<String> = (0..l.k)
                .map(|i| {
                    let r = l.row(i);
                    format!("{:.4}", r.iter().map(|v| v * v).sum::<f64>().sqrt())
                })
                .collect();
            out!(
                "linear layer: {} outputs × {} inputs; row norms {}",
                l.k,
                l.n,
                norms.join(", ")
            )?;
            if !l.theta.is_empty() {
                let th: Vec<String> = l
                    .theta
                    .iter()
                    .map(|&t| format!("{:.4}", to_f64(t)))
                    .collect();
                out!("BCM thresholds: {}", th.join(", "))?;
            }
        }
        Model::Spiking(s) => {
            let mean = s.w.iter().map(|&w| to_f64(w)).sum::<f64>() / s.w.len().max(1) as f64;
            let ad: Vec<String> = s
                .adapt
                .iter()
                .map(|&t| format!("{:.3}", to_f64(t)))
                .collect();
            out!(
                "LIF layer: {} neurons × {} inputs, threshold {:.3}, mean weight {:.4}; threshold adaptation {}",
                s.k,
                s.n,
                to_f64(s.lif.threshold()),
                mean,
                ad.join(", ")
            )?;
        }
    }
    if f.state.is_empty() {
        out!("exported model (no training state)")?;
    } else {
        let st: TrainState = postcard::from_bytes(&f.state)
            .map_err(|e| anyhow::anyhow!("training state malformed ({e})"))?;
        out!(
            "checkpoint: {} epochs done of {}, unit {} of the current epoch, {} units in all",
            st.epoch,
            cfg.epochs,
            st.pos,
            st.done
        )?;
    }
    Ok(0)
}
