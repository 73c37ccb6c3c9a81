//! The core's event preprocessing: voxel binning (by fraction and by fixed Δt), the per-bin
//! levels, the background-activity and hot-pixel filters, sliding windows, and the event
//! encoder. Hand-computed cases (the arithmetic is in the comments) and a property test of the
//! encoder against an f64 model of the same leaky, fire-once dynamics.

use hebb_core::Error;
use hebb_core::encode::{EncodeMode, EncodeScratch, EncoderParams, EventEncoding, encode};
use hebb_core::events::Event;
use hebb_core::events::filter::{BackgroundFilter, Verdict, count_pixels, is_hot, mark_hot};
use hebb_core::events::voxel::{Binning, Norm, ONE, VoxelParams, level, voxelize};
use hebb_core::events::window::WindowParams;
use hebb_core::spikes::NEVER;
use proptest::prelude::*;

fn ev(t: u64, x: u16, y: u16, on: bool) -> Event {
    Event::new(t, x, y, on)
}

#[test]
fn fraction_bins_by_hand() {
    // Span 100..200 in 4 bins: boundaries 125, 150, 175. 125 is on a boundary → bin 0; 150 →
    // bin 1; 200 (the last) → bin 3. Sensor 5×3 to raster 3×2: x' = round(x·2/4), y' =
    // round(y·1/2): (1, 0) → (0.5 → 0, 0); (4, 2) → (2, 1); (2, 1) → (1, 0.5 → 0).
    let p = VoxelParams::new(4, (3, 2), (5, 3), true, Binning::Fraction).unwrap();
    let events = [
        ev(100, 0, 0, true),
        ev(125, 1, 0, true),
        ev(150, 4, 2, false),
        ev(200, 2, 1, true),
    ];
    let mut g = vec![0u8; p.len()];
    assert_eq!(voxelize(&p, &events, 0, &mut g).unwrap(), 4);
    let at = |b: usize, c: usize, y: usize, x: usize| g[((b * 2 + c) * 2 + y) * 3 + x];
    assert_eq!(at(0, 0, 0, 0), 2);
    assert_eq!(at(1, 1, 1, 2), 1);
    assert_eq!(at(3, 0, 0, 1), 1);
    assert_eq!(g.iter().map(|&v| u32::from(v)).sum::<u32>(), 4);
    // One time only: every event in bin T/2 = 2.
    let mut g1 = vec![0u8; p.len()];
    voxelize(&p, &[ev(7, 0, 0, true), ev(7, 4, 2, true)], 0, &mut g1).unwrap();
    assert_eq!(
        g1[2 * 12..3 * 12]
            .iter()
            .map(|&v| u32::from(v))
            .sum::<u32>(),
        2
    );
}

#[test]
fn fixed_bins_by_hand() {
    // Δt = 10 µs from start 1000, 3 bins: [1000, 1010), [1010, 1020), [1020, 1030).
    let p = VoxelParams::new(3, (2, 1), (2, 1), false, Binning::FixedDt { dt_us: 10 }).unwrap();
    let events = [
        ev(999, 0, 0, true),  // before the window: dropped
        ev(1000, 0, 0, true), // bin 0
        ev(1009, 1, 0, false),
        ev(1010, 1, 0, true), // bin 1
        ev(1029, 0, 0, false),
        ev(1030, 0, 0, true), // past the window: dropped
    ];
    let mut g = vec![0u8; p.len()];
    assert_eq!(voxelize(&p, &events, 1000, &mut g).unwrap(), 4);
    assert_eq!(g, [1, 1, 0, 1, 1, 0]);
}

#[test]
fn voxel_counts_saturate_and_bad_events_are_errors() {
    let p = VoxelParams::new(1, (1, 1), (2, 2), false, Binning::Fraction).unwrap();
    let many: Vec<Event> = (0..300).map(|t| ev(t, 1, 1, true)).collect();
    let mut g = [0u8; 1];
    voxelize(&p, &many, 0, &mut g).unwrap();
    assert_eq!(g[0], 255);
    assert_eq!(
        voxelize(&p, &[ev(0, 2, 0, true)], 0, &mut g),
        Err(Error::OutOfRange("event outside the sensor"))
    );
    assert!(matches!(
        voxelize(&p, &many, 0, &mut []),
        Err(Error::BufferTooSmall { .. })
    ));
    assert!(VoxelParams::new(0, (1, 1), (1, 1), false, Binning::Fraction).is_err());
    assert!(VoxelParams::new(1, (1, 1), (1, 1), false, Binning::FixedDt { dt_us: 0 }).is_err());
    assert!(VoxelParams::new(1, (0, 1), (1, 1), false, Binning::Fraction).is_err());
}

