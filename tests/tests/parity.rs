//! Back-end parity: every back end must compute exactly the integers of the core.
//!
//! Each case is written once as a function of a [`Dev`] and expanded by [`test_device!`] into a
//! `_cpu` and a `_cuda` test (the pattern of candle's `test_device!`). The reference is always
//! the core itself (its functions called sample by sample, single-threaded). Without a usable
//! GPU the `_cuda` variants are reported as ignored by a plain `cargo test`; run them with
//! `-- --include-ignored` (on a GPU, or under `scripts/cuda-emu.sh`), where a missing device
//! prints `skipped: <reason>`, and with `HEBB_REQUIRE_CUDA=1` fails instead, so a GPU run cannot
//! silently skip.

use hebb::backend::cpu::{CpuBackend, SimBuffers, layer_output};
use hebb::backend::{Backend, FeatureSet, LayerState, LrState, SpikeCache, TrainJob, TrainStats};
use hebb::config::TrainConfig;
use hebb::net::{LayerTrain, Net, layer_train};
use hebb_core::encode::{EncodeScratch, encode};
use hebb_core::layer::simulate;
use hebb_core::plasticity::{apply_accumulated, stdp_accumulate, stdp_update};
use hebb_core::pool::pointwise_inhibition;
use hebb_core::spikes::words;
use hebb_core::wta::Winner;
use std::sync::OnceLock;

/// A back end under test.
enum Dev {
    Cpu(Box<CpuBackend>),
    Cuda(Box<hebb::backend::cuda::CudaBackend>),
}

impl Dev {
    fn be(&mut self) -> &mut dyn Backend {
        match self {
            Dev::Cpu(b) => &mut **b,
            Dev::Cuda(b) => &mut **b,
        }
    }
    /// Caps the shared memory the CUDA kernels may use (forces the global-memory paths).
    fn limit_shared(&mut self, bytes: Option<usize>) {
        if let Dev::Cuda(b) = self {
            b.set_shared_budget(bytes);
        }
    }
}

/// The CUDA back end, or `None` (after printing why) when no usable GPU exists.
fn cuda_or_skip() -> Option<Dev> {
    match hebb::backend::cuda::CudaBackend::open() {
        Ok(b) => {
            eprintln!("running on {}", b.name());
            Some(Dev::Cuda(Box::new(b)))
        }
        Err(e) => {
            if std::env::var("HEBB_REQUIRE_CUDA").as_deref() == Ok("1") {
                panic!("HEBB_REQUIRE_CUDA=1 but no usable GPU: {e}");
            }
            eprintln!("skipped: {e}");
            None
        }
    }
}

