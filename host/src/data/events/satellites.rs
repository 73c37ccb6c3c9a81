//! EBSSA-like recordings of the sky, generated: an event camera on a telescope that tracks the
//! stars (sidereal tracking, so stars stay put on the sensor) while satellites cross the field
//! in straight lines, with the labels EBSSA files carry (`Obj`: the object's centre every
//! 10 ms) and a truth summary of what was drawn.
//!
//! The scene is a dark sky (8 DN) with a Poisson field of stars and `n_sat` satellites, each a
//! Gaussian spot (σ 1 px) sampled at the pixel centres. Stars twinkle (their log-flux follows
//! an Ornstein–Uhlenbeck process) and the whole image shakes with a common pointing jitter
//! (one OU process per axis); satellites move at a constant velocity. Each sensor pixel is the
//! lin-log brightness-change detector of [`super::saccade`] (v2e's model, shared in
//! `pixel.rs`) behind a first-order low-pass of its log intensity whose bandwidth grows with
//! the light, f = 200 Hz · (I + 20) / 275 (v2e's intensity-dependent cutoff): at the 8-DN sky
//! it is 20 Hz, on a bright star 200–300 Hz. Noise is drawn directly as Poisson processes: leak
//! events (ON) and shot noise (ON or OFF, even odds) on every pixel, and hot pixels, a fixed
//! set per sensor that fire ON events at a high rate.
//!
//! | Parameter | Default | Source / reasoning |
//! |---|---|---|
//! | sensor | DAVIS240C 240 × 180 ([`Sensor::Atis`] 304 × 240, [`Sensor::Davis346`] 346 × 260) | EBSSA's sensors (tonic, SpikeSEG constants) |
//! | duration | 3 s | EBSSA files are minutes long; SpikeSEG uses the labelled span only |
//! | label ticks | every 10 ms, the satellite's centre | tonic's EBSSA reader |
//! | stars | Poisson, 0.35 per 1000 px (≈ 15 on a DAVIS240C), peak 40–250 DN log-uniform, PSF σ 1 px | assumption: stars are brighter than satellites (SpikeSEG's loader) |
//! | scintillation | log-flux σ 0.15, OU correlation 20 ms, independent per star | assumption |
//! | pointing jitter | 0.15 px per axis, OU correlation 0.2 s, common to the whole image | assumption |
//! | satellites | 1, straight line, 10–40 px/s uniform, direction uniform, peak 25–80 DN uniform, PSF σ 1 px | assumption; satellites span 1–4 px (SpikeSEG docs) |
//! | sky | 8 DN | assumption: dark, in the photodiode's linear range |
//! | pixel | v2e lin-log (linear below 20 DN), bandwidth 200 Hz · (I + 20)/275, C_on = C_off = N(0.2, 0.03²), refractory 1 ms | v2e defaults |
//! | leak noise | 0.1 Hz/px, ON | v2e `leak_rate_hz` default |
//! | shot noise | 0.5 Hz/px, ON/OFF | chosen so the total stays within ≈ 3× of EBSSA's size per hour |
//! | hot pixels | 0.1 % of the pixels, 20 Hz each, ON, fixed per sensor | SpikeSEG's evaluation uses 0.1 %; rate assumed |
//! | time step | 0.5 ms | as the N-MNIST-like generator |
//!
//! **What is drawn from where.** A sensor seed ([`SatelliteParams::sensor_seed`]) fixes what
//! belongs to the sensor: the hot pixels and the per-pixel thresholds, the same in every
//! recording of that sensor. The recording's generator (`rng`) draws the scene (stars,
//! satellites), the scintillation and jitter, the event times within a step, and the noise.
//! Only IEEE basic operations, `ln`, `exp` and `sqrt` feed the events (the direction of a
//! satellite is drawn as a point in the unit disc, not as an angle), so a seed gives the same
//! recording on every machine.
//!
//! **Satellite tracks.** A satellite's speed is drawn first, then its direction; the direction
//! is redrawn (up to 100 times) until the whole track, start to end of the recording, fits in
//! the sensor less a margin of 3 σ on every side, and the start is then drawn uniformly among
//! the positions that keep the track inside. A track that cannot fit (too fast for too long on
//! too small a sensor) is an error. Labels are the satellite's position on its straight track
//! (without the pointing jitter, 0.15 px rms), rounded to 1/1024 px so that they survive the
//! 1-based `.mat` coordinates exactly.
//!
//! **Efficiency.** Only pixels within reach of a star or a satellite (where a source adds at
//! least 0.005 DN) run the optical and pixel model in a step; a pixel a satellite has left
//! keeps running until its filtered level is back at the sky and it cannot fire. The rest of
//! the sky is constant and produces only noise.
//!
//! **Calibration** (measured, 100 default DAVIS240C files of 3 s, seeds 1–100): 108,598 ±
//! 6,070 events per file (96,022–123,455), 57.3 % ON; by source 21,057 from stars (15.2 stars
//! per file), 7,189 from the satellite, 12,946 leak, 64,823 shot noise, 2,582 from hot pixels.
//! The reference's specification expects ≈ 108 k per file, ≈ 28 k from stars and satellite
//! (≈ 9 k on the track), the rest noise. A 3-s file takes 0.20 s to generate in a
//! release build, and 0.02 s to write as a 3.3-MB `.mat` file (0.27 s to generate in the test
//! profile, opt-level 2).

