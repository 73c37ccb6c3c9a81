//! The data of a local-rule run, generated from the config (seeded) or taken from the embedded
//! MNIST digits: stored patterns and recall cues, real-valued samples, or spike trains.

use super::config::TaskConfig;
use anyhow::{Context, Result, bail};
use hebb_core::local::fixed;
use hebb_core::rng::Rng;

/// Where a recall cue comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CueKind {
    /// A stored pattern with a fraction of its bits flipped.
    Noisy(f64),
    /// An unseen digit of the pattern's class.
    Unseen,
}

/// A recall cue.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    /// The stored pattern it should recall (index).
    pub target: usize,
    /// How it was made.
    pub kind: CueKind,
    /// The state (±1).
    pub state: Vec<i8>,
}

/// Spike trains: `steps × inputs` values (0 or 1.0 in Q5.26) and which steps replay the
/// pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeTrain {
    /// Afferents.
    pub inputs: usize,
    /// Inputs per step.
    pub x: Vec<i32>,
    /// Length of the pattern and of every block.
    pub block: usize,
    /// Per block: it replays the pattern.
    pub pattern_blocks: Vec<bool>,
}

impl SpikeTrain {
    /// Steps.
    pub fn steps(&self) -> usize {
        self.x.len() / self.inputs.max(1)
    }
    /// One step's input.
    pub fn step(&self, t: usize) -> &[i32] {
        &self.x[t * self.inputs..(t + 1) * self.inputs]
    }
}

/// The data of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Task {
    /// Patterns to store (`p × n`, ±1) and cues to recall.
    Patterns {
        /// Neurons.
        n: usize,
        /// Stored patterns.
        stored: Vec<i8>,
        /// Class of each stored pattern (digits).
        labels: Vec<u8>,
        /// Recall cues.
        cues: Vec<Cue>,
        /// Image side, when the patterns are images.
        side: Option<usize>,
    },
    /// Real-valued samples (`samples × dim`, Q5.26) and the same in f64.
    Vectors {
        /// Dimension.
        dim: usize,
        /// Samples, Q5.26.
        x: Vec<i32>,
        /// The same samples in f64 (for the analysis).
        xf: Vec<f64>,
        /// The generating components, when known (`k × dim`, unit rows, by decreasing variance).
        components: Vec<f64>,
        /// Image side, when samples are images.
        side: Option<usize>,
        /// Test inputs (bars at evenly spaced orientations), Q5.26, and their angles (degrees).
        test: Vec<i32>,
        /// Angles of the test inputs.
        test_angles: Vec<f64>,
    },
    /// A spike stream to learn from and one to test on.
    Spikes {
        /// Training stream.
        train: SpikeTrain,
        /// Test stream.
        test: SpikeTrain,
    },
}

impl Task {
    /// Units of one training pass (patterns to store, samples, steps).
    pub fn units(&self) -> u64 {
        (match self {
            Self::Patterns { n, stored, .. } => stored.len() / (*n).max(1),
            Self::Vectors { dim, x, .. } => x.len() / (*dim).max(1),
            Self::Spikes { train, .. } => train.steps(),
        }) as u64
    }

    /// Input size.
    pub fn dim(&self) -> usize {
        match self {
            Self::Patterns { n, .. } => *n,
            Self::Vectors { dim, .. } => *dim,
            Self::Spikes { train, .. } => train.inputs,
        }
    }
}

/// `len` random ±1 values, each sign with probability ½ (the top bit of a draw).
pub fn random_pm1(rng: &mut Rng, len: usize) -> Vec<i8> {
    (0..len)
        .map(|_| if rng.next_u64() >> 63 == 1 { 1 } else { -1 })
        .collect()
}

/// Flips exactly `⌊f·n⌋` distinct bits of `p`.
pub fn flip(p: &[i8], f: f64, rng: &mut Rng) -> Vec<i8> {
    let n = p.len();
    let k = ((f * n as f64).floor() as usize).min(n);
    let mut idx: Vec<usize> = (0..n).collect();
    // Partial Fisher–Yates: the first k indices.
    for i in 0..k {
        let j = i + rng.below((n - i) as u64) as usize;
        idx.swap(i, j);
    }
    let mut c = p.to_vec();
    for &i in &idx[..k] {
        c[i] = -c[i];
    }
    c
}

/// Binarises an image at its mean (pixel > mean → +1), as `skimage.filters.threshold_mean`.
pub fn binarise(img: &[u8]) -> Vec<i8> {
    let mean = img.iter().map(|&v| f64::from(v)).sum::<f64>() / img.len().max(1) as f64;
    img.iter()
        .map(|&v| if f64::from(v) > mean { 1 } else { -1 })
        .collect()
}

