//! SpikeSEG's event pipeline on the device, every number from `hebb-core`:
//! 1. hot pixels: `filter::count_pixels` over the calibration stretch, `filter::mark_hot`;
//! 2. the stream, event by event from flash: `filter::is_hot`, then
//!    `filter::BackgroundFilter::judge`; kept events collect in the current window (windows
//!    from the first kept event, the encoder's length, stride = length, empty ones skipped,
//!    as the host's `EventInput::samples_at` cuts them);
//! 3. per window: `voxel::voxelize`, `encode` (`EncodeMode::Events`), every layer through
//!    `layer::simulate` (no competition) and `pool::pool_times`, then every spike of the last
//!    layer through `decode::hulk`, the masks OR-ed into the window's mask.
//!
//! Each window's results and the filter counts are compared with the host's.

use super::files::Events;
use super::stat::Stat;
use crate::rt::{self, Counter};
use crate::sizes::events::*;
use core::cell::RefCell;
use cortex_m::interrupt::Mutex;
use hebb_core::decode::{DecodeParams, HulkScratch, Spike, hulk};
use hebb_core::encode::{EncodeMode, EncodeScratch, encode};
use hebb_core::events::Event;
use hebb_core::events::filter::{BackgroundFilter, Verdict, count_pixels, is_hot, mark_hot};
use hebb_core::events::voxel::{VoxelParams, voxelize};
use hebb_core::layer::{SimScratch, simulate};
use hebb_core::model::{CRC, Model};
use hebb_core::network;
use hebb_core::pool::pool_times;
use hebb_core::spikes::NEVER;

/// Events decoded from flash per `count_pixels` call during calibration.
const CHUNK: usize = 32;

struct Buffers {
    /// Background filter memory (one stamp per sensor pixel).
    last: [u64; SENSOR],
    /// Hot-pixel bit set.
    hot: [u32; HOT_WORDS],
    /// Kept events of the current window.
    kept: [Event; KEPT],
    /// Calibration counts, then a layer's input events by time, then the decoder's sums.
    u32s: [u32; U32S],
    /// The encoder's potentials, then the decoder's encoder sums (as `i64`).
    u64s: [u64; U64S],
    /// Potentials of a layer.
    v: [i32; V],
    /// The voxel grid, then the decoder's pre-pool map, activity maps and one mask.
    u8s: [u8; U8S],
    /// First-spike times of every layer before pooling.
    pre: [u8; PRE_TIMES],
    /// First-spike times of every level (encoder, every layer after pooling).
    out: [u8; OUT_TIMES],
    pos_first: [u8; POS],
    touched: [u32; POS_WORDS],
    excl_pos: [u32; POS_WORDS],
    excl_map: [u32; MAP_WORDS],
    starts: [u32; STARTS],
    filters: [i32; FILTERS],
    thresholds: [i32; THRESHOLDS],
    /// The window's mask (union over instances).
    mask: [u8; PLANE],
}

const EV0: Event = Event::new(0, 0, 0, false);

// Zero-initialised, so it lives in .bss; borrowed once, with interrupts off.
static BUFFERS: Mutex<RefCell<Buffers>> = Mutex::new(RefCell::new(Buffers {
    last: [0; SENSOR],
    hot: [0; HOT_WORDS],
    kept: [EV0; KEPT],
    u32s: [0; U32S],
    u64s: [0; U64S],
    v: [0; V],
    u8s: [0; U8S],
    pre: [0; PRE_TIMES],
    out: [0; OUT_TIMES],
    pos_first: [0; POS],
    touched: [0; POS_WORDS],
    excl_pos: [0; POS_WORDS],
    excl_map: [0; MAP_WORDS],
    starts: [0; STARTS],
    filters: [0; FILTERS],
    thresholds: [0; THRESHOLDS],
    mask: [0; PLANE],
}));