use super::mat::{ObjectLabel, StructSpec, write_structs};
use super::pixel::{Pixels, lin_log};
use super::{Event, EventError, Recording};
use hebb_core::rng::Rng;
use serde::Serialize;

const FORMAT: &str = "satellite generator";

/// The event cameras of EBSSA (and the DAVIS346).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Sensor {
    /// iniVation DAVIS240C, 240 × 180.
    Davis240c,
    /// Prophesee/Chronocam ATIS, 304 × 240.
    Atis,
    /// iniVation DAVIS346, 346 × 260.
    Davis346,
}

impl Sensor {
    /// Columns and rows.
    pub const fn size(self) -> (u16, u16) {
        match self {
            Self::Davis240c => (240, 180),
            Self::Atis => (304, 240),
            Self::Davis346 => (346, 260),
        }
    }

    /// The sensor's name as written in file names and manifests.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Davis240c => "davis240c",
            Self::Atis => "atis",
            Self::Davis346 => "davis346",
        }
    }
}

/// Generator parameters (the defaults are the table's, on a DAVIS240C).
#[derive(Debug, Clone, PartialEq)]
pub struct SatelliteParams {
    /// Sensor columns.
    pub width: u16,
    /// Sensor rows.
    pub height: u16,
    /// Seed of what belongs to the sensor (hot pixels, thresholds), independent of the
    /// recording's generator.
    pub sensor_seed: u64,
    /// Recording length (µs).
    pub duration_us: u64,
    /// Simulation step (µs).
    pub step_us: u64,
    /// Interval between labels (µs).
    pub label_us: u64,
    /// Sky level (DN).
    pub sky: f64,
    /// Mean number of stars per pixel (0.35 per 1000 px).
    pub star_density: f64,
    /// Range of star peaks (DN), drawn log-uniformly.
    pub star_peak: (f64, f64),
    /// Gaussian PSF of stars and satellites (px).
    pub psf_sigma: f64,
    /// Scintillation: standard deviation of a star's log-flux.
    pub scintillation: f64,
    /// Scintillation correlation time (µs).
    pub scintillation_us: u64,
    /// Pointing jitter per axis (px, standard deviation).
    pub jitter: f64,
    /// Jitter correlation time (µs).
    pub jitter_us: u64,
    /// Number of satellites.
    pub n_sat: usize,
    /// Range of satellite speeds (px/s), drawn uniformly.
    pub sat_speed: (f64, f64),
    /// Range of satellite peaks (DN), drawn uniformly.
    pub sat_peak: (f64, f64),
    /// Pixel bandwidth at 255 DN (Hz); at intensity I it is this · (I + 20)/275.
    pub bandwidth_hz: f64,
    /// Mean and spread of the contrast thresholds (log units).
    pub threshold: (f64, f64),
    /// Refractory period (µs).
    pub refractory_us: u64,
    /// Leak events (ON) per pixel and second.
    pub leak_hz: f64,
    /// Shot-noise events (ON or OFF) per pixel and second.
    pub shot_hz: f64,
    /// Fraction of the pixels that are hot.
    pub hot_fraction: f64,
    /// Events (ON) per hot pixel and second.
    pub hot_hz: f64,
}

