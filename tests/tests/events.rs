//! The event-file readers against hand-computed bytes, round trips and every refusal: a bad
//! file gives an error that names the problem and where, never a panic.

use hebb::data::events::{Event, EventError, Recording, csv, nmnist, npy};
use hebb_core::rng::Rng;

fn ev(t: u64, x: u16, y: u16, on: bool) -> Event {
    Event { t, x, y, on }
}

#[test]
fn nmnist_records_decode_by_hand() {
    // x = 3, y = 5, ON, t = 0x010203; then an overflow record; then x = 1, y = 2, OFF, t = 10.
    let bytes = [
        3, 5, 0x81, 0x02, 0x03, 0, 240, 0, 0, 0, 1, 2, 0x00, 0x00, 0x0A,
    ];
    let e = nmnist::decode(&bytes).unwrap();
    assert_eq!(
        e,
        vec![ev(0x01_0203, 3, 5, true), ev(10 + 8192, 1, 2, false)]
    );
    // The top bit of byte 2 is the polarity, not part of the time.
    let e = nmnist::decode(&[0, 0, 0xFF, 0xFF, 0xFF]).unwrap();
    assert_eq!(e, vec![ev((1 << 23) - 1, 0, 0, true)]);
}

#[test]
fn nmnist_round_trips_and_checks_the_sensor() {
    let mut rng = Rng::new(3);
    let mut t = 0u64;
    let events: Vec<Event> = (0..2000)
        .map(|_| {
            t += rng.below(20_000);
            ev(
                t,
                rng.below(34) as u16,
                rng.below(34) as u16,
                rng.below(2) == 1,
            )
        })
        .collect();
    assert!(t > 1 << 23, "the stream must need overflow records");
    let bytes = nmnist::encode(&events).unwrap();
    let r = nmnist::read(&bytes, 34, 34).unwrap();
    assert_eq!(r.events, events);
    assert_eq!(r.span(), Some((events[0].t, t)));
    let e = nmnist::read(&bytes, 30, 34).unwrap_err();
    assert!(
        matches!(e, EventError::OutOfSensor { width: 30, .. }),
        "{e}"
    );
    let e = nmnist::decode(&bytes[..bytes.len() - 2]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "N-MNIST .bin: {} bytes is not a whole number of 5-byte events (3 bytes left over)",
            bytes.len() - 2
        )
    );
    assert!(matches!(
        nmnist::read(&bytes, 0, 34),
        Err(EventError::EmptySensor { .. })
    ));
}

#[test]
fn recordings_are_time_ordered_and_windowed() {
    let r = Recording::new(
        "test",
        4,
        4,
        vec![ev(30, 0, 0, true), ev(10, 1, 1, false), ev(20, 2, 2, true)],
    )
    .unwrap();
    assert_eq!(
        r.events.iter().map(|e| e.t).collect::<Vec<_>>(),
        [10, 20, 30]
    );
    assert_eq!(r.window(15, 30), &[ev(20, 2, 2, true)]);
    assert!(r.window(31, 40).is_empty());
}

/// A `.npy` file from a header dictionary and a body.
fn npy_file(dict: &str, body: &[u8]) -> Vec<u8> {
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend_from_slice(body);
    out
}

#[test]
fn npy_tables_and_records_decode() {
    let events = vec![ev(5, 1, 2, true), ev(7, 3, 0, false)];
    assert_eq!(npy::decode(&npy::encode(&events)).unwrap(), events);
    // A structured array in another field order: t u4, x u2, y u2, p i1 (−1 = OFF).
    let mut body = Vec::new();
    for (t, x, y, p) in [(5u32, 1u16, 2u16, 1i8), (7, 3, 0, -1)] {
        body.extend_from_slice(&t.to_le_bytes());
        body.extend_from_slice(&x.to_le_bytes());
        body.extend_from_slice(&y.to_le_bytes());
        body.push(p as u8);
    }
    let dict = "{'descr': [('t', '<u4'), ('x', '<u2'), ('y', '<u2'), ('p', '|i1')], 'fortran_order': False, 'shape': (2,), }";
    assert_eq!(npy::decode(&npy_file(dict, &body)).unwrap(), events);
    // Fortran-order float64 table: columns stored one after another.
    let cols: [[f64; 2]; 4] = [[1.0, 3.0], [2.0, 0.0], [5.0, 7.0], [1.0, 0.0]];
    let body: Vec<u8> = cols
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let dict = "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 4), }";
    assert_eq!(npy::decode(&npy_file(dict, &body)).unwrap(), events);
    // Big-endian int32, C order.
    let body: Vec<u8> = [1i32, 2, 5, 1, 3, 0, 7, 0]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    let dict = "{'descr': '>i4', 'fortran_order': False, 'shape': (2, 4), }";
    assert_eq!(npy::decode(&npy_file(dict, &body)).unwrap(), events);
}

