//! The saliency decoder (HULK) by hand: transposed convolutions with 1×1 and 3×3 kernels,
//! unpooling with per-step indices, the encoder's filters transposed, and one spike unravelled
//! through a two-layer model.

use hebb_core::decode::{
    DecodeParams, HulkScratch, Spike, conv_transpose, encoder_transpose, hulk, hulk_scratch_len,
    pool_winner, unpool,
};
use hebb_core::encode::{EncodeMode, EncoderParams, EventEncoding};
use hebb_core::events::voxel::{Binning, Norm};
use hebb_core::geometry::{ConvGeom, Padding, PoolGeom, Shape};
use hebb_core::model::{LayerArch, LayerBlob, Model, Provenance};
use hebb_core::neuron::{NeuronKind, NeuronParams};
use hebb_core::spikes::NEVER;

/// Q0.16 of `v`.
fn q(v: f64) -> u16 {
    (v * 65536.0).round().min(65535.0) as u16
}

#[test]
fn conv_transpose_3x3_one_spike_is_the_kernel_above_one_half() {
    let g = ConvGeom::new(Shape::new(1, 3, 3), 1, 3, 1, Padding::Same).unwrap();
    // [c_in][ky][kx][c_out] with one map each: the kernel row-major.
    let w: Vec<u16> = [0.9, 0.1, 0.6, 0.5, 0.7, 0.2, 0.3, 0.51, 1.0]
        .iter()
        .map(|&v| q(v))
        .collect();
    let mut active = [0u8; 9];
    active[4] = 1; // centre: input (ky, kx) gets w[ky][kx]
    let (mut acc, mut out) = ([0u32; 9], [0u8; 9]);
    let n = conv_transpose(&g, w.as_slice(), &active, 1 << 15, &mut acc, &mut out).unwrap();
    // 0.5 is not above 0.5; 0.51 is.
    assert_eq!(out, [1, 0, 1, 0, 1, 0, 0, 1, 1]);
    assert_eq!(n, 5);
    assert_eq!(acc[3], u32::from(q(0.5)));

    // Corner output (0, 0): input (iy, ix) = (ky − 1, kx − 1) gets w[iy + 1][ix + 1].
    let mut active = [0u8; 9];
    active[0] = 1;
    conv_transpose(&g, w.as_slice(), &active, 1 << 15, &mut acc, &mut out).unwrap();
    assert_eq!(out, [1, 0, 0, 1, 1, 0, 0, 0, 0]);
}

#[test]
fn conv_transpose_sums_overlapping_outputs() {
    let g = ConvGeom::new(Shape::new(1, 3, 3), 1, 3, 1, Padding::Same).unwrap();
    let w = vec![q(0.3); 9];
    // One spike: 0.3 everywhere it reaches, nothing active.
    let mut active = [0u8; 9];
    active[3] = 1;
    let (mut acc, mut out) = ([0u32; 9], [0u8; 9]);
    assert_eq!(
        conv_transpose(&g, w.as_slice(), &active, 1 << 15, &mut acc, &mut out).unwrap(),
        0
    );
    // Outputs (1, 0) and (1, 2): columns 0..=1 and 1..=2 of every row; column 1 gets 0.6.
    active[5] = 1;
    conv_transpose(&g, w.as_slice(), &active, 1 << 15, &mut acc, &mut out).unwrap();
    assert_eq!(out, [0, 1, 0, 0, 1, 0, 0, 1, 0]);
    assert_eq!(acc[1], 2 * u32::from(q(0.3)));
}

#[test]
fn conv_transpose_1x1_reads_the_tied_weight_layout() {
    // Two input maps, two output maps, 1×1: weights [c_in][c_out].
    let g = ConvGeom::new(Shape::new(2, 1, 2), 2, 1, 1, Padding::Valid).unwrap();
    let w = vec![q(0.9), q(0.2), q(0.1), q(0.8)]; // (ci0,co0) (ci0,co1) (ci1,co0) (ci1,co1)
    // Output map 1 at column 1.
    let active = [0, 0, 0, 1];
    let (mut acc, mut out) = ([0u32; 4], [0u8; 4]);
    conv_transpose(&g, w.as_slice(), &active, 1 << 15, &mut acc, &mut out).unwrap();
    // Input map 0 gets w(0,1) = 0.2, map 1 gets w(1,1) = 0.8, both at column 1.
    assert_eq!(out, [0, 0, 0, 1]);
    assert_eq!(acc, [0, u32::from(q(0.2)), 0, u32::from(q(0.8))]);
}

/// A 4×4 pre-pool map pooled 2/2: windows (0,0) [[4,2],[2,9]], (0,1) silent, (1,0) [[7,N],[N,1]],
/// (1,1) [[6,N],[N,N]].
fn pre4() -> [u8; 16] {
    const N: u8 = NEVER;
    [4, 2, N, N, 2, 9, N, N, 7, N, 6, N, N, 1, N, N]
}