impl Default for SatelliteParams {
    fn default() -> Self {
        Self {
            width: 240,
            height: 180,
            sensor_seed: 1,
            duration_us: 3_000_000,
            step_us: 500,
            label_us: 10_000,
            sky: 8.0,
            star_density: 0.35e-3,
            star_peak: (40.0, 250.0),
            psf_sigma: 1.0,
            scintillation: 0.15,
            scintillation_us: 20_000,
            jitter: 0.15,
            jitter_us: 200_000,
            n_sat: 1,
            sat_speed: (10.0, 40.0),
            sat_peak: (25.0, 80.0),
            bandwidth_hz: 200.0,
            threshold: (0.2, 0.03),
            refractory_us: 1_000,
            leak_hz: 0.1,
            shot_hz: 0.5,
            hot_fraction: 0.001,
            hot_hz: 20.0,
        }
    }
}

impl SatelliteParams {
    /// The defaults on `sensor`.
    pub fn for_sensor(sensor: Sensor) -> Self {
        let (width, height) = sensor.size();
        Self {
            width,
            height,
            ..Self::default()
        }
    }
}

/// A star as drawn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StarTruth {
    /// Column of its centre (0-based, sub-pixel).
    pub x: f64,
    /// Row of its centre.
    pub y: f64,
    /// Peak above the sky (DN).
    pub peak: f64,
}

/// A satellite as drawn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SatelliteTruth {
    /// Its id in the labels (1, 2, …).
    pub id: u32,
    /// Speed (px/s).
    pub speed: f64,
    /// Direction of motion in degrees, [0, 360), from +x towards +y (rows grow downwards).
    pub direction_deg: f64,
    /// Velocity (px/s, x and y).
    pub velocity: (f64, f64),
    /// Centre at the start (0-based).
    pub start: (f64, f64),
    /// Centre at the end of the recording.
    pub end: (f64, f64),
    /// Peak above the sky (DN).
    pub peak: f64,
    /// Events its light caused.
    pub events: usize,
}

/// Events by what caused them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// All events.
    pub total: usize,
    /// ON events.
    pub on: usize,
    /// Caused by stars (scintillation and jitter).
    pub stars: usize,
    /// Caused by satellites (on their tracks).
    pub satellites: usize,
    /// Leak events.
    pub leak: usize,
    /// Shot-noise events.
    pub shot: usize,
    /// Leak and shot noise together.
    pub noise: usize,
    /// Events of hot pixels.
    pub hot: usize,
}

/// What a recording holds, as drawn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Truth {
    /// Sensor columns.
    pub width: u16,
    /// Sensor rows.
    pub height: u16,
    /// Sensor seed.
    pub sensor_seed: u64,
    /// Length (µs).
    pub duration_us: u64,
    /// Stars.
    pub stars: Vec<StarTruth>,
    /// Satellites.
    pub satellites: Vec<SatelliteTruth>,
    /// Hot pixels (x, y), in row-major order.
    pub hot_pixels: Vec<(u16, u16)>,
    /// Event counts.
    pub counts: Counts,
}

/// A generated recording: its events, its labels (`Obj`) and its truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Sky {
    /// The events.
    pub recording: Recording,
    /// The satellites' centres every label tick, in time order (then by id).
    pub labels: Vec<ObjectLabel>,
    /// What was drawn.
    pub truth: Truth,
}