/// Block-averages a 28 × 28 image to `side × side`, pixels in [0, 1].
fn downsample(img: &[u8], side: usize) -> Vec<f64> {
    let f = 28 / side;
    let mut out = vec![0.0; side * side];
    for (i, o) in out.iter_mut().enumerate() {
        let (r, c) = (i / side, i % side);
        let mut s = 0.0;
        for dr in 0..f {
            for dc in 0..f {
                s += f64::from(img[(r * f + dr) * 28 + c * f + dc]);
            }
        }
        *o = s / (255.0 * (f * f) as f64);
    }
    out
}

/// A random orthonormal basis of `R^d` (`d × d`, rows), Gram–Schmidt on Gaussian vectors.
fn random_basis(d: usize, rng: &mut Rng) -> Vec<f64> {
    let mut b = vec![0.0; d * d];
    for i in 0..d {
        loop {
            let mut v: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
            for j in 0..i {
                let u = &b[j * d..(j + 1) * d];
                let dot: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(u).for_each(|(a, b)| *a -= dot * b);
            }
            let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            if norm > 1e-6 {
                b[i * d..(i + 1) * d]
                    .iter_mut()
                    .zip(&v)
                    .for_each(|(o, a)| *o = a / norm);
                break;
            }
        }
    }
    b
}

fn to_fixed(xf: &[f64], dim: usize) -> Result<Vec<i32>> {
    let mut x = vec![0; xf.len()];
    fixed::convert(xf, &mut x).map_err(|(i, e)| {
        anyhow::anyhow!(
            "sample {}, dimension {}: {e} (scale the data into [-32, 32))",
            i / dim.max(1),
            i % dim.max(1)
        )
    })?;
    Ok(x)
}

/// An oriented bar through the grid centre with a Gaussian profile.
fn bar(size: usize, angle: f64, width: f64) -> impl Iterator<Item = f64> {
    let c = (size as f64 - 1.0) / 2.0;
    let (s, co) = angle.sin_cos();
    (0..size * size).map(move |i| {
        let (y, x) = ((i / size) as f64 - c, (i % size) as f64 - c);
        // Distance from the line through the centre at `angle`.
        let d = x * s - y * co;
        (-d * d / (2.0 * width * width)).exp()
    })
}

fn spike_train(
    inputs: usize,
    block: usize,
    rate: f64,
    share: f64,
    steps: usize,
    pattern: &[bool],
    rng: &mut Rng,
) -> SpikeTrain {
    let blocks = steps.div_ceil(block);
    let mut x = Vec::with_capacity(blocks * block * inputs);
    let mut pattern_blocks = Vec::with_capacity(blocks);
    for _ in 0..blocks {
        let is_pattern = rng.next_f64() < share;
        pattern_blocks.push(is_pattern);
        for t in 0..block {
            for j in 0..inputs {
                let s = if is_pattern {
                    pattern[t * inputs + j]
                } else {
                    rng.next_f64() < rate
                };
                x.push(if s { fixed::ONE } else { 0 });
            }
        }
    }
    x.truncate(steps * inputs);
    pattern_blocks.truncate(steps / block);
    SpikeTrain {
        inputs,
        x,
        block,
        pattern_blocks,
    }
}

