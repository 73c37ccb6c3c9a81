//! N-MNIST-like recordings of still images, generated: a simulated event camera (34 × 34) makes
//! the three saccades N-MNIST was recorded with, in front of a monitor showing the digit (Orchard
//! et al. 2015). The image moves on the sensor along (0, 0) → (3.5, 7) → (7, 0) → (0, 0) px,
//! 105 ms per leg with a raised-cosine velocity profile; the optics blur it (σ 0.5 px) and
//! sample it bilinearly; the monitor maps pixels to 20–200 DN. Each sensor pixel is a lin-log
//! brightness-change detector (linear below 20 DN, logarithmic above) with per-pixel ON/OFF
//! contrast thresholds drawn from N(0.5, 0.03²), a 1-ms refractory period, and 0.2 Hz of
//! background noise; the simulation steps 0.5 ms. Everything comes from the seeded generator,
//! so a digit and a seed give the same recording on every machine.

use super::pixel::{Pixels, lin_log};
use super::{Event, EventError, Recording};
use hebb_core::rng::Rng;

/// Generator parameters (the defaults are the calibrated ones).
#[derive(Debug, Clone, PartialEq)]
pub struct SaccadeParams {
    /// Sensor side (px).
    pub sensor: u16,
    /// Top-left of the image on the sensor at the start (x, y).
    pub origin: (f64, f64),
    /// Corners of the saccade path, relative to the origin (px).
    pub path: [(f64, f64); 4],
    /// Duration of each leg (µs).
    pub leg_us: u64,
    /// Simulation step (µs).
    pub step_us: u64,
    /// Gaussian blur of the optics (px).
    pub blur: f64,
    /// Monitor black and white levels (DN).
    pub levels: (f64, f64),
    /// Mean and spread of the contrast thresholds (log units).
    pub threshold: (f64, f64),
    /// Refractory period (µs).
    pub refractory_us: u64,
    /// Background events per pixel and second.
    pub noise_hz: f64,
}

impl Default for SaccadeParams {
    fn default() -> Self {
        Self {
            sensor: 34,
            origin: (1.0, 2.0),
            path: [(0.0, 0.0), (3.5, 7.0), (7.0, 0.0), (0.0, 0.0)],
            leg_us: 105_000,
            step_us: 500,
            blur: 0.5,
            levels: (20.0, 200.0),
            threshold: (0.5, 0.03),
            refractory_us: 1_000,
            noise_hz: 0.2,
        }
    }
}

/// An image blurred with a Gaussian of `sigma` px, padded by 3 px of background on each side.
fn blur(img: &[f64], w: usize, h: usize, sigma: f64, bg: f64) -> (Vec<f64>, usize, usize) {
    const PAD: usize = 3;
    let (pw, ph) = (w + 2 * PAD, h + 2 * PAD);
    let mut padded = vec![bg; pw * ph];
    for y in 0..h {
        for x in 0..w {
            padded[(y + PAD) * pw + x + PAD] = img[y * w + x];
        }
    }
    if sigma <= 0.0 {
        return (padded, pw, ph);
    }
    let r = (3.0 * sigma).ceil() as isize;
    let k: Vec<f64> = (-r..=r)
        .map(|d| (-((d * d) as f64) / (2.0 * sigma * sigma)).exp())
        .collect();
    let norm: f64 = k.iter().sum();
    let pass = |src: &[f64], horizontal: bool| -> Vec<f64> {
        let mut out = vec![0.0; pw * ph];
        for y in 0..ph {
            for x in 0..pw {
                let mut s = 0.0;
                for (i, kv) in k.iter().enumerate() {
                    let d = i as isize - r;
                    let (sx, sy) = if horizontal {
                        (x as isize + d, y as isize)
                    } else {
                        (x as isize, y as isize + d)
                    };
                    let v = if sx < 0 || sy < 0 || sx >= pw as isize || sy >= ph as isize {
                        bg
                    } else {
                        src[sy as usize * pw + sx as usize]
                    };
                    s += kv * v;
                }
                out[y * pw + x] = s / norm;
            }
        }
        out
    };
    let h1 = pass(&padded, true);
    (pass(&h1, false), pw, ph)
}