fn bad(what: impl Into<String>) -> EventError {
    EventError::Malformed {
        format: FORMAT,
        what: what.into(),
    }
}

/// Smallest contribution of a source that is simulated (DN).
const REACH: f64 = 0.005;
/// Smallest contribution that makes a source the cause of a pixel's events (DN).
const CAUSE: f64 = 0.05;
/// Rounding of the labels (px): a power of two, so 1-based coordinates convert exactly.
const LABEL_GRID: f64 = 1024.0;
/// Margin between a satellite's track and the sensor's edges (PSF σ).
const MARGIN_SIGMAS: f64 = 3.0;
/// Cause of a pixel that no source reached.
const NO_CAUSE: u32 = u32::MAX;
/// Seeds the sensor's threshold generator apart from its hot-pixel generator.
const THRESHOLD_SEED: u64 = 0x7A3D_9E1F_0C4B_5A61;

impl SatelliteParams {
    /// Checks that the parameters are in range and that a satellite track of the lowest
    /// speed fits on the sensor in some direction (faster ones may still not fit: the
    /// generator then says so).
    pub fn validate(&self) -> Result<(), EventError> {
        check(self)?;
        let m = MARGIN_SIGMAS * self.psf_sigma;
        let room = (
            f64::from(self.width) - 1.0 - 2.0 * m,
            f64::from(self.height) - 1.0 - 2.0 * m,
        );
        let track = self.sat_speed.0 * self.duration_us as f64 * 1e-6;
        if self.n_sat > 0
            && (room.0 < 0.0 || room.1 < 0.0 || track * track > room.0 * room.0 + room.1 * room.1)
        {
            return Err(bad(format!(
                "a satellite track of {track:.1} px ({} px/s for {} s) cannot fit on the {}×{} \
                 sensor with a {m}-px margin: shorten the duration or lower the speed",
                self.sat_speed.0,
                self.duration_us as f64 * 1e-6,
                self.width,
                self.height
            )));
        }
        Ok(())
    }
}

fn check(p: &SatelliteParams) -> Result<(), EventError> {
    let fin = |v: f64| v.is_finite();
    let range = |r: (f64, f64), lo: f64| fin(r.0) && fin(r.1) && r.0 >= lo && r.0 <= r.1;
    let stars = p.star_density * f64::from(p.width) * f64::from(p.height);
    let ok = p.width > 0
        && p.height > 0
        && p.duration_us > 0
        && p.step_us > 0
        && p.step_us <= p.duration_us
        && p.label_us > 0
        && fin(p.sky)
        && p.sky >= 0.0
        && fin(p.star_density)
        && p.star_density >= 0.0
        && stars <= 100_000.0
        && range(p.star_peak, f64::MIN_POSITIVE)
        && fin(p.psf_sigma)
        && p.psf_sigma > 0.0
        && p.psf_sigma <= 8.0
        && fin(p.scintillation)
        && (0.0..=2.0).contains(&p.scintillation)
        && p.scintillation_us > 0
        && fin(p.jitter)
        && (0.0..=10.0).contains(&p.jitter)
        && p.jitter_us > 0
        && p.n_sat <= 1000
        && range(p.sat_speed, 0.0)
        && range(p.sat_peak, 0.0)
        && fin(p.bandwidth_hz)
        && p.bandwidth_hz > 0.0
        && fin(p.threshold.0)
        && p.threshold.0 > 0.0
        && fin(p.threshold.1)
        && p.threshold.1 >= 0.0
        && [p.leak_hz, p.shot_hz, p.hot_hz]
            .iter()
            .all(|&r| fin(r) && (0.0..=1e4).contains(&r))
        && fin(p.hot_fraction)
        && (0.0..=1.0).contains(&p.hot_fraction);
    if ok {
        Ok(())
    } else {
        Err(bad(
            "parameters out of range (a non-empty sensor, duration ≥ step ≥ 1 µs, label and \
             correlation times ≥ 1 µs, sky ≥ 0, at most 100,000 stars, star peaks 0 < lo ≤ hi, \
             0 < PSF σ ≤ 8, scintillation ≤ 2, jitter ≤ 10 px, at most 1000 satellites, speed and \
             peak ranges 0 ≤ lo ≤ hi, a positive bandwidth and threshold, rates 0–10⁴ Hz, a hot \
             fraction in [0, 1])",
        ))
    }
}