fn core_err(what: &str, e: hebb_core::Error) -> ! {
    defmt::error!("{=str} failed: {}", what, e);
    rt::exit(rt::EXIT_CORE)
}

fn fixture_err(what: &str) -> ! {
    defmt::error!("events.bin: {=str}", what);
    rt::exit(rt::EXIT_FIXTURE)
}

/// Views `u64` words as `i64` in place.
fn as_i64(b: &mut [u64]) -> &mut [i64] {
    // SAFETY: `u64` and `i64` have the same size and alignment and every bit pattern is valid
    // for both, so the middle part is the whole slice.
    let (head, mid, _) = unsafe { b.align_to_mut::<i64>() };
    debug_assert!(head.is_empty());
    mid
}

fn spikes(t: &[u8]) -> u32 {
    t.iter().filter(|&&s| s != NEVER).count() as u32
}

/// Offsets of consecutive maps of lengths `len` in one buffer (`off[i]..off[i + 1]`).
fn offsets<const N: usize>(len: impl Iterator<Item = usize>) -> [usize; N] {
    let mut off = [0; N];
    let mut acc = 0;
    for (o, l) in off.iter_mut().skip(1).zip(len) {
        acc += l;
        *o = acc;
    }
    off
}

/// Instructions of a window's stages.
#[derive(Default, Clone, Copy)]
struct Stages {
    voxel: Stat,
    encode: Stat,
    layers: Stat,
    decode: Stat,
    total: Stat,
}

