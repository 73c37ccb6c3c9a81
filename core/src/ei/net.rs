//! The network's constants, its state and one integration step.

use super::graph::Csr;
use super::params::{CellParams, PeakNorm, SynapseParams};
use crate::{Error, Result};
use alloc::vec::Vec;

/// A conductance channel: synapses that share kinetics and reversal potential share one state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Channel {
    /// Reversal potential (mV).
    pub e_syn: f32,
    /// Per-step decay of the rise component, `e^{−dt/τ_r}`.
    pub rise_decay: f32,
    /// Per-step decay of the decay component, `e^{−dt/τ_d}`.
    pub decay_decay: f32,
}

/// A presynaptic cell type (recurrent or input): the channels its spikes open, with the jump
/// `A` per unit weight, and whether it excites (its jumps are scaled by the target's gain).
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// `(channel, A)` per synapse type of the source.
    pub couplings: Vec<(u8, f32)>,
    /// Depolarising source (subject to synaptic scaling).
    pub excitatory: bool,
}

/// What a model is built from.
#[derive(Debug, Clone)]
pub struct Spec<'a> {
    /// Step (ms).
    pub dt: f64,
    /// Recurrent cell types.
    pub cells: &'a [CellParams],
    /// Type of each recurrent cell.
    pub cell_type: Vec<u8>,
    /// Synapse types of each source: the recurrent cell types first, then the input types.
    pub synapses: &'a [Vec<SynapseParams>],
    /// Whether each source excites.
    pub excitatory: &'a [bool],
    /// Recurrent synapses (pre = post = cells).
    pub rec: Csr,
    /// Input synapses (pre = input cells).
    pub ff: Csr,
    /// Source index (≥ the number of cell types) of each input cell.
    pub ff_source: Vec<u8>,
    /// Peak normalisation of the jumps.
    pub norm: PeakNorm,
    /// The reference trainer's integration (one-step spike lag, no refractory period).
    pub reference: bool,
}

/// The network's constants and synapses.
#[derive(Debug, Clone)]
pub struct Model {
    /// Step (ms).
    pub dt: f64,
    /// Type of each cell.
    pub cell_type: Vec<u8>,
    /// Cell types.
    pub cells: Vec<CellParams>,
    /// `e^{−dt/τ_m}` per cell.
    pub alpha: Vec<f32>,
    /// `dt / C_m` per cell (mV per nS·mV).
    pub k: Vec<f32>,
    /// Leak reversal per cell.
    pub e_l: Vec<f32>,
    /// Reset per cell.
    pub u_reset: Vec<f32>,
    /// Refractory steps per cell (0 in the reference's integration).
    pub n_ref: Vec<u16>,
    /// Channels.
    pub channels: Vec<Channel>,
    /// Sources: the cell types, then the input types.
    pub sources: Vec<Source>,
    /// Source of each cell (its type).
    pub rec: Csr,
    /// Input synapses.
    pub ff: Csr,
    /// Source of each input cell.
    pub ff_source: Vec<u8>,
    /// The reference trainer's integration.
    pub reference: bool,
}