/// A Poisson count of mean `mean` (counting unit-rate arrivals, so any mean works).
fn poisson(mean: f64, rng: &mut Rng) -> usize {
    let (mut n, mut t) = (0, 0.0);
    loop {
        t -= (1.0 - rng.next_f64()).ln();
        if t > mean {
            return n;
        }
        n += 1;
    }
}

/// Calls `f` at the times (µs, below `duration_us`) of a Poisson process of `rate` per second.
fn arrivals(rate: f64, duration_us: u64, rng: &mut Rng, mut f: impl FnMut(u64, &mut Rng)) {
    if rate <= 0.0 {
        return;
    }
    let mut t = 0.0;
    loop {
        t -= (1.0 - rng.next_f64()).ln() / rate;
        let us = t * 1e6;
        if us >= duration_us as f64 {
            return;
        }
        f(us as u64, rng);
    }
}

/// An Ornstein–Uhlenbeck process sampled every step: stationary N(0, σ²), correlation time τ.
#[derive(Debug, Clone, Copy)]
struct Ou {
    a: f64,
    b: f64,
}

impl Ou {
    fn new(sigma: f64, tau_us: u64, step_us: u64) -> Self {
        let a = (-(step_us as f64) / tau_us as f64).exp();
        Self {
            a,
            b: sigma * (1.0 - a * a).sqrt(),
        }
    }
    fn step(self, v: f64, rng: &mut Rng) -> f64 {
        self.a * v + self.b * rng.normal()
    }
}

/// A unit vector in a uniformly random direction (a point of the unit disc, normalised).
fn direction(rng: &mut Rng) -> (f64, f64) {
    loop {
        let u = 2.0 * rng.next_f64() - 1.0;
        let v = 2.0 * rng.next_f64() - 1.0;
        let r2 = u * u + v * v;
        if r2 > 1e-6 && r2 <= 1.0 {
            let r = r2.sqrt();
            return (u / r, v / r);
        }
    }
}

/// Draws a satellite whose track stays inside the sensor (see the module docs).
fn satellite(p: &SatelliteParams, id: u32, rng: &mut Rng) -> Result<SatelliteTruth, EventError> {
    let secs = p.duration_us as f64 * 1e-6;
    let speed = p.sat_speed.0 + (p.sat_speed.1 - p.sat_speed.0) * rng.next_f64();
    let peak = p.sat_peak.0 + (p.sat_peak.1 - p.sat_peak.0) * rng.next_f64();
    let m = MARGIN_SIGMAS * p.psf_sigma;
    let room = (
        f64::from(p.width) - 1.0 - 2.0 * m,
        f64::from(p.height) - 1.0 - 2.0 * m,
    );
    for _ in 0..100 {
        let (ux, uy) = direction(rng);
        let (vx, vy) = (speed * ux, speed * uy);
        let (ex, ey) = (vx * secs, vy * secs);
        if room.0 < 0.0 || room.1 < 0.0 || ex.abs() > room.0 || ey.abs() > room.1 {
            continue;
        }
        let place = |e: f64, room: f64, u: f64| m + (room - e.abs()) * u + (-e).max(0.0);
        let x0 = place(ex, room.0, rng.next_f64());
        let y0 = place(ey, room.1, rng.next_f64());
        let mut deg = vy.atan2(vx).to_degrees();
        if deg < 0.0 {
            deg += 360.0;
        }
        return Ok(SatelliteTruth {
            id,
            speed,
            direction_deg: deg,
            velocity: (vx, vy),
            start: (x0, y0),
            end: (x0 + ex, y0 + ey),
            peak,
            events: 0,
        });
    }
    Err(bad(format!(
        "satellite {id}: a track of {:.1} px ({speed:.1} px/s for {secs} s) does not fit on the \
         {}×{} sensor with a {m}-px margin: shorten the duration or lower the speed",
        speed * secs,
        p.width,
        p.height
    )))
}

