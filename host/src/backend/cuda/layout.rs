//! Kernel parameters and memory layouts, shared with the kernels through a generated header.
//!
//! Every kernel takes one [`Params`] by value (it lands in the constant bank). Its slots are named
//! by [`P`]; [`prelude`] turns the same list into `#define P_<NAME> <index>` lines that are
//! prepended to the kernel sources, so host and device cannot disagree on the layout.
//!
//! Buffers of a kernel live in dynamic shared memory when they fit and in a per-block slice of a
//! global scratch buffer otherwise; the code stored in the buffer's slot says which
//! (`>= 0`: shared byte offset, `< 0`: global byte offset `-code - 1`, [`EXTERNAL`]: the kernel's
//! own argument is used in place).

use hebb_core::geometry::ConvGeom;
use hebb_core::model::LayerArch;
use hebb_core::spikes::words;

macro_rules! params {
    ($($name:ident),* $(,)?) => {
        /// Slots of [`Params`].
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(usize)]
        pub enum P {
            $(
                #[doc = stringify!($name)]
                $name
            ),*
        }
        /// Names of the slots, in index order.
        pub const PARAM_NAMES: &[&str] = &[$(stringify!($name)),*];
    };
}

params! {
    // Convolution geometry.
    IN_C, IN_H, IN_W, IN_LEN, M, K, S, PAD, OH, OW, STEPS,
    // Neuron model.
    KIND, LEAK, BETA, FIRE_ONCE,
    // Competition and learning.
    WTA_K, PER_MAP, RADIUS, POINTWISE, EARLY_STOP, RULE,
    // Adaptive thresholds (core::homeostasis::AdaptiveThreshold; H_DECAY is the u32's bits).
    ADAPT, H_REST, H_PLUS, H_DECAY, H_MIN, H_MAX,
    // Pooling and inhibition of the output.
    POOL, PK, PS, PP, PH, PW, INHIBIT, OUT_LEN,
    // Encoder.
    E_F, E_THR, E_R, E_MODE, E_P2, N_OUT,
    // Bytes of global scratch per block; threads per block.
    SCR, THREADS,
    // Simulation variant: training (1) or frozen output (0); positions reached are tracked (IF
    // neurons); event indices are u16; input words, words per thread, register prefetch.
    TRAIN, TRACK, ORDER16, IN_WORDS, WPT, PREFETCH,
    // Buffers.
    B_V, B_W, B_THETA, B_TF, B_POSF, B_ORDER, B_STARTS, B_CURSOR, B_EXPOS, B_EXMAP, B_CKEY,
    B_CPOS, B_CMAP, B_WIN, B_MISC, B_IN, B_OUT, B_IMG, B_RESP, B_ROWS, B_KEYS,
    B_FIRED, B_TSTAMP, B_TLIST, B_POSBEST, B_INBUF, B_WINS,
}

/// Most input words a thread prefetches into registers (`WPT_MAX` in sim.cu).
const WPT_MAX: usize = 16;

/// Number of parameter slots.
pub const NPARAM: usize = PARAM_NAMES.len();

/// Buffer code: the kernel uses its own pointer argument (weights, thresholds in global memory).
pub const EXTERNAL: i32 = 0x7fff_ffff;

/// Ints per winner record in the kernels (`WIN_INTS`).
pub const WIN_INTS: usize = 5;

/// Kernel parameters, passed by value.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params(pub [i32; NPARAM]);

// SAFETY: a plain `#[repr(C)]` array of i32, the layout of `struct Params { int v[NPARAM]; }`.
unsafe impl cudarc::driver::DeviceRepr for Params {}

impl Default for Params {
    fn default() -> Self {
        Self([0; NPARAM])
    }
}

impl std::ops::Index<P> for Params {
    type Output = i32;
    fn index(&self, p: P) -> &i32 {
        &self.0[p as usize]
    }
}

impl std::ops::IndexMut<P> for Params {
    fn index_mut(&mut self, p: P) -> &mut i32 {
        &mut self.0[p as usize]
    }
}

/// `#define` lines for the parameter slots, prepended to every kernel source.
pub fn prelude() -> String {
    let mut s = format!("#define NPARAM {NPARAM}\n");
    for (i, n) in PARAM_NAMES.iter().enumerate() {
        s.push_str(&format!("#define P_{n} {i}\n"));
    }
    s
}

