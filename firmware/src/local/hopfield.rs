//! Hopfield memory on the device: Hebbian storage of the patterns of `hopfield.bin`
//! (`Hebbian::plan` → `pack` → `rows`, exact integers), checked against the host's weights
//! shipped beside them in flash, then recall of every cue with `Dynamics::recall`
//! (synchronous, or asynchronous with the cue's seeded `Rng`), `energy2` and `overlap` of the
//! final state. Exit 0 only when the weights and every cue's outcome equal the host's.

use super::files::{CueRecord, Hopfield, crc_i32, read_i32s};
use super::stat::Stat;
use crate::rt::{self, Counter};
use crate::sizes::hopfield::*;
use core::cell::RefCell;
use cortex_m::interrupt::Mutex;
use hebb_core::local::hebbian::Hebbian;
use hebb_core::local::hopfield::{Activation, Dynamics, Update, overlap};
use hebb_core::model::CRC;
use hebb_core::rng::Rng;

struct Buffers {
    patterns: [i8; PATTERNS],
    bits: [u64; BITS],
    sums: [i64; N],
    weights: [i32; WEIGHTS],
    s: [i32; N],
    a: [i32; N],
    b: [i32; N],
    order: [u32; N],
    target: [i32; N],
}

// Zero-initialised, so it lives in .bss; borrowed once, with interrupts off.
static BUFFERS: Mutex<RefCell<Buffers>> = Mutex::new(RefCell::new(Buffers {
    patterns: [0; PATTERNS],
    bits: [0; BITS],
    sums: [0; N],
    weights: [0; WEIGHTS],
    s: [0; N],
    a: [0; N],
    b: [0; N],
    order: [0; N],
    target: [0; N],
}));

fn core_err(what: &str, e: hebb_core::Error) -> ! {
    defmt::error!("{=str} failed: {}", what, e);
    rt::exit(rt::EXIT_CORE)
}

fn fixture_err(what: &str) -> ! {
    defmt::error!("hopfield.bin: {=str}", what);
    rt::exit(rt::EXIT_FIXTURE)
}

