//! `hebb bench --paper local-rules`: the CANNs tasks on one core, each rule timed through the
//! core step the trainer calls, beside the CANNs figures measured on this machine kind
//! (`canns` 1.5.0: its public calls, and the same arithmetic compiled once by XLA).

use anyhow::Result;
use hebb_core::local::hopfield::{Activation, Dynamics, Tie, Update};
use hebb_core::local::lif::{self, LifParams, LifState};
use hebb_core::local::trace_stdp::{Bounds, Pairing, TraceStdp};
use hebb_core::local::{bcm, fixed, hebbian, oja};
use hebb_core::rng::Rng;
use std::time::Instant;

/// One measured task.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    /// What was run.
    pub task: String,
    /// Unit of the rate.
    pub unit: &'static str,
    /// hebb, one core.
    pub rate: f64,
    /// CANNs through its public calls.
    pub canns: f64,
    /// The same arithmetic compiled once (XLA), CANNs' ceiling.
    pub ceiling: f64,
}

/// Runs `f` until at least `min_s` seconds passed (at least once); units per second.
fn rate(units: u64, min_s: f64, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let t = Instant::now();
    let mut reps = 0u64;
    while reps == 0 || t.elapsed().as_secs_f64() < min_s {
        f()?;
        reps += 1;
    }
    Ok((reps * units) as f64 / t.elapsed().as_secs_f64())
}

fn gaussian(rng: &mut Rng, m: usize, d: usize) -> Vec<i32> {
    (0..m * d)
        .map(|i| {
            let sd = [9.25f64, 4.25, 2.25]
                .get(i % d)
                .copied()
                .unwrap_or(0.25)
                .sqrt();
            fixed::saturating_from_f64(rng.normal() * sd)
        })
        .collect()
}