#[test]
fn unpool_routes_each_pooled_spike_to_its_earliest_input() {
    let g = PoolGeom::new(Shape::new(1, 4, 4), 2, 2, 0).unwrap();
    let pre = pre4();
    // Ties at step 2 between flat 1 and flat 4: the lowest index, as pool.rs.
    assert_eq!(pool_winner(&g, &pre, 0, 0, 0), Some((1, 2)));
    assert_eq!(pool_winner(&g, &pre, 0, 0, 1), None);
    // The earliest input of window (1, 0) is at (3, 1), not at its first position (2, 0)
    // (which spiked too, later): the spike unpools to where it came from.
    assert_eq!(pool_winner(&g, &pre, 0, 1, 0), Some((13, 1)));
    let mut pooled = [0u8; 4];
    hebb_core::pool::pool_times(&g, &pre, &mut pooled, None).unwrap();
    assert_eq!(pooled, [2, NEVER, 1, 6]);

    let mut out = [0u8; 16];
    let n = unpool(&g, &pre, &[1, 1, 1, 1], NEVER, &mut out).unwrap();
    assert_eq!(n, 3);
    let set: Vec<usize> = (0..16).filter(|&i| out[i] == 1).collect();
    assert_eq!(set, [1, 10, 13]);
    // Causal: spikes after step 5 are not routed.
    unpool(&g, &pre, &[1, 1, 1, 1], 5, &mut out).unwrap();
    let set: Vec<usize> = (0..16).filter(|&i| out[i] == 1).collect();
    assert_eq!(set, [1, 13]);
    // Only active pooled positions unpool.
    unpool(&g, &pre, &[0, 0, 1, 0], NEVER, &mut out).unwrap();
    let set: Vec<usize> = (0..16).filter(|&i| out[i] == 1).collect();
    assert_eq!(set, [13]);
}

fn events_encoder(h: u16, w: u16, k: u8, channels: u8, split: bool) -> EncoderParams {
    let e = EventEncoding {
        channels,
        split_channels: split,
        norm: Norm::MaxPerBin,
        theta: 1 << 14,
        leak: 0,
        binning: Binning::Fraction,
        window_us: 0,
        stride_us: 0,
    };
    EncoderParams::new(h, w, 1, k, 0, 0, 4, EncodeMode::Events(e)).unwrap()
}