#[test]
fn npy_refusals_name_the_problem() {
    let i8s = |v: &[i64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let table = "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 4), }";
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"PK\x03\x04".to_vec(), "no \\x93NUMPY magic"),
        (
            npy_file(table, &i8s(&[1, 2, 3])),
            "declares 1 events (32 bytes) but 24 bytes follow",
        ),
        (
            npy_file(table, &i8s(&[1, 2, 3, 2])),
            "polarity 2 is not 0/1 or -1/+1",
        ),
        (npy_file(table, &i8s(&[1, 2, -3, 1])), "time -3 is negative"),
        (
            npy_file(table, &i8s(&[-1, 2, 3, 1])),
            "x = -1 is not a pixel coordinate",
        ),
        (
            npy_file(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4), }",
                &[0.0f32, 0.0, 0.0, 0.5]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect::<Vec<u8>>(),
            ),
            "is not an integer",
        ),
        (
            npy_file(
                "{'descr': '<c16', 'fortran_order': False, 'shape': (1, 4), }",
                &[],
            ),
            "unsupported dtype `<c16`",
        ),
        (
            npy_file("{'descr': 'é8', 'shape': (1, 4), }", &[]),
            "unsupported dtype",
        ),
        (
            npy_file(
                "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }",
                &[],
            ),
            "is not (n, 4)",
        ),
        (
            npy_file(
                "{'descr': [('x', '<u2'), ('y', '<u2'), ('p', '<u2')], 'shape': (0,), }",
                &[],
            ),
            "no field `t`",
        ),
        (
            npy_file(
                "{'descr': '<i8', 'shape': (99999999999999999999999, 4), }",
                &[],
            ),
            "integer too large",
        ),
        (
            npy_file(&format!("{}{}", "[".repeat(40), "]".repeat(40)), &[]),
            "nests too deep",
        ),
        (
            npy_file("{'descr': '<i8', 'shape': (1, 4)", &[]),
            "expected `,` or `}`",
        ),
    ];
    for (bytes, want) in cases {
        let e = npy::decode(&bytes).expect_err(want);
        assert!(e.to_string().contains(want), "{want}: got {e}");
    }
}

#[test]
fn csv_with_and_without_a_header() {
    let events = vec![ev(5, 1, 2, true), ev(7, 3, 0, false)];
    let text = "# a comment\nt, x, y, p, extra\n5,1,2,1,9\n\n7,3,0,-1,9\n";
    assert_eq!(csv::decode(text.as_bytes()).unwrap(), events);
    assert_eq!(csv::decode(b"1,2,5,1\n3,0,7,0\n").unwrap(), events);
    let r = csv::read(b"1,2,5,1\n3,0,7,0\n", 4, 3).unwrap();
    assert_eq!((r.width, r.height, r.events.len()), (4, 3, 2));
    for (text, want) in [
        ("x,y,p\n1,2,1\n", "has no column `t`"),
        ("1,2,5\n", "line 1: 3 columns, expected 4"),
        ("x,y,t,p\n1,2,5.5,1\n", "line 2: `5.5` is not an integer"),
        ("1,2,5,3\n", "line 1: polarity 3 is not 0/1 or -1/+1"),
        ("1,-2,5,1\n", "line 1: -2 is not a pixel coordinate"),
    ] {
        let e = csv::decode(text.as_bytes()).expect_err(want);
        assert!(e.to_string().contains(want), "{want}: got {e}");
    }
    let e = csv::read(b"9,0,1,1\n", 4, 4).unwrap_err();
    assert_eq!(
        e.to_string(),
        "CSV: event 0 at (9, 0) lies outside the 4×4 sensor"
    );
    assert!(
        csv::decode(&[0xFF, 0xFE])
            .unwrap_err()
            .to_string()
            .contains("not UTF-8")
    );
}

