//! Firmware fixture of the event pipeline (`events.bin`, `events.expected.txt`): an event
//! stream run through SpikeSEG's pipeline on the device, window by window.
//!
//! The pipeline, the same on both sides and all of it `hebb-core` calls:
//! 1. **hot pixels**: every pixel's count over the first `calib_us` of the stream
//!    (`filter::count_pixels`), pixels above `hot_max` marked (`filter::mark_hot`); their
//!    events are dropped (`filter::is_hot`);
//! 2. **background activity**: every other event judged in time order
//!    (`filter::BackgroundFilter::judge`: refractory period, then the 8-neighbour support);
//! 3. **windows** over the kept events as `hebb detect` cuts them
//!    ([`EventInput::samples_at`]: from the first kept event, the encoder's window length and
//!    stride, empty windows skipped), each counted into a voxel grid (`voxel::voxelize`);
//! 4. **network**: the event encoder (`encode`, `EncodeMode::Events`) and every layer
//!    time-stepped without competition (`layer::simulate`, `pool::pool_times`), as
//!    [`run_window`];
//! 5. **decoder**: every spike of the last layer unravelled to the raster
//!    (`decode::hulk`, tied weights, per-step pool indices), as [`detect`]; the window's mask is
//!    the union of the instances' masks (what `hebb detect` scores). Grouping the instances
//!    into objects (SMASH) and tracking are host-only (floating point) and not part of it.
//!
//! Expected per window: its start, the kept events in it, the CRC of the voxel grid, the
//! spikes of every level (encoder, then each layer after pooling), the instances (spikes that
//! unravel to a non-empty mask), the mask's pixel count and its CRC; for the whole stream the
//! filter's counts. [`check_events_fixture`] recomputes every one with the host.
//!
//! Byte layout (integers little-endian; the file ends with a CRC-32 of all bytes before it):
//!
//! ```text
//!  0  b"HBEV"                     28  u32 background support time (µs)
//!  4  u16 version (1)             32  u32 refractory period (µs, 0: none)
//!  6  u16 sensor columns          36  u32 hot-pixel count limit
//!  8  u16 sensor rows             40  u32 hot-pixel calibration stretch (µs from t0)
//! 10  u16 windows n               44  u32 length L of the model
//! 12  u16 levels (layers + 1)     48  L bytes: the `.hebb` model (event encoder), zero-padded to 4
//! 14  u16 0                        …  E × 8: u32 t − t0, u16 x, u16 y | ON << 15
//! 16  u64 t0 (µs)                  …  6 × u32 filter counts: raw, hot pixels, hot events,
//! 24  u32 events E                    refractory, unsupported, kept
//!                                  …  n × (6 + levels) × u32 per window: start − t0, kept
//!                                     events, voxel CRC, spikes per level, instances, mask
//!                                     pixels, mask CRC
//! ```
//! CRCs are CRC-32 of the bytes (voxel grid: `u8` counts `[bin][channel][y][x]`; mask: one
//! `u8` 0/1 per raster pixel, row-major).

use super::frame;
use crate::backend::cpu::{InferBuffers, SimBuffers};
use crate::config::TrainConfig;
use crate::data::events::Recording;
use crate::data::events::dataset::EventInput;
use crate::data::events::satellites::{self, SatelliteParams};
use crate::detect::{DetectParams, detect, run_window};
use crate::net::{Net, ProvenanceOwned};
use anyhow::{Context, Result, ensure};
use hebb_core::events::Event;
use hebb_core::events::filter::{BackgroundFilter, Verdict, count_pixels, is_hot, mark_hot};
use hebb_core::model::{CRC, Model};
use hebb_core::rng::Rng;
use hebb_core::spikes::NEVER;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Magic of `events.bin`.
pub const EVENTS_MAGIC: [u8; 4] = *b"HBEV";
/// The fixture.
pub const EVENTS: &str = "events.bin";
/// Lines `events` prints.
pub const EXPECT_EVENTS: &str = "events.expected.txt";
/// Bytes before the model.
pub const EVENTS_HEADER_LEN: usize = 48;
/// Bytes of one event.
pub const EVENT_LEN: usize = 8;
/// Words of the filter counts.
pub const FILTER_WORDS: usize = 6;

/// The filters' settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterSpec {
    /// Background-activity support time (µs, ≥ 1).
    pub support_us: u32,
    /// Refractory period (µs, 0: none).
    pub refractory_us: u32,
    /// A pixel with more events than this over the calibration stretch is hot.
    pub hot_max: u32,
    /// Calibration stretch from the stream's first event (µs).
    pub calib_us: u32,
}

