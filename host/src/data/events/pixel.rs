//! The brightness-change pixel the generators share (the DVS pixel as v2e models it): a lin-log
//! photoreceptor, per-pixel ON/OFF contrast thresholds drawn once, a memory of the level at the
//! last event, and a refractory period. A pixel fires at most one event per simulation step;
//! the memory moves by one threshold per event, so a large change fires over several steps.

use hebb_core::rng::Rng;

/// The lin-log response: linear below 20 DN (continuous with the logarithm there).
pub(crate) fn lin_log(i: f64) -> f64 {
    const KNEE: f64 = 20.0;
    if i < KNEE {
        i * KNEE.ln() / KNEE
    } else {
        i.ln()
    }
}

/// The per-pixel state of a sensor of `n` pixels.
#[derive(Debug, Clone)]
pub(crate) struct Pixels {
    /// ON thresholds (log units).
    pub c_on: Vec<f64>,
    /// OFF thresholds (log units).
    pub c_off: Vec<f64>,
    /// Level at the last event (log units).
    pub memory: Vec<f64>,
    /// First time (µs) each pixel may fire again.
    pub ready: Vec<u64>,
    refractory_us: u64,
}

impl Pixels {
    /// `n` pixels with thresholds drawn from N(mean, sd²) (at least 0.01; all ON thresholds
    /// first, then all OFF ones) and memories at 0.
    pub fn new(n: usize, threshold: (f64, f64), refractory_us: u64, rng: &mut Rng) -> Self {
        let mut draw = || -> Vec<f64> {
            (0..n)
                .map(|_| (threshold.0 + threshold.1 * rng.normal()).max(0.01))
                .collect()
        };
        let c_on = draw();
        let c_off = draw();
        Self {
            c_on,
            c_off,
            memory: vec![0.0; n],
            ready: vec![0; n],
            refractory_us,
        }
    }

    /// Pixel `i` sees `level` at time `t` (µs): the polarity of the event it fires, if any.
    pub fn fire(&mut self, i: usize, t: u64, level: f64) -> Option<bool> {
        if t < self.ready[i] {
            return None;
        }
        let d = level - self.memory[i];
        let on = d >= self.c_on[i];
        if on || -d >= self.c_off[i] {
            self.memory[i] += if on { self.c_on[i] } else { -self.c_off[i] };
            self.ready[i] = t + self.refractory_us;
            Some(on)
        } else {
            None
        }
    }

    /// True when pixel `i`, held at `level`, would never fire again.
    pub fn settled(&self, i: usize, level: f64) -> bool {
        let d = level - self.memory[i];
        d < self.c_on[i] && -d < self.c_off[i]
    }
}
