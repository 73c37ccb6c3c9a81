//! No value a caller can construct makes the core panic: parameters from the whole range of
//! their types (zeros, huge values, kernels larger than the input, stride 0, …) either fail to
//! construct, with an error, or give a value on which every forward function (convolution,
//! pooling, encoding, layer simulation and time-free inference, STDP, WTA, homeostasis, readout)
//! runs on buffers of the documented sizes, and returns an error for buffers that are too short.
//! Deserialising the plain-data form of a parameter block agrees with its constructor.

use hebb_core::Error;
use hebb_core::conv::{accumulate_all, conv_real, scatter};
use hebb_core::encode::{EncodeMode, EncodeScratch, EncoderParams, EncoderParamsRaw, encode};
use hebb_core::geometry::{ConvGeom, ConvGeomRaw, Padding, PoolGeom, PoolGeomRaw, Shape};
use hebb_core::homeostasis::{
    AdaptiveThreshold, RateTarget, dead_maps, recover, recover_dead, spiked_maps,
};
use hebb_core::layer::{SimScratch, forward_final, simulate};
use hebb_core::model::{Model, ReadoutBlob};
use hebb_core::neuron::{NeuronKind, NeuronParams, NeuronParamsRaw};
use hebb_core::plasticity::{
    apply_accumulated, stdp_accumulate, stdp_accumulate_rows, stdp_update,
};
use hebb_core::pool::{pointwise_inhibition, pool_times};
use hebb_core::rng::Rng;
use hebb_core::spikes::{NEVER, bit, set_bit, sort_events, words};
use hebb_core::stdp::{StdpParams, StdpRule};
use hebb_core::weights::{Le16, Q8, WeightRow};
use hebb_core::wta::{Winner, WtaMode, WtaParams, WtaParamsRaw};
use hebb_tests::fixtures;
use hebb_tests::support::run_layer;
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

// ---------------------------------------------------------------------------------------------
// Strategies: mostly small values (so that valid parameters come up often and forward calls
// stay cheap), with zeros and the extremes of each type mixed in.

fn d16() -> impl Strategy<Value = u16> {
    prop_oneof![8 => 0u16..=6, 1 => any::<u16>(), 1 => Just(u16::MAX)]
}

fn d8() -> impl Strategy<Value = u8> {
    prop_oneof![8 => 0u8..=5, 1 => any::<u8>(), 1 => Just(u8::MAX)]
}

fn shape() -> impl Strategy<Value = Shape> {
    (d16(), d16(), d16()).prop_map(|(c, h, w)| Shape::new(c, h, w))
}

/// Any geometry (mostly invalid), or one near the valid range (often valid and small).
fn conv_raw() -> impl Strategy<Value = ConvGeomRaw> {
    let any = (shape(), d16(), d8(), d8(), d8());
    let near = (
        (1u16..=4, 1u16..=9, 1u16..=9).prop_map(|(c, h, w)| Shape::new(c, h, w)),
        1u16..=5,
        1u8..=5,
        prop_oneof![3 => 1u8..=3, 1 => Just(0)],
        0u8..=4,
    );
    prop_oneof![1 => any, 3 => near].prop_map(|(input, out_c, k, stride, pad)| ConvGeomRaw {
        input,
        out_c,
        k,
        stride,
        pad,
    })
}

/// Pooling parameters `(k, stride, pad)`: any, or near the valid range.
fn pool_params() -> impl Strategy<Value = (u8, u8, u8)> {
    prop_oneof![1 => (d8(), d8(), d8()), 3 => (1u8..=3, 0u8..=3, 0u8..=2)]
}

fn neuron_raw() -> impl Strategy<Value = NeuronParamsRaw> {
    let kind = prop_oneof![
        Just(NeuronKind::If),
        any::<i32>().prop_map(|leak| NeuronKind::LifSub { leak }),
        any::<u16>().prop_map(|beta| NeuronKind::LifMul { beta }),
    ];
    (kind, any::<bool>()).prop_map(|(kind, fire_once)| NeuronParamsRaw { kind, fire_once })
}

fn wta_raw() -> impl Strategy<Value = WtaParamsRaw> {
    let mode = prop_oneof![
        Just(WtaMode::Global),
        Just(WtaMode::Local),
        Just(WtaMode::Both)
    ];
    let k = prop_oneof![4 => 0u16..=6, 1 => 0u16..=300, 1 => Just(u16::MAX)];
    (mode, k, d8(), any::<bool>()).prop_map(|(mode, k, radius, pointwise)| WtaParamsRaw {
        mode,
        k,
        radius,
        pointwise,
    })
}

fn stdp_any() -> impl Strategy<Value = StdpParams> {
    let rule = prop_oneof![Just(StdpRule::Multiplicative), Just(StdpRule::Additive)];
    (rule, any::<u32>(), any::<u32>()).prop_map(|(rule, a_plus, a_minus)| StdpParams {
        rule,
        a_plus,
        a_minus,
    })
}

