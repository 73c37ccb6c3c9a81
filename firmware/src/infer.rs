//! Classification of the embedded test digits with the core's inference path:
//! `Model::decode` (CRC and shapes) → `network::features` → `ReadoutBlob::scores` →
//! `readout::argmax`, weights read from flash through `LayerBlob::view()`.

use crate::fixture::{Samples, crc_words, model_body_crc, pingpong};
use crate::rt::{self, Counter};
use crate::sizes::infer::*;
use core::cell::RefCell;
use cortex_m::interrupt::Mutex;
use hebb_core::encode::EncodeScratch;
use hebb_core::heapless;
use hebb_core::model::{LayerWeights, MAX_LAYERS, Model};
use hebb_core::network::{self, InferScratch};
use hebb_core::readout::argmax;

/// Every buffer inference needs, sized at build time for the shipped models.
struct Buffers {
    resp: [i32; ENC_OUT],
    rows: [i64; ENC_PLANE],
    keys: [u64; ENC_OUT],
    a: [u8; MAP_A],
    b: [u8; MAP_B],
    v_row: [i32; MAX_ROW],
    filters: [i32; ENC_KERNEL],
    thresholds: [i32; THRESHOLDS],
    features: [u32; FEATURE_WORDS],
    scores: [i32; N_CLASSES],
}

// Zero-initialised, so it lives in .bss; borrowed once, with interrupts off.
static BUFFERS: Mutex<RefCell<Buffers>> = Mutex::new(RefCell::new(Buffers {
    resp: [0; ENC_OUT],
    rows: [0; ENC_PLANE],
    keys: [0; ENC_OUT],
    a: [0; MAP_A],
    b: [0; MAP_B],
    v_row: [0; MAX_ROW],
    filters: [0; ENC_KERNEL],
    thresholds: [0; THRESHOLDS],
    features: [0; FEATURE_WORDS],
    scores: [0; N_CLASSES],
}));

/// Checks that a static buffer is large enough for the model at hand.
fn fits(what: &str, have: usize, need: usize) {
    if need > have {
        defmt::error!(
            "static buffer `{=str}` too small for this model: need {=usize}, have {=usize} (rebuild: build.rs sizes buffers from the fixtures)",
            what,
            need,
            have
        );
        rt::exit(rt::EXIT_FIXTURE);
    }
}

fn core_err(what: &str, e: hebb_core::Error) -> ! {
    defmt::error!("{=str} failed: {}", what, e);
    rt::exit(rt::EXIT_CORE)
}

/// `Model::decode` (magic, version, CRC-32, postcard, shapes); a rejected model ends the run
/// with [`rt::EXIT_MODEL`]. Not inlined, so the decoder's temporaries are off the stack before
/// inference starts.
#[inline(never)]
fn decode<'a>(model_bytes: &'a [u8], counter: &Counter) -> Model<'a> {
    let t0 = counter.now();
    let model = match Model::decode(model_bytes) {
        Ok(m) => m,
        Err(e) => {
            defmt::error!("model rejected: {} ({})", e, defmt::Display2Format(&e));
            rt::exit(rt::EXIT_MODEL)
        }
    };
    if let Some(n) = counter.since(t0) {
        defmt::info!("decode: {=u32} instructions (CRC + postcard + validate)", n);
    }
    model
}