fn le(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn encoder_transpose_keeps_pixels_of_positive_sum() {
    // 3×3 DoG-like filter: positive centre and sides, negative corners.
    let one = 1 << 16;
    let ker = [
        -one,
        one / 2,
        -one,
        one / 2,
        one,
        one / 2,
        -one,
        one / 2,
        -one,
    ];
    let p = events_encoder(3, 3, 3, 2, false);
    let mut active = [0u8; 9];
    active[4] = 1;
    let (mut acc, mut mask) = ([0i64; 18], [0u8; 9]);
    let n = encoder_transpose(&p, &le(&ker), &active, &mut acc, &mut mask).unwrap();
    assert_eq!(mask, [0, 1, 0, 1, 1, 1, 0, 1, 0]);
    assert_eq!(n, 5);
    // Filters summing over channels feed both channels alike.
    assert_eq!(acc[0], i64::from(-one));
    assert_eq!(acc[9], i64::from(-one));
    // Two active maps positions side by side: (0, 0) and (0, 1) of the output.
    let mut active = [0u8; 9];
    active[0] = 1;
    active[1] = 1;
    encoder_transpose(&p, &le(&ker), &active, &mut acc, &mut mask).unwrap();
    // Pixel (0,0): centre of (0,0) + left side of (0,1) = 1 + 0.5; pixel (1,1): corner of (0,0)
    // + bottom of (0,1) = −1 + 0.5 < 0; pixel (0, 2): right side of (0,1) only = 0.5.
    assert_eq!(acc[0], i64::from(one + one / 2));
    assert_eq!(acc[4], i64::from(-one + one / 2));
    assert_eq!(mask, [1, 1, 1, 0, 0, 0, 0, 0, 0]);
}

/// Encoder 4×4 (one 1×1 filter of 1.0) → layer 0: 1 map, 1×1, weight 0.8, pool 2/2 → layer 1:
/// 1 map, 3×3 "same", weights 0.6.
/// Encoder, filter bytes, architecture, and the byte blobs of the two layers and thresholds.
type TinyParts = (
    EncoderParams,
    Vec<u8>,
    [LayerArch; 2],
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
);

fn tiny_model_parts() -> TinyParts {
    let enc = events_encoder(4, 4, 1, 1, false);
    let neuron = NeuronParams::new(NeuronKind::If, true).unwrap();
    let c0 = ConvGeom::new(Shape::new(1, 4, 4), 1, 1, 1, Padding::Valid).unwrap();
    let p0 = PoolGeom::new(c0.output(), 2, 2, 0).unwrap();
    let c1 = ConvGeom::new(p0.output(), 1, 3, 1, Padding::Same).unwrap();
    let arch = [
        LayerArch {
            conv: c0,
            pool: Some(p0),
            neuron,
        },
        LayerArch {
            conv: c1,
            pool: None,
            neuron,
        },
    ];
    let w0: Vec<u8> = q(0.8).to_le_bytes().to_vec();
    let w1: Vec<u8> = (0..9).flat_map(|_| q(0.6).to_le_bytes()).collect();
    let th = le(&[1 << 16]);
    (enc, le(&[1 << 16]), arch, w0, w1, th)
}

#[test]
fn hulk_unravels_one_spike_through_pool_and_both_layers() {
    let (enc, filt, arch, w0, w1, th) = tiny_model_parts();
    let m = Model {
        encoder: enc,
        filters: &filt,
        arch: hebb_core::heapless::Vec::from_slice(&arch).unwrap(),
        layers: hebb_core::heapless::Vec::from_slice(&[
            LayerBlob {
                bits: 16,
                weights: &w0,
                thresholds: &th,
            },
            LayerBlob {
                bits: 16,
                weights: &w1,
                thresholds: &th,
            },
        ])
        .unwrap(),
        readout: None,
        provenance: Provenance {
            preset: "test",
            dataset: "",
            seed: 0,
            epochs: hebb_core::heapless::Vec::new(),
            test_accuracy: f32::NAN,
            writer: "test",
        },
        state: &[],
    };
    m.validate().unwrap();
    let t0 = pre4();
    let t1 = [5u8, NEVER, NEVER, NEVER];
    let (n, ne) = hulk_scratch_len(&m);
    assert_eq!((n, ne), (16, 16));
    let (mut acc, mut pre, mut encs) = (vec![0u32; n], vec![0u8; n], vec![0i64; ne]);
    let (mut a0, mut a1, mut a2) = ([0u8; 16], [0u8; 4], [0u8; 4]);
    let mut mask = [0u8; 16];
    let spike = Spike {
        map: 0,
        y: 0,
        x: 0,
        step: 5,
    };
    let run = |p: DecodeParams,
               acc: &mut [u32],
               pre: &mut [u8],
               encs: &mut [i64],
               a0: &mut [u8],
               a1: &mut [u8],
               a2: &mut [u8],
               mask: &mut [u8]| {
        let mut s = HulkScratch {
            acc,
            pre,
            enc: encs,
        };
        let mut acts: [&mut [u8]; 3] = [a0, a1, a2];
        hulk(&m, spike, &[&t0, &t1], &p, &mut s, &mut acts, mask).unwrap()
    };
    let px = run(
        DecodeParams::default(),
        &mut acc,
        &mut pre,
        &mut encs,
        &mut a0,
        &mut a1,
        &mut a2,
        &mut mask,
    );
    // Layer 1ᵀ: the spike at (0, 0) reaches all four pooled positions with 0.6 > 0.5.
    assert_eq!(a2, [1, 0, 0, 0]);
    assert_eq!(a1, [1, 1, 1, 1]);
    // Unpooled by per-step indices: (0,0)→1 (step 2), (0,1) never spiked, (1,0)→13 (step 1),
    // (1,1)→10 at step 6 > 5 is not causal. Layer 0ᵀ (0.8) and the 1×1 filter keep them.
    let set = |v: &[u8]| (0..v.len()).filter(|&i| v[i] == 1).collect::<Vec<_>>();
    assert_eq!(set(&a0), [1, 13]);
    assert_eq!(set(&mask), [1, 13]);
    assert_eq!(px, 2);
    let px = run(
        DecodeParams {
            causal: false,
            ..DecodeParams::default()
        },
        &mut acc,
        &mut pre,
        &mut encs,
        &mut a0,
        &mut a1,
        &mut a2,
        &mut mask,
    );
    assert_eq!(set(&mask), [1, 10, 13]);
    assert_eq!(px, 3);
    // A spike outside the last layer is an error, not a panic.
    let mut s = HulkScratch {
        acc: &mut acc,
        pre: &mut pre,
        enc: &mut encs,
    };
    let mut acts: [&mut [u8]; 3] = [&mut a0, &mut a1, &mut a2];
    let bad = Spike {
        map: 0,
        y: 2,
        x: 0,
        step: 0,
    };
    assert!(
        hulk(
            &m,
            bad,
            &[&t0, &t1],
            &DecodeParams::default(),
            &mut s,
            &mut acts,
            &mut mask
        )
        .is_err()
    );
}
