//! On-device STDP: per sample `encode::encode`, then the core's one training step
//! (`training::train_sample`: learning-rate tick, `simulate` with WTA and early stop, STDP on
//! the winners), the very call the host's CPU trainer makes.
//! The weights live in RAM (`u16`, Q0.16); their CRC-32 after every sample is compared with
//! the host's, computed by the host's real trainer from the same start.

use crate::fixture::{Learn, crc_weights};
use crate::rt::{self, Counter};
use crate::sizes::learn::*;
use core::cell::RefCell;
use cortex_m::interrupt::Mutex;
use hebb_core::encode::{EncodeScratch, encode};
use hebb_core::layer::SimScratch;
use hebb_core::model::Model;
use hebb_core::schedule::{LrSchedule, LrState};
use hebb_core::stdp::StdpParams;
use hebb_core::training::{SampleRule, SampleState, train_sample};
use hebb_core::weights::WeightRow;
use hebb_core::wta::Winner;

struct Buffers {
    filters: [i32; ENC_KERNEL],
    resp: [i32; ENC_OUT],
    rows: [i64; ENC_PLANE],
    keys: [u64; ENC_OUT],
    input: [u8; INPUT],
    v: [i32; NEURONS],
    t_first: [u8; NEURONS],
    pos_first: [u8; POSITIONS],
    touched: [u32; POSITION_WORDS],
    excl_pos: [u32; POSITION_WORDS],
    excl_map: [u32; MAP_WORDS],
    cand: [u64; CAND],
    order: [u32; INPUT],
    starts: [u32; STARTS],
    weights: [u16; WEIGHTS],
    thresholds: [i32; MAPS],
    winners: [Winner; K],
    wins: [u32; MAPS],
}

const NO_WINNER: Winner = Winner {
    map: 0,
    y: 0,
    x: 0,
    t: 0,
    v: 0,
};

static BUFFERS: Mutex<RefCell<Buffers>> = Mutex::new(RefCell::new(Buffers {
    filters: [0; ENC_KERNEL],
    resp: [0; ENC_OUT],
    rows: [0; ENC_PLANE],
    keys: [0; ENC_OUT],
    input: [0; INPUT],
    v: [0; NEURONS],
    t_first: [0; NEURONS],
    pos_first: [0; POSITIONS],
    touched: [0; POSITION_WORDS],
    excl_pos: [0; POSITION_WORDS],
    excl_map: [0; MAP_WORDS],
    cand: [0; CAND],
    order: [0; INPUT],
    starts: [0; STARTS],
    weights: [0; WEIGHTS],
    thresholds: [0; MAPS],
    winners: [NO_WINNER; K],
    wins: [0; MAPS],
}));

fn core_err(what: &str, e: hebb_core::Error) -> ! {
    defmt::error!("{=str} failed: {}", what, e);
    rt::exit(rt::EXIT_CORE)
}

fn fixture_err(what: &str) -> ! {
    defmt::error!("learn.bin: {=str}", what);
    rt::exit(rt::EXIT_FIXTURE)
}