/// `#define` lines that make every parameter of `p` a compile-time constant (`C_<NAME>`).
pub fn spec_header(p: &Params) -> String {
    let mut s = String::from("#define SPEC 1\n");
    for (n, v) in PARAM_NAMES.iter().zip(p.0) {
        s.push_str(&format!("#define C_{n} ({v})\n"));
    }
    s
}

/// Converts a size to a parameter value.
pub fn int(v: usize, what: &'static str) -> Result<i32, String> {
    i32::try_from(v).map_err(|_| format!("{what} too large for the CUDA kernels ({v})"))
}

/// Places buffers in shared memory (up to a budget) or in global scratch.
#[derive(Debug, Clone, Copy)]
pub struct Placer {
    budget: usize,
    /// Bytes of dynamic shared memory used.
    pub shared: usize,
    /// Bytes of global scratch per block.
    pub global: usize,
}

const ALIGN: usize = 16;

fn round(b: usize) -> usize {
    b.div_ceil(ALIGN) * ALIGN
}

impl Placer {
    /// An empty placement with `budget` bytes of shared memory.
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            shared: 0,
            global: 0,
        }
    }
    /// Places `bytes` in shared memory if it fits (and `shared`), else in global scratch.
    pub fn place(&mut self, bytes: usize, shared: bool) -> Result<i32, String> {
        let b = round(bytes);
        if shared && self.shared + b <= self.budget {
            let off = self.shared;
            self.shared += b;
            int(off, "shared offset")
        } else {
            let off = self.global;
            self.global += b;
            if self.global >= i32::MAX as usize {
                return Err("per-sample working memory above 2 GiB".into());
            }
            Ok(-int(off, "scratch offset")? - 1)
        }
    }
    /// Places `bytes` in shared memory, or returns `None` when it does not fit.
    pub fn place_shared(&mut self, bytes: usize) -> Option<i32> {
        let b = round(bytes);
        (self.shared + b <= self.budget).then(|| {
            let off = self.shared;
            self.shared += b;
            off as i32
        })
    }
    /// True when a buffer code points at global scratch.
    pub fn in_global(code: i32) -> bool {
        code < 0
    }
}

fn conv_params(p: &mut Params, g: &ConvGeom, steps: u8) -> Result<(), String> {
    let o = g.output();
    p[P::IN_C] = i32::from(g.input().c);
    p[P::IN_H] = i32::from(g.input().h);
    p[P::IN_W] = i32::from(g.input().w);
    p[P::IN_LEN] = int(g.input().len(), "layer input")?;
    p[P::M] = i32::from(g.out_c());
    p[P::K] = i32::from(g.k());
    p[P::S] = i32::from(g.stride());
    p[P::PAD] = i32::from(g.pad());
    p[P::OH] = i32::from(o.h);
    p[P::OW] = i32::from(o.w);
    p[P::STEPS] = i32::from(steps);
    int(o.len(), "layer output")?;
    int(g.n_weights(), "weights")?;
    Ok(())
}

fn pool_params(p: &mut Params, a: &LayerArch, inhibit: bool) -> Result<(), String> {
    if let Some(pg) = &a.pool {
        let o = pg.output();
        p[P::POOL] = 1;
        p[P::PK] = i32::from(pg.k());
        p[P::PS] = i32::from(pg.stride());
        p[P::PP] = i32::from(pg.pad());
        p[P::PH] = i32::from(o.h);
        p[P::PW] = i32::from(o.w);
    }
    p[P::OUT_LEN] = int(a.out_shape().len(), "layer output")?;
    p[P::INHIBIT] = i32::from(inhibit);
    Ok(())
}

fn neuron_params(p: &mut Params, a: &LayerArch) {
    use hebb_core::neuron::NeuronKind;
    match a.neuron.kind() {
        NeuronKind::If => p[P::KIND] = 0,
        NeuronKind::LifSub { leak } => {
            p[P::KIND] = 1;
            p[P::LEAK] = leak;
        }
        NeuronKind::LifMul { beta } => {
            p[P::KIND] = 2;
            p[P::BETA] = i32::from(beta);
        }
    }
    p[P::FIRE_ONCE] = i32::from(a.neuron.fire_once());
}