/// Expands one parity case into a CPU and a CUDA test.
macro_rules! test_device {
    ($case:ident, $cpu:ident, $cuda:ident) => {
        #[test]
        fn $cpu() {
            $case(&mut Dev::Cpu(Box::new(CpuBackend::new())));
        }
        #[test]
        #[ignore = "needs a CUDA GPU or scripts/cuda-emu.sh; run with --include-ignored"]
        fn $cuda() {
            if let Some(mut d) = cuda_or_skip() {
                $case(&mut d);
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

/// Training images of the embedded MNIST set.
fn mnist() -> &'static hebb::data::Dataset {
    static D: OnceLock<hebb::data::Dataset> = OnceLock::new();
    D.get_or_init(|| {
        hebb::data::DataSource::EmbeddedMnist
            .load()
            .expect("embedded MNIST")
            .train
    })
}

fn images(n: usize) -> &'static [u8] {
    &mnist().images[..n * 784]
}

fn net_of(cfg: &TrainConfig) -> Net {
    let mut rng = hebb_core::rng::Rng::new(cfg.seed);
    Net::from_config(cfg, &mut rng).expect("config builds")
}

fn kh() -> &'static TrainConfig {
    static C: OnceLock<TrainConfig> = OnceLock::new();
    C.get_or_init(|| TrainConfig::preset("kheradpisheh2018").expect("preset"))
}

/// A small network with a strided layer of non-fire-once neurons, Local WTA without pointwise
/// inhibition, additive STDP with a fast doubling schedule, Gabor input without normalisation.
const CUSTOM_LOCAL: &str = r#"
seed = 7
n_classes = 10
input = [28, 28]
[encoder]
filters = "gabor"
kernel = 5
gabor_orientations = 4
gabor = [2.0, 4.0, 0.5]
threshold = 5.0
norm_radius = 0
steps = 10
mode = "latency"
[[layers]]
name = "c1"
maps = 12
kernel = 3
pad = 1
stride = 2
threshold = 3.0
wta = { mode = "local", k = 3, radius = 1, pointwise = false }
stdp = { rule = "additive", a_plus = 0.01, a_minus = 0.008, init_mean = 0.5, init_std = 0.1, double_every = 40, a_plus_cap = 0.05 }
pool = { kernel = 3, stride = 2, pad = 1 }
epochs = 1
[[layers]]
name = "c2"
maps = 20
kernel = 3
pad = 1
threshold = 2.0
inhibit_input = true
wta = { mode = "both", k = 4, radius = 2, pointwise = true }
stdp = { rule = "multiplicative", a_plus = 0.02, a_minus = 0.015, init_mean = 0.7, init_std = 0.05 }
epochs = 1
[readout]
c = 1.0
epochs = 1
"#;

/// Leaky neurons (subtractive and multiplicative), Global WTA, repeat-mode input.
const CUSTOM_LEAKY: &str = r#"
seed = 11
n_classes = 10
input = [28, 28]
[encoder]
filters = "dog"
kernel = 5
dog = [[1.0, 2.0], [2.0, 1.0]]
dog_norm = "unit-sum"
threshold = 5.0
norm_radius = 3
steps = 8
mode = "latency"
[[layers]]
name = "c1"
maps = 16
kernel = 5
pad = 2
threshold = 6.0
neuron = "lif-sub"
leak = 0.5
wta = { mode = "global", k = 6, radius = 0, pointwise = true }
stdp = { rule = "multiplicative", a_plus = 0.03, a_minus = 0.02, init_mean = 0.7, init_std = 0.1 }
pool = { kernel = 2, stride = 2, pad = 0 }
epochs = 1
[[layers]]
name = "c2"
maps = 24
kernel = 3
pad = 1
threshold = 3.0
neuron = "lif-mul"
leak = 0.1
inhibit_input = true
wta = { mode = "both", k = 5, radius = 1, pointwise = false }
stdp = { rule = "multiplicative", a_plus = 0.02, a_minus = 0.015, init_mean = 0.7, init_std = 0.05 }
pool = { kernel = 2, stride = 2, pad = 1 }
epochs = 1
[readout]
c = 1.0
epochs = 1
"#;

fn custom(text: &str) -> TrainConfig {
    TrainConfig::from_toml_str(text).expect("custom config")
}

// ---------------------------------------------------------------------------------------------
// Core references (single-threaded, sample by sample).

fn ref_encode(net: &Net, imgs: &[u8]) -> SpikeCache {
    let e = &net.encoder;
    let plane = e.h() as usize * e.w() as usize;
    let per = e.n_out();
    let mut resp = vec![0; per];
    let mut rows = vec![0; plane];
    let mut keys = vec![0; per];
    let mut data = vec![0u8; imgs.len() / plane * per];
    for (img, out) in imgs.chunks_exact(plane).zip(data.chunks_exact_mut(per)) {
        let mut s = EncodeScratch {
            resp: &mut resp,
            rows: &mut rows,
            keys: &mut keys,
        };
        encode(e, &net.filters, img, &mut s, out).expect("encode");
    }
    SpikeCache {
        per_sample: per,
        data,
    }
}

/// Weights, wins, stats and learning-rate state after training.
#[derive(Debug, Clone, PartialEq)]
struct Trained {
    weights: Vec<u16>,
    thresholds: Vec<i32>,
    wins: Vec<u32>,
    stats: TrainStats,
    lr: LrState,
}

impl Trained {
    /// The state before training layer `l` of `net` with `t`.
    fn start(net: &Net, l: usize, t: &LayerTrain) -> Self {
        Self {
            weights: net.weights[l].clone(),
            thresholds: net.thresholds[l].clone(),
            wins: vec![0; net.arch[l].conv.out_c() as usize],
            stats: TrainStats::default(),
            lr: LrState {
                current: t.stdp,
                samples: 0,
            },
        }
    }

    /// Borrows the state for a back end's `train`.
    fn state(&mut self) -> LayerState<'_> {
        LayerState {
            weights: &mut self.weights,
            thresholds: &mut self.thresholds,
            lr: &mut self.lr,
            wins: &mut self.wins,
            stats: &mut self.stats,
        }
    }
}

/// Counts one simulated sample into `stats` (the reference's own bookkeeping).
fn count(stats: &mut TrainStats, r: &hebb_core::layer::SimOutcome) {
    stats.samples += 1;
    stats.winners += r.winners as u64;
    stats.spikes += u64::from(r.spikes);
    stats.events += u64::from(r.events);
    stats.silent += u64::from(r.winners == 0);
}

fn ref_train(
    net: &Net,
    l: usize,
    t: &LayerTrain,
    inputs: &SpikeCache,
    chunks: &[&[u32]],
) -> Trained {
    let a = &net.arch[l];
    let Trained {
        weights: mut w,
        thresholds,
        mut wins,
        mut stats,
        mut lr,
    } = Trained::start(net, l, t);
    let mut buf = SimBuffers::new(a, net.encoder.steps());
    let mut winners = vec![Winner::default(); t.wta.k() as usize];
    for &i in chunks.iter().flat_map(|c| c.iter()) {
        let input = inputs.sample(i as usize);
        lr.tick(&t.schedule());
        let r = simulate(
            &a.conv,
            &w[..],
            &net.thresholds[l],
            &a.neuron,
            net.encoder.steps(),
            input,
            Some(&t.wta),
            true,
            &mut buf.scratch(),
            &mut winners,
        )
        .expect("simulate");
        count(&mut stats, &r);
        if r.winners == 0 {
            continue;
        }
        for x in &winners[..r.winners] {
            wins[x.map as usize] += 1;
        }
        stdp_update(
            &a.conv,
            &mut w,
            input,
            &mut winners[..r.winners],
            &lr.current,
        )
        .expect("stdp");
    }
    Trained {
        weights: w,
        thresholds,
        wins,
        stats,
        lr,
    }
}

