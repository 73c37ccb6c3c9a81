//! `hebb detect`: objects and tracks in an event recording, and their scores against the
//! recording's labels beside trivial baselines.

use super::{load_net, out};
use crate::backend::cpu::{InferBuffers, SimBuffers};
use crate::data::events::dataset::{EventInput, on_known_sensor};
use crate::data::events::{Format, open::open_detailed};
use crate::detect::metrics::{self, Counts, ObjectCounts, RasterEvent};
use crate::detect::track::Tracker;
use crate::detect::{DetectParams, detect, run_window, to_raster};
use anyhow::{Context, Result, bail};
use clap::Args;
use hebb_core::encode::EncodeMode;
use serde_json::json;
use std::path::PathBuf;

/// `hebb detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Run folder or model file of an event network (e.g. trained with `--paper igarss2023`).
    pub run: PathBuf,
    /// Event recording (EBSSA .mat with `Obj` labels for metrics, or any format `hebb events`
    /// reads).
    #[arg(long)]
    pub events: PathBuf,
    /// Output folder (default: `detect` inside the run folder, or beside the model file).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// SMASH score instances (and tracks) must exceed to be joined.
    #[arg(long, default_value_t = 0.1)]
    pub threshold: f64,
    /// Object match tolerance (raster pixels).
    #[arg(long, default_value_t = 5.0)]
    pub tolerance: f64,
    /// PNG overlays for this many windows (the ones with the most objects).
    #[arg(long, default_value_t = 3)]
    pub overlays: usize,
    /// Seed of the random baseline.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One scored output: a mask per window and output events.
struct Output {
    masks: Vec<Vec<u8>>,
    events: Vec<RasterEvent>,
}

/// Every metric of one output.
#[allow(clippy::too_many_arguments)]
fn score(
    o: &Output,
    win_events: &[Vec<RasterEvent>],
    labels: &[(u64, u16, u16, u32)],
    starts: &[u64],
    len_us: u64,
    (w, h): (usize, usize),
    span: (u64, u64),
    tol: f64,
) -> serde_json::Value {
    let (mut px, mut vol, mut obj) = (
        Counts::default(),
        Counts::default(),
        ObjectCounts::default(),
    );
    for (k, &s) in starts.iter().enumerate() {
        let inw: Vec<_> = labels
            .iter()
            .filter(|l| (s..s + len_us).contains(&l.0))
            .collect();
        let pts: Vec<(u16, u16)> = inw.iter().map(|l| (l.1, l.2)).collect();
        let g = metrics::label_mask(&pts, w, h, 5);
        px.add(metrics::pixel_counts(&o.masks[k], &g, w, h, 1));
        let mut counts = vec![0u32; w * h];
        for &(x, y, _) in &win_events[k] {
            if o.masks[k][usize::from(y) * w + usize::from(x)] != 0 {
                counts[usize::from(y) * w + usize::from(x)] += 1;
            }
        }
        vol.add(metrics::volume_counts(&counts, &g, w, h, 1));
        let dets: Vec<(f64, f64)> = metrics::components(&o.masks[k], w, h)
            .iter()
            .map(|c| (c.cx, c.cy))
            .collect();
        let mut ids: Vec<u32> = inw.iter().map(|l| l.3).collect();
        ids.sort_unstable();
        ids.dedup();
        let per: Vec<Vec<(f64, f64)>> = ids
            .iter()
            .map(|&id| {
                inw.iter()
                    .filter(|l| l.3 == id)
                    .map(|l| (f64::from(l.1), f64::from(l.2)))
                    .collect()
            })
            .collect();
        obj.add(metrics::object_counts(&dets, &per, tol));
    }
    let lab: Vec<RasterEvent> = labels.iter().map(|l| (l.1, l.2, l.0)).collect();
    let af = metrics::afshar_counts(&o.events, &lab, w, h, span.0, span.1, 10_000, 1);
    let c = |c: &Counts| {
        json!({"tp": c.tp, "fp": c.fp, "tn": c.tn, "fn": c.fn_,
               "sensitivity": c.sensitivity(), "specificity": c.specificity(),
               "informedness": c.informedness()})
    };
    json!({
        "pixel_reference_definition": c(&px),
        "object": {"labels": obj.labels, "labels_matched": obj.labels_matched,
                   "detections": obj.detections, "detections_matched": obj.detections_matched,
                   "precision": obj.precision(), "recall": obj.recall(), "f1": obj.f1(),
                   "tolerance_px": tol},
        "volume_reference_protocol": c(&vol),
        "afshar_sliced": c(&af),
    })
}

