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

fn fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `bytes` with the first occurrence of `from` replaced by `to` (of the same length).
fn patched(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("{:?} not found", String::from_utf8_lossy(from)));
    let mut out = bytes.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

fn malformed(r: Result<Recording, EventError>, needle: &str) {
    match r {
        Err(
            e @ EventError::Malformed {
                format: "AEDAT4", ..
            },
        ) => {
            assert!(e.to_string().contains(needle), "`{e}` lacks `{needle}`")
        }
        other => panic!("expected AEDAT4 Malformed with `{needle}`, got {other:?}"),
    }
}

/// The AEDAT4 fixture (the first 0.12 s of the DAVIS346 recording shipped in the `aedat` crate
/// 1.3.3; see `tests/data/README.md`): LZ4-compressed packets of four streams. The expected
/// values were read with the Python `aedat` 2.3.0 package from PyPI (`aedat.Decoder`, the
/// `events` arrays of its packets concatenated), not with hebb's reader; on the whole
/// 6,144,209-byte file that package and this reader both give 78,830 events, 41,257 ON, from
/// 1589163147368868 to 1589163149728813 µs.
#[test]
fn aedat4_fixture_matches_the_reference_decoder() {
    use hebb::data::events::aedat::{self, Compression};
    let bytes = fixture("davis346_head.aedat4");
    let h = aedat::header(&bytes).unwrap();
    assert_eq!(h.compression, Compression::Lz4);
    assert_eq!(h.data_table, None);
    let kinds: Vec<(i32, &str, Option<u16>, Option<u16>)> = h
        .streams
        .iter()
        .map(|s| (s.id, s.type_id.as_str(), s.size_x, s.size_y))
        .collect();
    assert_eq!(
        kinds,
        [
            (0, "EVTS", Some(346), Some(260)),
            (1, "FRME", Some(346), Some(260)),
            (2, "IMUS", None, None),
            (3, "TRIG", None, None)
        ]
    );
    let r = aedat::read(&bytes).unwrap();
    assert_eq!((r.width, r.height), (346, 260));
    assert_eq!(r.events.len(), 4752);
    assert_eq!(r.events.iter().filter(|e| e.on).count(), 2540);
    assert_eq!(
        r.span(),
        Some((1_589_163_147_368_868, 1_589_163_147_488_817))
    );
    assert_eq!(
        r.events[..5],
        [
            ev(1_589_163_147_368_868, 215, 164, true),
            ev(1_589_163_147_368_950, 226, 160, true),
            ev(1_589_163_147_368_974, 40, 236, true),
            ev(1_589_163_147_368_981, 69, 226, true),
            ev(1_589_163_147_368_988, 213, 165, true),
        ]
    );
    assert_eq!(
        r.events[4750..],
        [
            ev(1_589_163_147_488_815, 63, 227, false),
            ev(1_589_163_147_488_817, 66, 229, true),
        ]
    );
    assert_eq!(aedat::read_stream(&bytes, Some(0)).unwrap(), r);
    malformed(
        aedat::read_stream(&bytes, Some(1)),
        "stream 1 holds `FRME`, not events",
    );
    malformed(aedat::read_stream(&bytes, Some(7)), "no stream 7");
    // The opener tells the format from the content, whatever the name.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("recording.dat");
    std::fs::write(&p, &bytes).unwrap();
    let (f, r2) = hebb::data::events::open(&p, None).unwrap();
    assert_eq!((f.name(), &r2), ("aedat4", &r));
    let e = hebb::data::events::open(&p, Some((240, 180))).unwrap_err();
    assert!(e.to_string().contains("declares a 346×260 sensor"), "{e}");
}

/// A data table ends the packets where the header says; a position outside the file is refused.
#[test]
fn aedat4_data_table_position_bounds_the_packets() {
    use hebb::data::events::aedat;
    let bytes = fixture("davis346_head.aedat4");
    let full = aedat::read(&bytes).unwrap();
    let start = aedat::header(&bytes).unwrap().packets_start;
    // The IOHeader's data-table position (an i64 of −1 in the fixture) sits at 18 + 36.
    assert_eq!(bytes[54..62], (-1i64).to_le_bytes());
    let first_size = i32::from_le_bytes(bytes[start + 4..start + 8].try_into().unwrap());
    let mut one = bytes.clone();
    let end = start + 8 + first_size as usize;
    one[54..62].copy_from_slice(&(end as i64).to_le_bytes());
    let r = aedat::read(&one).unwrap();
    assert!(!r.events.is_empty() && r.events.len() < full.events.len());
    assert_eq!(r.events[..], full.events[..r.events.len()]);
    let mut past = bytes.clone();
    past[54..62].copy_from_slice(&(bytes.len() as i64 + 1).to_le_bytes());
    malformed(aedat::read(&past), "data-table position");
}

