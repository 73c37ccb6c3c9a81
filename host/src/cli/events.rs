//! `hebb events`: commands on event-camera recordings (AEDAT4, N-MNIST `.bin`, EBSSA `.mat`,
//! `.npy`, CSV; see [`crate::data::events::open()`]).

use super::out;
use crate::data::events::open::{Opened, open_detailed};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `hebb events` sub-commands.
#[derive(Debug, Subcommand)]
pub enum EventsCmd {
    /// Describe an event file: format, sensor, event count, ON count, time span and rate.
    Inspect(InspectEventsArgs),
    /// Generate event data: N-MNIST-like saccade recordings of images, or EBSSA-like sky
    /// recordings with satellites and their labels.
    Synth(super::events_synth::SynthArgs),
}

/// `hebb events inspect`.
#[derive(Debug, Args)]
pub struct InspectEventsArgs {
    /// Event file (format told from its content and extension).
    pub file: PathBuf,
    /// Print one JSON object (keys `format`, `width`, `height`, `events`, `on`, `t_first`,
    /// `t_last`, `rate_hz`, `sensor_from`, and `labels` for EBSSA files).
    #[arg(long)]
    pub json: bool,
    /// Sensor size WxH for formats that do not declare it (.bin, .mat, .npy, CSV); without it
    /// .bin takes N-MNIST's 34x34 and the others the smallest sensor that holds every event.
    #[arg(long, value_parser = parse_sensor)]
    pub sensor: Option<(u16, u16)>,
}

/// `WxH` (or `W×H`) with both sides in 1..=65535.
pub fn parse_sensor(s: &str) -> Result<(u16, u16), String> {
    let (w, h) = s
        .split_once(['x', 'X', '×'])
        .ok_or_else(|| format!("`{s}` is not WxH (e.g. 346x260)"))?;
    let side = |v: &str| {
        v.trim()
            .parse::<u16>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("`{v}` in `{s}` is not a side in 1..=65535"))
    };
    Ok((side(w)?, side(h)?))
}

/// Runs `hebb events …`.
pub fn run(cmd: &EventsCmd) -> Result<i32> {
    match cmd {
        EventsCmd::Inspect(a) => inspect(a),
        EventsCmd::Synth(a) => super::events_synth::run(a),
    }
}

/// Events per second over the span (0 for fewer than two distinct times).
fn rate_hz(o: &Opened) -> f64 {
    match o.recording.span() {
        Some((a, b)) if b > a => o.recording.events.len() as f64 / ((b - a) as f64 * 1e-6),
        _ => 0.0,
    }
}

fn inspect(a: &InspectEventsArgs) -> Result<i32> {
    let o = open_detailed(&a.file, a.sensor)
        .with_context(|| format!("{} is not a readable event file", a.file.display()))?;
    let r = &o.recording;
    let on = r.events.iter().filter(|e| e.on).count();
    let (t_first, t_last) = r.span().unzip();
    let rate = rate_hz(&o);
    if a.json {
        let mut j = serde_json::json!({
            "format": o.format.name(),
            "width": r.width,
            "height": r.height,
            "sensor_from": o.sensor_from.name(),
            "events": r.events.len(),
            "on": on,
            "t_first": t_first,
            "t_last": t_last,
            "rate_hz": rate,
        });
        if let Some(l) = &o.labels {
            j["labels"] = l.len().into();
        }
        out!("{j}")?;
        return Ok(0);
    }
    out!("{}: {}", a.file.display(), o.format.name())?;
    out!(
        "sensor: {}×{} ({})",
        r.width,
        r.height,
        match o.sensor_from {
            crate::data::events::open::SensorFrom::Declared => "declared by the file",
            crate::data::events::open::SensorFrom::Given => "given with --sensor",
            crate::data::events::open::SensorFrom::Default => "the format's usual sensor",
            crate::data::events::open::SensorFrom::MaxCoordinate =>
                "not declared: the smallest that holds every event; pass --sensor WxH",
        }
    )?;
    out!(
        "events: {} ({} ON, {} OFF)",
        r.events.len(),
        on,
        r.events.len() - on
    )?;
    if let (Some(t0), Some(t1)) = (t_first, t_last) {
        out!(
            "time: {t0} .. {t1} µs (span {:.6} s), {rate:.1} events/s",
            (t1 - t0) as f64 * 1e-6
        )?;
    }
    if let Some(l) = &o.labels {
        out!("object labels: {}", l.len())?;
    }
    Ok(0)
}