/// The core's mini-batch training, single-threaded: each batch of `t.batch` samples (counted
/// from the start of `order`) simulated from the same weights, then `stdp_accumulate` per sample
/// and `apply_accumulated`.
fn ref_train_batched(
    net: &Net,
    l: usize,
    t: &LayerTrain,
    inputs: &SpikeCache,
    order: &[u32],
) -> Trained {
    let a = &net.arch[l];
    let Trained {
        weights: mut w,
        thresholds,
        mut wins,
        mut stats,
        mut lr,
    } = Trained::start(net, l, t);
    let mut buf = SimBuffers::new(a, net.encoder.steps());
    let mut acc = vec![0i32; w.len()];
    let k = t.wta.k() as usize;
    for batch in order.chunks(t.batch as usize) {
        let mut won = Vec::new();
        for &i in batch {
            let mut winners = vec![Winner::default(); k];
            let r = simulate(
                &a.conv,
                &w[..],
                &net.thresholds[l],
                &a.neuron,
                net.encoder.steps(),
                inputs.sample(i as usize),
                Some(&t.wta),
                true,
                &mut buf.scratch(),
                &mut winners,
            )
            .expect("simulate");
            winners.truncate(r.winners);
            count(&mut stats, &r);
            won.push(winners);
        }
        for (&i, winners) in batch.iter().zip(&won) {
            lr.tick(&t.schedule());
            for x in winners {
                wins[x.map as usize] += 1;
            }
            stdp_accumulate(
                &a.conv,
                &w,
                inputs.sample(i as usize),
                winners,
                &lr.current,
                &mut acc,
            )
            .expect("accumulate");
        }
        apply_accumulated(&mut w, &mut acc).expect("apply");
    }
    Trained {
        weights: w,
        thresholds,
        wins,
        stats,
        lr,
    }
}

fn ref_layer_times(net: &Net, l: usize, inputs: &SpikeCache, inhibit: bool) -> SpikeCache {
    let a = &net.arch[l];
    let o = a.out_shape();
    let per = o.len();
    let mut buf = SimBuffers::new(a, net.encoder.steps());
    let mut data = vec![0u8; inputs.len() * per];
    for (i, out) in data.chunks_exact_mut(per).enumerate() {
        layer_output(
            a,
            net.encoder.steps(),
            &net.weights[l],
            &net.thresholds[l],
            inputs.sample(i),
            &mut buf,
            out,
        )
        .expect("layer output");
        if inhibit {
            pointwise_inhibition(out, o.c as usize, o.plane()).expect("inhibition");
        }
    }
    SpikeCache {
        per_sample: per,
        data,
    }
}

fn ref_features(net: &Net, imgs: &[u8]) -> FeatureSet {
    let plane = net.encoder.h() as usize * net.encoder.w() as usize;
    let nf = net.n_features();
    let wpf = words(nf);
    let mut bits = vec![0u32; imgs.len() / plane * wpf];
    let steps = net.encoder.steps();
    for (img, out) in imgs.chunks_exact(plane).zip(bits.chunks_exact_mut(wpf)) {
        let mut cur = ref_encode(net, img).data;
        for (l, a) in net.arch.iter().enumerate() {
            let mut buf = SimBuffers::new(a, steps);
            let mut next = vec![0u8; a.out_shape().len()];
            layer_output(
                a,
                steps,
                &net.weights[l],
                &net.thresholds[l],
                &cur,
                &mut buf,
                &mut next,
            )
            .expect("layer output");
            cur = next;
        }
        for (i, &t) in cur.iter().enumerate() {
            if t != hebb_core::spikes::NEVER {
                out[i / 32] |= 1 << (i % 32);
            }
        }
    }
    FeatureSet {
        n_features: nf,
        words: wpf,
        bits,
    }
}

/// Trains layer `l` of `net` on the back end, `chunks` being successive calls.
fn dev_train(
    d: &mut Dev,
    net: &Net,
    l: usize,
    t: &LayerTrain,
    inputs: &SpikeCache,
    chunks: &[&[u32]],
) -> Trained {
    let job = TrainJob {
        arch: &net.arch[l],
        train: t,
        steps: net.encoder.steps(),
        inputs,
    };
    let mut got = Trained::start(net, l, t);
    for c in chunks {
        d.be().train(&job, c, &mut got.state()).expect("train");
    }
    got
}

fn first_diff<T: PartialEq + std::fmt::Debug>(what: &str, a: &[T], b: &[T], per: usize) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    if let Some(i) = a.iter().zip(b).position(|(x, y)| x != y) {
        panic!(
            "{what}: first difference at element {i} (sample {}, offset {}): {:?} vs {:?}",
            i / per.max(1),
            i % per.max(1),
            a[i],
            b[i]
        );
    }
}