/// Runs the pipeline on `bytes` (the 4-aligned image of `events.bin`) and exits: 0 when every
/// result equals the host's, 1 on a difference, 2 when the model is rejected, 3 for a damaged
/// or oversized fixture, 4 when a core function fails.
pub fn run(bytes: &[u8]) -> ! {
    let counter = Counter::start();
    let f = Events::parse(bytes).unwrap_or_else(|e| {
        defmt::error!("events.bin rejected: {}", e);
        rt::exit(rt::EXIT_FIXTURE)
    });
    let model = Model::decode(f.model).unwrap_or_else(|e| {
        defmt::error!("model rejected: {}", e);
        rt::exit(rt::EXIT_MODEL)
    });
    let enc = model.encoder;
    let EncodeMode::Events(ev) = enc.mode() else {
        fixture_err("the model's encoder takes images")
    };
    let Some(win) = ev.windows() else {
        fixture_err("the model's encoder cuts no windows")
    };
    if win.stride_us() != win.length_us() {
        fixture_err("windows must tile the stream (stride = length)");
    }
    let nl = model.arch.len();
    let (sw, sh) = (f.sensor_w, f.sensor_h);
    let px = usize::from(sw) * usize::from(sh);
    let plane = usize::from(enc.w()) * usize::from(enc.h());
    defmt::info!(
        "events: {=u32} events on a {=u16}x{=u16} sensor, {=u16} windows of {=u64} us; raster {=u16}x{=u16}, {=u8} bins, {=usize} layers",
        f.n_events,
        sw,
        sh,
        f.n_windows,
        win.length_us(),
        enc.w(),
        enc.h(),
        enc.steps(),
        nl
    );
    if usize::from(f.levels) != nl + 1
        || nl > LAYERS
        || px > SENSOR
        || enc.n_in() > U8S
        || enc.n_out() > U64S
        || plane > PLANE
        || f.max_kept() as usize > KEPT
    {
        fixture_err("the model or the stream does not fit the static buffers");
    }
    let vp = VoxelParams::new(
        u16::from(enc.steps()),
        (enc.w(), enc.h()),
        (sw, sh),
        ev.channels == 2,
        ev.binning,
    )
    .unwrap_or_else(|e| core_err("voxel params", e));
    let bf = BackgroundFilter::new(sw, sh, u64::from(f.support_us), u64::from(f.refractory_us))
        .unwrap_or_else(|e| core_err("background filter", e));
    let steps = enc.steps();
    // Level lengths: the encoder's output, then every layer's (after pooling).
    let lvl: [usize; LAYERS + 2] = offsets(
        core::iter::once(enc.n_out()).chain(model.arch.iter().map(|a| a.out_shape().len())),
    );
    let pre_off: [usize; LAYERS + 1] = offsets(model.arch.iter().map(|a| a.conv.output().len()));
    let th_off: [usize; LAYERS + 1] =
        offsets(model.arch.iter().map(|a| usize::from(a.conv.out_c())));
    let (hn, _) = hebb_core::decode::hulk_scratch_len(&model);

    cortex_m::interrupt::free(|cs| {
        let mut guard = BUFFERS.borrow(cs).borrow_mut();
        let Buffers {
            last,
            hot,
            kept,
            u32s,
            u64s,
            v,
            u8s,
            pre,
            out,
            pos_first,
            touched,
            excl_pos,
            excl_map,
            starts,
            filters,
            thresholds,
            mask,
        } = &mut *guard;
        let nf =
            network::filters(&model, &mut filters[..]).unwrap_or_else(|e| core_err("filters", e));
        let filters = &filters[..nf];
        for l in 0..nl {
            network::thresholds(&model, l, &mut thresholds[th_off[l]..th_off[l + 1]])
                .unwrap_or_else(|e| core_err("thresholds", e));
        }
        let mut bad = 0u32;

        // 1. Hot pixels from the calibration stretch.
        let t = counter.now();
        let counts = &mut u32s[..px];
        counts.fill(0);
        let calib_end = f.t0 + u64::from(f.calib_us);
        let mut chunk = [EV0; CHUNK];
        let mut k = 0;
        for e in (0..f.n_events as usize).map_while(|i| f.event(i)) {
            if e.t >= calib_end {
                break;
            }
            chunk[k] = e;
            k += 1;
            if k == CHUNK {
                count_pixels(&chunk, sw, counts).unwrap_or_else(|e| core_err("count_pixels", e));
                k = 0;
            }
        }
        count_pixels(&chunk[..k], sw, counts).unwrap_or_else(|e| core_err("count_pixels", e));
        let hot_pixels = mark_hot(counts, f.hot_max, &mut hot[..])
            .unwrap_or_else(|e| core_err("mark_hot", e)) as u32;
        let t_calib = counter.since(t);

        // 2. The stream; 3. every window as it completes.
        let last = &mut last[..px];
        last.fill(0);
        let mut fc = [0u32; 6];
        fc[1] = hot_pixels;
        let (mut nk, mut first, mut start, mut wi) = (0usize, None::<u64>, 0u64, 0usize);
        let mut st = Stages::default();
        let mut filter_insns = 0u32;
        let mut window = |kept: &[Event], start: u64, wi: usize, st: &mut Stages| -> bool {
            let t_all = counter.now();
            // Voxel grid.
            let grid = &mut u8s[..vp.len()];
            let t = counter.now();
            voxelize(&vp, kept, start, grid).unwrap_or_else(|e| core_err("voxelize", e));
            st.voxel.add(counter.since(t));
            let voxel_crc = CRC.checksum(grid);
            // Encoder.
            let t = counter.now();
            let (enc_t, _) = out.split_at_mut(lvl[1]);
            encode(
                &enc,
                filters,
                grid,
                &mut EncodeScratch {
                    resp: &mut [],
                    rows: &mut [],
                    keys: &mut u64s[..],
                },
                enc_t,
            )
            .unwrap_or_else(|e| core_err("encode", e));
            st.encode.add(counter.since(t));
            // Layers, time-stepped, no competition.
            let t = counter.now();
            for (l, (a, blob)) in model.arch.iter().zip(model.layers.iter()).enumerate() {
                let (lo, hi) = out.split_at_mut(lvl[l + 1]);
                let input = &lo[lvl[l]..];
                let output = &mut hi[..lvl[l + 2] - lvl[l + 1]];
                let tf = &mut pre[pre_off[l]..pre_off[l + 1]];
                simulate(
                    &a.conv,
                    &blob.view(),
                    &thresholds[th_off[l]..th_off[l + 1]],
                    &a.neuron,
                    steps,
                    input,
                    None,
                    false,
                    &mut SimScratch {
                        v: &mut v[..],
                        t_first: tf,
                        pos_first: &mut pos_first[..],
                        touched: &mut touched[..],
                        excl_pos: &mut excl_pos[..],
                        excl_map: &mut excl_map[..],
                        cand: &mut [],
                        order: &mut u32s[..],
                        starts: &mut starts[..],
                    },
                    &mut [],
                )
                .unwrap_or_else(|e| core_err("simulate", e));
                let tf = &pre[pre_off[l]..pre_off[l + 1]];
                match &a.pool {
                    Some(p) => {
                        pool_times(p, tf, output, None).unwrap_or_else(|e| core_err("pool", e))
                    }
                    None => output.copy_from_slice(tf),
                }
            }
            st.layers.add(counter.since(t));
            let mut sp = [0u32; LAYERS + 1];
            for (l, s) in sp.iter_mut().enumerate().take(nl + 1) {
                *s = spikes(&out[lvl[l]..lvl[l + 1]]);
            }
            // Decoder: every spike of the last layer.
            let t = counter.now();
            mask[..plane].fill(0);
            let (hpre, rest) = u8s.split_at_mut(hn);
            let (acts, rest) = rest.split_at_mut(lvl[nl + 1]);
            let one = &mut rest[..plane];
            let mut views: [&mut [u8]; LAYERS + 1] = core::array::from_fn(|_| &mut [][..]);
            let mut rest = acts;
            for (l, view) in views.iter_mut().enumerate().take(nl + 1) {
                let (a, b) = core::mem::take(&mut rest).split_at_mut(lvl[l + 1] - lvl[l]);
                *view = a;
                rest = b;
            }
            let times: [&[u8]; LAYERS] = core::array::from_fn(|l| {
                if l < nl {
                    &pre[pre_off[l]..pre_off[l + 1]]
                } else {
                    &[][..]
                }
            });
            let last_o = model.arch[nl - 1].out_shape();
            let lp = last_o.plane();
            let top = &out[lvl[nl]..lvl[nl + 1]];
            let mut instances = 0u32;
            for (i, &s) in top.iter().enumerate().filter(|&(_, &s)| s != NEVER) {
                let spike = Spike {
                    map: (i / lp) as u16,
                    y: ((i % lp) / usize::from(last_o.w)) as u16,
                    x: ((i % lp) % usize::from(last_o.w)) as u16,
                    step: s,
                };
                let n = hulk(
                    &model,
                    spike,
                    &times[..nl],
                    &DecodeParams::default(),
                    &mut HulkScratch {
                        acc: &mut u32s[..],
                        pre: &mut *hpre,
                        enc: as_i64(&mut u64s[..]),
                    },
                    &mut views[..nl + 1],
                    one,
                )
                .unwrap_or_else(|e| core_err("hulk", e));
                if n > 0 {
                    instances += 1;
                    for (m, &o) in mask.iter_mut().zip(one.iter()) {
                        *m |= u8::from(o != 0);
                    }
                }
            }
            let mask = &mask[..plane];
            let mask_pixels = mask.iter().filter(|&&m| m != 0).count() as u32;
            let mask_crc = CRC.checksum(mask);
            st.decode.add(counter.since(t));
            let insns = counter.since(t_all);
            st.total.add(insns);
            let rel = (start - f.t0) as u32;
            defmt::println!(
                "window {=usize} start {=u32} kept {=usize} voxel {=u32:#010x} spikes {} instances {=u32} mask {=u32} crc {=u32:#010x}",
                wi,
                rel,
                kept.len(),
                voxel_crc,
                &sp[..nl + 1],
                instances,
                mask_pixels,
                mask_crc
            );
            defmt::info!("  window {=usize}: instructions {=?}", wi, insns);
            let Some(r) = f.window(wi) else {
                defmt::error!("window {=usize}: the host cut fewer windows", wi);
                return false;
            };
            let levels_ok = (0..=nl).all(|l| sp[l] == r.word(3 + l));
            let ok = levels_ok
                && (rel, kept.len() as u32, voxel_crc) == (r.word(0), r.word(1), r.word(2))
                && (instances, mask_pixels, mask_crc)
                    == (r.word(4 + nl), r.word(5 + nl), r.word(6 + nl));
            if !ok {
                defmt::error!("window {=usize} differs from the host", wi);
            }
            ok
        };
        let len = win.length_us();
        let t_stream = counter.now();
        for e in (0..f.n_events as usize).map_while(|i| f.event(i)) {
            fc[0] += 1;
            let t = counter.now();
            if is_hot(&hot[..], sw, &e) {
                fc[2] += 1;
                filter_insns = filter_insns.wrapping_add(counter.since(t).unwrap_or(0));
                continue;
            }
            let verdict = bf
                .judge(last, &e)
                .unwrap_or_else(|e| core_err("background filter", e));
            filter_insns = filter_insns.wrapping_add(counter.since(t).unwrap_or(0));
            match verdict {
                Verdict::Keep => {}
                Verdict::Refractory => {
                    fc[3] += 1;
                    continue;
                }
                Verdict::Unsupported => {
                    fc[4] += 1;
                    continue;
                }
            }
            fc[5] += 1;
            match first {
                None => {
                    first = Some(e.t);
                    start = e.t;
                }
                Some(f0) if e.t >= start + len => {
                    bad += u32::from(!window(&kept[..nk], start, wi, &mut st));
                    wi += 1;
                    nk = 0;
                    start = f0 + (e.t - f0) / len * len;
                }
                Some(_) => {}
            }
            let Some(slot) = kept.get_mut(nk) else {
                fixture_err("a window keeps more events than the buffer holds");
            };
            *slot = e;
            nk += 1;
        }
        if nk > 0 {
            bad += u32::from(!window(&kept[..nk], start, wi, &mut st));
            wi += 1;
        }
        let t_all = counter.since(t_stream);
        defmt::println!(
            "filter raw {=u32} hot_pixels {=u32} hot {=u32} refractory {=u32} unsupported {=u32} kept {=u32}",
            fc[0],
            fc[1],
            fc[2],
            fc[3],
            fc[4],
            fc[5]
        );
        if fc != f.filter {
            defmt::error!("filter counts differ from the host's");
            bad += 1;
        }
        if wi != usize::from(f.n_windows) {
            defmt::error!("{=usize} windows, the host cut {=u16}", wi, f.n_windows);
            bad += 1;
        }
        if counter.ok() {
            let total = u64::from(t_calib.unwrap_or(0)) + u64::from(t_all.unwrap_or(0));
            defmt::println!(
                "instructions per window: mean {=u64} max {=u32} (voxel {=u64}, encoder {=u64}, layers {=u64}, decoder {=u64})",
                st.total.mean(),
                st.total.max,
                st.voxel.mean(),
                st.encode.mean(),
                st.layers.mean(),
                st.decode.mean()
            );
            defmt::println!(
                "instructions per 1000 events: {=u64} (whole run: calibration {=?}, filters {=u32}, {=u32} windows, total {=u64})",
                total * 1000 / u64::from(fc[0].max(1)),
                t_calib,
                filter_insns,
                st.total.n,
                total
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
            defmt::println!("verdict: every window and the filter counts equal the host's");
            rt::exit(rt::EXIT_OK)
        } else {
            defmt::error!("verdict: {=u32} results differ from the host's", bad);
            rt::exit(rt::EXIT_MISMATCH)
        }
    })
}