/// The contributions of the sources of one step, accumulated per pixel.
struct Field {
    w: usize,
    h: usize,
    sigma2: f64,
    /// Light added to each pixel this step (DN).
    sum: Vec<f64>,
    /// The largest single contribution this step and its source.
    best: Vec<f64>,
    arg: Vec<u32>,
    touched: Vec<bool>,
    /// Pixels that run the model, and a flag per pixel.
    active: Vec<u32>,
    is_active: Vec<bool>,
    gx: Vec<f64>,
    gy: Vec<f64>,
}

impl Field {
    fn new(w: usize, h: usize, sigma: f64) -> Self {
        Self {
            w,
            h,
            sigma2: sigma * sigma,
            sum: vec![0.0; w * h],
            best: vec![0.0; w * h],
            arg: vec![NO_CAUSE; w * h],
            touched: vec![false; w * h],
            active: Vec::new(),
            is_active: vec![false; w * h],
            gx: Vec::new(),
            gy: Vec::new(),
        }
    }

    /// Adds a Gaussian spot of `amp` DN at (cx, cy), caused by `source`.
    fn add(&mut self, cx: f64, cy: f64, amp: f64, source: u32) {
        if amp < REACH {
            return;
        }
        let reach = (2.0 * self.sigma2 * (amp / REACH).ln()).sqrt();
        let span = |c: f64, n: usize| -> Option<(usize, usize)> {
            let lo = (c - reach).ceil().max(0.0);
            let hi = (c + reach).floor().min(n as f64 - 1.0);
            (lo <= hi).then_some((lo as usize, hi as usize))
        };
        let (Some((x0, x1)), Some((y0, y1))) = (span(cx, self.w), span(cy, self.h)) else {
            return;
        };
        let two_s2 = 2.0 * self.sigma2;
        let g = |c: f64, i: usize| {
            let d = i as f64 - c;
            (-(d * d) / two_s2).exp()
        };
        self.gx.clear();
        self.gx.extend((x0..=x1).map(|x| g(cx, x)));
        self.gy.clear();
        self.gy.extend((y0..=y1).map(|y| amp * g(cy, y)));
        for (j, y) in (y0..=y1).enumerate() {
            for (i, x) in (x0..=x1).enumerate() {
                let c = self.gy[j] * self.gx[i];
                let idx = y * self.w + x;
                self.sum[idx] += c;
                if c > self.best[idx] {
                    self.best[idx] = c;
                    self.arg[idx] = source;
                }
                self.touched[idx] = true;
                if !self.is_active[idx] {
                    self.is_active[idx] = true;
                    self.active.push(idx as u32);
                }
            }
        }
    }
}