/// Generated N-MNIST-like recordings of the embedded digits have the statistics of real
/// N-MNIST samples (the reference's calibration: 3,823 ± 815 events, 486 distinct pixels, 51 %
/// ON; one real sample: 4,325 events, 452 pixels, 49.6 % ON) and its three-saccade time profile:
/// event rates peak mid-leg and fall at the turns.
#[test]
fn saccade_recordings_look_like_nmnist() {
    use hebb::data::events::saccade::{SaccadeParams, record};
    let split = hebb::data::embedded::load().unwrap();
    let p = SaccadeParams::default();
    let (mut counts, mut on, mut pixels) = (Vec::new(), 0usize, 0usize);
    let mut profile = [0usize; 32];
    let n = 40;
    for i in 0..n {
        let mut rng = Rng::new(1000 + i as u64);
        let r = record(split.train.image(i), 28, 28, &p, &mut rng).unwrap();
        counts.push(r.events.len());
        on += r.events.iter().filter(|e| e.on).count();
        let mut seen = std::collections::HashSet::new();
        for e in &r.events {
            seen.insert((e.x, e.y));
            profile[((e.t / 10_000) as usize).min(31)] += 1;
        }
        pixels += seen.len();
        // Same digit, same seed: the same recording.
        if i == 0 {
            let again = record(split.train.image(0), 28, 28, &p, &mut Rng::new(1000)).unwrap();
            assert_eq!(again, r);
        }
    }
    let mean = counts.iter().sum::<usize>() as f64 / n as f64;
    let on_frac = on as f64 / counts.iter().sum::<usize>() as f64;
    let px = pixels as f64 / n as f64;
    eprintln!(
        "events {mean:.0} (min {} max {}), ON {on_frac:.3}, pixels {px:.0}, profile {profile:?}",
        counts.iter().min().unwrap(),
        counts.iter().max().unwrap()
    );
    assert!((2_500.0..5_500.0).contains(&mean), "{mean}");
    assert!((0.45..0.57).contains(&on_frac), "{on_frac}");
    assert!((380.0..600.0).contains(&px), "{px}");
    // Mid-leg (≈ 52, 157, 262 ms) against the turns (105, 210 ms).
    for (mid, turn) in [(5, 10), (15, 10), (15, 21), (26, 21)] {
        assert!(profile[mid] > 2 * profile[turn], "{profile:?}");
    }
}

/// A voxel grid computed by hand: time bins over the recording's span (a boundary event goes to
/// the lower bin, the last event to the last bin), coordinates scaled with ties to even,
/// polarity split, and per-bin normalisation.
#[test]
fn voxel_grid_by_hand() {
    use hebb::data::events::voxel::{VoxelParams, grid};
    let r = Recording::new(
        "test",
        5,
        3,
        vec![
            ev(100, 0, 0, true),
            ev(150, 4, 2, false),
            ev(200, 2, 1, true),
            ev(125, 1, 0, true),
        ],
    )
    .unwrap();
    let p = VoxelParams {
        bins: 4,
        width: 3,
        height: 2,
        split_polarity: true,
        normalize: false,
    };
    let g = grid(&r, &p);
    assert_eq!(g.len(), 4 * 2 * 2 * 3);
    let at = |b: usize, c: usize, y: usize, x: usize| g[((b * 2 + c) * 2 + y) * 3 + x];
    // t = 100 and t = 125 (exactly on the first boundary) in bin 0; x = 1 → 0.5 → 0.
    assert_eq!(at(0, 0, 0, 0), 2.0);
    // t = 150 → bin 1, OFF channel, (4, 2) → (2, 1).
    assert_eq!(at(1, 1, 1, 2), 1.0);
    // t = 200 → bin 3, (2, 1) → (1, 0.5 → 0).
    assert_eq!(at(3, 0, 0, 1), 1.0);
    assert_eq!(g.iter().sum::<f32>(), 4.0);
    let n = grid(
        &r,
        &VoxelParams {
            normalize: true,
            ..p
        },
    );
    assert_eq!(n[0], 1.0);
    assert_eq!(n.iter().sum::<f32>(), 3.0);
    // One channel: polarities together.
    let one = grid(
        &r,
        &VoxelParams {
            split_polarity: false,
            ..p
        },
    );
    assert_eq!(one.len(), 4 * 2 * 3);
    assert_eq!(one.iter().sum::<f32>(), 4.0);
    // Every event at one time: bin T/2.
    let same = Recording::new("test", 5, 3, vec![ev(7, 0, 0, true), ev(7, 4, 2, true)]).unwrap();
    let g = grid(
        &same,
        &VoxelParams {
            split_polarity: false,
            ..p
        },
    );
    assert_eq!(g[2 * 6..3 * 6].iter().sum::<f32>(), 2.0);
    // Empty recording: zeros.
    let empty = Recording::new("test", 5, 3, vec![]).unwrap();
    assert!(grid(&empty, &p).iter().all(|&v| v == 0.0));
}