impl Model {
    /// Builds and checks a model.
    pub fn new(s: Spec<'_>) -> Result<Self> {
        if !(s.dt.is_finite() && s.dt > 0.0) {
            return Err(Error::InvalidParam("dt must be > 0"));
        }
        if s.cells.is_empty() || s.cells.len() > 64 {
            return Err(Error::InvalidParam("cell types must number 1 to 64"));
        }
        for c in s.cells {
            c.validate()?;
        }
        let n = s.cell_type.len();
        if n == 0 || n > u32::MAX as usize / 2 {
            return Err(Error::InvalidParam("cell count out of range"));
        }
        if s.synapses.len() != s.excitatory.len() || s.synapses.len() < s.cells.len() {
            return Err(Error::ShapeMismatch(
                "every cell type and input type needs its synapses",
            ));
        }
        let mut channels: Vec<(SynapseParams, Channel)> = Vec::new();
        let mut sources = Vec::new();
        for (syns, &exc) in s.synapses.iter().zip(s.excitatory) {
            let mut couplings = Vec::new();
            for p in syns {
                p.validate()?;
                let ch = Channel {
                    e_syn: p.e_syn as f32,
                    rise_decay: libm::exp(-s.dt / p.tau_rise) as f32,
                    decay_decay: libm::exp(-s.dt / p.tau_decay) as f32,
                };
                let idx = match channels.iter().position(|(q, _)| {
                    q.tau_rise == p.tau_rise && q.tau_decay == p.tau_decay && q.e_syn == p.e_syn
                }) {
                    Some(i) => i,
                    None => {
                        channels.push((*p, ch));
                        channels.len() - 1
                    }
                };
                if idx > 15 {
                    return Err(Error::InvalidParam("at most 16 distinct synapse kinetics"));
                }
                couplings.push((idx as u8, p.jump(s.norm) as f32));
            }
            sources.push(Source {
                couplings,
                excitatory: exc,
            });
        }
        let mut m = Self {
            dt: s.dt,
            alpha: Vec::with_capacity(n),
            k: Vec::with_capacity(n),
            e_l: Vec::with_capacity(n),
            u_reset: Vec::with_capacity(n),
            n_ref: Vec::with_capacity(n),
            cells: s.cells.to_vec(),
            channels: channels.into_iter().map(|(_, c)| c).collect(),
            sources,
            rec: s.rec,
            ff: s.ff,
            ff_source: s.ff_source,
            reference: s.reference,
            cell_type: s.cell_type,
        };
        for &t in &m.cell_type {
            let c = s
                .cells
                .get(t as usize)
                .ok_or(Error::InvalidParam("cell type index out of range"))?;
            m.alpha.push(libm::exp(-s.dt / c.tau_mem) as f32);
            m.k.push((s.dt / c.c_m()) as f32);
            m.e_l.push(c.e_l as f32);
            m.u_reset.push(c.u_reset as f32);
            let steps = if s.reference {
                0.0
            } else {
                libm::round(c.tau_ref / s.dt)
            };
            m.n_ref.push(steps.clamp(0.0, f64::from(u16::MAX)) as u16);
        }
        m.rec.validate(n, n)?;
        m.ff.validate(m.ff_source.len(), n)?;
        let n_types = s.cells.len();
        if m.ff_source
            .iter()
            .any(|&f| (f as usize) < n_types || f as usize >= m.sources.len())
        {
            return Err(Error::InvalidParam("input cell source index out of range"));
        }
        Ok(m)
    }

    /// Cells.
    pub fn n(&self) -> usize {
        self.cell_type.len()
    }

    /// A state at rest: every cell at its reset potential and threshold, no conductance.
    pub fn rest(&self) -> State {
        let n = self.n();
        let c = self.channels.len();
        State {
            v: self.u_reset.clone(),
            theta: self
                .cell_type
                .iter()
                .map(|&t| self.cells.get(t as usize).map_or(0.0, |p| p.theta as f32))
                .collect(),
            refr: alloc::vec![0; n],
            rise: alloc::vec![0.0; c * n],
            decay: alloc::vec![0.0; c * n],
            jump: alloc::vec![0.0; c * n],
            gain: alloc::vec![1.0; n],
            fired: Vec::new(),
            step: 0,
        }
    }

    /// Checks that a state (e.g. a restored one) fits this model and holds finite values.
    pub fn check_state(&self, s: &State) -> Result<()> {
        let n = self.n();
        let cn = self.channels.len() * n;
        if s.v.len() != n
            || s.theta.len() != n
            || s.refr.len() != n
            || s.gain.len() != n
            || s.rise.len() != cn
            || s.decay.len() != cn
            || s.jump.len() != cn
        {
            return Err(Error::ShapeMismatch(
                "network state does not match the model",
            ));
        }
        if s.fired.iter().any(|&j| j as usize >= n) {
            return Err(Error::InvalidParam("spiking cell out of range"));
        }
        let finite = |x: &[f32]| x.iter().all(|v| v.is_finite());
        if !(finite(&s.v)
            && finite(&s.theta)
            && finite(&s.rise)
            && finite(&s.decay)
            && finite(&s.jump)
            && finite(&s.gain))
        {
            return Err(Error::InvalidParam(
                "network state holds a non-finite value",
            ));
        }
        Ok(())
    }