#[test]
fn levels_by_hand() {
    // 1/3 · 65536 = 21845.33 → 21845; 2/3 · 65536 = 43690.67 → 43691; 3/3 → 65536.
    assert_eq!(level(Norm::MaxPerBin, 1, 3), 21845);
    assert_eq!(level(Norm::MaxPerBin, 2, 3), 43691);
    assert_eq!(level(Norm::MaxPerBin, 3, 3), ONE);
    // 1/2 exactly; ties cannot occur otherwise (65536·c/m has denominator m).
    assert_eq!(level(Norm::MaxPerBin, 1, 2), 32768);
    assert_eq!(level(Norm::MaxPerBin, 0, 0), 0);
    assert_eq!(level(Norm::Count, 7, 9), 7 * ONE);
    assert_eq!(level(Norm::Binary, 7, 9), ONE);
    assert_eq!(level(Norm::Binary, 0, 9), 0);
}

#[test]
fn background_filter_by_hand() {
    let f = BackgroundFilter::new(4, 4, 100, 10).unwrap();
    let mut last = vec![0u64; f.pixels()];
    // The first event has no neighbour: unsupported (but recorded).
    assert_eq!(
        f.judge(&mut last, &ev(0, 1, 1, true)).unwrap(),
        Verdict::Unsupported
    );
    // A diagonal neighbour 50 µs later: supported by (1, 1).
    assert_eq!(
        f.judge(&mut last, &ev(50, 2, 2, true)).unwrap(),
        Verdict::Keep
    );
    // (1, 1) again 5 µs after (2, 2) but 55 µs after itself: outside its 10-µs refractory
    // period, and (2, 2) supports it.
    assert_eq!(
        f.judge(&mut last, &ev(55, 1, 1, false)).unwrap(),
        Verdict::Keep
    );
    // (1, 1) 3 µs later: refractory.
    assert_eq!(
        f.judge(&mut last, &ev(58, 1, 1, false)).unwrap(),
        Verdict::Refractory
    );
    // (3, 3) at 151: its neighbour (2, 2) fired at 50, 101 µs ago (> 100): unsupported.
    assert_eq!(
        f.judge(&mut last, &ev(151, 3, 3, true)).unwrap(),
        Verdict::Unsupported
    );
    // (0, 0) at 154: (1, 1) fired at 55 (99 µs ago; the refractory event at 58 was not
    // recorded): supported.
    assert_eq!(
        f.judge(&mut last, &ev(154, 0, 0, true)).unwrap(),
        Verdict::Keep
    );
    // A far pixel is never supported by a pixel two columns away.
    assert_eq!(
        f.judge(&mut last, &ev(155, 3, 0, true)).unwrap(),
        Verdict::Unsupported
    );
    assert_eq!(
        f.judge(&mut last, &ev(156, 4, 0, true)),
        Err(Error::OutOfRange("event outside the sensor"))
    );
    assert!(BackgroundFilter::new(4, 4, 0, 0).is_err());
}

#[test]
fn hot_pixels_by_hand() {
    // 3×2 sensor; pixel (2, 1) (index 5) fires 10 times, (0, 0) twice.
    let mut events = vec![ev(0, 0, 0, true), ev(1, 0, 0, true)];
    events.extend((0..10).map(|t| ev(t, 2, 1, false)));
    let mut counts = vec![0u32; 6];
    count_pixels(&events, 3, &mut counts).unwrap();
    assert_eq!(counts, [2, 0, 0, 0, 0, 10]);
    let mut mask = [0u32; 1];
    assert_eq!(mark_hot(&counts, 5, &mut mask).unwrap(), 1);
    assert_eq!(mask[0], 1 << 5);
    assert!(is_hot(&mask, 3, &ev(0, 2, 1, true)));
    assert!(!is_hot(&mask, 3, &ev(0, 0, 0, true)));
    assert_eq!(mark_hot(&counts, 1, &mut mask).unwrap(), 2);
    assert!(count_pixels(&[ev(0, 3, 0, true)], 3, &mut counts).is_err());
}

