//! The trained network of the Diehl & Cook family and its file format: input weights, adaptive
//! thresholds, the network state that carries from digit to digit while learning, and the
//! neurons' class assignments, in a `.hebb` frame tagged
//! [`FAMILY_DIEHL_COOK`](hebb_core::frame::FAMILY_DIEHL_COOK).

use anyhow::{Result, bail};
use hebb_core::assign::{self, UNASSIGNED};
use hebb_core::diehl_cook::{
    self as dc, Net, Params, Scratch, State, Tables, W_ONE, Weights, trace_table,
};
use hebb_core::rng::Rng;
use serde::{Deserialize, Serialize};

/// Trace tables' length (the core's cap).
const TABLE: usize = 8192;

/// The network's carried state (what [`State`] borrows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetState {
    /// Excitatory potentials.
    pub v_e: Vec<i32>,
    /// Excitatory conductances of the excitatory neurons.
    pub ge_e: Vec<i32>,
    /// Inhibitory conductances of the excitatory neurons.
    pub gi_e: Vec<i32>,
    /// Excitatory refractory steps left.
    pub refr_e: Vec<u16>,
    /// Step of each excitatory neuron's last spike.
    pub last_post: Vec<u32>,
    /// Excitatory spikes of the last step.
    pub fired_e: Vec<u8>,
    /// Inhibitory potentials.
    pub v_i: Vec<i32>,
    /// Excitatory conductances of the inhibitory neurons.
    pub ge_i: Vec<i32>,
    /// Inhibitory refractory steps left.
    pub refr_i: Vec<u16>,
    /// Inhibitory spikes of the last step.
    pub fired_i: Vec<u8>,
    /// Step of each input's last spike.
    pub last_pre: Vec<u32>,
    /// The step clock.
    pub clock: u32,
}

impl NetState {
    /// Zero-filled state of the right shape (call [`State::init`] or [`State::rest`] on it).
    pub fn new(n_in: usize, n: usize) -> Self {
        Self {
            v_e: vec![0; n],
            ge_e: vec![0; n],
            gi_e: vec![0; n],
            refr_e: vec![0; n],
            last_post: vec![0; n],
            fired_e: vec![0; n],
            v_i: vec![0; n],
            ge_i: vec![0; n],
            refr_i: vec![0; n],
            fired_i: vec![0; n],
            last_pre: vec![0; n_in],
            clock: 0,
        }
    }

    fn shape_ok(&self, n_in: usize, n: usize) -> bool {
        [
            self.v_e.len(),
            self.ge_e.len(),
            self.gi_e.len(),
            self.refr_e.len(),
            self.last_post.len(),
            self.fired_e.len(),
            self.v_i.len(),
            self.ge_i.len(),
            self.refr_i.len(),
            self.fired_i.len(),
        ]
        .iter()
        .all(|&l| l == n)
            && self.last_pre.len() == n_in
    }

    /// The core's view of this state with thresholds `theta`.
    pub fn view<'a>(&'a mut self, theta: &'a mut [i32]) -> State<'a> {
        State {
            v_e: &mut self.v_e,
            ge_e: &mut self.ge_e,
            gi_e: &mut self.gi_e,
            refr_e: &mut self.refr_e,
            theta,
            last_post: &mut self.last_post,
            fired_e: &mut self.fired_e,
            v_i: &mut self.v_i,
            ge_i: &mut self.ge_i,
            refr_i: &mut self.refr_i,
            fired_i: &mut self.fired_i,
            last_pre: &mut self.last_pre,
            clock: &mut self.clock,
        }
    }
}

/// The trace tables of a parameter set (derived, never stored).
#[derive(Debug, Clone)]
pub struct TraceTables {
    pre: Vec<u32>,
    post1: Vec<u32>,
    post2: Vec<u32>,
}

impl TraceTables {
    /// The tables of `p`'s three trace decays.
    pub fn new(p: &Params) -> Result<Self> {
        let mk = |d: u32| -> Result<Vec<u32>> {
            let mut t = vec![0u32; TABLE];
            let len = trace_table(d, &mut t)?;
            t.truncate(len);
            Ok(t)
        };
        let [a, b, c] = p.raw().trace_decay;
        Ok(Self {
            pre: mk(a)?,
            post1: mk(b)?,
            post2: mk(c)?,
        })
    }
    /// The core's view.
    pub fn view(&self) -> Tables<'_> {
        Tables {
            pre: &self.pre,
            post1: &self.post1,
            post2: &self.post2,
        }
    }
}

