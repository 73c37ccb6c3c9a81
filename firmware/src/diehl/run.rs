//! The Diehl & Cook network on the device, three parts, every number from `hebb-core`:
//! 1. inference: the trained network's weights read in place from flash
//!    (`Weights::Frozen`), each test digit from rest (`State::rest`) through
//!    `diehl_cook::sample` with its seeded Poisson stream, then both votes
//!    (`assign::predict`, all activity and proportion-weighted);
//! 2. label assignment: the frozen network's responses to labelled digits,
//!    `assign::accumulate`, `assign::assign`, `assign::proportions`;
//! 3. learning: a small network's weights copied to RAM (`Weights::Plastic`), its state
//!    from `State::init`, digit after digit through `diehl_cook::sample`.
//!
//! Each digit's outcome and CRCs are compared with the host's, which ran the same calls.

use super::files::{Diehl, Record, crc_i32, crc_u32};
use super::stat::Stat;
use crate::rt::{self, Counter};
use crate::sizes::diehl::*;
use core::cell::RefCell;
use cortex_m::interrupt::Mutex;
use hebb_core::assign;
use hebb_core::diehl_cook::{self as dc, Net, Params, Scratch, State, Tables, Weights};
use hebb_core::model::CRC;
use hebb_core::rng::Rng;

/// Carried state of up to `N` neurons.
struct StateBufs {
    v_e: [i32; N],
    ge_e: [i32; N],
    gi_e: [i32; N],
    refr_e: [u16; N],
    theta: [i32; N],
    last_post: [u32; N],
    fired_e: [u8; N],
    v_i: [i32; N],
    ge_i: [i32; N],
    refr_i: [u16; N],
    fired_i: [u8; N],
    last_pre: [u32; N_IN],
    clock: u32,
}

impl StateBufs {
    fn view(&mut self, n: usize) -> State<'_> {
        State {
            v_e: &mut self.v_e[..n],
            ge_e: &mut self.ge_e[..n],
            gi_e: &mut self.gi_e[..n],
            refr_e: &mut self.refr_e[..n],
            theta: &mut self.theta[..n],
            last_post: &mut self.last_post[..n],
            fired_e: &mut self.fired_e[..n],
            v_i: &mut self.v_i[..n],
            ge_i: &mut self.ge_i[..n],
            refr_i: &mut self.refr_i[..n],
            fired_i: &mut self.fired_i[..n],
            last_pre: &mut self.last_pre[..],
            clock: &mut self.clock,
        }
    }
}

/// Working memory of a digit.
struct ScratchBufs {
    active: [(u16, u32); N_IN],
    spikes: [u16; N_IN],
    dep: [(u16, i32); N],
    sums: [i64; N],
}

impl ScratchBufs {
    fn view(&mut self, n: usize) -> Scratch<'_> {
        Scratch {
            active: &mut self.active[..],
            spikes: &mut self.spikes[..],
            dep: &mut self.dep[..n],
            sums: &mut self.sums[..n],
        }
    }
}

struct Buffers {
    /// Plastic weights of the learning network.
    w: [i32; W_LEARN],
    pre: [u32; TABLE_PRE],
    post1: [u32; TABLE_POST1],
    post2: [u32; TABLE_POST2],
    st: StateBufs,
    sc: ScratchBufs,
    counts: [u32; N],
    resp: [u32; RESP],
    class_n: [u32; CLASSES],
    assignments: [u8; N],
    prop: [u32; RESP],
    scores: [u64; SCORES],
}

// Zero-initialised, so it lives in .bss; borrowed once, with interrupts off.
static BUFFERS: Mutex<RefCell<Buffers>> = Mutex::new(RefCell::new(Buffers {
    w: [0; W_LEARN],
    pre: [0; TABLE_PRE],
    post1: [0; TABLE_POST1],
    post2: [0; TABLE_POST2],
    st: StateBufs {
        v_e: [0; N],
        ge_e: [0; N],
        gi_e: [0; N],
        refr_e: [0; N],
        theta: [0; N],
        last_post: [0; N],
        fired_e: [0; N],
        v_i: [0; N],
        ge_i: [0; N],
        refr_i: [0; N],
        fired_i: [0; N],
        last_pre: [0; N_IN],
        clock: 0,
    },
    sc: ScratchBufs {
        active: [(0, 0); N_IN],
        spikes: [0; N_IN],
        dep: [(0, 0); N],
        sums: [0; N],
    },
    counts: [0; N],
    resp: [0; RESP],
    class_n: [0; CLASSES],
    assignments: [0; N],
    prop: [0; RESP],
    scores: [0; SCORES],
}));