#[test]
fn sliding_windows_by_hand() {
    let events: Vec<Event> = [0u64, 5, 10, 15, 20, 35]
        .iter()
        .map(|&t| ev(t, 0, 0, true))
        .collect();
    // Length 10, stride 5, from 0 to 35: starts 0, 5, …, 35.
    let w = WindowParams::new(10, 5).unwrap();
    let got: Vec<(u64, Vec<u64>)> = w
        .over(&events, 0, 35)
        .map(|x| (x.start, x.events.iter().map(|e| e.t).collect()))
        .collect();
    let want: Vec<(u64, Vec<u64>)> = vec![
        (0, vec![0, 5]),
        (5, vec![5, 10]),
        (10, vec![10, 15]),
        (15, vec![15, 20]),
        (20, vec![20]),
        (25, vec![]),
        (30, vec![35]),
        (35, vec![35]),
    ];
    assert_eq!(got, want);
    // A stride longer than the window leaves gaps.
    let gaps: Vec<usize> = WindowParams::new(5, 20)
        .unwrap()
        .over(&events, 0, 35)
        .map(|x| x.events.len())
        .collect();
    assert_eq!(gaps, [1, 1]); // [0, 5) and [20, 25)
    assert!(WindowParams::new(0, 1).is_err());
    assert!(WindowParams::new(1, 0).is_err());
    assert_eq!(w.over(&events, 10, 5).count(), 0);
}

fn encoding(channels: u8, split: bool, norm: Norm, theta: i32, leak: i32) -> EventEncoding {
    EventEncoding {
        channels,
        split_channels: split,
        norm,
        theta,
        leak,
        binning: Binning::Fraction,
        window_us: 0,
        stride_us: 0,
    }
}

fn run_encoder(p: &EncoderParams, kernels: &[i32], grid: &[u8]) -> (Vec<u8>, usize) {
    let n = p.n_out();
    let (mut resp, mut rows, mut keys) = (vec![0i32; n], vec![0i64; n], vec![0u64; n]);
    let mut s = EncodeScratch {
        resp: &mut resp,
        rows: &mut rows,
        keys: &mut keys,
    };
    let mut times = vec![0u8; n];
    let spiking = encode(p, kernels, grid, &mut s, &mut times).unwrap();
    (times, spiking)
}

#[test]
fn event_encoder_by_hand() {
    // One 1×3 raster, one channel, a 1×1 kernel of weight 1: each neuron sees its own pixel.
    // θ = 0.5, λ = 0.1; counts normalised by the bin's maximum.
    // Bin 0: counts [2, 1, 0] → levels [1, 0.5, 0]; V = [0.9, 0.4, 0]: neuron 0 fires at 0.
    // Bin 1: counts [0, 1, 1] → levels [0, 1, 1]; V1 = 0.4 + 1 − 0.1 = 1.3 fires at 1, V2 =
    // 0.9 fires at 1.
    // Bin 2: nothing left to fire.
    let e = encoding(1, false, Norm::MaxPerBin, ONE / 2, ONE / 10);
    let p = EncoderParams::new(1, 3, 1, 1, 0, 0, 3, EncodeMode::Events(e)).unwrap();
    assert_eq!(p.n_in(), 9);
    let (t, n) = run_encoder(&p, &[ONE], &[2, 1, 0, 0, 1, 1, 0, 0, 0]);
    assert_eq!((t.as_slice(), n), (&[0, 1, 1][..], 3));
    // Leak wins: a level of 0.3 per bin against λ = 0.3 never charges the neuron.
    let e = encoding(1, false, Norm::Count, ONE / 2, 3 * ONE / 10);
    let p = EncoderParams::new(1, 1, 1, 1, 0, 0, 3, EncodeMode::Events(e)).unwrap();
    let (t, _) = run_encoder(&p, &[3 * ONE / 10], &[1, 1, 1]);
    assert_eq!(t, [NEVER]);
    // Two channels with their own maps: ON and OFF land in maps 0 and 1.
    let e = encoding(2, true, Norm::Binary, ONE / 2, 0);
    let p = EncoderParams::new(1, 2, 1, 1, 0, 0, 1, EncodeMode::Events(e)).unwrap();
    assert_eq!(p.maps(), 2);
    let (t, _) = run_encoder(&p, &[ONE], &[1, 0, 0, 3]);
    // Map 0 (ON): pixel 0; map 1 (OFF): pixel 1.
    assert_eq!(t, [0, NEVER, NEVER, 0]);
    // The same grid with the filters summing over channels: one map, both pixels.
    let e = encoding(2, false, Norm::Binary, ONE / 2, 0);
    let p = EncoderParams::new(1, 2, 1, 1, 0, 0, 1, EncodeMode::Events(e)).unwrap();
    let (t, _) = run_encoder(&p, &[ONE], &[1, 0, 0, 3]);
    assert_eq!(t, [0, 0]);
}