/// Measures the stages of one inference by calling, one at a time on the same buffers, the core
/// functions `network::features` is made of (`encode::encode`, then `layer::forward_final` per
/// layer), then `ReadoutBlob::scores`. Adds each stage's instruction count to `sums`
/// (`[encode, layer 1, …, readout]`) and returns the feature CRC, which the caller compares with
/// the verified one so the breakdown is known to describe the same computation.
#[allow(clippy::too_many_arguments)]
fn stages(
    counter: &Counter,
    model: &Model<'_>,
    filters: &[i32],
    weights: &[LayerWeights<'_>],
    thr: &[&[i32]],
    image: &[u8],
    s: &mut InferScratch<'_>,
    features: &mut [u32],
    scores: &mut [i32],
    sums: &mut [u64; MAX_LAYERS + 2],
) -> hebb_core::Result<u32> {
    let InferScratch { enc, a, b, v_row } = s;
    let t = counter.now();
    hebb_core::encode::encode(&model.encoder, filters, image, enc, a)?;
    sums[0] += u64::from(counter.since(t).unwrap_or(0));
    let (mut src, mut dst) = (&mut **a, &mut **b);
    for (l, arch) in model.arch.iter().enumerate() {
        let t = counter.now();
        hebb_core::layer::forward_final(
            &arch.conv,
            &weights[l],
            thr[l],
            arch.pool.as_ref(),
            src,
            v_row,
            dst,
        )?;
        sums[l + 1] += u64::from(counter.since(t).unwrap_or(0));
        core::mem::swap(&mut src, &mut dst);
    }
    features.fill(0);
    let nf = model.feature_shape().len();
    for (i, &t) in src[..nf].iter().enumerate() {
        if t != hebb_core::spikes::NEVER {
            features[i / 32] |= 1 << (i % 32);
        }
    }
    let t = counter.now();
    if let Some(r) = &model.readout {
        r.scores(features, scores)?;
    }
    sums[model.arch.len() + 1] += u64::from(counter.since(t).unwrap_or(0));
    Ok(crc_words(features))
}

/// Decodes `model_bytes`, classifies every sample of `samples_bytes` and exits: 0 when every
/// prediction and feature checksum equals the host's, else non-zero (see [`rt`]).
pub fn run(name: &str, model_bytes: &[u8], samples_bytes: &[u8]) -> ! {
    let counter = Counter::start();
    defmt::info!(
        "{=str}: model {=usize} B, samples {=usize} B",
        name,
        model_bytes.len(),
        samples_bytes.len()
    );

    let model = decode(model_bytes, &counter);
    let p = &model.provenance;
    let bits = model.layers.first().map_or(0, |l| l.bits);
    defmt::info!(
        "model: preset {=str}, data {=str}, seed {=u64}, {=usize} layers, {=u8}-bit weights, {=usize} features, writer {=str}",
        p.preset,
        p.dataset,
        p.seed,
        model.arch.len(),
        bits,
        model.feature_shape().len(),
        p.writer
    );
    let Some(readout) = model.readout else {
        defmt::error!("model has no readout: nothing to classify with");
        rt::exit(rt::EXIT_MODEL)
    };

    let samples = match Samples::parse(samples_bytes) {
        Ok(s) => s,
        Err(e) => {
            defmt::error!("samples rejected: {}", e);
            rt::exit(rt::EXIT_FIXTURE)
        }
    };
    if Some(samples.model_crc) != model_body_crc(model_bytes) {
        defmt::error!("samples were written for another model (model CRC differs)");
        rt::exit(rt::EXIT_FIXTURE);
    }
    let e = &model.encoder;
    let nf_words = hebb_core::spikes::words(model.feature_shape().len());
    if (samples.rows, samples.cols) != (e.h(), e.w())
        || samples.n_classes != readout.n_classes
        || samples.feature_words as usize != nf_words
    {
        defmt::error!("samples do not match the model's input, classes or features");
        rt::exit(rt::EXIT_FIXTURE);
    }
    fits("resp/keys", ENC_OUT, e.n_out());
    fits("rows", ENC_PLANE, e.h() as usize * e.w() as usize);
    fits("filters", ENC_KERNEL, e.n_kernel());
    let (need_a, need_b) = pingpong(&model);
    fits("a", MAP_A, need_a);
    fits("b", MAP_B, need_b);
    fits("v_row", MAX_ROW, network::max_row(&model.arch));
    fits("features", FEATURE_WORDS, nf_words);
    fits("scores", N_CLASSES, readout.n_classes as usize);
    let n_thr: usize = model.arch.iter().map(|a| a.conv.out_c() as usize).sum();
    fits("thresholds", THRESHOLDS, n_thr);

    cortex_m::interrupt::free(|cs| {
        let mut guard = BUFFERS.borrow(cs).borrow_mut();
        let Buffers {
            resp,
            rows,
            keys,
            a,
            b,
            v_row,
            filters,
            thresholds,
            features,
            scores,
        } = &mut *guard;

        let t0 = counter.now();
        let n_filt = network::filters(&model, filters).unwrap_or_else(|e| core_err("filters", e));
        let mut thr: heapless::Vec<&[i32], MAX_LAYERS> = heapless::Vec::new();
        let mut rest: &mut [i32] = thresholds;
        for l in 0..model.arch.len() {
            let m = model.arch[l].conv.out_c() as usize;
            let (head, tail) = rest.split_at_mut(m);
            network::thresholds(&model, l, head).unwrap_or_else(|e| core_err("thresholds", e));
            // Capacity is MAX_LAYERS, the model's own bound: cannot overflow.
            let _ = thr.push(head);
            rest = tail;
        }
        let weights: heapless::Vec<LayerWeights<'_>, MAX_LAYERS> =
            model.layers.iter().map(|l| l.view()).collect();
        if let Some(n) = counter.since(t0) {
            defmt::info!("setup: {=u32} instructions (filters, thresholds)", n);
        }

        let mut scratch = InferScratch {
            enc: EncodeScratch { resp, rows, keys },
            a,
            b,
            v_row,
        };
        let nc = readout.n_classes as usize;
        defmt::info!("stack after setup: {=u32} B", rt::memory().stack_high_water);
        let (mut correct, mut matched) = (0u32, 0u32);
        let (mut sum, mut max, mut min) = (0u64, 0u32, u32::MAX);
        for i in 0..samples.n as usize {
            let s = samples.get(i);
            let t0 = counter.now();
            let active = network::features(
                &model,
                &filters[..n_filt],
                &weights,
                &thr,
                s.image,
                &mut scratch,
                &mut features[..nf_words],
            )
            .unwrap_or_else(|e| core_err("features", e));
            readout
                .scores(&features[..nf_words], &mut scores[..nc])
                .unwrap_or_else(|e| core_err("scores", e));
            let pred = argmax(&scores[..nc]).unwrap_or(0) as u8;
            let insns = counter.since(t0);
            let crc = crc_words(&features[..nf_words]);
            defmt::println!("result {=usize} pred {=u8} crc {=u32:#010x}", i, pred, crc);
            let ok = pred == s.expected_class
                && crc == s.expected_crc
                && active == s.expected_active as usize;
            if !ok {
                defmt::error!(
                    "sample {=usize}: pred {=u8} crc {=u32:#010x} active {=usize}, host expects pred {=u8} crc {=u32:#010x} active {=u16}",
                    i,
                    pred,
                    crc,
                    active,
                    s.expected_class,
                    s.expected_crc,
                    s.expected_active
                );
            }
            if i == 0 {
                defmt::info!(
                    "stack after sample 0: {=u32} B",
                    rt::memory().stack_high_water
                );
            }
            matched += u32::from(ok);
            correct += u32::from(pred == s.label);
            if let Some(n) = insns {
                sum += u64::from(n);
                max = max.max(n);
                min = min.min(n);
            }
            defmt::info!(
                "sample {=usize}: label {=u8} pred {=u8} active {=usize} instructions {=?} {=str}",
                i,
                s.label,
                pred,
                active,
                insns,
                if ok { "ok" } else { "MISMATCH" }
            );
        }
        let n = u32::from(samples.n);
        if counter.ok() {
            let mut sums = [0u64; MAX_LAYERS + 2];
            for i in 0..samples.n as usize {
                let s = samples.get(i);
                let crc = stages(
                    &counter,
                    &model,
                    &filters[..n_filt],
                    &weights,
                    &thr,
                    s.image,
                    &mut scratch,
                    &mut features[..nf_words],
                    &mut scores[..nc],
                    &mut sums,
                )
                .unwrap_or_else(|e| core_err("stage profile", e));
                if crc != s.expected_crc {
                    defmt::warn!(
                        "stage profile of sample {=usize} diverged from features()",
                        i
                    );
                }
            }
            let n = u64::from(samples.n.max(1));
            let l = model.arch.len();
            defmt::println!(
                "stages (mean instructions): encode {=u64}, layers {=[?]}, readout {=u64}",
                sums[0] / n,
                [sums[1] / n, sums[2] / n, sums[3] / n, sums[4] / n][..l],
                sums[l + 1] / n
            );
        }
        defmt::println!(
            "accuracy {=u32}/{=u32} ({=u8}-bit weights)",
            correct,
            n,
            bits
        );
        if counter.ok() && n > 0 {
            defmt::println!(
                "instructions per inference: mean {=u64} min {=u32} max {=u32}",
                sum / u64::from(n),
                min,
                max
            );
        } else {
            defmt::println!("instructions per inference: counter unavailable");
        }
        let m = rt::memory();
        defmt::println!(
            "memory: static {=u32} B, stack high-water {=u32} B, total {=u32} B",
            m.static_ram,
            m.stack_high_water,
            m.static_ram + m.stack_high_water
        );
        if matched == n {
            defmt::println!("verdict: {=u32}/{=u32} samples equal the host", matched, n);
            rt::exit(rt::EXIT_OK)
        } else {
            defmt::error!(
                "verdict: {=u32}/{=u32} samples differ from the host",
                n - matched,
                n
            );
            rt::exit(rt::EXIT_MISMATCH)
        }
    })
}
