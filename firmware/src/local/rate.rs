//! On-device rate rules: Oja's rule (`oja::oja_step`) or Sanger's GHA (`oja::sanger_step`) on
//! a linear layer in Q5.26, one step per sample of the stream in `oja.bin` / `sanger.bin` at the
//! rate `RateSchedule::rate(t)`. The weights live in RAM; their CRC-32 at every checkpoint and
//! at the end is compared with the host's, which ran the same core calls.

use super::files::{Rate, crc_i32, read_i32s};
use super::stat::Stat;
use crate::rt::{self, Counter};
use crate::sizes::rate::*;
use core::cell::RefCell;
use cortex_m::interrupt::Mutex;
use hebb_core::local::oja;

struct Buffers {
    w: [i32; W],
    x: [i32; N],
    y: [i32; K],
    resid: [i128; N],
}

// Zero-initialised, so it lives in .bss; borrowed once, with interrupts off.
static BUFFERS: Mutex<RefCell<Buffers>> = Mutex::new(RefCell::new(Buffers {
    w: [0; W],
    x: [0; N],
    y: [0; K],
    resid: [0; N],
}));

fn core_err(what: &str, e: hebb_core::Error) -> ! {
    defmt::error!("{=str} failed: {}", what, e);
    rt::exit(rt::EXIT_CORE)
}

fn fixture_err(name: &str, what: &str) -> ! {
    defmt::error!("{=str}.bin: {=str}", name, what);
    rt::exit(rt::EXIT_FIXTURE)
}

/// Trains the layer of `bytes` on its stream and exits: 0 when the weights at every checkpoint
/// and at the end equal the host's, 1 on a difference, 3 for a damaged or oversized fixture (or
/// one for another rule than `name`, `"oja"` or `"sanger"`), 4 when a core function fails.
pub fn run(name: &str, bytes: &[u8]) -> ! {
    let counter = Counter::start();
    let f = match Rate::parse(bytes) {
        Ok(f) => f,
        Err(e) => {
            defmt::error!("{=str}.bin rejected: {}", name, e);
            rt::exit(rt::EXIT_FIXTURE)
        }
    };
    let rule_name = if f.rule == 1 { "sanger" } else { "oja" };
    if rule_name != name {
        fixture_err(name, "holds another rule");
    }
    let schedule = f.schedule().unwrap_or_else(|e| core_err("schedule", e));
    let (n, k, m) = (f.n as usize, f.k as usize, f.m as usize);
    defmt::info!(
        "{=str}: {=usize} outputs x {=usize} inputs, {=usize} samples, normalise {=bool}, {}",
        name,
        k,
        n,
        m,
        f.normalize,
        schedule
    );
    // The buffers were sized by build.rs from the shipped files; re-check against what parsed.
    if n > N || k > K || k * n > W {
        fixture_err(name, "layer does not fit the static buffers");
    }
    cortex_m::interrupt::free(|cs| {
        let mut guard = BUFFERS.borrow(cs).borrow_mut();
        let Buffers { w, x, y, resid } = &mut *guard;
        let w = &mut w[..k * n];
        let x = &mut x[..n];
        if read_i32s(f.start, w) != k * n {
            fixture_err(name, "start weights");
        }
        defmt::info!("start weights crc {=u32:#010x}", crc_i32(w));
        let (mut st_step, mut st_rate) = (Stat::default(), Stat::default());
        let mut bad = 0u32;
        let mut cp = 0usize;
        let every = f.every as usize;
        for i in 0..m {
            if read_i32s(f.sample(i), x) != n {
                fixture_err(name, "sample");
            }
            let t0 = counter.now();
            let eta = schedule.rate(i as u64);
            st_rate.add(counter.since(t0));
            let t1 = counter.now();
            let r = if f.rule == 1 {
                oja::sanger_step(w, n, x, eta, f.normalize, &mut resid[..], &mut y[..k])
            } else {
                oja::oja_step(w, n, x, eta, f.normalize)
            };
            let insns = counter.since(t1);
            r.unwrap_or_else(|e| core_err(name, e));
            st_step.add(insns);
            if (i + 1) % every == 0 {
                let crc = crc_i32(w);
                defmt::println!("{=str} {=usize} crc {=u32:#010x}", name, i, crc);
                let host = f.checkpoint(cp);
                if host != Some(crc) {
                    defmt::error!("sample {=usize}: host expects crc {=?}", i, host);
                    bad += 1;
                }
                defmt::info!(
                    "sample {=usize}: rate {=i32} (Q5.26), instructions {=?}",
                    i,
                    eta,
                    insns
                );
                cp += 1;
            }
        }
        let fin = crc_i32(w);
        defmt::println!("final crc {=u32:#010x}", fin);
        if counter.ok() {
            defmt::println!(
                "instructions per {=str} update ({=usize}x{=usize}): mean {=u64} max {=u32}; rate(t) mean {=u64}",
                name,
                k,
                n,
                st_step.mean(),
                st_step.max,
                st_rate.mean()
            );
        } else {
            defmt::println!("instructions per update: counter unavailable");
        }
        let mem = rt::memory();
        defmt::println!(
            "memory: static {=u32} B, stack high-water {=u32} B, total {=u32} B",
            mem.static_ram,
            mem.stack_high_water,
            mem.static_ram + mem.stack_high_water
        );
        if bad == 0 && cp == f.checkpoints() && fin == f.final_crc {
            defmt::println!(
                "verdict: weights equal the host at all {=usize} checkpoints and at the end",
                cp
            );
            rt::exit(rt::EXIT_OK)
        } else {
            defmt::error!(
                "verdict: {=u32}/{=usize} checkpoints differ; final crc {=u32:#010x}, host {=u32:#010x}",
                bad,
                f.checkpoints(),
                fin,
                f.final_crc
            );
            rt::exit(rt::EXIT_MISMATCH)
        }
    })
}