/// Measures every task; `min_s` seconds each at least.
pub fn measure(min_s: f64) -> Result<Vec<Row>> {
    let mut rng = Rng::new(7);
    let mut rows = Vec::new();
    // Hopfield storage, N = 1000: one matmul-equivalent per call, as CANNs' kernel.
    let n = 1000;
    for p in [100usize, 200] {
        let pats = super::task::random_pm1(&mut rng, n * p);
        let mut w = vec![0i32; n * n];
        let r = rate(p as u64, min_s, || {
            let plan = hebbian::Hebbian::plan(&pats, n, p, hebbian::StoreOptions::default())?;
            let mut bits = vec![0u64; n * plan.words()];
            let mut sums = vec![0i64; n];
            plan.pack(&pats, &mut bits, &mut sums)?;
            plan.rows(&bits, &sums, 0, &mut w)?;
            Ok(())
        })?;
        let (canns, ceiling) = if p == 100 {
            (12.7, 10_106.0)
        } else {
            (19.2, 12_371.0)
        };
        rows.push(Row {
            task: format!("Hopfield Hebbian storage, N = 1000, P = {p}"),
            unit: "patterns/s",
            rate: r,
            canns,
            ceiling,
        });
    }
    // Hopfield recall, N = 1000, P = 100: 20 synchronous sweeps per cue, as CANNs; and the
    // same cues with early stopping.
    let p = 100;
    let pats = super::task::random_pm1(&mut rng, n * p);
    let plan = hebbian::Hebbian::plan(&pats, n, p, hebbian::StoreOptions::default())?;
    let mut bits = vec![0u64; n * plan.words()];
    let mut sums = vec![0i64; n];
    let mut w = vec![0i32; n * n];
    plan.pack(&pats, &mut bits, &mut sums)?;
    plan.rows(&bits, &sums, 0, &mut w)?;
    let dyn_ = Dynamics::new(n, Update::Synchronous, Activation::Sign, Tie::Keep, 0, 1)?;
    let cues: Vec<Vec<i32>> = (0..16)
        .map(|k| {
            let c = super::task::flip(&pats[k * n..(k + 1) * n], 0.1, &mut rng);
            c.into_iter().map(i32::from).collect()
        })
        .collect();
    let (mut s, mut next) = (vec![0i32; n], vec![0i32; n]);
    // Batched as CANNs' kernel is: 16 cues share each pass over the weights.
    let batch: Vec<i32> = cues.concat();
    let (mut sb, mut nb, mut ch) = (
        batch.clone(),
        vec![0i32; batch.len()],
        vec![0u32; cues.len()],
    );
    let r = rate(cues.len() as u64, min_s, || {
        sb.copy_from_slice(&batch);
        for _ in 0..20 {
            dyn_.sync_step_batch(&w, &sb, &mut nb, &mut ch)?;
            std::mem::swap(&mut sb, &mut nb);
        }
        Ok(())
    })?;
    rows.push(Row {
        task: "Hopfield recall, N = 1000, P = 100, 20 sync sweeps, batch 16".into(),
        unit: "cues/s",
        rate: r,
        canns: 0.95,
        ceiling: 533.0,
    });
    let r = rate(cues.len() as u64, min_s, || {
        for c in &cues {
            s.copy_from_slice(c);
            for _ in 0..20 {
                dyn_.sync_step(&w, &s, &mut next)?;
                std::mem::swap(&mut s, &mut next);
            }
        }
        Ok(())
    })?;
    rows.push(Row {
        task: "Hopfield recall, same, one cue at a time".into(),
        unit: "cues/s",
        rate: r,
        canns: 0.95,
        ceiling: 533.0,
    });
    let (mut a, mut b, mut order) = (vec![0; n], vec![0; n], vec![0u32; n]);
    let r = rate(cues.len() as u64, min_s, || {
        for c in &cues {
            s.copy_from_slice(c);
            dyn_.recall(
                &w,
                &mut s,
                &mut a,
                &mut b,
                &mut order,
                &mut rng,
                20,
                |_, _| {},
            )?;
        }
        Ok(())
    })?;
    rows.push(Row {
        task: "Hopfield recall, same cues, stop at a fixed point".into(),
        unit: "cues/s",
        rate: r,
        canns: 0.95,
        ceiling: 533.0,
    });
    // Oja 50 → 1 and Sanger 50 → 3 at η = 10⁻³.
    let m = 20_000;
    let x = gaussian(&mut rng, m, 50);
    let eta = fixed::saturating_from_f64(1e-3);
    let mut w1: Vec<i32> = (0..50)
        .map(|_| fixed::saturating_from_f64(rng.normal() * 0.1))
        .collect();
    let r = rate(m as u64, min_s, || {
        for xs in x.chunks_exact(50) {
            oja::oja_step(&mut w1, 50, xs, eta, true)?;
        }
        Ok(())
    })?;
    rows.push(Row {
        task: "Oja, 50 inputs → 1".into(),
        unit: "samples/s",
        rate: r,
        canns: 388.0,
        ceiling: 529_833.0,
    });
    let mut w3: Vec<i32> = (0..150)
        .map(|_| fixed::saturating_from_f64(rng.normal() * 0.1))
        .collect();
    let (mut resid, mut y) = (vec![0i128; 50], vec![0i32; 3]);
    let r = rate(m as u64, min_s, || {
        for xs in x.chunks_exact(50) {
            oja::sanger_step(&mut w3, 50, xs, eta, true, &mut resid, &mut y)?;
        }
        Ok(())
    })?;
    rows.push(Row {
        task: "Sanger, 50 inputs → 3".into(),
        unit: "samples/s",
        rate: r,
        canns: 365.0,
        ceiling: 208_361.0,
    });
    // BCM 144 → 4 on bars-like inputs.
    let xb: Vec<i32> = (0..1000 * 144)
        .map(|_| fixed::saturating_from_f64(rng.next_f64() * 0.5))
        .collect();
    let mut wb: Vec<i32> = (0..4 * 144)
        .map(|_| fixed::saturating_from_f64(rng.normal() * 0.01))
        .collect();
    let mut theta = vec![fixed::saturating_from_f64(0.1); 4];
    let bp = bcm::BcmParams::new(fixed::saturating_from_f64(1.0 / 50.0), 10 * fixed::ONE)?;
    let eta_b = fixed::saturating_from_f64(1e-5);
    let mut yb = vec![0i32; 4];
    let r = rate(1000, min_s, || {
        for xs in xb.chunks_exact(144) {
            bcm::bcm_step(&mut wb, 144, xs, &mut theta, eta_b, &bp, &mut yb)?;
        }
        Ok(())
    })?;
    rows.push(Row {
        task: "BCM, 144 inputs → 4".into(),
        unit: "samples/s",
        rate: r,
        canns: 866.0,
        ceiling: 2_080_000.0,
    });
    // Trace STDP on 4 LIF neurons, 100 Poisson afferents at 0.03 per step.
    let steps = 20_000;
    let xs: Vec<i32> = (0..steps * 100)
        .map(|_| if rng.next_f64() < 0.03 { fixed::ONE } else { 0 })
        .collect();
    let q = fixed::saturating_from_f64;
    let rule = TraceStdp::new(
        q(0.01),
        q(0.013),
        0,
        fixed::ONE,
        Bounds::Additive,
        Pairing::AllToAll,
    )?;
    let lp = LifParams::new(
        q(0.8),
        q(7.0),
        0,
        q(0.8),
        Pairing::AllToAll,
        1,
        true,
        q(1.0),
        q(0.999),
    )?;
    let mut ws: Vec<i32> = (0..400).map(|_| q(0.5)).collect();
    let (mut v, mut pre, mut post, mut ad, mut sp) = (
        vec![0; 4],
        vec![0; 100],
        vec![0; 4],
        vec![0; 4],
        vec![0u8; 4],
    );
    let r = rate(steps as u64, min_s, || {
        let mut st = LifState {
            v: &mut v,
            pre: &mut pre,
            post: &mut post,
            adapt: &mut ad,
        };
        for x in xs.chunks_exact(100) {
            lif::step(&lp, Some(&rule), &mut ws, 100, x, &mut st, &mut sp)?;
        }
        Ok(())
    })?;
    rows.push(Row {
        task: "trace STDP, 100 afferents → 4 LIF".into(),
        unit: "steps/s",
        rate: r,
        canns: 737.0,
        ceiling: 1_863_666.0,
    });
    Ok(rows)
}

/// Prints the table (and writes JSON when asked).
pub fn run(json: Option<&std::path::Path>) -> Result<i32> {
    use crate::cli::out;
    let t = Instant::now();
    // One core, as the CANNs figures are compared per core.
    let rows = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()?
        .install(|| measure(1.0))?;
    out!(
        "{:<52} {:>14} {:>12} {:>12} {:>9} {:>9}",
        "task (one core)",
        "hebb",
        "CANNs",
        "ceiling",
        "×CANNs",
        "×ceiling"
    )?;
    for r in &rows {
        out!(
            "{:<52} {:>14.0} {:>12.1} {:>12.0} {:>9.0} {:>9.2}   {}",
            r.task,
            r.rate,
            r.canns,
            r.ceiling,
            r.rate / r.canns,
            r.rate / r.ceiling,
            r.unit
        )?;
    }
    out!(
        "(CANNs: canns 1.5.0 public calls and its XLA-compiled kernel, 2-vCPU machine of this kind; {:.1} s in all)",
        t.elapsed().as_secs_f64()
    )?;
    if let Some(p) = json {
        let text = serde_json::to_string_pretty(&rows)?;
        crate::io::write_atomic(p, text.as_bytes())?;
    }
    Ok(0)
}