/// Runs `hebb detect`.
pub fn run(a: &DetectArgs) -> Result<i32> {
    let (net, bytes) = load_net(&a.run)?;
    let EncodeMode::Events(_) = net.encoder.mode() else {
        bail!(
            "{} is not an event model: its encoder takes images (train one with an event preset such as igarss2023)",
            a.run.display()
        );
    };
    let model = hebb_core::model::Model::decode(&bytes).context("decoding the model")?;
    let opened = open_detailed(&a.events, None)
        .with_context(|| format!("reading the recording {}", a.events.display()))?;
    let rec = if opened.format == Format::MatEbssa {
        on_known_sensor(opened.recording)?
    } else {
        opened.recording
    };
    let input = EventInput::of(&net.encoder)?;
    let (rw, rh) = input.raster;
    let (w, h) = (usize::from(rw), usize::from(rh));
    let Some(span) = rec.span() else {
        bail!("{}: the recording has no events", a.events.display());
    };
    let len_us = input.window.map_or(span.1 - span.0 + 1, |p| p.length_us());
    let mut grids = Vec::new();
    let mut starts = Vec::new();
    let timer = std::time::Instant::now();
    let n = input.samples_at(&rec, &mut grids, &mut starts)?;
    let raster_ev = |e: &hebb_core::events::Event| -> RasterEvent {
        (
            to_raster(f64::from(e.x), rec.width, rw),
            to_raster(f64::from(e.y), rec.height, rh),
            e.t,
        )
    };
    let win_events: Vec<Vec<RasterEvent>> = starts
        .iter()
        .map(|&s| {
            let lo = rec.events.partition_point(|e| e.t < s);
            let hi = rec.events.partition_point(|e| e.t < s + len_us);
            rec.events[lo..hi].iter().map(raster_ev).collect()
        })
        .collect();
    let p = DetectParams {
        threshold: a.threshold,
        ..DetectParams::default()
    };
    let mut inf = InferBuffers::new(&net);
    let mut sims: Vec<SimBuffers> = net
        .arch
        .iter()
        .map(|l| SimBuffers::new(l, net.encoder.steps()))
        .collect();
    let mut tracker = Tracker::new(a.threshold);
    let per = input.sample_len();
    let mut windows = Vec::new();
    let mut masks = Vec::new();
    let mut spikes_per_layer = vec![0u64; net.arch.len() + 1];
    let mut n_inst = 0usize;
    for k in 0..n {
        let t = run_window(&net, &grids[k * per..(k + 1) * per], &mut inf, &mut sims)?;
        for (l, v) in t.out.iter().enumerate() {
            spikes_per_layer[l] +=
                v.iter().filter(|&&s| s != hebb_core::spikes::NEVER).count() as u64;
        }
        let (inst, objects) = detect(&model, &t, &p)?;
        n_inst += inst.len();
        let ids = tracker.step(
            &objects
                .iter()
                .map(|o| (o.ash.clone(), o.bbox))
                .collect::<Vec<_>>(),
        );
        let mut mask = vec![0u8; w * h];
        for o in &objects {
            for &j in &o.pixels {
                mask[j as usize] = 1;
            }
        }
        masks.push(mask);
        windows.push(json!({
            "start_us": starts[k],
            "instances": inst.len(),
            "objects": objects.iter().zip(&ids).map(|(o, id)| json!({
                "track": id, "bbox": o.bbox, "centroid": [o.centroid.0, o.centroid.1],
                "pixels": o.pixels.len(), "instances": o.instances, "ash_size": o.ash.count(),
                "boxes_of_rows": runs(&o.pixels, w),
            })).collect::<Vec<_>>(),
        }));
    }
    let secs = timer.elapsed().as_secs_f64();
    let out_dir = a.out.clone().unwrap_or_else(|| {
        if a.run.is_dir() {
            a.run.join("detect")
        } else {
            a.run.with_extension("detect")
        }
    });
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let summary = json!({
        "recording": a.events.display().to_string(),
        "windows": n, "window_us": len_us, "events": rec.events.len(),
        "instances": n_inst, "spikes_per_level": spikes_per_layer,
        "seconds": secs, "windows_per_s": n as f64 / secs.max(1e-9),
        "events_per_s": rec.events.len() as f64 / secs.max(1e-9),
    });
    let det = json!({"summary": summary, "windows": windows});
    std::fs::write(
        out_dir.join("detections.json"),
        serde_json::to_vec_pretty(&det)?,
    )?;
    let labels = opened.labels.unwrap_or_default();
    let mut report = json!({"summary": summary});
    if !labels.is_empty() {
        let lab: Vec<(u64, u16, u16, u32)> = labels
            .iter()
            .map(|l| {
                (
                    l.t,
                    to_raster(l.x, rec.width, rw),
                    to_raster(l.y, rec.height, rh),
                    l.id,
                )
            })
            .collect();
        // Output events of the detector: the input events inside its window's mask.
        let mut seen = std::collections::BTreeSet::new();
        let mut det_events = Vec::new();
        for (k, &s) in starts.iter().enumerate() {
            let lo = rec.events.partition_point(|e| e.t < s);
            for (j, e) in win_events[k].iter().enumerate() {
                if masks[k][usize::from(e.1) * w + usize::from(e.0)] != 0 && seen.insert(lo + j) {
                    det_events.push(*e);
                }
            }
        }
        let raw_events: Vec<RasterEvent> = rec.events.iter().map(raster_ev).collect();
        let raw = Output {
            masks: win_events
                .iter()
                .map(|ev| {
                    let mut m = vec![0u8; w * h];
                    for e in ev {
                        m[usize::from(e.1) * w + usize::from(e.0)] = 1;
                    }
                    m
                })
                .collect(),
            events: raw_events,
        };
        let empty = Output {
            masks: vec![vec![0u8; w * h]; n],
            events: Vec::new(),
        };
        let mut rng = hebb_core::rng::Rng::new(a.seed);
        let random = Output {
            masks: masks
                .iter()
                .map(|m| {
                    let k = m.iter().filter(|&&v| v != 0).count();
                    let mut idx: Vec<usize> = (0..w * h).collect();
                    rng.shuffle(&mut idx);
                    let mut r = vec![0u8; w * h];
                    for &i in &idx[..k] {
                        r[i] = 1;
                    }
                    r
                })
                .collect(),
            events: (0..det_events.len())
                .map(|_| {
                    (
                        rng.below(w as u64) as u16,
                        rng.below(h as u64) as u16,
                        span.0 + rng.below(span.1 - span.0 + 1),
                    )
                })
                .collect(),
        };
        let network = Output {
            masks,
            events: det_events,
        };
        let sc = |o: &Output| {
            score(
                o,
                &win_events,
                &lab,
                &starts,
                len_us,
                (w, h),
                (span.0, span.1 + 1),
                a.tolerance,
            )
        };
        report = json!({
            "summary": summary,
            "notes": {
                "pixel_reference_definition": "SpikeSEG's pixel metric as implemented: TP/FP against the label mask dilated by 1 px, TN/FN against the plain mask (11x11 squares around every label position of the window)",
                "volume_reference_protocol": "SpikeSEG's volume protocol, one decision pair per window against its own mean density: degenerate, sensitivity = specificity always",
                "afshar_sliced": "10-ms slices; TRUE volume = pixels within 1 px of the slice's label positions; positive when the volume's output-event density exceeds the output's global density over the recording",
                "output_events": "the detector's output events are the input events inside the mask of their window",
            },
            "network": sc(&network),
            "baseline_raw_events": sc(&raw),
            "baseline_empty": sc(&empty),
            "baseline_random_same_density": sc(&random),
        });
        std::fs::write(
            out_dir.join("metrics.json"),
            serde_json::to_vec_pretty(&report)?,
        )?;
        let lab_ev: Vec<RasterEvent> = lab.iter().map(|l| (l.1, l.2, l.0)).collect();
        overlays(
            &out_dir,
            a.overlays,
            &win_events,
            &network.masks,
            &lab_ev,
            &starts,
            len_us,
            (w, h),
        )?;
    }
    if a.json {
        out!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        out!(
            "{n} windows, {n_inst} instances, {:.1} windows/s, {:.0} events/s; wrote {}",
            n as f64 / secs.max(1e-9),
            rec.events.len() as f64 / secs.max(1e-9),
            out_dir.display()
        )?;
        if let Some(m) = report.get("network") {
            for (name, key) in [
                ("pixel (reference definition)", "pixel_reference_definition"),
                (
                    "volume (reference protocol, degenerate)",
                    "volume_reference_protocol",
                ),
                ("Afshar-style sliced", "afshar_sliced"),
            ] {
                let j = |r: &serde_json::Value| r[key]["informedness"].as_f64().unwrap_or(f64::NAN);
                out!(
                    "{name}: informedness {:.3} (raw {:.3}, empty {:.3}, random {:.3})",
                    j(m),
                    j(&report["baseline_raw_events"]),
                    j(&report["baseline_empty"]),
                    j(&report["baseline_random_same_density"])
                )?;
            }
            out!(
                "objects: precision {:.3}, recall {:.3}, F1 {:.3}",
                m["object"]["precision"].as_f64().unwrap_or(f64::NAN),
                m["object"]["recall"].as_f64().unwrap_or(f64::NAN),
                m["object"]["f1"].as_f64().unwrap_or(f64::NAN)
            )?;
        }
    }
    Ok(0)
}