fn core_err(what: &str, e: hebb_core::Error) -> ! {
    defmt::error!("{=str} failed: {}", what, e);
    rt::exit(rt::EXIT_CORE)
}

fn fixture_err(what: &str) -> ! {
    defmt::error!("diehl.bin: {=str}", what);
    rt::exit(rt::EXIT_FIXTURE)
}

/// Views 4-aligned little-endian bytes in flash as `u32` words, in place.
fn words(b: &[u8]) -> Option<&[u32]> {
    // SAFETY: every bit pattern is a valid `u32`; `align_to` only yields the aligned middle,
    // and the target (Cortex-M, little-endian) reads the fixture's LE words as they are.
    let (head, mid, tail) = unsafe { b.align_to::<u32>() };
    (head.is_empty() && tail.is_empty()).then_some(mid)
}

/// The same as `i32`.
fn words_i32(b: &[u8]) -> Option<&[i32]> {
    // SAFETY: as in `words`.
    let (head, mid, tail) = unsafe { b.align_to::<i32>() };
    (head.is_empty() && tail.is_empty()).then_some(mid)
}

fn copy_i32(bytes: &[u8], out: &mut [i32]) -> bool {
    for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *o = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    bytes.len() == 4 * out.len()
}

fn vote(c: Option<u8>) -> u8 {
    c.unwrap_or(assign::UNASSIGNED)
}