#[test]
fn event_encoder_rejects_bad_parameters() {
    let ok = encoding(2, false, Norm::MaxPerBin, ONE, 0);
    let mk = |e: EventEncoding, thr: i32, r: u8| {
        EncoderParams::new(4, 4, 1, 3, thr, r, 5, EncodeMode::Events(e))
    };
    assert!(mk(ok, 0, 0).is_ok());
    assert!(mk(EventEncoding { channels: 3, ..ok }, 0, 0).is_err());
    assert!(mk(EventEncoding { channels: 0, ..ok }, 0, 0).is_err());
    assert!(mk(EventEncoding { theta: 0, ..ok }, 0, 0).is_err());
    assert!(mk(EventEncoding { leak: -1, ..ok }, 0, 0).is_err());
    assert!(mk(ok, 1, 0).is_err());
    assert!(mk(ok, 0, 1).is_err());
    let fixed0 = EventEncoding {
        binning: Binning::FixedDt { dt_us: 0 },
        ..ok
    };
    assert!(mk(fixed0, 0, 0).is_err());
    let no_stride = EventEncoding {
        window_us: 100,
        ..ok
    };
    assert!(mk(no_stride, 0, 0).is_err());
}

/// The f64 model: the same levels (computed here from the formula), a dense "same"
/// correlation per step, `V ← max(0, V + I − λ)`, fire once at `V ≥ θ`.
#[allow(clippy::too_many_arguments)]
fn reference(
    h: usize,
    w: usize,
    k: usize,
    kernels: &[i32],
    grid: &[u8],
    steps: usize,
    ch: usize,
    split: bool,
    norm: Norm,
    theta: i32,
    leak: i32,
) -> Vec<u8> {
    let nf = kernels.len() / (k * k);
    let maps = if split { nf * ch } else { nf };
    let plane = h * w;
    let mut v = vec![0f64; maps * plane];
    let mut t = vec![NEVER; maps * plane];
    let pad = (k / 2) as isize;
    for s in 0..steps {
        let bin = &grid[s * ch * plane..(s + 1) * ch * plane];
        let max = f64::from(*bin.iter().max().unwrap());
        let lv = |c: u8| -> f64 {
            match norm {
                Norm::Count => f64::from(c) * 65536.0,
                Norm::Binary => {
                    if c > 0 {
                        65536.0
                    } else {
                        0.0
                    }
                }
                Norm::MaxPerBin => {
                    if max == 0.0 {
                        0.0
                    } else {
                        (f64::from(c) * 65536.0 / max + 0.5).floor()
                    }
                }
            }
        };
        let mut cur = vec![0f64; maps * plane];
        for c in 0..ch {
            for f in 0..nf {
                let m = if split { c * nf + f } else { f };
                for oy in 0..h as isize {
                    for ox in 0..w as isize {
                        let mut acc = 0f64;
                        for ky in 0..k as isize {
                            for kx in 0..k as isize {
                                let (iy, ix) = (oy + ky - pad, ox + kx - pad);
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    let cnt = bin[c * plane + iy as usize * w + ix as usize];
                                    acc += lv(cnt)
                                        * f64::from(
                                            kernels[f * k * k + (ky * k as isize + kx) as usize],
                                        );
                                }
                            }
                        }
                        cur[m * plane + oy as usize * w + ox as usize] += acc;
                    }
                }
            }
        }
        for i in 0..maps * plane {
            if t[i] != NEVER {
                continue;
            }
            v[i] = (v[i] + cur[i] - f64::from(leak) * 65536.0).max(0.0);
            if v[i] >= f64::from(theta) * 65536.0 {
                t[i] = s as u8;
                v[i] = 0.0;
            }
        }
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn event_encoder_matches_the_f64_model(
        h in 1usize..6, w in 1usize..6, k in prop::sample::select(vec![1usize, 3, 5]),
        nf in 1usize..3, ch in 1usize..3, split: bool, steps in 1usize..5,
        norm in prop::sample::select(vec![Norm::Count, Norm::Binary, Norm::MaxPerBin]),
        theta in 1i32..(3 * ONE), leak in 0i32..ONE,
        seed: u64,
    ) {
        let mut rng = hebb_core::rng::Rng::new(seed);
        let kernels: Vec<i32> = (0..nf * k * k)
            .map(|_| (rng.next_u64() % (2 * ONE as u64)) as i32 - ONE)
            .collect();
        let grid: Vec<u8> = (0..steps * ch * h * w)
            .map(|_| { let r = rng.next_u64() % 8; if r < 5 { 0 } else { (r - 4) as u8 } })
            .collect();
        let e = encoding(ch as u8, split, norm, theta, leak);
        let p = EncoderParams::new(h as u16, w as u16, nf as u8, k as u8, 0, 0, steps as u8,
            EncodeMode::Events(e)).unwrap();
        let (t, n) = run_encoder(&p, &kernels, &grid);
        let want = reference(h, w, k, &kernels, &grid, steps, ch, split, norm, theta, leak);
        prop_assert_eq!(&t, &want);
        prop_assert_eq!(n, want.iter().filter(|&&x| x != NEVER).count());
    }
}