/// Parameters of the fixture.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsSpec {
    /// Sensor (columns, rows) of the generated sky.
    pub sensor: (u16, u16),
    /// Raster side of the network (square).
    pub raster: u16,
    /// DoG filter pairs of the encoder (the igarss2023 preset tiles ON and OFF centres to 4;
    /// an ON centre alone keeps the decoder's masks of an untrained network from cancelling).
    pub dog: Vec<[f64; 2]>,
    /// Maps of the first learned layer (igarss2023: 36).
    pub maps: u16,
    /// Windows of the stream kept (the stream is cut to `windows × window` from its first
    /// event).
    pub windows: usize,
    /// Seed of the recording.
    pub seed: u64,
    /// Seed of the sensor (hot pixels, thresholds).
    pub sensor_seed: u64,
    /// Seed of the network's start weights.
    pub net_seed: u64,
    /// Filters.
    pub filter: FilterSpec,
}

impl Default for EventsSpec {
    fn default() -> Self {
        Self {
            sensor: (40, 40),
            raster: 32,
            dog: vec![[1.0, 2.0]],
            maps: 4,
            windows: 4,
            seed: 7,
            sensor_seed: 3,
            net_seed: 42,
            filter: FilterSpec {
                support_us: 20_000,
                refractory_us: 1_000,
                hot_max: 12,
                calib_us: 300_000,
            },
        }
    }
}

/// What the filters did with the whole stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FilterExpect {
    /// Events in the stream.
    pub raw: u32,
    /// Pixels marked hot.
    pub hot_pixels: u32,
    /// Events of hot pixels (dropped).
    pub hot: u32,
    /// Events in their pixel's refractory period (dropped).
    pub refractory: u32,
    /// Events without a recent neighbour (dropped).
    pub unsupported: u32,
    /// Events kept.
    pub kept: u32,
}

/// What the host computes for one window.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WindowExpect {
    /// Start, µs after t0.
    pub start: u32,
    /// Kept events in it.
    pub kept: u32,
    /// CRC of its voxel grid.
    pub voxel_crc: u32,
    /// Spikes per level: the encoder, then every layer after its pooling.
    pub spikes: Vec<u32>,
    /// Spikes of the last layer that unravel to a non-empty mask.
    pub instances: u32,
    /// Pixels of the union of their masks.
    pub mask_pixels: u32,
    /// CRC of that mask.
    pub mask_crc: u32,
}

/// Every expectation of the fixture.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventsExpect {
    /// Filter counts.
    pub filter: FilterExpect,
    /// Per window.
    pub windows: Vec<WindowExpect>,
}

/// A parsed (or to be written) `events.bin`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsFile {
    /// Sensor (columns, rows).
    pub sensor: (u16, u16),
    /// Time of the first event (µs).
    pub t0: u64,
    /// Filters.
    pub filter: FilterSpec,
    /// The `.hebb` model.
    pub model: Vec<u8>,
    /// The stream, time-sorted.
    pub events: Vec<Event>,
    /// The host's results.
    pub expect: EventsExpect,
}

/// The reduced igarss2023 network of `spec`: the preset on a `raster²` input with `spec.dog`
/// and `spec.maps`, windows of 300 ms (stride 300 ms), an encoder threshold of 0.05 and leak
/// of 0.01 per bin (the preset's 0.1 and 0.09 leave an untrained network almost silent on a
/// faint sky), weights drawn as the trainer's start (`Net::from_config`, seed
/// `spec.net_seed`).
pub fn event_net(spec: &EventsSpec) -> Result<Net> {
    let mut cfg = TrainConfig::preset("igarss2023")?;
    cfg.input = [spec.raster, spec.raster];
    cfg.encoder.dog = spec.dog.clone();
    if let Some(e) = cfg.encoder.events.as_mut() {
        e.window_ms = Some(300.0);
        e.stride_ms = Some(300.0);
        e.theta = 0.05;
        e.leak = 0.01;
    }
    if let Some(l) = cfg.layers.first_mut() {
        l.maps = spec.maps;
    }
    cfg.validate()?;
    let mut rng = Rng::new(spec.net_seed);
    Ok(Net::from_config(&cfg, &mut rng)?)
}