/// Runs the three parts of `bytes` (the 4-aligned image of `diehl.bin`) and exits: 0 when every
/// outcome and CRC equals the host's, 1 on a difference, 2 when the params are rejected, 3 for
/// a damaged or oversized fixture, 4 when a core function fails.
pub fn run(bytes: &[u8]) -> ! {
    let counter = Counter::start();
    let f = Diehl::parse(bytes).unwrap_or_else(|e| {
        defmt::error!("diehl.bin rejected: {}", e);
        rt::exit(rt::EXIT_FIXTURE)
    });
    let params: Params = match postcard::from_bytes(f.params) {
        Ok(p) => p,
        Err(_) => {
            defmt::error!("params rejected (malformed or invalid)");
            rt::exit(rt::EXIT_MODEL)
        }
    };
    let (n_in, n, nl, c) = (
        f.n_in(),
        usize::from(f.n),
        usize::from(f.n_learn),
        usize::from(f.classes),
    );
    defmt::info!(
        "diehl: {=usize} inputs, {=usize} neurons (trained) and {=usize} (learning), {=usize} classes; {=u16} inference, {=u16} assignment, {=u16} learning digits",
        n_in,
        n,
        nl,
        c,
        f.n_infer,
        f.n_assign,
        f.n_learn_digits
    );
    if n_in != N_IN || n.max(nl) > N || n_in * nl > W_LEARN || n * c > RESP || c > CLASSES {
        fixture_err("networks do not fit the static buffers");
    }
    let (Some(w_frozen), Some(prop_model)) = (words_i32(f.weights), words(f.proportions)) else {
        fixture_err("weights are not 4-aligned in flash");
    };
    cortex_m::interrupt::free(|cs| {
        let mut guard = BUFFERS.borrow(cs).borrow_mut();
        let Buffers {
            w,
            pre,
            post1,
            post2,
            st,
            sc,
            counts,
            resp,
            class_n,
            assignments,
            prop,
            scores,
        } = &mut *guard;
        let [d_pre, d_post1, d_post2] = params.raw().trace_decay;
        let t0 = counter.now();
        let lp =
            dc::trace_table(d_pre, &mut pre[..]).unwrap_or_else(|e| core_err("trace_table", e));
        let l1 =
            dc::trace_table(d_post1, &mut post1[..]).unwrap_or_else(|e| core_err("trace_table", e));
        let l2 =
            dc::trace_table(d_post2, &mut post2[..]).unwrap_or_else(|e| core_err("trace_table", e));
        let t_tables = counter.since(t0);
        let tables = Tables {
            pre: &pre[..lp],
            post1: &post1[..l1],
            post2: &post2[..l2],
        };
        let scores = &mut scores[..2 * c];
        let mut bad = 0u32;

        // 1. Inference with the trained network, weights in flash.
        let net = Net {
            params: &params,
            n_in,
            n,
            tables,
        };
        let frozen = |st: &mut StateBufs,
                      sc: &mut ScratchBufs,
                      counts: &mut [u32],
                      r: &Record<'_>|
         -> (dc::Outcome, Option<u32>) {
            let mut state = st.view(n);
            state.rest(&params);
            if !copy_i32(f.theta, state.theta) {
                fixture_err("thresholds");
            }
            let mut rng = Rng::new(r.seed);
            let t = counter.now();
            let o = dc::sample(
                &net,
                &mut Weights::Frozen(w_frozen),
                &mut state,
                &mut sc.view(n),
                r.pixels,
                &mut rng,
                counts,
            );
            let insns = counter.since(t);
            (o.unwrap_or_else(|e| core_err("sample", e)), insns)
        };
        let (mut st_inf, mut st_pres) = (Stat::default(), Stat::default());
        let mut hits = (0u32, 0u32);
        for i in 0..usize::from(f.n_infer) {
            let Some(r) = f.infer(i) else {
                fixture_err("inference record");
            };
            let counts = &mut counts[..n];
            let (o, insns) = frozen(st, sc, counts, &r);
            st_inf.add(insns);
            st_pres.add(insns.map(|x| x / o.presentations.max(1)));
            let crc = crc_u32(counts);
            let a = assign::predict(counts, f.assignments, None, scores)
                .unwrap_or_else(|e| core_err("predict", e));
            let p = assign::predict(counts, f.assignments, Some(prop_model), scores)
                .unwrap_or_else(|e| core_err("predict", e));
            let (a, p) = (vote(a), vote(p));
            hits.0 += u32::from(a == r.label);
            hits.1 += u32::from(p == r.label);
            defmt::println!(
                "infer {=usize} index {=u32} label {=u8} class {=u8} proportion {=u8} presentations {=u32} spikes {=u32} crc {=u32:#010x}",
                i,
                r.index,
                r.label,
                a,
                p,
                o.presentations,
                o.spikes,
                crc
            );
            defmt::info!(
                "  digit {=usize}: {=u32} input spikes, instructions {=?}",
                i,
                o.input_spikes,
                insns
            );
            if (o.presentations, o.spikes, crc, a, p)
                != (r.word(0), r.word(1), r.word(2), r.byte(12), r.byte(13))
            {
                defmt::error!("inference digit {=usize} differs from the host", i);
                bad += 1;
            }
        }

        // 2. Label assignment from the frozen network's responses.
        let resp = &mut resp[..n * c];
        let class_n = &mut class_n[..c];
        resp.fill(0);
        class_n.fill(0);
        let mut st_asg = Stat::default();
        for i in 0..usize::from(f.n_assign) {
            let Some(r) = f.assign(i) else {
                fixture_err("assignment record");
            };
            let counts = &mut counts[..n];
            let (o, insns) = frozen(st, sc, counts, &r);
            st_asg.add(insns);
            assign::accumulate(resp, class_n, counts, r.label)
                .unwrap_or_else(|e| core_err("accumulate", e));
            let crc = crc_u32(counts);
            defmt::println!(
                "assign {=usize} index {=u32} label {=u8} presentations {=u32} spikes {=u32} crc {=u32:#010x}",
                i,
                r.index,
                r.label,
                o.presentations,
                o.spikes,
                crc
            );
            if (o.presentations, o.spikes, crc) != (r.word(0), r.word(1), r.word(2)) {
                defmt::error!("assignment digit {=usize} differs from the host", i);
                bad += 1;
            }
        }
        let t = counter.now();
        let assignments = &mut assignments[..n];
        let prop = &mut prop[..n * c];
        assign::assign(resp, class_n, assignments).unwrap_or_else(|e| core_err("assign", e));
        assign::proportions(resp, class_n, prop).unwrap_or_else(|e| core_err("proportions", e));
        let t_assign = counter.since(t);
        let (ca, cp) = (CRC.checksum(assignments), crc_u32(prop));
        defmt::println!("assigned crc {=u32:#010x} proportions {=u32:#010x}", ca, cp);
        let same = assignments
            .iter()
            .zip(f.assignments)
            .filter(|(a, b)| a == b)
            .count();
        defmt::info!(
            "  {=usize}/{=usize} neurons get the class the trained model gives them",
            same,
            n
        );
        if (ca, cp) != (f.assignments_crc, f.proportions_crc) {
            defmt::error!("assignments differ from the host's");
            bad += 1;
        }

        // 3. Learning: the small network's weights in RAM.
        let w = &mut w[..n_in * nl];
        if !copy_i32(f.learn_start, w) {
            fixture_err("start weights");
        }
        let net = Net {
            params: &params,
            n_in,
            n: nl,
            tables,
        };
        let mut state = st.view(nl);
        state.init(&params);
        let mut st_learn = Stat::default();
        for i in 0..usize::from(f.n_learn_digits) {
            let Some(r) = f.learn(i) else {
                fixture_err("learning record");
            };
            let mut rng = Rng::new(r.seed);
            let counts = &mut counts[..nl];
            let t = counter.now();
            let o = dc::sample(
                &net,
                &mut Weights::Plastic(w),
                &mut state,
                &mut sc.view(nl),
                r.pixels,
                &mut rng,
                counts,
            );
            let insns = counter.since(t);
            let o = o.unwrap_or_else(|e| core_err("sample", e));
            st_learn.add(insns);
            let (cw, ct) = (crc_i32(w), crc_i32(state.theta));
            defmt::println!(
                "learn {=usize} index {=u32} presentations {=u32} spikes {=u32} inputs {=u32} weights {=u32:#010x} theta {=u32:#010x}",
                i,
                r.index,
                o.presentations,
                o.spikes,
                o.input_spikes,
                cw,
                ct
            );
            defmt::info!("  digit {=usize}: instructions {=?}", i, insns);
            if (o.presentations, o.spikes, o.input_spikes, cw, ct)
                != (r.word(0), r.word(1), r.word(2), r.word(3), r.word(4))
            {
                defmt::error!("learning digit {=usize} differs from the host", i);
                bad += 1;
            }
        }

        defmt::println!(
            "accuracy: {=u32}/{=u16} (all activity), {=u32}/{=u16} (proportion)",
            hits.0,
            f.n_infer,
            hits.1,
            f.n_infer
        );
        if counter.ok() {
            defmt::println!(
                "instructions per inference digit ({=usize} neurons): mean {=u64} max {=u32}; per presentation mean {=u64}",
                n,
                st_inf.mean(),
                st_inf.max,
                st_pres.mean()
            );
            defmt::println!(
                "instructions per assignment digit: mean {=u64} max {=u32}; assign + proportions {=?}; trace tables {=?}",
                st_asg.mean(),
                st_asg.max,
                t_assign,
                t_tables
            );
            defmt::println!(
                "instructions per learning digit ({=usize} neurons): mean {=u64} max {=u32}",
                nl,
                st_learn.mean(),
                st_learn.max
            );
        } else {
            defmt::println!("instructions: counter unavailable");
        }
        let mem = rt::memory();
        defmt::println!(
            "memory: static {=u32} B, stack high-water {=u32} B, total {=u32} B",
            mem.static_ram,
            mem.stack_high_water,
            mem.static_ram + mem.stack_high_water
        );
        if bad == 0 {
            defmt::println!(
                "verdict: every inference, assignment and learning result equals the host's"
            );
            rt::exit(rt::EXIT_OK)
        } else {
            defmt::error!("verdict: {=u32} results differ from the host's", bad);
            rt::exit(rt::EXIT_MISMATCH)
        }
    })
}