/// EBSSA recordings in MAT files written by SciPy (an independent writer), uncompressed and
/// compressed: the events with 0-based coordinates in time order, the object labels, and the
/// sensor check; MAT files written by hebb's own writer read back; damaged files are refused.
#[test]
fn ebssa_mat_files_read() {
    use hebb::data::events::mat::{read_ebssa, variables, write_structs};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    for f in ["ebssa_tiny.mat", "ebssa_tiny_z.mat"] {
        let bytes = std::fs::read(dir.join(f)).unwrap();
        let (r, labels) = read_ebssa(&bytes, 240, 180).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(
            r.events,
            vec![
                ev(10, 4, 1, false),
                ev(20, 239, 179, true),
                ev(30, 0, 0, true)
            ],
            "{f}"
        );
        assert_eq!(labels.len(), 2);
        assert_eq!(
            (labels[0].t, labels[0].x, labels[0].y, labels[0].id),
            (10_000, 9.5, 19.0, 1)
        );
        assert_eq!((labels[1].x, labels[1].y), (10.25, 20.5));
        // The ATIS-size event does not fit a smaller sensor: an error, not a rescale.
        let e = read_ebssa(&bytes, 200, 180).unwrap_err();
        assert!(
            e.to_string().contains("lies outside the 200×180 sensor"),
            "{e}"
        );
    }
    let own = write_structs(&[(
        "TD",
        vec![
            ("x", vec![3.0]),
            ("y", vec![4.0]),
            ("p", vec![-1.0]),
            ("ts", vec![7.0]),
        ],
    )]);
    let (r, labels) = read_ebssa(&own, 10, 10).unwrap();
    assert_eq!(r.events, vec![ev(7, 2, 3, false)]);
    assert!(labels.is_empty());
    assert_eq!(variables(&own).unwrap().len(), 1);
    let zero_based = write_structs(&[(
        "TD",
        vec![
            ("x", vec![0.0]),
            ("y", vec![4.0]),
            ("p", vec![1.0]),
            ("ts", vec![7.0]),
        ],
    )]);
    let e = read_ebssa(&zero_based, 10, 10).unwrap_err();
    assert!(
        e.to_string()
            .contains("TD.x = 0 is not a 1-based pixel coordinate"),
        "{e}"
    );
    let uneven = write_structs(&[(
        "TD",
        vec![
            ("x", vec![1.0, 2.0]),
            ("y", vec![4.0]),
            ("p", vec![1.0]),
            ("ts", vec![7.0]),
        ],
    )]);
    assert!(
        read_ebssa(&uneven, 10, 10)
            .unwrap_err()
            .to_string()
            .contains("differ in length")
    );
    let no_td = write_structs(&[("Obj", vec![("x", vec![1.0])])]);
    assert!(
        read_ebssa(&no_td, 10, 10)
            .unwrap_err()
            .to_string()
            .contains("no structure `TD`")
    );
    let mut truncated = std::fs::read(dir.join("ebssa_tiny.mat")).unwrap();
    truncated.truncate(300);
    assert!(read_ebssa(&truncated, 240, 180).is_err());
    let mut hdf5 = vec![0u8; 512];
    hdf5.extend_from_slice(b"\x89HDF\r\n\x1a\n");
    assert!(variables(&hdf5).unwrap_err().to_string().contains("-v7.3"));
    assert!(
        variables(b"short")
            .unwrap_err()
            .to_string()
            .contains("128-byte header")
    );
}

/// A compressed MAT element that inflates far beyond the file (a zip bomb) is refused before it
/// can exhaust memory; out-of-range generator parameters are refused.
#[test]
fn bombs_and_bad_generator_parameters_are_refused() {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&vec![0u8; 64 << 20]).unwrap();
    let packed = z.finish().unwrap();
    let mut file = hebb::data::events::mat::write_structs(&[]);
    file.extend_from_slice(&15u32.to_le_bytes());
    file.extend_from_slice(&(packed.len() as u32).to_le_bytes());
    file.extend_from_slice(&packed);
    let e = hebb::data::events::mat::variables(&file).unwrap_err();
    assert!(e.to_string().contains("decompresses to more than"), "{e}");

    use hebb::data::events::saccade::{SaccadeParams, record};
    let img = vec![0u8; 28 * 28];
    for p in [
        SaccadeParams {
            leg_us: 0,
            ..SaccadeParams::default()
        },
        SaccadeParams {
            step_us: 0,
            ..SaccadeParams::default()
        },
        SaccadeParams {
            sensor: 0,
            ..SaccadeParams::default()
        },
        SaccadeParams {
            threshold: (f64::NAN, 0.03),
            ..SaccadeParams::default()
        },
    ] {
        let e = record(&img, 28, 28, &p, &mut Rng::new(1)).unwrap_err();
        assert!(e.to_string().contains("parameters out of range"), "{e}");
    }
    assert!(record(&img, 27, 28, &SaccadeParams::default(), &mut Rng::new(1)).is_err());
}