    /// Conductance (nS) of channel `c` of cell `j` in state `s`.
    pub fn conductance(&self, s: &State, c: usize, j: usize) -> f32 {
        let i = c * self.n() + j;
        s.rise.get(i).copied().unwrap_or(0.0) + s.decay.get(i).copied().unwrap_or(0.0)
    }
}

/// Everything that changes from step to step.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// Membrane potential (mV).
    pub v: Vec<f32>,
    /// Threshold (mV), per cell (intrinsic plasticity moves it).
    pub theta: Vec<f32>,
    /// Refractory steps left.
    pub refr: Vec<u16>,
    /// Rise components, channel-major (`c · n + j`).
    pub rise: Vec<f32>,
    /// Decay components.
    pub decay: Vec<f32>,
    /// Jumps waiting for the next channel update.
    pub jump: Vec<f32>,
    /// Gain of each cell's excitatory input (synaptic scaling).
    pub gain: Vec<f32>,
    /// Cells that spiked in the last step, in increasing order.
    pub fired: Vec<u32>,
    /// Steps taken.
    pub step: u64,
}

/// Per-step work space.
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    g: Vec<f32>,
    ge: Vec<f32>,
    flag: Vec<u8>,
}

/// Adds the jumps of `spikes` of `csr`'s presynaptic cells to `jump`.
fn deliver(
    m: &Model,
    jump: &mut [f32],
    gain: &[f32],
    csr: &Csr,
    spikes: &[u32],
    source_of: impl Fn(usize) -> usize,
) {
    let n = m.n();
    for &i in spikes {
        let i = i as usize;
        let Some(src) = m.sources.get(source_of(i)) else {
            continue;
        };
        let row = csr.row(i);
        let (Some(tg), Some(ws)) = (csr.target.get(row.clone()), csr.w.get(row)) else {
            continue;
        };
        for &(c, a) in &src.couplings {
            let Some(js) = jump.get_mut(c as usize * n..(c as usize + 1) * n) else {
                continue;
            };
            if src.excitatory {
                for (&t, &w) in tg.iter().zip(ws) {
                    let g = gain.get(t as usize).copied().unwrap_or(1.0);
                    if let Some(x) = js.get_mut(t as usize) {
                        *x += a * w * g;
                    }
                }
            } else {
                for (&t, &w) in tg.iter().zip(ws) {
                    if let Some(x) = js.get_mut(t as usize) {
                        *x += a * w;
                    }
                }
            }
        }
    }
}

/// One step of `dt`: the last step's spikes and this step's `input` spikes (input cell indices,
/// increasing) arrive, conductances decay, membranes integrate, cells spike. Afterwards
/// `s.fired` holds the cells that spiked in this step.
pub fn step(m: &Model, s: &mut State, w: &mut Scratch, input: &[u32]) -> Result<()> {
    let n = m.n();
    let nc = m.channels.len();
    if s.v.len() != n || s.rise.len() != nc * n {
        return Err(Error::ShapeMismatch(
            "network state does not match the model",
        ));
    }
    if m.reference {
        // The reference reads the spike from the potential stored at the end of the step before.
        s.fired.clear();
        s.fired.extend(
            s.v.iter()
                .zip(&s.theta)
                .enumerate()
                .filter(|(_, (v, t))| v >= t)
                .map(|(j, _)| j as u32),
        );
    }
    let types = &m.cell_type;
    deliver(m, &mut s.jump, &s.gain, &m.rec, &s.fired, |i| {
        types.get(i).map_or(usize::MAX, |&t| t as usize)
    });
    let ffs = &m.ff_source;
    deliver(m, &mut s.jump, &s.gain, &m.ff, input, |i| {
        ffs.get(i).map_or(usize::MAX, |&t| t as usize)
    });
    w.g.clear();
    w.g.resize(n, 0.0);
    w.ge.clear();
    w.ge.resize(n, 0.0);
    for (c, ch) in m.channels.iter().enumerate() {
        let span = c * n..(c + 1) * n;
        let (Some(r), Some(d), Some(j)) = (
            s.rise.get_mut(span.clone()),
            s.decay.get_mut(span.clone()),
            s.jump.get_mut(span),
        ) else {
            return Err(Error::ShapeMismatch(
                "network state does not match the model",
            ));
        };
        channel_pass(ch, m.reference, r, d, j, &mut w.g, &mut w.ge);
    }
    w.flag.clear();
    w.flag.resize(n, 0);
    if m.reference {
        membrane_pass_reference(m, s, w);
        for &j in &s.fired {
            if let (Some(v), Some(&u)) = (s.v.get_mut(j as usize), m.u_reset.get(j as usize)) {
                *v = u;
            }
        }
    } else {
        membrane_pass(m, s, w);
        s.fired.clear();
        collect(&w.flag, &mut s.fired);
    }
    s.step += 1;
    Ok(())
}