/// Kheradpisheh 2018 after layer 1 has learned from 600 samples (so layer 2 sees real input).
struct KhFixture {
    net: Net,
    enc: SpikeCache,
    l2_in: SpikeCache,
}

const KH_N: usize = 1000;

fn kh_fixture() -> &'static KhFixture {
    static F: OnceLock<KhFixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut net = net_of(kh());
        let enc = ref_encode(&net, images(KH_N));
        let t = layer_train(&kh().layers[0], 0).expect("train params");
        let order: Vec<u32> = (0..600).collect();
        net.weights[0] = ref_train(&net, 0, &t, &enc, &[&order]).weights;
        let l2_in = ref_layer_times(&net, 0, &enc, true);
        KhFixture { net, enc, l2_in }
    })
}

// ---------------------------------------------------------------------------------------------
// Cases.

fn encode_mnist(d: &mut Dev) {
    for cfg in [kh().clone(), custom(CUSTOM_LOCAL), custom(CUSTOM_LEAKY)] {
        let net = net_of(&cfg);
        let imgs = images(300);
        let want = ref_encode(&net, imgs);
        let got = d.be().encode(&net, imgs).expect("encode");
        assert_eq!(got.per_sample, want.per_sample);
        first_diff("encode", &got.data, &want.data, want.per_sample);
    }
}
test_device!(encode_mnist, encode_mnist_cpu, encode_mnist_cuda);

/// Images that stress ties and the edge cases of the latency code: blank, constant, a few
/// bright pixels (fewer non-zero responses than steps), saturated, repeat mode.
fn encode_edge_cases(d: &mut Dev) {
    let mut imgs = vec![0u8; 784]; // blank
    imgs.extend(std::iter::repeat_n(200u8, 784)); // constant: all ties
    let mut few = vec![0u8; 784];
    few[14 * 28 + 14] = 255;
    few[3 * 28 + 20] = 128;
    imgs.extend(&few);
    imgs.extend((0..784).map(|i| if i % 29 == 0 { 255u8 } else { 0 }));
    imgs.extend((0..784).map(|i| ((i * 37) % 256) as u8));
    imgs.extend(std::iter::repeat_n(255u8, 784));
    for text in [None, Some(CUSTOM_LOCAL), Some(CUSTOM_LEAKY)] {
        let mut cfg = text.map_or_else(|| kh().clone(), custom);
        for mode in [
            hebb::config::EncoderModeConfig::Latency,
            hebb::config::EncoderModeConfig::AllAtFirstStep,
        ] {
            cfg.encoder.mode = mode;
            let net = net_of(&cfg);
            let want = ref_encode(&net, &imgs);
            let got = d.be().encode(&net, &imgs).expect("encode");
            first_diff("encode edge", &got.data, &want.data, want.per_sample);
        }
    }
}
test_device!(
    encode_edge_cases,
    encode_edge_cases_cpu,
    encode_edge_cases_cuda
);

fn train_kh_layer1(d: &mut Dev) {
    let f = kh_fixture();
    let t = layer_train(&kh().layers[0], 0).expect("train params");
    // 1000 samples in three calls: the a+ doubling at sample 500 happens inside the second.
    let order: Vec<u32> = (0..KH_N as u32).rev().collect();
    let chunks: [&[u32]; 3] = [&order[..300], &order[300..650], &order[650..]];
    let net = net_of(kh());
    let want = ref_train(&net, 0, &t, &f.enc, &chunks);
    let got = dev_train(d, &net, 0, &t, &f.enc, &chunks);
    assert_eq!(got.stats, want.stats);
    assert_eq!(got.wins, want.wins);
    assert_eq!(got.lr, want.lr);
    first_diff("layer-1 weights", &got.weights, &want.weights, 1);
    assert_ne!(
        got.lr.current, t.stdp,
        "the schedule should have doubled a+"
    );
}
test_device!(train_kh_layer1, train_kh_layer1_cpu, train_kh_layer1_cuda);