/// A mask as runs per row: `[row, first column, last column]`.
fn runs(pixels: &[u32], w: usize) -> Vec<[u32; 3]> {
    let mut out: Vec<[u32; 3]> = Vec::new();
    for &p in pixels {
        let (y, x) = (p / w as u32, p % w as u32);
        match out.last_mut() {
            Some(r) if r[0] == y && r[2] + 1 == x => r[2] = x,
            _ => out.push([y, x, x]),
        }
    }
    out
}

/// PNG overlays of the windows with the largest masks: events grey, mask red, label
/// positions green.
#[allow(clippy::too_many_arguments)]
fn overlays(
    dir: &std::path::Path,
    count: usize,
    win_events: &[Vec<RasterEvent>],
    masks: &[Vec<u8>],
    labels: &[RasterEvent],
    starts: &[u64],
    len_us: u64,
    (w, h): (usize, usize),
) -> Result<()> {
    let mut order: Vec<usize> = (0..masks.len()).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(masks[k].iter().filter(|&&v| v != 0).count()));
    for &k in order.iter().take(count) {
        let mut rgb = vec![0u8; w * h * 3];
        for &(x, y, _) in &win_events[k] {
            let i = (usize::from(y) * w + usize::from(x)) * 3;
            rgb[i..i + 3].copy_from_slice(&[128, 128, 128]);
        }
        for (i, _) in masks[k].iter().enumerate().filter(|&(_, &m)| m != 0) {
            rgb[i * 3] = 255;
        }
        for &(x, y, t) in labels {
            if (starts[k]..starts[k] + len_us).contains(&t) {
                let i = (usize::from(y) * w + usize::from(x)) * 3;
                rgb[i + 1] = 255;
            }
        }
        let png = crate::plot::encode_png(w as u32, h as u32, &rgb)?;
        std::fs::write(dir.join(format!("window-{k:04}.png")), png)?;
    }
    Ok(())
}