/// Working memory of one digit.
#[derive(Debug, Clone)]
pub struct Work {
    active: Vec<(u16, u32)>,
    spikes: Vec<u16>,
    dep: Vec<(u16, i32)>,
    sums: Vec<i64>,
    /// Spike counts of the last presentation.
    pub counts: Vec<u32>,
}

impl Work {
    /// Buffers for `n_in` inputs and `n` neurons.
    pub fn new(n_in: usize, n: usize) -> Self {
        Self {
            active: vec![(0, 0); n_in],
            spikes: vec![0; n_in],
            dep: vec![(0, 0); n],
            sums: vec![0; n],
            counts: vec![0; n],
        }
    }
    fn split(&mut self) -> (Scratch<'_>, &mut [u32]) {
        (
            Scratch {
                active: &mut self.active,
                spikes: &mut self.spikes,
                dep: &mut self.dep,
                sums: &mut self.sums,
            },
            &mut self.counts,
        )
    }
}

/// A trained (or training) network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// Inputs (pixels).
    pub n_in: usize,
    /// Image side (rows, columns) of the inputs.
    pub shape: (usize, usize),
    /// Excitatory neurons.
    pub n: usize,
    /// Classes.
    pub classes: usize,
    /// The integer constants.
    pub params: Params,
    /// Input weights (`n_in × n`, input-major, Q8.24).
    pub w: Vec<i32>,
    /// Adaptive thresholds (Q16.16 mV).
    pub theta: Vec<i32>,
    /// The state carried between training digits.
    pub state: NetState,
    /// Class of each neuron ([`UNASSIGNED`] when it never answered).
    pub assignments: Vec<u8>,
    /// Each neuron's response share per class (`n × classes`, Q16), for proportion votes.
    pub proportions: Vec<u32>,
}

/// One digit's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prediction {
    /// The all-activity vote (`None` when no assigned neuron spiked).
    pub class: Option<u8>,
    /// The proportion-weighted vote.
    pub class_proportion: Option<u8>,
    /// Excitatory spike counts of the last presentation.
    pub counts: Vec<u32>,
    /// Presentations it took (1 + re-presentations at higher intensity).
    pub presentations: u32,
}

impl Network {
    /// A new network: weights `scale · (U + offset)` drawn from `seed`, state at its start.
    pub fn new(
        params: Params,
        shape: (usize, usize),
        n: usize,
        classes: usize,
        init: (f64, f64),
        seed: u64,
    ) -> Result<Self> {
        let n_in = shape.0 * shape.1;
        if n_in == 0 || n_in > usize::from(u16::MAX) {
            bail!("inputs: {n_in} pixels (need 1..=65535)");
        }
        let mut rng = Rng::new(seed);
        let w = (0..n_in * n)
            .map(|_| {
                let x = init.0 * (rng.next_f64() + init.1);
                (x * f64::from(W_ONE)).round() as i32
            })
            .collect();
        let mut theta = vec![0; n];
        let mut state = NetState::new(n_in, n);
        state.view(&mut theta).init(&params);
        Ok(Self {
            n_in,
            shape,
            n,
            classes,
            params,
            w,
            theta,
            state,
            assignments: vec![UNASSIGNED; n],
            proportions: vec![0; n * classes],
        })
    }

    /// Checks shapes and ranges (what decoding cannot).
    pub fn validate(&self) -> Result<()> {
        let n = self.n;
        if n == 0 || n > usize::from(u16::MAX) {
            bail!("model: {n} neurons (need 1..=65535)");
        }
        if self.n_in == 0 || self.shape.0.checked_mul(self.shape.1) != Some(self.n_in) {
            bail!(
                "model: {} inputs for images of {}×{}",
                self.n_in,
                self.shape.0,
                self.shape.1
            );
        }
        if self.classes == 0 || self.classes > 255 {
            bail!("model: {} classes (need 1..=255)", self.classes);
        }
        if self.n_in.checked_mul(n) != Some(self.w.len()) {
            bail!("model: weights are not {} × {n}", self.n_in);
        }
        let wmax = self.params.raw().w_max;
        if let Some(i) = self.w.iter().position(|&x| !(0..=wmax).contains(&x)) {
            bail!("model: weight {i} out of [0, w_max]");
        }
        if self.theta.len() != n || self.theta.iter().any(|&t| t < 0) {
            bail!("model: thresholds are not {n} non-negative values");
        }
        if !self.state.shape_ok(self.n_in, n) {
            bail!("model: network state does not match {} × {n}", self.n_in);
        }
        if self.assignments.len() != n
            || self
                .assignments
                .iter()
                .any(|&a| a != UNASSIGNED && usize::from(a) >= self.classes)
        {
            bail!(
                "model: assignments are not {n} classes below {}",
                self.classes
            );
        }
        if n.checked_mul(self.classes) != Some(self.proportions.len()) {
            bail!("model: proportions are not {n} × {}", self.classes);
        }
        Ok(())
    }