/// Stores the patterns of `bytes`, recalls every cue and exits: 0 when the weights and every
/// recall equal the host's, 1 on a difference, 3 for a damaged or oversized fixture, 4 when a
/// core function fails.
pub fn run(bytes: &[u8]) -> ! {
    let counter = Counter::start();
    let h = match Hopfield::parse(bytes) {
        Ok(h) => h,
        Err(e) => {
            defmt::error!("hopfield.bin rejected: {}", e);
            rt::exit(rt::EXIT_FIXTURE)
        }
    };
    let (n, p) = (h.n as usize, h.p as usize);
    let opts = h.store_options();
    defmt::info!(
        "hopfield: {=usize} neurons, {=usize} patterns, {=u16} cues, {}, tie {}, max {=u32} sweeps",
        n,
        p,
        h.cues,
        opts,
        h.tie_rule(),
        h.max_sweeps
    );
    // The buffers were sized by build.rs from this very file; re-check against what parsed.
    let words = p.div_ceil(64);
    if n > N || p * n > PATTERNS || n * words > BITS || n * n > WEIGHTS {
        fixture_err("memory does not fit the static buffers (build.rs sizes them from the file)");
    }

    cortex_m::interrupt::free(|cs| {
        let mut guard = BUFFERS.borrow(cs).borrow_mut();
        let Buffers {
            patterns,
            bits,
            sums,
            weights,
            s,
            a,
            b,
            order,
            target,
        } = &mut *guard;
        let patterns = &mut patterns[..p * n];
        for (d, &v) in patterns.iter_mut().zip(h.patterns) {
            *d = v as i8;
        }
        let weights = &mut weights[..n * n];
        let mut matched = true;

        // Storage on the device.
        let t0 = counter.now();
        let plan = Hebbian::plan(patterns, n, p, opts).unwrap_or_else(|e| core_err("plan", e));
        let t_plan = counter.since(t0);
        let t1 = counter.now();
        plan.pack(patterns, &mut bits[..], &mut sums[..])
            .unwrap_or_else(|e| core_err("pack", e));
        let t_pack = counter.since(t1);
        let t2 = counter.now();
        plan.rows(&bits[..], &sums[..], 0, weights)
            .unwrap_or_else(|e| core_err("rows", e));
        let t_rows = counter.since(t2);
        let crc = crc_i32(weights);
        defmt::println!("store crc {=u32:#010x}", crc);
        let sc = plan.scale();
        if (sc.shift, sc.den) != (h.scale_shift, h.scale_den) {
            defmt::error!(
                "weight scale 2^{=u32}/{=u64}, host 2^{=u32}/{=u64}",
                sc.shift,
                sc.den,
                h.scale_shift,
                h.scale_den
            );
            matched = false;
        }
        if crc != h.weights_crc {
            defmt::error!("host weights crc {=u32:#010x}", h.weights_crc);
            matched = false;
        }
        // Element by element against the host's weights in flash.
        let mut differ = 0u32;
        for (i, (&w, c)) in weights.iter().zip(h.weights.chunks_exact(4)).enumerate() {
            let mut hw = [0i32; 1];
            read_i32s(c, &mut hw);
            if w != hw[0] {
                if differ == 0 {
                    defmt::error!("weight {=usize}: device {=i32}, host {=i32}", i, w, hw[0]);
                }
                differ += 1;
            }
        }
        if differ != 0 || CRC.checksum(h.weights) != crc {
            defmt::error!("{=u32} weights differ from the host's in flash", differ);
            matched = false;
        } else {
            defmt::info!(
                "storage: {=usize} weights equal the host's in flash (scale 2^{=u32}/{=u64})",
                n * n,
                sc.shift,
                sc.den
            );
        }

        let dynamics = |u| {
            Dynamics::new(n, u, Activation::Sign, h.tie_rule(), h.theta, 1)
                .unwrap_or_else(|e| core_err("Dynamics::new", e))
        };
        let sync = dynamics(Update::Synchronous);
        let asyn = dynamics(Update::Asynchronous);
        sync.check_weights(weights)
            .unwrap_or_else(|e| core_err("check_weights", e));

        let (mut st_sync, mut st_async, mut st_sweep, mut st_energy) = (
            Stat::default(),
            Stat::default(),
            Stat::default(),
            Stat::default(),
        );
        let mut bad = 0u32;
        for i in 0..h.cues as usize {
            let c: CueRecord<'_> = match h.cue(i) {
                Ok(c) => c,
                Err(e) => {
                    defmt::error!("hopfield.bin cue {=usize} rejected: {}", i, e);
                    rt::exit(rt::EXIT_FIXTURE)
                }
            };
            if c.target as usize >= p {
                fixture_err("cue target beyond the patterns");
            }
            let s = &mut s[..n];
            for (d, &v) in s.iter_mut().zip(c.state) {
                *d = i32::from(v as i8);
            }
            let dyn_ = if c.asynchronous { &asyn } else { &sync };
            dyn_.check_state(s)
                .unwrap_or_else(|e| core_err("check_state", e));
            let mut rng = Rng::new(c.seed);
            let t0 = counter.now();
            let out = dyn_
                .recall(
                    weights,
                    s,
                    &mut a[..],
                    &mut b[..],
                    &mut order[..],
                    &mut rng,
                    h.max_sweeps,
                    |_, _| {},
                )
                .unwrap_or_else(|e| core_err("recall", e));
            let insns = counter.since(t0);
            let t1 = counter.now();
            let e2 = dyn_
                .energy2(weights, s)
                .unwrap_or_else(|e| core_err("energy2", e));
            st_energy.add(counter.since(t1));
            let tgt = &mut target[..n];
            let row = c.target as usize * n;
            for (d, &v) in tgt.iter_mut().zip(&patterns[row..row + n]) {
                *d = i32::from(v);
            }
            let ov = overlap(s, tgt);
            let crc = crc_i32(s);
            defmt::println!(
                "cue {=usize} {=str} target {=u16} flipped {=u16} sweeps {=u32} converged {=u8} cycle {=u8} overlap {=i64} crc {=u32:#010x} energy2 {=i128}",
                i,
                if c.asynchronous { "async" } else { "sync" },
                c.target,
                c.flipped,
                out.sweeps,
                u8::from(out.converged),
                u8::from(out.cycle),
                ov,
                crc,
                e2
            );
            let ok = out.sweeps == c.sweeps
                && out.converged == c.converged
                && out.cycle == c.cycle
                && crc == c.crc
                && ov == i64::from(c.overlap)
                && e2 == i128::from(c.energy2);
            if !ok {
                defmt::error!(
                    "cue {=usize}: host expects sweeps {=u32} converged {=bool} cycle {=bool} overlap {=i32} crc {=u32:#010x} energy2 {=i64}",
                    i,
                    c.sweeps,
                    c.converged,
                    c.cycle,
                    c.overlap,
                    c.crc,
                    c.energy2
                );
                bad += 1;
            }
            if c.asynchronous {
                st_async.add(insns);
            } else {
                st_sync.add(insns);
                if let Some(v) = insns {
                    st_sweep.add(Some(v / out.sweeps.max(1)));
                }
            }
            defmt::info!(
                "cue {=usize}: instructions {=?} {=str}",
                i,
                insns,
                if ok { "ok" } else { "MISMATCH" }
            );
        }

        if counter.ok() {
            let total = t_plan.unwrap_or(0) + t_pack.unwrap_or(0) + t_rows.unwrap_or(0);
            defmt::println!(
                "instructions for storage: {=u32} (plan {=?}, pack {=?}, rows {=?})",
                total,
                t_plan,
                t_pack,
                t_rows
            );
            defmt::println!(
                "instructions per recall: sync mean {=u64} max {=u32} ({=u32} cues, mean {=u64} per sweep), async mean {=u64} max {=u32} ({=u32} cues)",
                st_sync.mean(),
                st_sync.max,
                st_sync.n,
                st_sweep.mean(),
                st_async.mean(),
                st_async.max,
                st_async.n
            );
            defmt::println!(
                "instructions per energy2: mean {=u64} max {=u32}",
                st_energy.mean(),
                st_energy.max
            );
        } else {
            defmt::println!("instructions per recall: counter unavailable");
        }
        let mem = rt::memory();
        defmt::println!(
            "memory: static {=u32} B, stack high-water {=u32} B, total {=u32} B",
            mem.static_ram,
            mem.stack_high_water,
            mem.static_ram + mem.stack_high_water
        );
        if matched && bad == 0 {
            defmt::println!(
                "verdict: storage and all {=u16} recalls equal the host",
                h.cues
            );
            rt::exit(rt::EXIT_OK)
        } else {
            defmt::error!(
                "verdict: weights {=str}, {=u32}/{=u16} recalls differ",
                if matched { "equal" } else { "DIFFER" },
                bad,
                h.cues
            );
            rt::exit(rt::EXIT_MISMATCH)
        }
    })
}