/// Records `p.duration_us` of sky with `rng` (the scene, scintillation, jitter, timing and
/// noise; the sensor's own properties come from `p.sensor_seed`).
pub fn record(p: &SatelliteParams, rng: &mut Rng) -> Result<Sky, EventError> {
    p.validate()?;
    let (w, h) = (usize::from(p.width), usize::from(p.height));
    let n = w * h;

    // The sensor: hot pixels (a partial shuffle), then thresholds from their own stream.
    let mut srng = Rng::new(p.sensor_seed);
    let n_hot = ((p.hot_fraction * n as f64).round() as usize).min(n);
    let mut order: Vec<u32> = (0..n as u32).collect();
    for i in 0..n_hot {
        let j = i + srng.below((n - i) as u64) as usize;
        order.swap(i, j);
    }
    let mut hot: Vec<u32> = order[..n_hot].to_vec();
    hot.sort_unstable();
    drop(order);
    let mut px = Pixels::new(
        n,
        p.threshold,
        p.refractory_us,
        &mut Rng::new(p.sensor_seed ^ THRESHOLD_SEED),
    );

    // The scene.
    let n_stars = poisson(p.star_density * n as f64, rng);
    let (l0, l1) = (p.star_peak.0.ln(), p.star_peak.1.ln());
    let stars: Vec<StarTruth> = (0..n_stars)
        .map(|_| StarTruth {
            x: -0.5 + w as f64 * rng.next_f64(),
            y: -0.5 + h as f64 * rng.next_f64(),
            peak: (l0 + (l1 - l0) * rng.next_f64()).exp(),
        })
        .collect();
    let mut sats = Vec::with_capacity(p.n_sat);
    for j in 0..p.n_sat {
        sats.push(satellite(p, j as u32 + 1, rng)?);
    }
    let scint = Ou::new(p.scintillation, p.scintillation_us, p.step_us);
    let shake = Ou::new(p.jitter, p.jitter_us, p.step_us);
    let mut jitter = (p.jitter * rng.normal(), p.jitter * rng.normal());
    let mut flux: Vec<f64> = (0..n_stars)
        .map(|_| p.scintillation * rng.normal())
        .collect();

    let mut field = Field::new(w, h, p.psf_sigma);
    let sources = |field: &mut Field, t: u64, jitter: (f64, f64), flux: &[f64]| {
        for (k, s) in stars.iter().enumerate() {
            field.add(
                s.x + jitter.0,
                s.y + jitter.1,
                s.peak * flux[k].exp(),
                k as u32,
            );
        }
        let secs = t as f64 * 1e-6;
        for (j, s) in sats.iter().enumerate() {
            field.add(
                s.start.0 + s.velocity.0 * secs + jitter.0,
                s.start.1 + s.velocity.1 * secs + jitter.1,
                s.peak,
                (n_stars + j) as u32,
            );
        }
    };

    // Every pixel starts adapted to what it sees at t = 0.
    let l_sky = lin_log(p.sky);
    let mut lp = vec![l_sky; n];
    px.memory.fill(l_sky);
    let mut cause = vec![NO_CAUSE; n];
    sources(&mut field, 0, jitter, &flux);
    for &idx in &field.active {
        let idx = idx as usize;
        lp[idx] = lin_log(p.sky + field.sum[idx]);
        px.memory[idx] = lp[idx];
        cause[idx] = field.arg[idx];
        field.sum[idx] = 0.0;
        field.best[idx] = 0.0;
        field.touched[idx] = false;
    }

    let mut events = Vec::new();
    let mut counts = Counts::default();
    let mut per_source = vec![0usize; n_stars + p.n_sat];
    let dt = p.step_us as f64 * 1e-6;
    let gain = 2.0 * std::f64::consts::PI * dt * p.bandwidth_hz / 275.0;
    let mut t = p.step_us;
    while t <= p.duration_us {
        jitter = (shake.step(jitter.0, rng), shake.step(jitter.1, rng));
        for f in &mut flux {
            *f = scint.step(*f, rng);
        }
        sources(&mut field, t, jitter, &flux);
        let mut i = 0;
        while i < field.active.len() {
            let idx = field.active[i] as usize;
            let light = p.sky + field.sum[idx];
            // First-order low-pass of the log intensity, bandwidth ∝ (I + 20).
            let a = (gain * (light + 20.0)).min(1.0);
            lp[idx] += a * (lin_log(light) - lp[idx]);
            if field.best[idx] >= CAUSE || (cause[idx] == NO_CAUSE && field.best[idx] > 0.0) {
                cause[idx] = field.arg[idx];
            }
            let touched = field.touched[idx];
            field.sum[idx] = 0.0;
            field.best[idx] = 0.0;
            field.touched[idx] = false;
            if let Some(on) = px.fire(idx, t, lp[idx]) {
                events.push(Event {
                    t: t - p.step_us + rng.below(p.step_us),
                    x: (idx % w) as u16,
                    y: (idx / w) as u16,
                    on,
                });
                if let Some(c) = per_source.get_mut(cause[idx] as usize) {
                    *c += 1;
                }
            }
            if !touched && (lp[idx] - l_sky).abs() < 1e-9 && px.settled(idx, lp[idx]) {
                field.is_active[idx] = false;
                field.active.swap_remove(i);
                continue;
            }
            i += 1;
        }
        t += p.step_us;
    }
    counts.stars = per_source[..n_stars].iter().sum();
    for (s, &c) in sats.iter_mut().zip(&per_source[n_stars..]) {
        s.events = c;
        counts.satellites += c;
    }

    // Noise, drawn directly: leak (ON), shot (ON/OFF), hot pixels (ON).
    let at = |idx: usize, t: u64, on: bool| Event {
        t,
        x: (idx % w) as u16,
        y: (idx / w) as u16,
        on,
    };
    arrivals(p.leak_hz * n as f64, p.duration_us, rng, |t, r| {
        events.push(at(r.below(n as u64) as usize, t, true));
        counts.leak += 1;
    });
    arrivals(p.shot_hz * n as f64, p.duration_us, rng, |t, r| {
        let idx = r.below(n as u64) as usize;
        events.push(at(idx, t, r.below(2) == 1));
        counts.shot += 1;
    });
    arrivals(p.hot_hz * n_hot as f64, p.duration_us, rng, |t, r| {
        let idx = hot[r.below(n_hot as u64) as usize] as usize;
        events.push(at(idx, t, true));
        counts.hot += 1;
    });
    counts.noise = counts.leak + counts.shot;
    counts.total = events.len();
    counts.on = events.iter().filter(|e| e.on).count();

    let mut labels = Vec::new();
    let round = |v: f64| (v * LABEL_GRID).round() / LABEL_GRID;
    for tick in (0..p.duration_us).step_by(p.label_us as usize) {
        let secs = tick as f64 * 1e-6;
        for s in &sats {
            labels.push(ObjectLabel {
                t: tick,
                x: round(s.start.0 + s.velocity.0 * secs),
                y: round(s.start.1 + s.velocity.1 * secs),
                id: s.id,
            });
        }
    }
    let truth = Truth {
        width: p.width,
        height: p.height,
        sensor_seed: p.sensor_seed,
        duration_us: p.duration_us,
        stars,
        satellites: sats,
        hot_pixels: hot
            .iter()
            .map(|&i| ((i as usize % w) as u16, (i as usize / w) as u16))
            .collect(),
        counts,
    };
    Ok(Sky {
        recording: Recording::new(FORMAT, p.width, p.height, events)?,
        labels,
        truth,
    })
}