/// Trains the layer of `learn_bytes` on its samples and exits: 0 when the weights after every
/// sample equal the host's (CRC-32), else non-zero.
pub fn run(learn_bytes: &[u8]) -> ! {
    let counter = Counter::start();
    let l = match Learn::parse(learn_bytes) {
        Ok(l) => l,
        Err(e) => {
            defmt::error!("learn.bin rejected: {}", e);
            rt::exit(rt::EXIT_FIXTURE)
        }
    };
    let model = match Model::decode(l.model) {
        Ok(m) => m,
        Err(e) => {
            defmt::error!(
                "start model rejected: {} ({})",
                e,
                defmt::Display2Format(&e)
            );
            rt::exit(rt::EXIT_MODEL)
        }
    };
    let a = model.arch[0];
    let blob = model.layers[0];
    let out = a.conv.output();
    let wta = match l.wta() {
        Ok(w) => w,
        Err(e) => {
            defmt::error!("learn.bin rejected: {}", e);
            rt::exit(rt::EXIT_FIXTURE)
        }
    };
    let base = StdpParams {
        rule: l.stdp_rule(),
        a_plus: l.a_plus,
        a_minus: l.a_minus,
    };
    defmt::info!(
        "learn: {=u16} samples, layer {=u16}x{=u16}x{=u16} -> {=u16} maps of {=u16}x{=u16}, k={=u8}, {=u8} steps, {}, {}",
        l.n,
        a.conv.input().c,
        a.conv.input().h,
        a.conv.input().w,
        out.c,
        out.h,
        out.w,
        a.conv.k(),
        l.steps,
        wta,
        base
    );
    // The buffers were sized by build.rs from this very file; re-check against what decoded.
    let e = &model.encoder;
    if model.arch.len() != 1
        || (l.rows, l.cols) != (e.h(), e.w())
        || e.n_out() != a.conv.input().len()
        || e.n_out() > ENC_OUT
        || e.n_kernel() > ENC_KERNEL
        || e.h() as usize * e.w() as usize > ENC_PLANE
        || a.conv.input().len() > INPUT
        || out.len() > NEURONS
        || out.plane() > POSITIONS
        || out.c as usize > MAPS
        || a.conv.n_weights() > WEIGHTS
        || l.steps as usize + 1 > STARTS
        || l.wta_k as usize > K
        || blob.bits != 16
    {
        fixture_err("model does not fit the static buffers (build.rs sizes them from learn.bin)");
    }

    cortex_m::interrupt::free(|cs| {
        let mut guard = BUFFERS.borrow(cs).borrow_mut();
        let Buffers {
            filters,
            resp,
            rows,
            keys,
            input,
            v,
            t_first,
            pos_first,
            touched,
            excl_pos,
            excl_map,
            cand,
            order,
            starts,
            weights,
            thresholds,
            winners,
            wins,
        } = &mut *guard;
        let nw = a.conv.n_weights();
        let weights = &mut weights[..nw];
        let w16 = blob.view();
        for (i, w) in weights.iter_mut().enumerate() {
            *w = w16.get(i);
        }
        let m = out.c as usize;
        hebb_core::network::thresholds(&model, 0, &mut thresholds[..m])
            .unwrap_or_else(|e| core_err("thresholds", e));
        let n_filt =
            hebb_core::network::filters(&model, filters).unwrap_or_else(|e| core_err("filters", e));
        defmt::info!("start weights crc {=u32:#010x}", crc_weights(weights));

        let lr = StdpParams {
            rule: base.rule,
            a_plus: l.lr_a_plus,
            a_minus: l.lr_a_minus,
        };
        let schedule = LrSchedule {
            base,
            double_every: l.double_every,
            a_plus_cap: l.a_plus_cap,
        };
        let mut lrs = LrState {
            current: lr,
            samples: l.lr_samples,
        };
        let rule = SampleRule {
            wta: &wta,
            schedule: &schedule,
            homeostasis: None,
        };
        let mut enc = EncodeScratch { resp, rows, keys };
        let mut sim = SimScratch {
            v,
            t_first,
            pos_first,
            touched,
            excl_pos,
            excl_map,
            cand,
            order,
            starts,
        };
        let mut matched = 0u32;
        let (mut sum, mut max) = (0u64, 0u32);
        for i in 0..l.n as usize {
            let t0 = counter.now();
            let times = &mut input[..e.n_out()];
            encode(e, &filters[..n_filt], l.image(i), &mut enc, times)
                .unwrap_or_else(|e| core_err("encode", e));
            let r = train_sample(
                &a,
                l.steps,
                &rule,
                times,
                &mut SampleState {
                    weights: &mut *weights,
                    thresholds: &mut thresholds[..m],
                    lr: &mut lrs,
                    wins: &mut wins[..],
                    scratch: &mut sim,
                    winners: &mut winners[..],
                    fired: &mut [],
                },
            )
            .unwrap_or_else(|e| core_err("train_sample", e));
            let lr = lrs.current;
            let insns = counter.since(t0);
            let crc = crc_weights(weights);
            defmt::println!(
                "learn {=usize} winners {=usize} crc {=u32:#010x}",
                i,
                r.winners,
                crc
            );
            for w in &winners[..r.winners] {
                defmt::info!(
                    "  winner map {=u16} at ({=u16},{=u16}) step {=u8} potential {=i32}",
                    w.map,
                    w.y,
                    w.x,
                    w.t,
                    w.v
                );
            }
            let (ew, ec) = l.expected(i);
            let ok = ew as usize == r.winners && ec == crc;
            if !ok {
                defmt::error!(
                    "sample {=usize}: host expects winners {=u16} crc {=u32:#010x}",
                    i,
                    ew,
                    ec
                );
            }
            matched += u32::from(ok);
            if let Some(n) = insns {
                sum += u64::from(n);
                max = max.max(n);
            }
            defmt::info!(
                "sample {=usize}: {=u8} steps, {=u32} spikes, {=u32} events, a+ {=u32}, instructions {=?} {=str}",
                i,
                r.steps_run,
                r.spikes,
                r.events,
                lr.a_plus,
                insns,
                if ok { "ok" } else { "MISMATCH" }
            );
        }
        let fin = crc_weights(weights);
        defmt::println!("final crc {=u32:#010x}", fin);
        let n = u32::from(l.n);
        if counter.ok() && n > 0 {
            defmt::println!(
                "instructions per learning step: mean {=u64} max {=u32}",
                sum / u64::from(n),
                max
            );
        } else {
            defmt::println!("instructions per learning step: counter unavailable");
        }
        let mem = rt::memory();
        defmt::println!(
            "memory: static {=u32} B, stack high-water {=u32} B, total {=u32} B",
            mem.static_ram,
            mem.stack_high_water,
            mem.static_ram + mem.stack_high_water
        );
        if matched == n && fin == l.expected_final_crc {
            defmt::println!(
                "verdict: weights equal the host after all {=u32} samples",
                n
            );
            rt::exit(rt::EXIT_OK)
        } else {
            defmt::error!(
                "verdict: {=u32}/{=u32} samples differ; final crc {=u32:#010x}, host {=u32:#010x}",
                n - matched,
                n,
                fin,
                l.expected_final_crc
            );
            rt::exit(rt::EXIT_MISMATCH)
        }
    })
}