/// What a simulation kernel runs: training (with competition) or the frozen-layer output.
#[derive(Debug, Clone, Copy)]
pub enum SimMode<'a> {
    /// Sequential training with WTA, early stop and STDP.
    Train {
        /// Competition.
        wta: &'a hebb_core::wta::WtaParams,
        /// STDP rule (0 multiplicative, 1 additive).
        rule: i32,
        /// Adaptive thresholds, updated after every sample (the simulation then runs every
        /// step: no early stop).
        adapt: Option<&'a hebb_core::homeostasis::AdaptiveThreshold>,
    },
    /// Frozen output with pooling and optional pointwise inhibition.
    Output {
        /// Inhibit the pooled output.
        inhibit: bool,
    },
}

/// Parameters and layout of the simulation kernels (`train_layer`, `layer_times`) for blocks of
/// `threads` threads.
pub fn sim_layout(
    a: &LayerArch,
    steps: u8,
    mode: SimMode<'_>,
    threads: u32,
    budget: usize,
) -> Result<(Params, Placer), String> {
    use hebb_core::neuron::NeuronKind;
    let mut p = Params::default();
    let g = &a.conv;
    conv_params(&mut p, g, steps)?;
    neuron_params(&mut p, a);
    let o = g.output();
    let (n, plane, m) = (o.len(), o.plane(), o.c as usize);
    let (train, pointwise, cap, k) = match mode {
        SimMode::Train { wta, rule, adapt } => {
            p[P::WTA_K] = i32::from(wta.k());
            p[P::PER_MAP] = i32::from(wta.per_map());
            p[P::RADIUS] = i32::from(wta.effective_radius());
            p[P::POINTWISE] = i32::from(wta.pointwise());
            p[P::EARLY_STOP] = i32::from(adapt.is_none());
            if let Some(h) = adapt {
                p[P::ADAPT] = 1;
                p[P::H_REST] = h.theta_rest();
                p[P::H_PLUS] = h.theta_plus();
                p[P::H_DECAY] = h.decay() as i32;
                p[P::H_MIN] = h.theta_min();
                p[P::H_MAX] = h.theta_max();
            }
            p[P::RULE] = rule;
            // Candidates of one step: one per position with pointwise inhibition, else one per
            // neuron.
            let cap = if wta.pointwise() { plane } else { n };
            (true, wta.pointwise(), cap, wta.k() as usize)
        }
        SimMode::Output { inhibit } => {
            pool_params(&mut p, a, inhibit)?;
            (false, false, 0, 0)
        }
    };
    let track = matches!(a.neuron.kind(), NeuronKind::If);
    let in_len = g.input().len();
    let in_words = in_len.div_ceil(4);
    let wpt = in_words.div_ceil(threads as usize);
    let order16 = in_len <= 65_536;
    p[P::THREADS] = threads as i32;
    p[P::TRAIN] = i32::from(train);
    p[P::TRACK] = i32::from(track);
    p[P::ORDER16] = i32::from(order16);
    p[P::IN_WORDS] = int(in_words, "layer input")?;
    p[P::WPT] = int(wpt, "layer input")?;
    p[P::PREFETCH] = i32::from(in_len.is_multiple_of(4) && wpt <= WPT_MAX);
    let mut pl = Placer::new(budget);
    // Small, hot buffers first; then the potentials (every input event adds to them with shared
    // atomics), the weights, the competition state, the input and its event list, the spike
    // times.
    p[P::B_MISC] = pl.place(64, true)?;
    p[P::B_STARTS] = pl.place((steps as usize + 1) * 4, true)?;
    p[P::B_CURSOR] = pl.place((steps as usize + 1) * 4, true)?;
    p[P::B_THETA] = pl.place_shared(m * 4).unwrap_or(EXTERNAL);
    p[P::B_WIN] = pl.place(k * WIN_INTS * 4, true)?;
    p[P::B_WINS] = pl.place(if train { m * 4 } else { 0 }, true)?;
    p[P::B_V] = pl.place(n * 4, true)?;
    if !train {
        // Frozen output: many blocks read the weights through L1; the spike times matter more.
        p[P::B_TF] = pl.place(n.div_ceil(4) * 4, true)?;
    }
    p[P::B_W] = pl.place_shared(g.n_weights() * 2).unwrap_or(EXTERNAL);
    p[P::B_FIRED] = pl.place(if train { words(n) * 4 } else { 0 }, true)?;
    p[P::B_POSF] = pl.place(plane, true)?;
    p[P::B_TSTAMP] = pl.place(if track { plane * 4 } else { 0 }, true)?;
    p[P::B_TLIST] = pl.place(if track { plane * 4 } else { 0 }, true)?;
    p[P::B_POSBEST] = pl.place(if pointwise { plane * 8 } else { 0 }, true)?;
    p[P::B_EXPOS] = pl.place(if train { words(plane) * 4 } else { 0 }, true)?;
    p[P::B_EXMAP] = pl.place(if train { words(m) * 4 } else { 0 }, true)?;
    p[P::B_CKEY] = pl.place(cap * 8, true)?;
    p[P::B_CPOS] = pl.place(cap * 4, true)?;
    p[P::B_CMAP] = pl.place(cap * 4, true)?;
    p[P::B_INBUF] = pl.place(in_words * 4, true)?;
    p[P::B_ORDER] = pl.place(in_len * if order16 { 2 } else { 4 }, true)?;
    if train {
        p[P::B_TF] = pl.place(0, true)?;
    }
    p[P::SCR] = int(pl.global, "scratch")?;
    Ok((p, pl))
}