/// Every damage gives a named error: what is wrong and, for packets, which and where.
#[test]
fn aedat4_corrupt_files_are_refused_by_name() {
    use hebb::data::events::aedat::{self, Compression};
    let bytes = fixture("davis346_head.aedat4");
    let start = aedat::header(&bytes).unwrap().packets_start;
    // Truncated header: inside the magic line, and inside the IOHeader.
    malformed(aedat::read(&bytes[..10]), "truncated header");
    malformed(aedat::read(&bytes[..16]), "no IOHeader length");
    malformed(
        aedat::read(&bytes[..100]),
        "the IOHeader declares 3108 bytes, 82 remain",
    );
    malformed(aedat::read(b""), "truncated header");
    // Bad magic.
    malformed(
        aedat::read(&patched(&bytes, b"4.0", b"3.1")),
        "not an AEDAT 4.0 file",
    );
    malformed(
        aedat::read(b"MATLAB 5.0 something else"),
        "no `#!AER-DAT4.0` line",
    );
    // Bad compression value (the IOHeader's first field, an i32 at 18 + 28).
    let mut c = bytes.clone();
    assert_eq!(c[46..50], 1i32.to_le_bytes());
    c[46] = 9;
    malformed(aedat::read(&c), "compression 9 is not one of");
    // Truncated packet: the last one loses its end; a packet header cut short.
    malformed(aedat::read(&bytes[..bytes.len() - 5]), "remain");
    let mut extra = bytes.clone();
    extra.extend_from_slice(&[0, 0, 0]);
    malformed(
        aedat::read(&extra),
        "truncated packet header (3 of 8 bytes)",
    );
    // A packet size beyond the file, and a negative one.
    let mut big = bytes.clone();
    big[start + 4..start + 8].copy_from_slice(&i32::MAX.to_le_bytes());
    malformed(
        aedat::read(&big),
        &format!("packet 0 at offset {start} (stream 0) declares 2147483647 bytes"),
    );
    big[start + 4..start + 8].copy_from_slice(&(-4i32).to_le_bytes());
    malformed(aedat::read(&big), "declares -4 bytes");
    // A packet of a stream the description does not declare.
    let mut unknown = bytes.clone();
    unknown[start..start + 4].copy_from_slice(&5i32.to_le_bytes());
    malformed(aedat::read(&unknown), "stream 5 is not in the description");
    // Damaged LZ4 data in the first event packet.
    let mut lz = bytes.clone();
    for b in &mut lz[start + 8 + 7..start + 8 + 40] {
        *b = 0xFF;
    }
    malformed(
        aedat::read(&lz),
        &format!("packet 0 at offset {start} (stream 0): LZ4"),
    );
    // The sensor size is not declared: an error, never a guess.
    malformed(
        aedat::read(&patched(&bytes, b"key=\"sizeX\"", b"key=\"sizeQ\"")),
        "event stream 0 declares no sensor width (sizeX)",
    );
    malformed(
        aedat::read(&patched(&bytes, b">346</attr>", b">3x6</attr>")),
        "sizeX = `3x6` is not a size",
    );
    // An event outside the declared sensor (a file written on 4×4, declared 4×3).
    let four = Recording::new("test", 4, 4, vec![ev(1, 0, 0, true), ev(2, 3, 3, false)]).unwrap();
    let w = aedat::encode(&four, Compression::None).unwrap();
    let e = aedat::read(&patched(
        &w,
        b">4</attr>\n            </node>",
        b">3</attr>\n            </node>",
    ))
    .unwrap_err();
    assert!(
        matches!(
            e,
            EventError::OutOfSensor {
                format: "AEDAT4",
                index: 1,
                x: 3,
                y: 3,
                width: 4,
                height: 3
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("lies outside the 4×3 sensor"), "{e}");
    // A negative time.
    let mut neg = w.clone();
    let at = neg.len() - 32;
    neg[at..at + 8].copy_from_slice(&(-5i64).to_le_bytes());
    let e = aedat::read(&neg).unwrap_err();
    assert!(
        matches!(
            e,
            EventError::BadValue {
                format: "AEDAT4",
                index: 0,
                ..
            }
        ) && e.to_string().contains("time -5 µs is negative"),
        "{e}"
    );
    // A wrong packet identifier (the packet's FlatBuffer starts 8 + 4 bytes into the packet).
    let ws = aedat::header(&w).unwrap().packets_start;
    let mut ident = w.clone();
    assert_eq!(&ident[ws + 16..ws + 20], b"EVTS");
    ident[ws + 16..ws + 20].copy_from_slice(b"IMUS");
    malformed(
        aedat::read(&ident),
        "identifier \"IMUS\", expected \"EVTS\"",
    );
    // A Zstandard frame that asks for a window larger than the file allows.
    let z = aedat::encode(&four, Compression::Zstd).unwrap();
    let zs = aedat::header(&z).unwrap().packets_start;
    let mut huge = z[..zs + 8].to_vec();
    // Magic, single-segment with an 8-byte content size of 2⁴⁰.
    huge.extend_from_slice(&[0x28, 0xB5, 0x2F, 0xFD, 0xE0]);
    huge.extend_from_slice(&(1u64 << 40).to_le_bytes());
    huge.extend_from_slice(&[0; 8]);
    let n = (huge.len() - zs - 8) as i32;
    huge[zs + 4..zs + 8].copy_from_slice(&n.to_le_bytes());
    malformed(
        aedat::read(&huge),
        "Zstandard window of 1099511627776 bytes exceeds",
    );
}

/// hebb's AEDAT4 writer and reader agree on random recordings, with every compression. (Files
/// from the writer, uncompressed, LZ4 and Zstandard, were also read back by the Python `aedat`
/// 2.3.0 package, which verifies the FlatBuffers, with the same events.)
#[test]
fn aedat4_round_trips_every_compression() {
    use hebb::data::events::aedat::{self, Compression};
    let mut rng = Rng::new(11);
    for (k, c) in [
        Compression::None,
        Compression::Lz4,
        Compression::Lz4High,
        Compression::Zstd,
        Compression::ZstdHigh,
    ]
    .into_iter()
    .enumerate()
    {
        for case in 0..6 {
            let (w, h) = (1 + rng.below(400) as u16, 1 + rng.below(300) as u16);
            let n = [0, 1, 4095, 4096, 4097, 10_000][case];
            let mut t = rng.below(1 << 40);
            let events: Vec<Event> = (0..n)
                .map(|_| {
                    t += rng.below(50);
                    ev(
                        t,
                        rng.below(u64::from(w)) as u16,
                        rng.below(u64::from(h)) as u16,
                        rng.below(2) == 1,
                    )
                })
                .collect();
            let rec = Recording::new("test", w, h, events).unwrap();
            let bytes = aedat::encode(&rec, c).unwrap();
            assert_eq!(aedat::header(&bytes).unwrap().compression, c);
            let back = aedat::read(&bytes).unwrap_or_else(|e| panic!("{c:?} case {case}: {e}"));
            assert_eq!(back, rec, "{c:?} case {case}");
            if k == 0 && n > 0 {
                // Any prefix of a valid file is refused or reads a prefix of its events.
                for cut in [bytes.len() - 1, bytes.len() / 2, 40] {
                    if let Ok(r) = aedat::read(&bytes[..cut]) {
                        assert_eq!(r.events[..], rec.events[..r.events.len()]);
                    }
                }
            }
        }
    }
    let far = Recording::new("test", 40_000, 2, vec![ev(0, 33_000, 0, true)]).unwrap();
    assert!(matches!(
        aedat::encode(&far, Compression::None),
        Err(EventError::BadValue { .. })
    ));
}

/// The opener picks the reader by content, then by extension, and says where the sensor came
/// from.
#[test]
fn open_tells_formats_and_sensor_sources() {
    use hebb::data::events::open::{Format, SensorFrom, open_bytes};
    use std::path::Path;
    let events = vec![ev(5, 2, 3, true), ev(9, 7, 1, false)];
    let rec = Recording::new("test", 8, 4, events.clone()).unwrap();
    let npy_bytes = npy::encode(&events);
    let o = open_bytes(&npy_bytes, Path::new("a.anything"), None).unwrap();
    assert_eq!(
        (o.format, o.sensor_from),
        (Format::Npy, SensorFrom::MaxCoordinate)
    );
    assert_eq!((o.recording.width, o.recording.height), (8, 4));
    let o = open_bytes(&npy_bytes, Path::new("a.npy"), Some((100, 50))).unwrap();
    assert_eq!((o.sensor_from, o.recording.width), (SensorFrom::Given, 100));
    let csv_bytes = b"x,y,t,p\n2,3,5,1\n7,1,9,0\n";
    let o = open_bytes(csv_bytes, Path::new("e.CSV"), None).unwrap();
    assert_eq!(
        (o.format.name(), o.recording.events.clone()),
        ("csv", events.clone())
    );
    let bin = nmnist::encode(&events).unwrap();
    let o = open_bytes(&bin, Path::new("00001.bin"), None).unwrap();
    assert_eq!(
        (o.format.name(), o.sensor_from),
        ("nmnist-bin", SensorFrom::Default)
    );
    assert_eq!((o.recording.width, o.recording.height), (34, 34));
    let a = hebb::data::events::aedat::encode(&rec, hebb::data::events::aedat::Compression::Lz4)
        .unwrap();
    let o = open_bytes(&a, Path::new("x.bin"), None).unwrap();
    assert_eq!(
        (o.format.name(), o.sensor_from, &o.recording),
        ("aedat4", SensorFrom::Declared, &rec)
    );
    let mat = fixture("ebssa_tiny.mat");
    let o = open_bytes(&mat, Path::new("r"), None).unwrap();
    assert_eq!(
        (o.format.name(), o.recording.width, o.recording.height),
        ("mat-ebssa", 240, 180)
    );
    assert_eq!(o.labels.map(|l| l.len()), Some(2));
    let e = open_bytes(b"hello", Path::new("notes.md"), None).unwrap_err();
    assert!(
        e.to_string().contains("cannot tell the format of notes.md"),
        "{e}"
    );
    let e = open_bytes(b"", Path::new("empty.csv"), None).unwrap_err();
    assert!(
        e.to_string().contains("no events to size the sensor from"),
        "{e}"
    );
    let e = open_bytes(b"garbage", Path::new("r.aedat4"), None).unwrap_err();
    assert!(e.to_string().contains("AEDAT4: not an AEDAT4 file"), "{e}");
}