/// Adaptive thresholds (homeostasis): every layer of both custom networks trained sample by
/// sample with the thresholds raised for the maps that fired and decaying back to rest; the
/// simulation runs every step. Weights, thresholds and counters must match the core's.
fn train_homeostasis(d: &mut Dev) {
    use hebb_core::homeostasis::{AdaptiveThreshold, decay_from_tau, spiked_maps};
    for text in [CUSTOM_LOCAL, CUSTOM_LEAKY] {
        let cfg = custom(text);
        let net = net_of(&cfg);
        let enc = ref_encode(&net, images(150));
        let order: Vec<u32> = (0..150).collect();
        // With no raise (θ+ = 0) the thresholds only decay, from below and from above, and
        // the rounding toward rest decides where they settle.
        for (l, plus) in [(0, 4), (1, 4), (0, 0), (1, 0)] {
            let mut t = layer_train(&cfg.layers[l], l).expect("train params");
            let rest = net.thresholds[l][0];
            let raise = if plus == 0 { 0 } else { rest / plus };
            let h = AdaptiveThreshold::new(rest, raise, decay_from_tau(20.0), rest / 2, 3 * rest)
                .expect("homeostasis");
            t.homeostasis = Some(h);
            // Start some maps below rest and some above, so both decay directions occur.
            let mut net = net.clone();
            for (c, x) in net.thresholds[l].iter_mut().enumerate() {
                *x = rest / 2 + (c as i32 * rest / 7) % (2 * rest);
            }
            let input = if l == 0 {
                enc.clone()
            } else {
                ref_layer_times(&net, 0, &enc, t.inhibit_input)
            };
            // The core, sample by sample.
            let a = &net.arch[l];
            let m = a.conv.out_c() as usize;
            let plane = a.conv.output().plane();
            let mut want = Trained::start(&net, l, &t);
            let mut buf = SimBuffers::new(a, net.encoder.steps());
            let mut fired = vec![0u32; words(m)];
            for &i in &order {
                want.lr.tick(&t.schedule());
                let mut winners = vec![Winner::default(); t.wta.k() as usize];
                let mut sc = buf.scratch();
                let r = simulate(
                    &a.conv,
                    &want.weights[..],
                    &want.thresholds,
                    &a.neuron,
                    net.encoder.steps(),
                    input.sample(i as usize),
                    Some(&t.wta),
                    false,
                    &mut sc,
                    &mut winners,
                )
                .expect("simulate");
                count(&mut want.stats, &r);
                spiked_maps(sc.t_first, m, plane, &mut fired).expect("spiked maps");
                for x in &winners[..r.winners] {
                    want.wins[x.map as usize] += 1;
                }
                let won = &mut winners[..r.winners];
                let lr = want.lr.current;
                stdp_update(
                    &a.conv,
                    &mut want.weights,
                    input.sample(i as usize),
                    won,
                    &lr,
                )
                .expect("stdp");
                h.update(&mut want.thresholds, &fired)
                    .expect("homeostasis update");
            }
            assert_ne!(
                want.thresholds, net.thresholds[l],
                "the thresholds should have moved"
            );
            // The back end, in two calls.
            let job = TrainJob {
                arch: a,
                train: &t,
                steps: net.encoder.steps(),
                inputs: &input,
            };
            let mut got = Trained::start(&net, l, &t);
            for c in [&order[..70], &order[70..]] {
                d.be().train(&job, c, &mut got.state()).expect("train");
            }
            first_diff("adaptive weights", &got.weights, &want.weights, 1);
            assert_eq!(got, want, "layer {l}");
        }
    }
}
test_device!(
    train_homeostasis,
    train_homeostasis_cpu,
    train_homeostasis_cuda
);

/// Mini-batch training: both kheradpisheh2018 layers and a leaky custom layer, batch sizes that
/// do and do not divide the sample count, calls split on batch boundaries.
fn train_batches(d: &mut Dev) {
    let f = kh_fixture();
    let cases: [(usize, u32, &[usize]); 3] =
        [(0, 16, &[160, 140]), (1, 7, &[70, 63]), (0, 256, &[300])];
    for (l, batch, calls) in cases {
        let mut t = layer_train(&kh().layers[l], l).expect("train params");
        t.batch = batch;
        let input = if l == 0 { &f.enc } else { &f.l2_in };
        let net = if l == 0 { net_of(kh()) } else { f.net.clone() };
        let order: Vec<u32> = (0..calls.iter().sum::<usize>() as u32)
            .map(|i| (i * 13) % KH_N as u32)
            .collect();
        let mut chunks: Vec<&[u32]> = Vec::new();
        let mut at = 0;
        for &c in calls {
            chunks.push(&order[at..at + c]);
            at += c;
        }
        let want = ref_train_batched(&net, l, &t, input, &order);
        let got = dev_train(d, &net, l, &t, input, &chunks);
        assert!(want.stats.winners > 0);
        assert_eq!(got.stats, want.stats, "layer {l}, batch {batch}");
        assert_eq!(got.wins, want.wins, "layer {l}, batch {batch}");
        assert_eq!(got.lr, want.lr, "layer {l}, batch {batch}");
        first_diff("batched weights", &got.weights, &want.weights, 1);
        // Not the sequential result: the batch really changed what was learned.
        let seq = ref_train(&net, l, &t, input, &[&order]);
        assert_ne!(seq.weights, want.weights, "layer {l}, batch {batch}");
    }
    let cfg = custom(CUSTOM_LEAKY);
    let net = net_of(&cfg);
    let enc = ref_encode(&net, images(120));
    let mut t = layer_train(&cfg.layers[0], 0).expect("train params");
    t.batch = 5;
    let order: Vec<u32> = (0..120).collect();
    let want = ref_train_batched(&net, 0, &t, &enc, &order);
    let got = dev_train(d, &net, 0, &t, &enc, &[&order[..60], &order[60..]]);
    assert_eq!(got, want, "leaky layer, batch 5");
}
test_device!(train_batches, train_batches_cpu, train_batches_cuda);