    /// Presents one digit with learning on (weights, θ and the carried state change).
    pub fn learn(
        &mut self,
        tables: &TraceTables,
        work: &mut Work,
        pixels: &[u8],
        rng: &mut Rng,
    ) -> Result<dc::Outcome> {
        let net = Net {
            params: &self.params,
            n_in: self.n_in,
            n: self.n,
            tables: tables.view(),
        };
        let mut st = self.state.view(&mut self.theta);
        let mut w = Weights::Plastic(&mut self.w);
        let (mut scratch, counts) = work.split();
        Ok(dc::sample(
            &net,
            &mut w,
            &mut st,
            &mut scratch,
            pixels,
            rng,
            counts,
        )?)
    }

    /// Presents one digit to the frozen network from rest (digits are independent, so this
    /// runs on many threads at once); the counts land in `work.counts`.
    pub fn respond(
        &self,
        tables: &TraceTables,
        work: &mut Work,
        state: &mut NetState,
        pixels: &[u8],
        rng: &mut Rng,
    ) -> Result<dc::Outcome> {
        let net = Net {
            params: &self.params,
            n_in: self.n_in,
            n: self.n,
            tables: tables.view(),
        };
        let mut theta = self.theta.clone();
        let mut st = state.view(&mut theta);
        st.rest(&self.params);
        let mut w = Weights::Frozen(&self.w);
        let (mut scratch, counts) = work.split();
        Ok(dc::sample(
            &net,
            &mut w,
            &mut st,
            &mut scratch,
            pixels,
            rng,
            counts,
        )?)
    }

    /// Both votes for spike counts `counts` with the network's assignments.
    pub fn vote(&self, counts: &[u32]) -> Result<(Option<u8>, Option<u8>)> {
        let mut scores = vec![0u64; 2 * self.classes];
        let a = assign::predict(counts, &self.assignments, None, &mut scores)?;
        let p = assign::predict(
            counts,
            &self.assignments,
            Some(&self.proportions),
            &mut scores,
        )?;
        Ok((a, p))
    }

    /// Sets assignments and proportions from accumulated responses (`n × classes` spike sums
    /// and digits per class).
    pub fn assign_from(&mut self, resp: &[u32], class_n: &[u32]) -> Result<()> {
        assign::assign(resp, class_n, &mut self.assignments)?;
        assign::proportions(resp, class_n, &mut self.proportions)?;
        Ok(())
    }

    /// Weights as reals, neuron-major (`n × n_in`), for plots.
    pub fn receptive_fields(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.w.len()];
        for (i, row) in self.w.chunks_exact(self.n).enumerate() {
            for (j, &x) in row.iter().enumerate() {
                if let Some(o) = out.get_mut(j * self.n_in + i) {
                    *o = x as f32 / W_ONE as f32;
                }
            }
        }
        out
    }
}

/// Contents of a model file: the config, the network and, in a checkpoint, the training state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// Resolved config (TOML).
    pub config: String,
    /// The network.
    pub net: Network,
    /// Training state (empty in an exported model).
    pub state: Vec<u8>,
}

impl ModelFile {
    /// Encodes into a framed `.hebb` file.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        crate::family::frame::seal(hebb_core::frame::FAMILY_DIEHL_COOK, self)
    }

    /// Decodes and validates a framed file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let f: ModelFile = crate::family::frame::open(hebb_core::frame::FAMILY_DIEHL_COOK, bytes)?;
        f.net.validate()?;
        Ok(f)
    }
}