/// Builds a parameter block from its plain-data form both ways, by `try_from` and by
/// deserialising the form's wire bytes, and checks that they agree: both refuse it, or both give
/// the same value, which has the same wire bytes and converts back to `raw`.
fn built_both_ways<R, T>(raw: R) -> Result<Result<T, Error>, TestCaseError>
where
    R: Serialize + PartialEq + Debug + Copy + From<T>,
    T: TryFrom<R, Error = Error> + Serialize + DeserializeOwned + PartialEq + Debug + Copy,
{
    let made = T::try_from(raw);
    let bytes = postcard::to_stdvec(&raw).unwrap();
    let read = postcard::from_bytes::<T>(&bytes);
    prop_assert_eq!(read.is_ok(), made.is_ok(), "{:?}", raw);
    if let (Ok(a), Ok(b)) = (&made, &read) {
        prop_assert_eq!(a, b);
        prop_assert_eq!(postcard::to_stdvec(a).unwrap(), bytes, "same wire layout");
        prop_assert_eq!(R::from(*a), raw);
    }
    Ok(made)
}

/// Reference output length of a window of `k` sliding by `stride` over `n` cells padded by
/// `pad` on each side, or `None` where the window does not fit (or `k` or the stride is 0).
fn window_outputs(n: u16, k: u8, stride: u8, pad: u8) -> Option<u64> {
    let padded = u64::from(n) + 2 * u64::from(pad);
    (k > 0 && stride > 0 && padded >= u64::from(k))
        .then(|| (padded - u64::from(k)) / u64::from(stride) + 1)
}

/// Small enough to run every forward function on.
fn small(g: &ConvGeom) -> bool {
    g.input().len() <= 400 && g.output().len() <= 400 && g.n_weights() <= 4000
}

/// Spike times in `0..steps` or NEVER.
fn times(rng: &mut Rng, n: usize, steps: u8) -> Vec<u8> {
    (0..n)
        .map(|_| {
            let t = rng.below(u64::from(steps) + 2);
            if t >= u64::from(steps) {
                NEVER
            } else {
                t as u8
            }
        })
        .collect()
}

fn weights(rng: &mut Rng, n: usize) -> Vec<u16> {
    (0..n).map(|_| rng.next_u64() as u16).collect()
}