/// Weights at the soft bound's ends, where the exact multiplicative update is below half an LSB
/// and the one-LSB floor decides (a few hundred LSB from 0 or from 65,535).
fn train_extreme_weights(d: &mut Dev) {
    let f = kh_fixture();
    let t = layer_train(&kh().layers[0], 0).expect("train params");
    let mut net = net_of(kh());
    for (i, w) in net.weights[0].iter_mut().enumerate() {
        let r = ((i as u32).wrapping_mul(2_654_435_761) >> 16) % 400;
        *w = if i % 3 == 0 {
            65_535 - r as u16
        } else {
            r as u16
        };
    }
    let order: Vec<u32> = (0..200).collect();
    let want = ref_train(&net, 0, &t, &f.enc, &[&order]);
    let got = dev_train(d, &net, 0, &t, &f.enc, &[&order]);
    assert!(want.stats.winners > 0, "the case must learn something");
    assert_eq!(got.stats, want.stats);
    assert_eq!(got.wins, want.wins);
    first_diff("extreme weights", &got.weights, &want.weights, 1);
}
test_device!(
    train_extreme_weights,
    train_extreme_weights_cpu,
    train_extreme_weights_cuda
);

fn train_kh_layer2(d: &mut Dev) {
    let f = kh_fixture();
    let t = layer_train(&kh().layers[1], 1).expect("train params");
    let order: Vec<u32> = (0..500).map(|i| (i * 7) % KH_N as u32).collect();
    let chunks: [&[u32]; 2] = [&order[..200], &order[200..]];
    let want = ref_train(&f.net, 1, &t, &f.l2_in, &chunks);
    let got = dev_train(d, &f.net, 1, &t, &f.l2_in, &chunks);
    assert_eq!(got.stats, want.stats);
    assert_eq!(got.wins, want.wins);
    assert_eq!(got.lr, want.lr);
    first_diff("layer-2 weights", &got.weights, &want.weights, 1);
}
test_device!(train_kh_layer2, train_kh_layer2_cpu, train_kh_layer2_cuda);

/// Both layers of both custom networks; layer 2 trains on layer 1's inhibited output.
fn train_custom(d: &mut Dev) {
    for text in [CUSTOM_LOCAL, CUSTOM_LEAKY] {
        let cfg = custom(text);
        let net = net_of(&cfg);
        let enc = ref_encode(&net, images(300));
        let order: Vec<u32> = (0..300).collect();
        for l in 0..2 {
            let t = layer_train(&cfg.layers[l], l).expect("train params");
            let input = if l == 0 {
                enc.clone()
            } else {
                ref_layer_times(&net, 0, &enc, t.inhibit_input)
            };
            let chunks: [&[u32]; 2] = [&order[..120], &order[120..]];
            let want = ref_train(&net, l, &t, &input, &chunks);
            let got = dev_train(d, &net, l, &t, &input, &chunks);
            assert_eq!(got.stats, want.stats, "layer {l}");
            assert_eq!(got.wins, want.wins, "layer {l}");
            assert_eq!(got.lr, want.lr, "layer {l}");
            first_diff("custom weights", &got.weights, &want.weights, 1);
        }
    }
}
test_device!(train_custom, train_custom_cpu, train_custom_cuda);

/// The same training with the kernels' shared memory capped, so potentials, weights, candidates
/// and event lists live in global memory.
fn train_small_shared(d: &mut Dev) {
    let f = kh_fixture();
    for budget in [48 * 1024, 4 * 1024] {
        d.limit_shared(Some(budget));
        let t = layer_train(&kh().layers[1], 1).expect("train params");
        let order: Vec<u32> = (0..150).collect();
        let want = ref_train(&f.net, 1, &t, &f.l2_in, &[&order]);
        let got = dev_train(d, &f.net, 1, &t, &f.l2_in, &[&order]);
        assert_eq!(got, want, "budget {budget}");
        let want = ref_layer_times(&f.net, 0, &f.enc, true);
        let got = d
            .be()
            .layer_times(
                &f.net.arch[0],
                15,
                &f.net.weights[0],
                &f.net.thresholds[0],
                &f.enc,
                true,
            )
            .expect("layer_times");
        first_diff("layer_times", &got.data, &want.data, want.per_sample);
        let imgs = images(64);
        let got = d.be().encode(&f.net, imgs).expect("encode");
        assert_eq!(got, ref_encode(&f.net, imgs));
    }
    d.limit_shared(None);
}
test_device!(
    train_small_shared,
    train_small_shared_cpu,
    train_small_shared_cuda
);