/// Parameters and layout of `forward_final`, or `None` when the layer's input and output maps do
/// not fit in shared memory (the caller then falls back to the CPU).
pub fn forward_layout(a: &LayerArch, budget: usize) -> Result<Option<(Params, Placer)>, String> {
    let mut p = Params::default();
    conv_params(&mut p, &a.conv, 0)?;
    pool_params(&mut p, a, false)?;
    let mut pl = Placer::new(budget);
    let m = a.conv.out_c() as usize;
    let (Some(th), Some(i), Some(o)) = (
        pl.place_shared(m * 4),
        pl.place_shared(a.conv.input().len()),
        pl.place_shared(a.out_shape().len()),
    ) else {
        return Ok(None);
    };
    p[P::B_THETA] = th;
    p[P::B_IN] = i;
    p[P::B_OUT] = o;
    p[P::B_W] = pl.place_shared(a.conv.n_weights() * 2).unwrap_or(EXTERNAL);
    Ok(Some((p, pl)))
}

/// Parameters and layout of `encode_images`.
pub fn encode_layout(
    e: &hebb_core::encode::EncoderParams,
    budget: usize,
) -> Result<(Params, Placer), String> {
    use hebb_core::encode::EncodeMode;
    let mut p = Params::default();
    let plane = e.h() as usize * e.w() as usize;
    let n_out = e.n_out();
    let p2 = n_out.next_power_of_two();
    p[P::IN_H] = i32::from(e.h());
    p[P::IN_W] = i32::from(e.w());
    p[P::E_F] = i32::from(e.n_filters());
    p[P::K] = i32::from(e.k());
    p[P::PAD] = i32::from(e.pad());
    p[P::STEPS] = i32::from(e.steps());
    p[P::E_THR] = e.threshold();
    p[P::E_R] = i32::from(e.norm_radius());
    p[P::E_MODE] = i32::from(e.mode() == EncodeMode::AllAtFirstStep);
    p[P::E_P2] = int(p2, "encoder output")?;
    p[P::N_OUT] = int(n_out, "encoder output")?;
    let mut pl = Placer::new(budget);
    p[P::B_MISC] = pl.place(64, true)?;
    p[P::B_IMG] = pl.place(plane, true)?;
    p[P::B_RESP] = pl.place(n_out * 4, true)?;
    p[P::B_KEYS] = pl.place(p2 * 8, true)?;
    let rows = if e.norm_radius() > 0 { n_out * 8 } else { 0 };
    p[P::B_ROWS] = pl.place(rows, true)?;
    p[P::SCR] = int(pl.global, "scratch")?;
    Ok((p, pl))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prelude_names_every_slot_once() {
        let s = prelude();
        assert!(s.starts_with(&format!("#define NPARAM {NPARAM}\n")));
        assert_eq!(s.lines().count(), NPARAM + 1);
        assert!(s.contains(&format!("#define P_B_KEYS {}\n", P::B_KEYS as usize)));
    }

    #[test]
    fn placer_spills_to_global() {
        let mut pl = Placer::new(100);
        assert_eq!(pl.place(40, true).unwrap(), 0);
        assert_eq!(pl.place(40, true).unwrap(), 48);
        assert_eq!(pl.place(40, true).unwrap(), -1);
        assert_eq!(pl.place(10, true).unwrap(), -49);
        assert_eq!(pl.place_shared(200), None);
        assert!(Placer::in_global(-1));
    }
}