fn le_bytes(w: &[u16]) -> Vec<u8> {
    w.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Scratch of `simulate`, with buffer `short` (0..=9, see below) one element shorter than
/// needed; `short >= 10` gives exact sizes.
struct Scratch {
    v: Vec<i32>,
    t_first: Vec<u8>,
    pos_first: Vec<u8>,
    touched: Vec<u32>,
    excl_pos: Vec<u32>,
    excl_map: Vec<u32>,
    cand: Vec<u64>,
    order: Vec<u32>,
    starts: Vec<u32>,
    winners: Vec<Winner>,
}

impl Scratch {
    fn new(g: &ConvGeom, steps: u8, wta: Option<&WtaParams>, spikes: usize, short: usize) -> Self {
        let o = g.output();
        let (n, p, m) = (o.len(), o.plane(), o.c as usize);
        let len = |i: usize, l: usize| if i == short { l.saturating_sub(1) } else { l };
        let cand = match wta {
            Some(w) if w.pointwise() => p,
            Some(_) => n,
            None => 0,
        };
        Self {
            v: vec![0; len(0, n)],
            t_first: vec![0; len(1, n)],
            pos_first: vec![0; len(2, p)],
            touched: vec![0; len(3, words(p))],
            excl_pos: vec![0; len(4, words(p))],
            excl_map: vec![0; len(5, words(m))],
            cand: vec![0; len(6, cand)],
            order: vec![0; len(7, spikes)],
            starts: vec![0; len(8, steps as usize + 1)],
            winners: vec![Winner::default(); len(9, wta.map_or(0, |w| w.k() as usize))],
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        g: &ConvGeom,
        w: &[u16],
        theta: &[i32],
        neuron: &NeuronParams,
        steps: u8,
        input: &[u8],
        wta: Option<&WtaParams>,
    ) -> hebb_core::Result<hebb_core::layer::SimOutcome> {
        let mut s = SimScratch {
            v: &mut self.v,
            t_first: &mut self.t_first,
            pos_first: &mut self.pos_first,
            touched: &mut self.touched,
            excl_pos: &mut self.excl_pos,
            excl_map: &mut self.excl_map,
            cand: &mut self.cand,
            order: &mut self.order,
            starts: &mut self.starts,
        };
        simulate(
            g,
            w,
            theta,
            neuron,
            steps,
            input,
            wta,
            false,
            &mut s,
            &mut self.winners,
        )
    }
}

/// Every forward function of one layer on a valid geometry `g`.
#[allow(clippy::too_many_arguments)]
fn layer_forwards(
    g: &ConvGeom,
    seed: u64,
    steps: u8,
    neuron: NeuronParamsRaw,
    wta: WtaParamsRaw,
    stdp: &StdpParams,
    pool: (u8, u8, u8),
    short: usize,
) -> Result<(), TestCaseError> {
    let mut rng = Rng::new(seed);
    let (i, o) = (g.input(), g.output());
    let (n, m) = (o.len(), o.c as usize);
    let mut w = weights(&mut rng, g.n_weights());
    let input = times(&mut rng, i.len(), steps);
    let theta: Vec<i32> = (0..m).map(|_| 1 + rng.below(3 << 16) as i32).collect();

    // Convolution.
    let mut v = vec![0i32; n];
    prop_assert!(accumulate_all(g, &w[..], &input, &mut v).is_ok());
    prop_assert!(accumulate_all(g, &w[..], &input, &mut v[..n - 1]).is_err());
    prop_assert!(accumulate_all(g, &w[..], &input[..i.len() - 1], &mut v).is_err());
    prop_assert!(accumulate_all(g, &w[..w.len() - 1], &input, &mut v).is_err());
    let (c, y, x) = (
        rng.below(u64::from(i.c)) as usize,
        rng.below(u64::from(i.h)) as usize,
        rng.below(u64::from(i.w)) as usize,
    );
    let mut touched = vec![0u32; words(o.plane())];
    prop_assert!(scatter(g, &w[..], c, y, x, &mut v, Some(&mut touched)).is_ok());
    prop_assert!(scatter(g, &w[..], i.c as usize, y, x, &mut v, None).is_err());
    prop_assert!(scatter(g, &w[..], c, i.h as usize, x, &mut v, None).is_err());
    prop_assert!(scatter(g, &w[..], c, y, usize::MAX, &mut v, None).is_err());
    prop_assert!(scatter(g, &w[..], c, y, x, &mut v[..n - 1], None).is_err());

    // Neuron model and competition: constructed or refused.
    let neuron = match built_both_ways::<_, NeuronParams>(neuron)? {
        Ok(p) => p,
        Err(e) => {
            let negative_leak = matches!(neuron.kind, NeuronKind::LifSub { leak } if leak < 0);
            prop_assert!(negative_leak);
            prop_assert!(matches!(e, Error::InvalidParam(_)));
            return Ok(());
        }
    };
    let wta = match built_both_ways::<_, WtaParams>(wta)? {
        Ok(p) => Some(p),
        Err(e) => {
            prop_assert_eq!(wta.k, 0);
            prop_assert_eq!(e, Error::Zero("WTA k"));
            None
        }
    };

    // Simulation with exact buffers, then with one buffer too short.
    let spikes = input.iter().filter(|&&t| t < steps).count();
    let run = run_layer(
        g,
        &w[..],
        &theta,
        &neuron,
        steps,
        &input,
        wta.as_ref(),
        true,
    );
    let run = run.map_err(|e| TestCaseError::fail(format!("simulate: {e}")))?;
    prop_assert!(run.winners.len() <= wta.map_or(0, |p| p.k() as usize));
    let mut sc = Scratch::new(g, steps, wta.as_ref(), spikes, short);
    let r = sc.run(g, &w, &theta, &neuron, steps, &input, wta.as_ref());
    let cut = match short {
        6 | 9 => wta.is_some(),
        7 => spikes > 0,
        s => s < 10,
    };
    prop_assert_eq!(r.is_err(), cut, "short buffer {}: {:?}", short, r);
    prop_assert!(
        run_layer(
            g,
            &w[..],
            &theta[..m - 1],
            &neuron,
            steps,
            &input,
            None,
            false
        )
        .is_err()
    );
    prop_assert!(
        run_layer(
            g,
            &w[..w.len() - 1],
            &theta,
            &neuron,
            steps,
            &input,
            None,
            false
        )
        .is_err()
    );

    // STDP of the winners (and of many winners of one map), batched and not.
    let mut winners = run.winners.clone();
    let extra = rng.below(64) as usize;
    winners.extend((0..extra).map(|j| Winner {
        map: (j % m) as u16,
        y: rng.below(u64::from(o.h)) as u16,
        x: rng.below(u64::from(o.w)) as u16,
        t: rng.next_u64() as u8,
        v: rng.next_u64() as i32,
    }));
    let mut acc = vec![0i32; g.n_weights()];
    prop_assert!(stdp_accumulate(g, &w, &input, &winners, stdp, &mut acc).is_ok());
    prop_assert!(
        stdp_accumulate(g, &w, &input, &winners, stdp, &mut acc[..g.n_weights() - 1]).is_err()
    );
    let fan = g.fan_in();
    let first = rng.below(fan as u64 + 2) as usize;
    let rows = rng.below(fan as u64 + 2) as usize;
    let mut part = vec![0i32; rows * m];
    let fits = first + rows <= fan;
    prop_assert_eq!(
        stdp_accumulate_rows(g, &w, &input, &winners, stdp, first, &mut part).is_ok(),
        fits
    );
    prop_assert!(
        stdp_accumulate_rows(g, &w, &input, &winners, stdp, usize::MAX, &mut vec![0; m]).is_err()
    );
    let mut w2 = w.clone();
    prop_assert!(apply_accumulated(&mut w2, &mut acc).is_ok());
    prop_assert!(apply_accumulated(&mut w2, &mut acc[..g.n_weights() - 1]).is_err());
    prop_assert!(stdp_update(g, &mut w, &input, &mut winners, stdp).is_ok());
    prop_assert!(stdp_update(g, &mut w, &input[..i.len() - 1], &mut winners, stdp).is_err());
    let outside = [
        Winner {
            map: g.out_c(),
            ..Winner::default()
        },
        Winner {
            y: o.h,
            ..Winner::default()
        },
        Winner {
            x: u16::MAX,
            ..Winner::default()
        },
    ];
    for bad in outside {
        let mut ws = vec![bad];
        prop_assert!(stdp_update(g, &mut w, &input, &mut ws, stdp).is_err());
        prop_assert!(stdp_accumulate(g, &w, &input, &ws, stdp, &mut acc).is_err());
    }

    // Time-free inference, with and without pooling, on every weight storage.
    let (pk, ps, pp) = pool;
    let pool = PoolGeom::new(o, pk, ps, pp).ok();
    let fo = pool.map_or(o, |p| p.output());
    let mut v_row = vec![0i32; o.w as usize * m];
    let mut out = vec![0u8; fo.len()];
    let bytes = le_bytes(&w);
    let narrow: Vec<u8> = w.iter().map(|&x| (x >> 8) as u8).collect();
    prop_assert!(
        forward_final(
            g,
            &w[..],
            &theta,
            pool.as_ref(),
            &input,
            &mut v_row,
            &mut out
        )
        .is_ok()
    );
    prop_assert!(
        forward_final(
            g,
            &Le16(&bytes),
            &theta,
            pool.as_ref(),
            &input,
            &mut v_row,
            &mut out
        )
        .is_ok()
    );
    prop_assert!(
        forward_final(
            g,
            &Q8(&narrow),
            &theta,
            pool.as_ref(),
            &input,
            &mut v_row,
            &mut out
        )
        .is_ok()
    );
    prop_assert!(
        forward_final(
            g,
            &w[..],
            &theta,
            pool.as_ref(),
            &input,
            &mut v_row[..o.w as usize * m - 1],
            &mut out
        )
        .is_err()
    );
    prop_assert!(
        forward_final(
            g,
            &w[..],
            &theta,
            pool.as_ref(),
            &input,
            &mut v_row,
            &mut out[..fo.len() - 1]
        )
        .is_err()
    );
    prop_assert!(
        forward_final(
            g,
            &w[..],
            &theta,
            pool.as_ref(),
            &input[..i.len() - 1],
            &mut v_row,
            &mut out
        )
        .is_err()
    );
    prop_assert!(
        forward_final(
            g,
            &Le16(&bytes[1..]),
            &theta,
            pool.as_ref(),
            &input,
            &mut v_row,
            &mut out
        )
        .is_err()
    );
    // A pool over another shape is refused.
    let other = PoolGeom::new(Shape::new(o.c, o.h + 1, o.w), 1, 1, 0).ok();
    if let Some(p) = other {
        prop_assert!(
            forward_final(g, &w[..], &theta, Some(&p), &input, &mut v_row, &mut out).is_err()
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    /// Convolution geometry: constructed only when valid (checked against the formula here),
    /// deserialised through the same validation, and then every layer function runs.
    #[test]
    fn conv_geometry_is_valid_or_an_error(
        raw in conv_raw(),
        seed: u64,
        steps in prop_oneof![4 => 0u8..=6, 1 => any::<u8>()],
        neuron in neuron_raw(),
        wta in wta_raw(),
        stdp in stdp_any(),
        pool in pool_params(),
        short in 0usize..14,
    ) {
        let out = |n: u16| window_outputs(n, raw.k, raw.stride, raw.pad);
        let (oh, ow) = (out(raw.input.h), out(raw.input.w));
        let g = match built_both_ways::<_, ConvGeom>(raw)? {
            Err(e) => {
                let valid = !raw.input.is_empty()
                    && raw.out_c > 0
                    && raw.pad < raw.k
                    && oh.is_some_and(|h| h <= 65535)
                    && ow.is_some_and(|w| w <= 65535)
                    && u64::from(raw.input.c) * u64::from(raw.k) * u64::from(raw.k) <= 32767
                    && u64::from(raw.out_c) * oh.unwrap_or(0) * ow.unwrap_or(0)
                        <= u64::from(u32::MAX / 2);
                prop_assert!(!valid, "{:?} refused: {}", raw, e);
                if raw.stride == 0 && !raw.input.is_empty() && raw.out_c > 0 && raw.k > 0 {
                    prop_assert_eq!(e, Error::Zero("conv stride"));
                }
                return Ok(());
            }
            Ok(g) => g,
        };
        prop_assert!(raw.pad < raw.k && raw.out_c > 0);
        let o = g.output();
        prop_assert_eq!((o.c, Some(u64::from(o.h)), Some(u64::from(o.w))), (raw.out_c, oh, ow));
        prop_assert!(g.fan_in() <= 32_767 && !o.is_empty());
        if small(&g) {
            layer_forwards(&g, seed, steps, neuron, wta, &stdp, pool, short)?;
        }
    }

    /// Pooling geometry: constructed only when valid; pooling runs on it.
    #[test]
    fn pool_geometry_is_valid_or_an_error(
        input in prop_oneof![
            1 => shape(),
            3 => (1u16..=3, 1u16..=12, 1u16..=12).prop_map(|(c, h, w)| Shape::new(c, h, w)),
        ],
        (k, stride, pad) in pool_params(),
        seed: u64,
    ) {
        let raw = PoolGeomRaw { input, k, stride, pad };
        let Ok(p) = built_both_ways::<_, PoolGeom>(raw)? else {
            let out = |n: u16| window_outputs(n, k, stride, pad);
            prop_assert!(
                input.is_empty() || pad >= k
                    || out(input.h).is_none_or(|h| h > 65535)
                    || out(input.w).is_none_or(|w| w > 65535)
            );
            return Ok(());
        };
        let o = p.output();
        prop_assert!(!o.is_empty());
        if input.len() > 2000 || o.len() > 2000 {
            return Ok(());
        }
        let mut rng = Rng::new(seed);
        let t = times(&mut rng, input.len(), 6);
        let mut out = vec![0u8; o.len()];
        let mut ix = vec![0u32; o.len()];
        prop_assert!(pool_times(&p, &t, &mut out, Some(&mut ix)).is_ok());
        for (&v, &i) in out.iter().zip(&ix) {
            prop_assert!(i == u32::MAX || (i as usize) < t.len() && t[i as usize] == v);
        }
        prop_assert!(pool_times(&p, &t, &mut out, None).is_ok());
        prop_assert!(pool_times(&p, &t[..t.len() - 1], &mut out, None).is_err());
        prop_assert!(pool_times(&p, &t, &mut out[..o.len() - 1], None).is_err());
        prop_assert!(pool_times(&p, &t, &mut out, Some(&mut ix[..o.len() - 1])).is_err());
    }

    /// Pointwise inhibition with any sizes: an error for sizes whose product overflows or
    /// exceeds the buffer.
    #[test]
    fn pointwise_inhibition_any_sizes(
        c in prop_oneof![0usize..8, Just(usize::MAX), any::<usize>()],
        plane in prop_oneof![0usize..8, Just(usize::MAX), any::<usize>()],
        mut t in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let fits = c.checked_mul(plane).is_some_and(|n| n <= t.len());
        prop_assert_eq!(pointwise_inhibition(&mut t, c, plane).is_ok(), fits);
    }

    /// Encoder parameters: constructed only when valid; encoding runs on them.
    #[test]
    fn encoder_is_valid_or_an_error(
        (h, w, n_filters) in prop_oneof![1 => (d16(), d16(), d8()), 3 => (1u16..=12, 1u16..=70, 1u8..=3)],
        k in prop_oneof![4 => (0u8..=3).prop_map(|k| 2 * k + 1), 1 => any::<u8>()],
        pad in prop_oneof![4 => Just(None), 1 => any::<u8>().prop_map(Some)],
        threshold in prop_oneof![4 => 0i32..(40 << 16), 1 => any::<i32>()],
        norm_radius in prop_oneof![1 => d8(), 3 => 0u8..=4],
        steps in prop_oneof![1 => d8(), 3 => 1u8..=20],
        latency: bool,
        big_kernels in prop::bool::weighted(0.1),
        seed: u64,
        short in 0usize..10,
    ) {
        let mode = if latency { EncodeMode::Latency } else { EncodeMode::AllAtFirstStep };
        let raw = EncoderParamsRaw {
            h, w, n_filters, k, pad: pad.unwrap_or(k / 2), threshold, norm_radius, steps, mode,
        };
        let Ok(p) = built_both_ways::<_, EncoderParams>(raw)? else {
            prop_assert!(
                h == 0 || w == 0 || n_filters == 0 || k % 2 == 0 || k > 31 || raw.pad != k / 2
                    || steps == 0 || steps > 254 || threshold < 0 || norm_radius > 100
                    || u64::from(h) * u64::from(w) * u64::from(n_filters) > 1 << 24
            );
            return Ok(());
        };
        if pad.is_none() {
            prop_assert_eq!(EncoderParams::new(h, w, n_filters, k, threshold, norm_radius, steps, mode), Ok(p));
        }
        let (n, plane) = (p.n_out(), usize::from(h) * usize::from(w));
        if n > 3000 {
            return Ok(());
        }
        let mut rng = Rng::new(seed);
        let range = if big_kernels { 1 << 24 } else { 4000 };
        let kernels: Vec<i32> = (0..p.n_kernel())
            .map(|_| rng.below(2 * range + 1) as i32 - range as i32)
            .collect();
        let image: Vec<u8> = (0..plane).map(|_| rng.next_u64() as u8).collect();
        let sizes = [p.n_kernel(), plane, n, plane, n, n];
        let len = |i: usize| if i == short { sizes[i] - 1 } else { sizes[i] };
        let kernels = &kernels[..len(0)];
        let image = &image[..len(1)];
        let (mut resp, mut rows, mut keys) = (vec![0i32; len(2)], vec![0i64; len(3)], vec![0u64; len(4)]);
        let mut t = vec![0u8; len(5)];
        let mut s = EncodeScratch { resp: &mut resp, rows: &mut rows, keys: &mut keys };
        let r = encode(&p, kernels, image, &mut s, &mut t);
        if short < sizes.len() {
            prop_assert!(r.is_err(), "short buffer {}", short);
            return Ok(());
        }
        let gain_ok = kernels.chunks(usize::from(k) * usize::from(k)).all(|f| {
            f.iter().map(|&v| i64::from(v).abs()).sum::<i64>() * 255 <= i64::from(i32::MAX)
        });
        match r {
            Ok(spiking) => {
                prop_assert!(gain_ok);
                prop_assert!(spiking <= n);
                prop_assert_eq!(t.iter().filter(|&&x| x != NEVER).count(), spiking);
            }
            Err(e) => {
                prop_assert!(!gain_ok, "{}", e);
                prop_assert_eq!(e, Error::InvalidParam("encoder: filter gain overflows i32"));
            }
        }
    }

    /// Homeostasis rules: constructed only when valid; their updates stay in bounds.
    #[test]
    fn homeostasis_is_valid_or_an_error(
        (rest, plus, decay, lo, hi) in (any::<i32>(), any::<i32>(), any::<u32>(), any::<i32>(), any::<i32>()),
        (lr, target) in (any::<u32>(), prop_oneof![0u32..=65536, any::<u32>()]),
        thetas in proptest::collection::vec(any::<i32>(), 0..40),
        spiked in proptest::collection::vec(any::<u32>(), 0..3),
        counts in proptest::collection::vec(any::<u32>(), 0..40),
        presentations: u32,
        (maps, plane) in (prop_oneof![0usize..6, any::<usize>()], prop_oneof![0usize..6, any::<usize>()]),
        sigma in prop_oneof![0.0..0.5f64, Just(f64::NAN), Just(f64::INFINITY), Just(-1.0)],
        (map, out_c) in (0usize..8, 0usize..8),
        seed: u64,
    ) {
        match AdaptiveThreshold::new(rest, plus, decay, lo, hi) {
            Ok(a) => {
                prop_assert!(0 < lo && lo <= rest && rest <= hi && plus >= 0);
                let mut th = thetas.clone();
                let r = a.update(&mut th, &spiked);
                prop_assert_eq!(r.is_ok(), spiked.len() >= words(thetas.len()));
                a.update_with(&mut th, |c| c % 3 == 0);
                if r.is_ok() {
                    prop_assert!(th.iter().all(|&t| lo <= t && t <= hi));
                }
            }
            Err(e) => {
                prop_assert!(!(0 < lo && lo <= rest && rest <= hi && plus >= 0));
                prop_assert!(matches!(e, Error::InvalidParam(_)));
            }
        }
        match RateTarget::new(lr, target, lo, hi) {
            Ok(r) => {
                let mut th = thetas.clone();
                let u = r.update(&mut th, &counts, presentations);
                prop_assert_eq!(u.is_ok(), counts.len() == thetas.len());
                if u.is_ok() && presentations > 0 {
                    prop_assert!(th.iter().all(|&t| lo <= t && t <= hi));
                }
            }
            Err(_) => prop_assert!(!(0 < lo && lo <= hi && target <= 1 << 16)),
        }
        let cells = vec![NEVER; 30];
        let mut out = vec![0u32; 2];
        let fits = maps.checked_mul(plane).is_some_and(|n| n <= cells.len()) && words(maps) <= out.len();
        prop_assert_eq!(spiked_maps(&cells, maps, plane, &mut out).is_ok(), fits);
        prop_assert_eq!(dead_maps(&counts, presentations, 655, 101, &mut out).is_ok(), words(counts.len()) <= 2);
        let mut rng = Rng::new(seed);
        let mut w = weights(&mut rng, 24);
        let ok = sigma.is_finite() && sigma >= 0.0 && out_c > 0 && map < out_c && 24 % out_c == 0;
        prop_assert_eq!(recover(&mut w, out_c, map, &mut rng, sigma).is_ok(), ok);
        let dead = [u32::MAX];
        let r = recover_dead(&mut w, out_c, &dead, &mut rng, sigma);
        prop_assert!(r.is_ok() || out_c > 0);
    }

    /// STDP parameters of any value: a change never overflows and the weight saturates.
    #[test]
    fn stdp_any_rates(p in stdp_any(), w: u16, ltp: bool) {
        let d = p.delta(w, ltp);
        prop_assert!(d.unsigned_abs() <= 1 << 16);
        let _ = hebb_core::stdp::apply(w, d);
        let _ = p.doubled(&p, u32::MAX);
    }

    /// Readouts with any shape over any bytes: scores are an error, never a panic, when the
    /// bytes do not match.
    #[test]
    fn readout_any_shape(
        n_features in prop_oneof![0u32..40, any::<u32>()],
        n_classes in prop_oneof![0u16..5, any::<u16>()],
        bits in prop_oneof![Just(8u8), Just(16), any::<u8>()],
        weights in proptest::collection::vec(any::<u8>(), 0..200),
        bias in proptest::collection::vec(any::<u8>(), 0..24),
        features in proptest::collection::vec(any::<u32>(), 0..3),
        n_scores in 0usize..8,
        (f, c) in (0usize..50, 0usize..8),
    ) {
        let r = ReadoutBlob { n_features, n_classes, bits, weights: &weights, bias: &bias };
        let mut scores = vec![0i32; n_scores];
        let _ = r.scores(&features, &mut scores);
        let got = r.weight(f, c);
        let per = if bits == 8 { 1 } else { 2 };
        let inside = c < usize::from(n_classes)
            && (f * usize::from(n_classes) + c + 1) * per <= weights.len();
        prop_assert_eq!(got.is_some(), inside);
        prop_assert_eq!(r.weight(usize::MAX, c), None);
    }

    /// Spike-time and bit-set helpers with any sizes.
    #[test]
    fn spike_helpers_any_sizes(
        t in proptest::collection::vec(any::<u8>(), 0..40),
        steps: u8,
        (n_order, n_starts) in (0usize..45, 0usize..260),
        i in prop_oneof![0usize..100, any::<usize>()],
    ) {
        let (mut order, mut starts) = (vec![0u32; n_order], vec![0u32; n_starts]);
        let spikes = t.iter().filter(|&&x| x < steps).count();
        let r = sort_events(&t, steps, &mut order, &mut starts);
        prop_assert_eq!(r.is_ok(), n_starts > usize::from(steps) && n_order >= spikes);
        let mut set = vec![0u32; 2];
        set_bit(&mut set, i);
        prop_assert_eq!(bit(&set, i), i < 64);
    }

    /// Weight storages read out of range give 0 and add nothing.
    #[test]
    fn weight_rows_out_of_range(
        w in proptest::collection::vec(any::<u16>(), 0..40),
        start in prop_oneof![0usize..50, any::<usize>()],
        len in 0usize..50,
        i in prop_oneof![0usize..50, any::<usize>()],
    ) {
        let bytes = le_bytes(&w);
        let narrow: Vec<u8> = w.iter().map(|&x| (x >> 8) as u8).collect();
        let inside = start.checked_add(len).is_some_and(|e| e <= w.len());
        let expect: Vec<i32> = if inside {
            w[start..start + len].iter().map(|&x| i32::from(x)).collect()
        } else {
            vec![0; len]
        };
        let mut dst = vec![0i32; len];
        w[..].add_row(start, &mut dst);
        prop_assert_eq!(&dst, &expect);
        let mut dst = vec![0i32; len];
        Le16(&bytes).add_row(start, &mut dst);
        prop_assert_eq!(&dst, &expect);
        let expect8: Vec<i32> = if inside {
            narrow[start..start + len].iter().map(|&x| i32::from(hebb_core::q::widen8(x))).collect()
        } else {
            vec![0; len]
        };
        let mut dst = vec![0i32; len];
        Q8(&narrow).add_row(start, &mut dst);
        prop_assert_eq!(&dst, &expect8);
        let want = w.get(i).copied().unwrap_or(0);
        prop_assert_eq!(WeightRow::get(&w[..], i), want);
        prop_assert_eq!(Le16(&bytes).get(i), want);
        prop_assert_eq!(Q8(&narrow).get(i), narrow.get(i).map_or(0, |&x| hebb_core::q::widen8(x)));
    }

    /// Dense real convolution with any sizes.
    #[test]
    fn conv_real_any_sizes(
        (c, h, w) in (0u16..4, 0u16..6, 0u16..6),
        out_c in prop_oneof![0usize..3, any::<usize>()],
        k in prop_oneof![0usize..5, any::<usize>()],
        pad in prop_oneof![0usize..3, any::<usize>()],
        n_in in 0usize..200, n_k in 0usize..200, n_out in 0usize..400,
    ) {
        let input = vec![i32::MAX; n_in];
        let kernels = vec![i32::MIN; n_k];
        let mut out = vec![0i64; n_out];
        let _ = conv_real(&input, Shape::new(c, h, w), &kernels, out_c, k, pad, &mut out);
    }

    /// Model bytes with a few bytes changed decode to an error or to a model that validates and
    /// encodes again; never a panic.
    #[test]
    fn model_body_edits(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let model = fixtures::tiny().encode();
        let mut body = model[hebb_core::model::HEADER_LEN..].to_vec();
        for (i, v) in edits {
            let n = body.len();
            body[i % n] = v;
        }
        let mut framed = model[..hebb_core::model::HEADER_LEN].to_vec();
        framed[6..10].copy_from_slice(&(body.len() as u32).to_le_bytes());
        framed[10..14].copy_from_slice(&hebb_core::model::CRC.checksum(&body).to_le_bytes());
        framed.extend_from_slice(&body);
        if let Ok(m) = Model::decode(&framed) {
            prop_assert_eq!(m.validate(), Ok(()));
            let mut buf = vec![0u8; framed.len() + 64];
            prop_assert!(m.encode(&mut buf).is_ok());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The named cases.

#[test]
fn stride_zero_is_an_error_naming_the_stride() {
    let e = ConvGeom::new(Shape::new(1, 4, 4), 1, 3, 0, Padding::Valid).unwrap_err();
    assert_eq!(e, Error::Zero("conv stride"));
    assert!(e.to_string().contains("stride"), "{e}");
    let e = PoolGeom::new(Shape::new(1, 4, 4), 2, 0, 0).unwrap_err();
    assert_eq!(e, Error::Zero("pool stride"));
    assert!(e.to_string().contains("stride"), "{e}");
    // Deserialisation goes through the same check.
    let raw = ConvGeomRaw {
        input: Shape::new(1, 4, 4),
        out_c: 1,
        k: 3,
        stride: 0,
        pad: 0,
    };
    let bytes = postcard::to_stdvec(&raw).unwrap();
    assert!(postcard::from_bytes::<ConvGeom>(&bytes).is_err());
    let raw = PoolGeomRaw {
        input: Shape::new(1, 4, 4),
        k: 2,
        stride: 0,
        pad: 0,
    };
    let bytes = postcard::to_stdvec(&raw).unwrap();
    assert!(postcard::from_bytes::<PoolGeom>(&bytes).is_err());
}

#[test]
fn kernel_larger_than_padded_input_is_an_error() {
    // 4 + 2·1 = 6 < 7.
    let e = ConvGeom::new(Shape::new(1, 4, 4), 1, 7, 1, Padding::Explicit(1)).unwrap_err();
    assert_eq!(
        e,
        Error::KernelTooLarge {
            what: "conv kernel",
            k: 7,
            padded: 6
        }
    );
    assert!(
        e.to_string().contains("larger than the padded input"),
        "{e}"
    );
    // Only one side too small: 9 columns fit, 2 + 0 rows do not.
    let e = ConvGeom::new(Shape::new(1, 2, 9), 1, 3, 1, Padding::Valid).unwrap_err();
    assert!(
        matches!(
            e,
            Error::KernelTooLarge {
                k: 3,
                padded: 2,
                ..
            }
        ),
        "{e:?}"
    );
    let e = PoolGeom::new(Shape::new(1, 2, 2), 3, 1, 0).unwrap_err();
    assert!(
        matches!(
            e,
            Error::KernelTooLarge {
                what: "pool window",
                k: 3,
                padded: 2
            }
        ),
        "{e:?}"
    );
    // A kernel that just fits the padded input is fine: one output.
    let g = ConvGeom::new(Shape::new(1, 4, 4), 1, 6, 1, Padding::Explicit(1)).unwrap();
    assert_eq!(g.output(), Shape::new(1, 1, 1));
}

#[test]
fn zero_sizes_are_errors_naming_them() {
    let s = Shape::new(1, 4, 4);
    assert_eq!(
        ConvGeom::new(s, 1, 0, 1, Padding::Valid),
        Err(Error::Zero("conv kernel"))
    );
    assert_eq!(
        ConvGeom::new(s, 0, 3, 1, Padding::Valid),
        Err(Error::Zero("conv output maps"))
    );
    assert_eq!(
        ConvGeom::new(Shape::new(0, 4, 4), 1, 3, 1, Padding::Valid),
        Err(Error::Zero("conv input dimensions"))
    );
    assert_eq!(PoolGeom::new(s, 0, 1, 0), Err(Error::Zero("pool window")));
    assert_eq!(
        WtaParams::new(WtaMode::Both, 0, 1, false),
        Err(Error::Zero("WTA k"))
    );
    assert!(NeuronParams::new(NeuronKind::LifSub { leak: -1 }, true).is_err());
    assert!(EncoderParams::new(4, 4, 1, 3, 0, 0, 0, EncodeMode::Latency).is_err());
}

#[test]
fn decode_reports_the_parameter_error() {
    // The tiny model's conv geometry (1×4×4 → 2 maps, k 3, stride 1, pad 1), located in its
    // body by its own encoding, with the stride set to 0.
    let parts = fixtures::tiny();
    let m = parts.model();
    let geom = postcard::to_stdvec(&m.arch[0].conv).unwrap();
    let mut body = postcard::to_stdvec(&m).unwrap();
    let at = body
        .windows(geom.len())
        .position(|w| w == geom.as_slice())
        .expect("geometry in the body");
    body[at + 5] = 0; // input (3 bytes), out_c, k, stride
    let mut framed = Vec::new();
    framed.extend_from_slice(&hebb_core::model::MAGIC);
    framed.extend_from_slice(&hebb_core::model::FORMAT_VERSION.to_le_bytes());
    framed.extend_from_slice(&(body.len() as u32).to_le_bytes());
    framed.extend_from_slice(&hebb_core::model::CRC.checksum(&body).to_le_bytes());
    framed.extend_from_slice(&body);
    assert_eq!(Model::decode(&framed), Err(Error::Zero("conv stride")));
    // A kernel of 9 on the 4×4 input (padding 1): too large.
    body[at + 5] = 1;
    body[at + 4] = 9;
    let n = framed.len() - body.len();
    framed.truncate(n);
    framed[10..14].copy_from_slice(&hebb_core::model::CRC.checksum(&body).to_le_bytes());
    framed.extend_from_slice(&body);
    assert_eq!(
        Model::decode(&framed),
        Err(Error::KernelTooLarge {
            what: "conv kernel",
            k: 9,
            padded: 6
        })
    );
}

#[test]
fn huge_shapes_do_not_overflow() {
    let s = Shape::new(u16::MAX, u16::MAX, u16::MAX);
    assert!(s.len() >= usize::from(u16::MAX) * usize::from(u16::MAX));
    // Any conv on it is refused (fan-in or output size), never wrapped.
    assert!(ConvGeom::new(s, u16::MAX, 1, 1, Padding::Valid).is_err());
    assert!(ConvGeom::new(s, 1, u8::MAX, u8::MAX, Padding::Explicit(254)).is_err());
    let p = PoolGeom::new(s, 2, 2, 0).unwrap();
    assert_eq!(p.output(), Shape::new(u16::MAX, 32767, 32767));
    // Buffers far too small for it give errors.
    assert!(pool_times(&p, &[0; 4], &mut [0; 4], None).is_err());
    assert!(spiked_maps(&[0; 4], usize::MAX, 2, &mut [0; 1]).is_err());
}