/// Runs the two filters over the stream of `f`: the kept events and the counts.
pub fn filter_events(f: &EventsFile) -> Result<(Vec<Event>, FilterExpect)> {
    let (w, h) = f.sensor;
    let px = usize::from(w) * usize::from(h);
    let calib_end = f.t0 + u64::from(f.filter.calib_us);
    let n_cal = f.events.partition_point(|e| e.t < calib_end);
    let mut counts = vec![0u32; px];
    count_pixels(&f.events[..n_cal], w, &mut counts)?;
    let mut mask = vec![0u32; px.div_ceil(32)];
    let mut c = FilterExpect {
        raw: f.events.len() as u32,
        hot_pixels: mark_hot(&counts, f.filter.hot_max, &mut mask)? as u32,
        ..FilterExpect::default()
    };
    let bf = BackgroundFilter::new(
        w,
        h,
        u64::from(f.filter.support_us),
        u64::from(f.filter.refractory_us),
    )?;
    let mut last = vec![0u64; px];
    let mut kept = Vec::new();
    for e in &f.events {
        if is_hot(&mask, w, e) {
            c.hot += 1;
            continue;
        }
        match bf.judge(&mut last, e)? {
            Verdict::Keep => kept.push(*e),
            Verdict::Refractory => c.refractory += 1,
            Verdict::Unsupported => c.unsupported += 1,
        }
    }
    c.kept = kept.len() as u32;
    Ok((kept, c))
}

/// Recomputes every expectation of `f` with the host: the filters, then `hebb detect`'s
/// windows, [`run_window`] and [`detect`].
pub fn events_expectations(f: &EventsFile) -> Result<EventsExpect> {
    let model = Model::decode(&f.model).context("the fixture's model")?;
    let net = Net::from_model(&model);
    let input = EventInput::of(&net.encoder)?;
    let win = input
        .window
        .context("the model's encoder cuts no windows")?;
    let (kept, filter) = filter_events(f)?;
    let rec = Recording {
        width: f.sensor.0,
        height: f.sensor.1,
        events: kept,
    };
    let (mut grids, mut starts) = (Vec::new(), Vec::new());
    let n = input.samples_at(&rec, &mut grids, &mut starts)?;
    let per = input.sample_len();
    let mut inf = InferBuffers::new(&net);
    let mut sims: Vec<SimBuffers> = net
        .arch
        .iter()
        .map(|l| SimBuffers::new(l, net.encoder.steps()))
        .collect();
    let (w, h) = (usize::from(net.encoder.w()), usize::from(net.encoder.h()));
    let mut windows = Vec::with_capacity(n);
    for (k, &start) in starts.iter().enumerate().take(n) {
        let grid = &grids[k * per..(k + 1) * per];
        let t = run_window(&net, grid, &mut inf, &mut sims)?;
        let (inst, objects) = detect(&model, &t, &DetectParams::default())?;
        let mut mask = vec![0u8; w * h];
        for o in &objects {
            for &j in &o.pixels {
                mask[j as usize] = 1;
            }
        }
        let lo = rec.events.partition_point(|e| e.t < start);
        let hi = rec
            .events
            .partition_point(|e| e.t < start + win.length_us());
        windows.push(WindowExpect {
            start: u32::try_from(start - f.t0)?,
            kept: (hi - lo) as u32,
            voxel_crc: CRC.checksum(grid),
            spikes: t
                .out
                .iter()
                .map(|v| v.iter().filter(|&&s| s != NEVER).count() as u32)
                .collect(),
            instances: inst.len() as u32,
            mask_pixels: mask.iter().filter(|&&m| m != 0).count() as u32,
            mask_crc: CRC.checksum(&mask),
        });
    }
    Ok(EventsExpect { filter, windows })
}