/// Bilinear sample of `img` at (x, y), background outside.
fn sample(img: &[f64], w: usize, h: usize, x: f64, y: f64, bg: f64) -> f64 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let at = |xi: f64, yi: f64| {
        if xi < 0.0 || yi < 0.0 || xi >= w as f64 || yi >= h as f64 {
            bg
        } else {
            img[yi as usize * w + xi as usize]
        }
    };
    let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1.0, y0) * fx;
    let bottom = at(x0, y0 + 1.0) * (1.0 - fx) + at(x0 + 1.0, y0 + 1.0) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// The image's offset at time `t` (µs) along the path.
fn offset(p: &SaccadeParams, t: u64) -> (f64, f64) {
    let leg = ((t / p.leg_us) as usize).min(2);
    let u = ((t - leg as u64 * p.leg_us) as f64 / p.leg_us as f64).clamp(0.0, 1.0);
    let s = (1.0 - (std::f64::consts::PI * u).cos()) / 2.0;
    let (a, b) = (p.path[leg], p.path[leg + 1]);
    (a.0 + (b.0 - a.0) * s, a.1 + (b.1 - a.1) * s)
}

/// Records a grey-level image (`w × h`, 0–255) as the event camera would, with `rng`.
pub fn record(
    img: &[u8],
    w: usize,
    h: usize,
    p: &SaccadeParams,
    rng: &mut Rng,
) -> Result<Recording, EventError> {
    if w == 0 || h == 0 || img.len() != w * h {
        return Err(EventError::Malformed {
            format: "saccade generator",
            what: format!("an image of {} pixels is not {w}×{h}", img.len()),
        });
    }
    let valid = p.sensor > 0
        && p.leg_us > 0
        && p.step_us > 0
        && p.step_us <= p.leg_us
        && p.blur.is_finite()
        && p.blur <= 8.0
        && p.levels.0.is_finite()
        && p.levels.1.is_finite()
        && p.levels.0 >= 0.0
        && p.threshold.0.is_finite()
        && p.threshold.0 > 0.0
        && p.threshold.1.is_finite()
        && p.noise_hz.is_finite()
        && p.noise_hz >= 0.0
        && [p.origin.0, p.origin.1].iter().all(|v| v.is_finite())
        && p.path.iter().all(|(a, b)| a.is_finite() && b.is_finite());
    if !valid {
        return Err(EventError::Malformed {
            format: "saccade generator",
            what: "parameters out of range (sensor, leg and step ≥ 1 with step ≤ leg, finite \
                   levels, blur ≤ 8, a positive threshold, noise ≥ 0)"
                .into(),
        });
    }
    let (black, white) = p.levels;
    let dn: Vec<f64> = img
        .iter()
        .map(|&v| black + (white - black) * f64::from(v) / 255.0)
        .collect();
    let (scene, sw, sh) = blur(&dn, w, h, p.blur, black);
    let n = usize::from(p.sensor);
    // The padded scene's top-left sits 3 px before the image's.
    let pad = 3.0;
    let level = |t: u64, x: usize, y: usize| {
        let (dx, dy) = offset(p, t);
        let sx = x as f64 - (p.origin.0 + dx) + pad;
        let sy = y as f64 - (p.origin.1 + dy) + pad;
        lin_log(sample(&scene, sw, sh, sx, sy, black))
    };
    let mut px = Pixels::new(n * n, p.threshold, p.refractory_us, rng);
    for (i, m) in px.memory.iter_mut().enumerate() {
        *m = level(0, i % n, i / n);
    }
    let p_noise = p.noise_hz * p.step_us as f64 * 1e-6;
    let end = 3 * p.leg_us;
    let mut events = Vec::new();
    let mut t = p.step_us;
    while t <= end {
        for i in 0..n * n {
            let (x, y) = (i % n, i / n);
            let jitter = rng.below(p.step_us);
            let stamp = t - p.step_us + jitter;
            if rng.next_f64() < p_noise {
                events.push(Event {
                    t: stamp,
                    x: x as u16,
                    y: y as u16,
                    on: rng.below(2) == 1,
                });
            }
            if t < px.ready[i] {
                continue;
            }
            if let Some(on) = px.fire(i, t, level(t, x, y)) {
                events.push(Event {
                    t: stamp,
                    x: x as u16,
                    y: y as u16,
                    on,
                });
            }
        }
        t += p.step_us;
    }
    Recording::new("saccade generator", p.sensor, p.sensor, events)
}