impl Task {
    /// Builds the data of `cfg` with `seed`.
    pub fn build(cfg: &TaskConfig, seed: u64) -> Result<Self> {
        let mut rng = Rng::new(seed ^ 0x7A5C_D47A);
        Ok(match cfg {
            TaskConfig::RandomPatterns {
                neurons,
                patterns,
                noise,
                cues_per_pattern,
            } => {
                let n = *neurons;
                let stored = random_pm1(&mut rng, n * patterns);
                let mut cues = Vec::new();
                for &f in noise {
                    for p in 0..*patterns {
                        for _ in 0..*cues_per_pattern {
                            let state = flip(&stored[p * n..(p + 1) * n], f, &mut rng);
                            cues.push(Cue {
                                target: p,
                                kind: CueKind::Noisy(f),
                                state,
                            });
                        }
                    }
                }
                Self::Patterns {
                    n,
                    stored,
                    labels: Vec::new(),
                    cues,
                    side: None,
                }
            }
            TaskConfig::MnistDigits {
                classes,
                per_class,
                noise,
                cues_per_pattern,
                test_per_class,
            } => {
                let split = crate::data::embedded::load().context("loading embedded MNIST")?;
                let n = split.train.rows * split.train.cols;
                let mut stored = Vec::new();
                let mut labels = Vec::new();
                for &c in classes {
                    let idx: Vec<usize> = (0..split.train.len())
                        .filter(|&i| split.train.labels[i] == c)
                        .take(*per_class)
                        .collect();
                    if idx.len() < *per_class {
                        bail!(
                            "the embedded training split has fewer than {per_class} digits of class {c}"
                        );
                    }
                    for i in idx {
                        stored.extend(binarise(split.train.image(i)));
                        labels.push(c);
                    }
                }
                let p = labels.len();
                let mut cues = Vec::new();
                for &f in noise {
                    for k in 0..p {
                        for _ in 0..*cues_per_pattern {
                            let state = flip(&stored[k * n..(k + 1) * n], f, &mut rng);
                            cues.push(Cue {
                                target: k,
                                kind: CueKind::Noisy(f),
                                state,
                            });
                        }
                    }
                }
                for (k, &c) in labels.iter().enumerate() {
                    if labels.iter().position(|&l| l == c) != Some(k) {
                        continue;
                    }
                    let idx = (0..split.test.len())
                        .filter(|&i| split.test.labels[i] == c)
                        .take(*test_per_class);
                    for i in idx {
                        cues.push(Cue {
                            target: k,
                            kind: CueKind::Unseen,
                            state: binarise(split.test.image(i)),
                        });
                    }
                }
                Self::Patterns {
                    n,
                    stored,
                    labels,
                    cues,
                    side: Some(split.train.cols),
                }
            }
            TaskConfig::Gaussian {
                dim,
                variances,
                rest,
                samples,
            } => {
                let d = *dim;
                let basis = random_basis(d, &mut rng);
                let sd: Vec<f64> = (0..d)
                    .map(|i| variances.get(i).copied().unwrap_or(*rest).sqrt())
                    .collect();
                let mut xf = vec![0.0; samples * d];
                for s in xf.chunks_exact_mut(d) {
                    for (i, &si) in sd.iter().enumerate() {
                        let z = rng.normal() * si;
                        s.iter_mut()
                            .zip(&basis[i * d..(i + 1) * d])
                            .for_each(|(o, b)| *o += z * b);
                    }
                }
                let k = variances.len();
                Self::Vectors {
                    dim: d,
                    x: to_fixed(&xf, d)?,
                    xf,
                    components: basis[..k * d].to_vec(),
                    side: None,
                    test: Vec::new(),
                    test_angles: Vec::new(),
                }
            }
            TaskConfig::MnistImages { samples, side } => {
                let split = crate::data::embedded::load().context("loading embedded MNIST")?;
                let count = (*samples).min(split.train.len());
                if count < *samples {
                    bail!(
                        "task.samples = {samples}, but the embedded training split has {} images",
                        split.train.len()
                    );
                }
                let d = side * side;
                let mut xf: Vec<f64> = (0..count)
                    .flat_map(|i| downsample(split.train.image(i), *side))
                    .collect();
                // Centre the data: principal components of the covariance.
                let mut mean = vec![0.0; d];
                for s in xf.chunks_exact(d) {
                    mean.iter_mut().zip(s).for_each(|(m, v)| *m += v);
                }
                mean.iter_mut().for_each(|m| *m /= count as f64);
                for s in xf.chunks_exact_mut(d) {
                    s.iter_mut().zip(&mean).for_each(|(v, m)| *v -= m);
                }
                Self::Vectors {
                    dim: d,
                    x: to_fixed(&xf, d)?,
                    xf,
                    components: Vec::new(),
                    side: Some(*side),
                    test: Vec::new(),
                    test_angles: Vec::new(),
                }
            }
            TaskConfig::Bars {
                size,
                samples,
                width,
                noise,
                test_orientations,
            } => {
                let d = size * size;
                let mut xf = Vec::with_capacity(samples * d);
                for _ in 0..*samples {
                    let a = rng.next_f64() * std::f64::consts::PI;
                    xf.extend(bar(*size, a, *width).map(|v| v + noise * rng.normal()));
                }
                let test_angles: Vec<f64> = (0..*test_orientations)
                    .map(|i| 180.0 * i as f64 / *test_orientations as f64)
                    .collect();
                let testf: Vec<f64> = test_angles
                    .iter()
                    .flat_map(|a| bar(*size, a.to_radians(), *width))
                    .collect();
                Self::Vectors {
                    dim: d,
                    x: to_fixed(&xf, d)?,
                    xf,
                    components: Vec::new(),
                    side: Some(*size),
                    test: to_fixed(&testf, d)?,
                    test_angles,
                }
            }
            TaskConfig::SpikePattern {
                inputs,
                pattern_steps,
                rate,
                share,
                steps,
                test_steps,
            } => {
                let pattern: Vec<bool> = (0..inputs * pattern_steps)
                    .map(|_| rng.next_f64() < *rate)
                    .collect();
                let train = spike_train(
                    *inputs,
                    *pattern_steps,
                    *rate,
                    *share,
                    *steps,
                    &pattern,
                    &mut rng,
                );
                let test = spike_train(
                    *inputs,
                    *pattern_steps,
                    *rate,
                    *share,
                    *test_steps,
                    &pattern,
                    &mut rng,
                );
                Self::Spikes { train, test }
            }
        })
    }
}