fn layer_times_all(d: &mut Dev) {
    let f = kh_fixture();
    for inhibit in [true, false] {
        let want = ref_layer_times(&f.net, 0, &f.enc, inhibit);
        let got = d
            .be()
            .layer_times(
                &f.net.arch[0],
                15,
                &f.net.weights[0],
                &f.net.thresholds[0],
                &f.enc,
                inhibit,
            )
            .expect("layer_times");
        assert_eq!(got.per_sample, want.per_sample);
        first_diff("layer-1 times", &got.data, &want.data, want.per_sample);
    }
    let want = ref_layer_times(&f.net, 1, &f.l2_in, false);
    let got = d
        .be()
        .layer_times(
            &f.net.arch[1],
            15,
            &f.net.weights[1],
            &f.net.thresholds[1],
            &f.l2_in,
            false,
        )
        .expect("layer_times");
    first_diff("layer-2 times", &got.data, &want.data, want.per_sample);
    for text in [CUSTOM_LOCAL, CUSTOM_LEAKY] {
        let net = net_of(&custom(text));
        let enc = ref_encode(&net, images(200));
        let steps = net.encoder.steps();
        let want = ref_layer_times(&net, 0, &enc, true);
        let got = d
            .be()
            .layer_times(
                &net.arch[0],
                steps,
                &net.weights[0],
                &net.thresholds[0],
                &enc,
                true,
            )
            .expect("layer_times");
        first_diff("custom times", &got.data, &want.data, want.per_sample);
    }
}
test_device!(layer_times_all, layer_times_all_cpu, layer_times_all_cuda);

fn features_all(d: &mut Dev) {
    let f = kh_fixture();
    let imgs = images(200);
    let want = ref_features(&f.net, imgs);
    let got = d.be().features(&f.net, imgs).expect("features");
    assert_eq!(got.n_features, 12_150);
    assert_eq!((got.words, got.len()), (want.words, 200));
    first_diff("features", &got.bits, &want.bits, want.words);
    // Untrained networks: dense activity, and leaky layers (time-stepped path).
    for text in [CUSTOM_LOCAL, CUSTOM_LEAKY] {
        let net = net_of(&custom(text));
        let imgs = images(100);
        let want = ref_features(&net, imgs);
        let got = d.be().features(&net, imgs).expect("features");
        first_diff("custom features", &got.bits, &want.bits, want.words);
    }
}
test_device!(features_all, features_all_cpu, features_all_cuda);

/// A sample index past the spike cache is an error (exact and mini-batch), never a panic, and
/// leaves the weights as they were.
fn bad_order(d: &mut Dev) {
    let net = net_of(kh());
    let cache = ref_encode(&net, images(4));
    for batch in [1, 4] {
        let mut t = layer_train(&kh().layers[0], 0).expect("train params");
        t.batch = batch;
        let job = TrainJob {
            arch: &net.arch[0],
            train: &t,
            steps: net.encoder.steps(),
            inputs: &cache,
        };
        let mut got = Trained::start(&net, 0, &t);
        let r = d.be().train(&job, &[0, 1, 4], &mut got.state());
        assert!(r.is_err(), "batch {batch}");
        assert_eq!(got.weights, net.weights[0], "batch {batch}");
    }
}
test_device!(bad_order, bad_order_cpu, bad_order_cuda);

/// Empty inputs are fine everywhere.
fn empty_inputs(d: &mut Dev) {
    let net = net_of(kh());
    let enc = d.be().encode(&net, &[]).expect("encode");
    assert!(enc.is_empty());
    let f = d.be().features(&net, &[]).expect("features");
    assert!(f.is_empty());
    let t = layer_train(&kh().layers[0], 0).expect("train params");
    let cache = ref_encode(&net, images(2));
    let got = dev_train(d, &net, 0, &t, &cache, &[&[]]);
    assert_eq!(got.weights, net.weights[0]);
    assert_eq!(got.stats, TrainStats::default());
    let lt = d
        .be()
        .layer_times(
            &net.arch[0],
            15,
            &net.weights[0],
            &net.thresholds[0],
            &SpikeCache {
                per_sample: cache.per_sample,
                data: Vec::new(),
            },
            true,
        )
        .expect("layer_times");
    assert!(lt.is_empty());
}
test_device!(empty_inputs, empty_inputs_cpu, empty_inputs_cuda);

// ---------------------------------------------------------------------------------------------
// Throughput (not a parity case): `cargo test --release -p hebb-tests --test parity --
// --ignored bench_throughput --nocapture`. Times every stage of kheradpisheh2018 on the CPU and,
// when present, the GPU, on the same data and initial weights, and checks that both computed
// the same bytes. `HEBB_BENCH_TRAIN` (samples per layer, default all 7,996) and
// `HEBB_BENCH_CPU_FEATURES` (images for the CPU feature timing, default 2,000) size it.

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Debug, Default)]
struct BenchOut {
    rates: Vec<(String, f64, usize, f64)>,
    w1: Vec<u16>,
    w2: Vec<u16>,
    l2_in: Vec<u8>,
    feats: Vec<u32>,
    wpf: usize,
}