/// Builds the fixture: a generated sky ([`satellites::record`] on `spec.sensor`, the
/// generator of `hebb events synth satellites`) cut to `spec.windows` windows, the reduced
/// igarss2023 network of [`event_net`], and the host's results.
pub fn events_fixture(spec: &EventsSpec) -> Result<EventsFile> {
    let net = event_net(spec)?;
    let input = EventInput::of(&net.encoder)?;
    let win = input
        .window
        .context("the model's encoder cuts no windows")?;
    let p = SatelliteParams {
        width: spec.sensor.0,
        height: spec.sensor.1,
        sensor_seed: spec.sensor_seed,
        duration_us: win.length_us() * spec.windows as u64 + 100_000,
        sat_speed: (8.0, 20.0),
        star_density: 4e-3,
        hot_fraction: 0.004,
        ..SatelliteParams::default()
    };
    let sky = satellites::record(&p, &mut Rng::new(spec.seed))?;
    let all = sky.recording.events;
    let t0 = all.first().map_or(0, |e| e.t);
    let end = t0 + win.length_us() * spec.windows as u64;
    let events: Vec<Event> = all.into_iter().filter(|e| e.t < end).collect();
    let model = net.to_bytes(
        &ProvenanceOwned {
            preset: "igarss2023".into(),
            dataset: "satellites".into(),
            seed: spec.net_seed,
            epochs: vec![0; net.arch.len()],
            test_accuracy: f32::NAN,
        },
        &[],
        16,
    )?;
    let mut f = EventsFile {
        sensor: spec.sensor,
        t0,
        filter: spec.filter,
        model,
        events,
        expect: EventsExpect::default(),
    };
    f.expect = events_expectations(&f)?;
    Ok(f)
}

fn pad4(b: &mut Vec<u8>) {
    while !b.len().is_multiple_of(4) {
        b.push(0);
    }
}