/// Decays one channel and adds its net conductance to `g` and `g·E` to `ge`.
// Slices of one length (checked by the caller's spans): the index loop vectorises.
#[allow(clippy::indexing_slicing)]
fn channel_pass(
    ch: &Channel,
    reference: bool,
    r: &mut [f32],
    d: &mut [f32],
    j: &mut [f32],
    g: &mut [f32],
    ge: &mut [f32],
) {
    let n = r.len().min(d.len()).min(j.len()).min(g.len()).min(ge.len());
    let (r, d, j, g, ge) = (
        &mut r[..n],
        &mut d[..n],
        &mut j[..n],
        &mut g[..n],
        &mut ge[..n],
    );
    let (er, ed, e) = (ch.rise_decay, ch.decay_decay, ch.e_syn);
    if reference {
        for i in 0..n {
            let x = r[i] + d[i];
            g[i] += x;
            ge[i] += x * e;
            r[i] = r[i] * er - j[i];
            d[i] = d[i] * ed + j[i];
            j[i] = 0.0;
        }
    } else {
        for i in 0..n {
            r[i] = (r[i] - j[i]) * er;
            d[i] = (d[i] + j[i]) * ed;
            j[i] = 0.0;
            let x = r[i] + d[i];
            g[i] += x;
            ge[i] += x * e;
        }
    }
}

/// Integrates every membrane, with refractory clamping; flags the cells that spike.
#[allow(clippy::indexing_slicing)]
fn membrane_pass(m: &Model, s: &mut State, w: &mut Scratch) {
    let n = m.n();
    let (v, th, refr) = (&mut s.v[..n], &s.theta[..n], &mut s.refr[..n]);
    let (a, k, el, ur, nr) = (
        &m.alpha[..n],
        &m.k[..n],
        &m.e_l[..n],
        &m.u_reset[..n],
        &m.n_ref[..n],
    );
    let (g, ge, flag) = (&w.g[..n], &w.ge[..n], &mut w.flag[..n]);
    for i in 0..n {
        let x = v[i];
        let integ = el[i] + (x - el[i]) * a[i] - k[i] * (x * g[i] - ge[i]);
        let resting = refr[i] > 0;
        let vn = if resting { ur[i] } else { integ };
        let fire = !resting && vn >= th[i];
        v[i] = if fire { ur[i] } else { vn };
        refr[i] = if fire {
            nr[i]
        } else {
            refr[i].saturating_sub(1)
        };
        flag[i] = u8::from(fire);
    }
}

/// The reference's membrane update: no refractory period; resets are applied by the caller.
#[allow(clippy::indexing_slicing)]
fn membrane_pass_reference(m: &Model, s: &mut State, w: &mut Scratch) {
    let n = m.n();
    let v = &mut s.v[..n];
    let (a, k, el) = (&m.alpha[..n], &m.k[..n], &m.e_l[..n]);
    let (g, ge) = (&w.g[..n], &w.ge[..n]);
    for i in 0..n {
        let x = v[i];
        v[i] = el[i] + (x - el[i]) * a[i] - k[i] * (x * g[i] - ge[i]);
    }
}

/// Appends the indices of the set flags, eight at a time (spikes are rare).
fn collect(flag: &[u8], out: &mut Vec<u32>) {
    let mut base = 0u32;
    for ch in flag.chunks(8) {
        let any = ch.iter().fold(0u8, |acc, &f| acc | f);
        if any != 0 {
            for (o, &f) in ch.iter().enumerate() {
                if f != 0 {
                    out.push(base + o as u32);
                }
            }
        }
        base += 8;
    }
}