fn bench_one(d: &mut Dev, all: &[u8], n_train: usize, n_order: usize, n_feat: usize) -> BenchOut {
    use std::time::Instant;
    let cfg = kh();
    let mut net = net_of(cfg);
    let mut out = BenchOut::default();
    let mut rate = |name: &str, n: usize, s: f64| {
        eprintln!(
            "  {name:<28} {:>12.0} samples/s ({n} in {s:.3} s)",
            n as f64 / s
        );
        out.rates.push((name.into(), n as f64 / s, n, s));
    };
    let train_imgs = &all[..n_train * 784];
    let t = Instant::now();
    let enc = d.be().encode(&net, train_imgs).expect("encode");
    rate("encode", n_train, t.elapsed().as_secs_f64());
    let order: Vec<u32> = (0..n_order)
        .map(|i| ((i * 7919) % n_train) as u32)
        .collect();
    let mut w_out = Vec::new();
    let mut l2_in = enc.clone();
    for l in 0..2 {
        if l == 1 {
            let t = Instant::now();
            l2_in = d
                .be()
                .layer_times(
                    &net.arch[0],
                    15,
                    &net.weights[0],
                    &net.thresholds[0],
                    &enc,
                    true,
                )
                .expect("layer_times");
            rate(
                "conv1 output (layer_times)",
                n_train,
                t.elapsed().as_secs_f64(),
            );
        }
        let lt = layer_train(&cfg.layers[l], l).expect("train params");
        let job = TrainJob {
            arch: &net.arch[l],
            train: &lt,
            steps: 15,
            inputs: &l2_in,
        };
        let mut lr = LrState {
            current: lt.stdp,
            samples: 0,
        };
        let mut wins = vec![0u32; net.arch[l].conv.out_c() as usize];
        let mut st = TrainStats::default();
        let mut th = net.thresholds[l].clone();
        let t = Instant::now();
        let mut state = LayerState {
            weights: &mut net.weights[l],
            thresholds: &mut th,
            lr: &mut lr,
            wins: &mut wins,
            stats: &mut st,
        };
        d.be().train(&job, &order, &mut state).expect("train");
        rate(
            &format!("conv{} training", l + 1),
            n_order,
            t.elapsed().as_secs_f64(),
        );
        w_out.push(net.weights[l].clone());
    }
    let t = Instant::now();
    let f = d
        .be()
        .features(&net, &all[..n_feat * 784])
        .expect("features");
    rate("feature extraction", n_feat, t.elapsed().as_secs_f64());
    out.w1 = w_out[0].clone();
    out.w2 = w_out[1].clone();
    out.l2_in = l2_in.data;
    out.feats = f.bits;
    out.wpf = f.words;
    out
}

#[test]
#[ignore]
fn bench_throughput() {
    let split = hebb::data::DataSource::EmbeddedMnist
        .load()
        .expect("embedded MNIST");
    let all: Vec<u8> = split
        .train
        .images
        .iter()
        .chain(&split.test.images)
        .copied()
        .collect();
    let n_all = all.len() / 784;
    let n_train = split.train.len();
    let n_order = env_usize("HEBB_BENCH_TRAIN", n_train);
    let n_cpu_feat = env_usize("HEBB_BENCH_CPU_FEATURES", 2000).min(n_all);
    eprintln!(
        "{} on {} cores",
        CpuBackend::new().name(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    // HEBB_BENCH_SKIP_CPU=1: GPU timings only (no CPU baseline, no comparison).
    let skip_cpu = std::env::var("HEBB_BENCH_SKIP_CPU").as_deref() == Ok("1");
    let cpu = if skip_cpu {
        BenchOut::default()
    } else {
        bench_one(
            &mut Dev::Cpu(Box::new(CpuBackend::new())),
            &all,
            n_train,
            n_order,
            n_cpu_feat,
        )
    };
    let Some(mut gpu_dev) = cuda_or_skip() else {
        return;
    };
    if let Dev::Cuda(b) = &gpu_dev {
        eprintln!("gpu: {}", b.describe());
    }
    // Warm-up, not timed: every kernel variant is compiled (NVRTC) and loaded on first use.
    let t = std::time::Instant::now();
    let _ = bench_one(&mut gpu_dev, &all, 64, 16, 64);
    eprintln!(
        "gpu warm-up (kernel compilation) {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let gpu = bench_one(&mut gpu_dev, &all, n_train, n_order, n_all);
    if let Dev::Cuda(b) = &gpu_dev {
        eprintln!(
            "gpu memory in use after the run: {} MiB",
            b.mem_used_mib().unwrap_or(0)
        );
    }
    if skip_cpu {
        return;
    }
    assert_eq!(cpu.w1, gpu.w1, "conv1 weights differ");
    assert!(cpu.l2_in == gpu.l2_in, "conv1 outputs differ");
    assert_eq!(cpu.w2, gpu.w2, "conv2 weights differ");
    let nb = n_cpu_feat * cpu.wpf;
    assert!(cpu.feats[..nb] == gpu.feats[..nb], "features differ");
    eprintln!("identical: conv1 weights, conv1 outputs, conv2 weights, features");
    eprintln!(
        "{:<28} {:>12} {:>12} {:>9}",
        "stage", "cpu/s", "cuda/s", "speedup"
    );
    for (c, g) in cpu.rates.iter().zip(&gpu.rates) {
        eprintln!(
            "{:<28} {:>12.0} {:>12.0} {:>8.1}x",
            c.0,
            c.1,
            g.1,
            g.1 / c.1
        );
    }
}