/// An EBSSA `.mat` file (level 5, uncompressed) of a recording and its labels: `TD` {x, y
/// (1-based), p (1 = ON, 0 = OFF), ts (µs)} and `Obj` {x, y (1-based), id, ts}, which
/// [`super::mat::read_ebssa`] reads back exactly (labels on a 1/1024-px grid, as generated).
pub fn write_ebssa(rec: &Recording, labels: &[ObjectLabel]) -> Vec<u8> {
    let ev = |f: fn(&Event) -> f64| rec.events.iter().map(f).collect::<Vec<f64>>();
    let ob = |f: fn(&ObjectLabel) -> f64| labels.iter().map(f).collect::<Vec<f64>>();
    let structs: [StructSpec<'_>; 2] = [
        (
            "TD",
            vec![
                ("x", ev(|e| f64::from(e.x) + 1.0)),
                ("y", ev(|e| f64::from(e.y) + 1.0)),
                ("p", ev(|e| f64::from(u8::from(e.on)))),
                ("ts", ev(|e| e.t as f64)),
            ],
        ),
        (
            "Obj",
            vec![
                ("x", ob(|l| l.x + 1.0)),
                ("y", ob(|l| l.y + 1.0)),
                ("id", ob(|l| f64::from(l.id))),
                ("ts", ob(|l| l.t as f64)),
            ],
        ),
    ];
    write_structs(&structs)
}