/// Bytes of `events.bin`.
pub fn events_bin(f: &EventsFile) -> Result<Vec<u8>> {
    let levels = Model::decode(&f.model)?.arch.len() + 1;
    let mut b = Vec::new();
    b.extend_from_slice(&EVENTS_MAGIC);
    b.extend_from_slice(&super::FIXTURE_VERSION.to_le_bytes());
    for v in [f.sensor.0, f.sensor.1] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for v in [f.expect.windows.len(), levels, 0] {
        b.extend_from_slice(&u16::try_from(v)?.to_le_bytes());
    }
    b.extend_from_slice(&f.t0.to_le_bytes());
    for v in [
        u32::try_from(f.events.len())?,
        f.filter.support_us,
        f.filter.refractory_us,
        f.filter.hot_max,
        f.filter.calib_us,
        u32::try_from(f.model.len())?,
    ] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    debug_assert_eq!(b.len(), EVENTS_HEADER_LEN);
    b.extend_from_slice(&f.model);
    pad4(&mut b);
    for e in &f.events {
        ensure!(
            e.x < 1 << 15 && e.y < 1 << 15 && e.t >= f.t0,
            "event out of the format's range"
        );
        b.extend_from_slice(&u32::try_from(e.t - f.t0)?.to_le_bytes());
        b.extend_from_slice(&e.x.to_le_bytes());
        b.extend_from_slice(&(e.y | (u16::from(e.on) << 15)).to_le_bytes());
    }
    let c = &f.expect.filter;
    for v in [
        c.raw,
        c.hot_pixels,
        c.hot,
        c.refractory,
        c.unsupported,
        c.kept,
    ] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for w in &f.expect.windows {
        ensure!(w.spikes.len() == levels, "spikes of every level");
        let mut v = vec![w.start, w.kept, w.voxel_crc];
        v.extend(&w.spikes);
        v.extend([w.instances, w.mask_pixels, w.mask_crc]);
        for x in v {
            b.extend_from_slice(&x.to_le_bytes());
        }
    }
    let crc = CRC.checksum(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    Ok(b)
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// Parses `events.bin` (the model is decoded and validated).
pub fn parse_events(b: &[u8]) -> Result<EventsFile> {
    let body = frame(b, EVENTS_MAGIC, EVENTS_HEADER_LEN, EVENTS)?;
    let sensor = (u16_at(body, 6), u16_at(body, 8));
    let (n, levels) = (usize::from(u16_at(body, 10)), usize::from(u16_at(body, 12)));
    let t0 = u64::from(u32_at(body, 16)) | (u64::from(u32_at(body, 20)) << 32);
    let ne = u32_at(body, 24) as usize;
    let filter = FilterSpec {
        support_us: u32_at(body, 28),
        refractory_us: u32_at(body, 32),
        hot_max: u32_at(body, 36),
        calib_us: u32_at(body, 40),
    };
    let ml = u32_at(body, 44) as usize;
    let at = (EVENTS_HEADER_LEN + ml).next_multiple_of(4);
    let expected = at + ne * EVENT_LEN + 4 * FILTER_WORDS + n * 4 * (6 + levels);
    ensure!(
        body.len() == expected,
        "{EVENTS}: length does not match its header"
    );
    let model = body[EVENTS_HEADER_LEN..EVENTS_HEADER_LEN + ml].to_vec();
    let layers = Model::decode(&model)
        .context("events.bin model")?
        .arch
        .len();
    ensure!(
        layers + 1 == levels,
        "{EVENTS}: levels do not match the model"
    );
    let events = body[at..at + ne * EVENT_LEN]
        .chunks_exact(EVENT_LEN)
        .map(|c| {
            let y = u16_at(c, 6);
            Event::new(
                t0 + u64::from(u32_at(c, 0)),
                u16_at(c, 4),
                y & 0x7fff,
                y >> 15 == 1,
            )
        })
        .collect();
    let mut o = at + ne * EVENT_LEN;
    let mut word = || {
        let v = u32_at(body, o);
        o += 4;
        v
    };
    let filter_x = FilterExpect {
        raw: word(),
        hot_pixels: word(),
        hot: word(),
        refractory: word(),
        unsupported: word(),
        kept: word(),
    };
    let windows = (0..n)
        .map(|_| WindowExpect {
            start: word(),
            kept: word(),
            voxel_crc: word(),
            spikes: (0..levels).map(|_| word()).collect(),
            instances: word(),
            mask_pixels: word(),
            mask_crc: word(),
        })
        .collect();
    Ok(EventsFile {
        sensor,
        t0,
        filter,
        model,
        events,
        expect: EventsExpect {
            filter: filter_x,
            windows,
        },
    })
}

/// The lines `events` prints.
pub fn events_lines(f: &EventsFile) -> String {
    let mut s = String::new();
    for (i, w) in f.expect.windows.iter().enumerate() {
        let _ = writeln!(
            s,
            "window {i} start {} kept {} voxel {:#010x} spikes {:?} instances {} mask {} crc {:#010x}",
            w.start, w.kept, w.voxel_crc, w.spikes, w.instances, w.mask_pixels, w.mask_crc
        );
    }
    let c = &f.expect.filter;
    let _ = writeln!(
        s,
        "filter raw {} hot_pixels {} hot {} refractory {} unsupported {} kept {}",
        c.raw, c.hot_pixels, c.hot, c.refractory, c.unsupported, c.kept
    );
    s
}

/// What [`write_events_fixture`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsSummary {
    /// Events in the stream.
    pub events: usize,
    /// Windows.
    pub windows: usize,
    /// The filter counts.
    pub filter: FilterExpect,
    /// Bytes of `events.bin`.
    pub bytes: usize,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// Writes `events.bin` and `events.expected.txt` into `out_dir`.
pub fn write_events_fixture(out_dir: &Path, spec: &EventsSpec) -> Result<EventsSummary> {
    let f = events_fixture(spec)?;
    let bin = events_bin(&f)?;
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut files = Vec::new();
    for (name, bytes) in [
        (EVENTS, bin.clone()),
        (EXPECT_EVENTS, events_lines(&f).into_bytes()),
    ] {
        let p = out_dir.join(name);
        crate::io::write_atomic(&p, &bytes).with_context(|| format!("writing {}", p.display()))?;
        files.push(p);
    }
    Ok(EventsSummary {
        events: f.events.len(),
        windows: f.expect.windows.len(),
        filter: f.expect.filter,
        bytes: bin.len(),
        files,
    })
}

/// Recomputes every expectation of `dir/events.bin` with the host and fails on the first
/// difference; checks `events.expected.txt` too.
pub fn check_events_fixture(dir: &Path) -> Result<()> {
    let read = |n: &str| -> Result<Vec<u8>> {
        let p = dir.join(n);
        std::fs::read(&p).with_context(|| format!("reading {}", p.display()))
    };
    let bytes = read(EVENTS)?;
    let f = parse_events(&bytes)?;
    let e = events_expectations(&f)?;
    let x = &f.expect;
    ensure!(
        e.filter == x.filter,
        "{EVENTS} filter: host computes {:?}, file has {:?}",
        e.filter,
        x.filter
    );
    ensure!(
        e.windows.len() == x.windows.len(),
        "{EVENTS}: host cuts {} windows, file has {}",
        e.windows.len(),
        x.windows.len()
    );
    for (i, (h, s)) in e.windows.iter().zip(&x.windows).enumerate() {
        ensure!(
            h == s,
            "{EVENTS} window {i}: host computes {h:?}, file has {s:?}"
        );
    }
    ensure!(events_bin(&f)? == bytes, "{EVENTS} does not round-trip");
    ensure!(
        String::from_utf8(read(EXPECT_EVENTS)?)? == events_lines(&f),
        "{EXPECT_EVENTS} differs from the host's results"
    );
    Ok(())
}
