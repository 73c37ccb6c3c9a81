//! The EBSSA-like sky generator: determinism, the `.mat` round trip, labels on a straight track
//! inside the sensor, events that follow the labels, stars that stay put, hot pixels that
//! belong to the sensor, noise at its rates, the calibration totals; and `hebb events synth`.

use hebb::data::events::mat::{ObjectLabel, read_ebssa};
use hebb::data::events::satellites::{SatelliteParams, Sky, record, write_ebssa};
use hebb::data::events::{Event, Recording};
use hebb_core::rng::Rng;

fn sky(p: &SatelliteParams, seed: u64) -> Sky {
    record(p, &mut Rng::new(seed)).unwrap()
}

/// Distance from (x, y) to the segment a–b.
fn to_segment(x: f64, y: f64, a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let l2 = dx * dx + dy * dy;
    let u = if l2 > 0.0 {
        (((x - a.0) * dx + (y - a.1) * dy) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (px, py) = (a.0 + u * dx, a.1 + u * dy);
    ((x - px).powi(2) + (y - py).powi(2)).sqrt()
}

fn short(ms: u64) -> SatelliteParams {
    SatelliteParams {
        duration_us: ms * 1000,
        ..SatelliteParams::default()
    }
}

fn quiet(p: SatelliteParams) -> SatelliteParams {
    SatelliteParams {
        leak_hz: 0.0,
        shot_hz: 0.0,
        hot_fraction: 0.0,
        ..p
    }
}

/// A seed gives the same file, another seed another; the file reads back exactly.
#[test]
fn sky_files_are_deterministic_and_round_trip() {
    let p = SatelliteParams {
        width: 96,
        height: 64,
        n_sat: 2,
        ..short(400)
    };
    let a = sky(&p, 7);
    let bytes = write_ebssa(&a.recording, &a.labels);
    assert_eq!(
        bytes,
        write_ebssa(&sky(&p, 7).recording, &sky(&p, 7).labels)
    );
    let b = sky(&p, 8);
    assert_ne!(bytes, write_ebssa(&b.recording, &b.labels));
    let (r, labels) = read_ebssa(&bytes, 96, 64).unwrap();
    assert_eq!(r, a.recording);
    assert_eq!(labels, a.labels);
    assert!(!r.events.is_empty() && r.events.iter().any(|e| !e.on));
    assert_eq!(a.labels.len(), 2 * 40);
    assert_eq!(
        a.labels.iter().map(|l| l.id).collect::<Vec<_>>()[..4],
        [1, 2, 1, 2]
    );
    let c = a.truth.counts;
    assert_eq!(c.total, r.events.len());
    assert_eq!(c.noise, c.leak + c.shot);
    assert_eq!(c.total, c.stars + c.satellites + c.noise + c.hot);
    assert_eq!(
        c.satellites,
        a.truth.satellites.iter().map(|s| s.events).sum::<usize>()
    );
    assert!(r.events.windows(2).all(|w| w[0].t <= w[1].t));
    assert!(r.events.iter().all(|e| e.t < 400_000));
}

/// Labels lie on a straight line at the drawn speed, every 10 ms, inside the sensor.
#[test]
fn labels_lie_on_a_straight_track_inside_the_sensor() {
    for seed in 0..12 {
        // Only the tracks matter here: one simulation step draws the same scene and labels.
        let p = SatelliteParams {
            n_sat: 3,
            star_density: 0.0,
            step_us: 3_000_000,
            ..quiet(short(3000))
        };
        let s = sky(&p, seed);
        assert_eq!(s.truth.satellites.len(), 3);
        for t in &s.truth.satellites {
            assert!((10.0..=40.0).contains(&t.speed), "{t:?}");
            assert!((25.0..=80.0).contains(&t.peak), "{t:?}");
            let (vx, vy) = t.velocity;
            assert!(((vx * vx + vy * vy).sqrt() - t.speed).abs() < 1e-9);
            let dir = t.direction_deg.to_radians();
            assert!((dir.cos() * t.speed - vx).abs() < 1e-6, "{t:?}");
            assert!((dir.sin() * t.speed - vy).abs() < 1e-6, "{t:?}");
            let mine: Vec<&ObjectLabel> = s.labels.iter().filter(|l| l.id == t.id).collect();
            assert_eq!(mine.len(), 300);
            for (k, l) in mine.iter().enumerate() {
                assert_eq!(l.t, k as u64 * 10_000);
                let secs = l.t as f64 * 1e-6;
                assert!((l.x - (t.start.0 + vx * secs)).abs() <= 1.0 / 2048.0 + 1e-12);
                assert!((l.y - (t.start.1 + vy * secs)).abs() <= 1.0 / 2048.0 + 1e-12);
                assert!((3.0..=236.0).contains(&l.x) && (3.0..=176.0).contains(&l.y));
            }
            for w in mine.windows(2) {
                let d = ((w[1].x - w[0].x).powi(2) + (w[1].y - w[0].y).powi(2)).sqrt();
                assert!((d - t.speed * 0.01).abs() < 2e-3, "{d} {t:?}");
            }
            assert!((t.end.0 - (t.start.0 + 3.0 * vx)).abs() < 1e-9);
        }
    }
}

/// In every 100-ms slice, the events near the track gather around the label of that time.
#[test]
fn events_follow_the_satellite_labels() {
    for (seed, noisy) in [(1, false), (2, false), (3, true), (4, true)] {
        let base = SatelliteParams {
            star_density: 0.0,
            ..short(3000)
        };
        let p = if noisy { base } else { quiet(base) };
        let s = sky(&p, seed);
        let t = s.truth.satellites[0];
        assert!(t.events > 1000, "{t:?}");
        for slice in 0..30u64 {
            let (from, to) = (slice * 100_000, (slice + 1) * 100_000);
            let mid = (from + to) as f64 / 2.0 * 1e-6;
            let at = (
                t.start.0 + t.velocity.0 * mid,
                t.start.1 + t.velocity.1 * mid,
            );
            let near: Vec<&Event> = s
                .recording
                .window(from, to)
                .iter()
                .filter(|e| {
                    let (x, y) = (f64::from(e.x), f64::from(e.y));
                    to_segment(x, y, t.start, t.end) <= 3.0
                        && (!noisy || ((x - at.0).powi(2) + (y - at.1).powi(2)).sqrt() <= 10.0)
                })
                .collect();
            assert!(near.len() > 30, "slice {slice}: {} events", near.len());
            let n = near.len() as f64;
            let cx = near.iter().map(|e| f64::from(e.x)).sum::<f64>() / n;
            let cy = near.iter().map(|e| f64::from(e.y)).sum::<f64>() / n;
            let d = ((cx - at.0).powi(2) + (cy - at.1).powi(2)).sqrt();
            assert!(
                d <= 1.5,
                "seed {seed} slice {slice}: centroid {d:.2} px off"
            );
        }
    }
}

/// Stars fire at fixed positions all through the recording; without noise, every event lies
/// near a star or a satellite track.
#[test]
fn stars_stay_put() {
    let p = quiet(short(2000));
    let s = sky(&p, 11);
    let sat = s.truth.satellites[0];
    assert!(s.truth.stars.len() >= 5, "{}", s.truth.stars.len());
    let mut checked = 0;
    for st in &s.truth.stars {
        let inside = st.x > 4.0 && st.y > 4.0 && st.x < 235.0 && st.y < 175.0;
        let clear = to_segment(st.x, st.y, sat.start, sat.end) > 10.0
            && s.truth
                .stars
                .iter()
                .all(|o| o == st || ((o.x - st.x).powi(2) + (o.y - st.y).powi(2)).sqrt() > 10.0);
        if !(inside && clear && st.peak >= 60.0) {
            continue;
        }
        checked += 1;
        for half in 0..2u64 {
            let near: Vec<&Event> = s
                .recording
                .window(half * 1_000_000, (half + 1) * 1_000_000)
                .iter()
                .filter(|e| {
                    (f64::from(e.x) - st.x).abs() <= 3.0 && (f64::from(e.y) - st.y).abs() <= 3.0
                })
                .collect();
            assert!(near.len() > 20, "{st:?}: {} events", near.len());
            let n = near.len() as f64;
            let cx = near.iter().map(|e| f64::from(e.x)).sum::<f64>() / n;
            let cy = near.iter().map(|e| f64::from(e.y)).sum::<f64>() / n;
            assert!(
                (cx - st.x).abs() < 0.75 && (cy - st.y).abs() < 0.75,
                "{st:?}: centroid ({cx:.2}, {cy:.2})"
            );
        }
    }
    assert!(checked >= 2, "{checked}");
    for e in &s.recording.events {
        let (x, y) = (f64::from(e.x), f64::from(e.y));
        let star = s
            .truth
            .stars
            .iter()
            .any(|st| (x - st.x).powi(2) + (y - st.y).powi(2) <= 49.0);
        assert!(star || to_segment(x, y, sat.start, sat.end) <= 7.0, "{e:?}");
    }
    assert_eq!(
        s.truth.counts.total,
        s.truth.counts.stars + s.truth.counts.satellites
    );
}

/// Hot pixels belong to the sensor: the same in recordings of one sensor seed, others for
/// another seed, and they fire at their rate.
#[test]
fn hot_pixels_belong_to_the_sensor() {
    let p = short(500);
    let a = sky(&p, 1);
    let b = sky(&p, 2);
    assert_eq!(a.truth.hot_pixels.len(), 43);
    assert_eq!(a.truth.hot_pixels, b.truth.hot_pixels);
    assert_ne!(a.truth.stars, b.truth.stars);
    let c = sky(
        &SatelliteParams {
            sensor_seed: 2,
            ..p.clone()
        },
        1,
    );
    assert_ne!(a.truth.hot_pixels, c.truth.hot_pixels);
    // 43 pixels at 20 Hz for 0.5 s: 430 expected (Poisson sd ≈ 21), plus their share of the
    // background.
    let hot: std::collections::HashSet<(u16, u16)> = a.truth.hot_pixels.iter().copied().collect();
    let at_hot = a
        .recording
        .events
        .iter()
        .filter(|e| hot.contains(&(e.x, e.y)))
        .count();
    assert!((340..=540).contains(&at_hot), "{at_hot}");
    assert!((340..=520).contains(&a.truth.counts.hot));
}

/// Far from stars and satellites, the event rate is the noise: leak + shot + the hot pixels'
/// share, with the ON fraction that mix implies; the counts match their rates.
#[test]
fn noise_rates_match_the_parameters() {
    let p = short(3000);
    let s = sky(&p, 5);
    let (w, h) = (240usize, 180usize);
    let sat = s.truth.satellites[0];
    let far = |x: f64, y: f64| {
        to_segment(x, y, sat.start, sat.end) > 8.0
            && s.truth
                .stars
                .iter()
                .all(|st| (x - st.x).powi(2) + (y - st.y).powi(2) > 64.0)
    };
    let mut is_far = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            is_far[y * w + x] = far(x as f64, y as f64);
        }
    }
    let n_far = is_far.iter().filter(|&&f| f).count();
    let hot_far = s
        .truth
        .hot_pixels
        .iter()
        .filter(|&&(x, y)| is_far[usize::from(y) * w + usize::from(x)])
        .count();
    let (mut n, mut on) = (0usize, 0usize);
    for e in &s.recording.events {
        if is_far[usize::from(e.y) * w + usize::from(e.x)] {
            n += 1;
            on += usize::from(e.on);
        }
    }
    let secs = 3.0;
    let expect = (0.1 + 0.5) * n_far as f64 * secs + 20.0 * hot_far as f64 * secs;
    let expect_on = (0.1 + 0.25) * n_far as f64 * secs + 20.0 * hot_far as f64 * secs;
    eprintln!("far pixels {n_far}, events {n} (expected {expect:.0}), ON {on} ({expect_on:.0})");
    assert!(n_far > 30_000);
    assert!((n as f64 / expect - 1.0).abs() < 0.03, "{n} vs {expect}");
    assert!(
        (on as f64 / expect_on - 1.0).abs() < 0.04,
        "{on} vs {expect_on}"
    );
    let c = s.truth.counts;
    let px = (w * h) as f64;
    for (got, rate) in [(c.leak, 0.1 * px), (c.shot, 0.5 * px), (c.hot, 20.0 * 43.0)] {
        let want = rate * secs;
        assert!(
            (got as f64 - want).abs() < 5.0 * want.sqrt(),
            "{got} vs {want}"
        );
    }
}

/// A default 3-s DAVIS240C file holds about 108 k events (the reference's calibration; 100
/// files measured 108.6 k ± 6.1 k), most of them noise, about a quarter from stars and the
/// satellite.
#[test]
fn totals_are_in_the_order_of_the_calibration() {
    let p = SatelliteParams::default();
    for seed in 1..=3 {
        let s = sky(&p, seed);
        let c = s.truth.counts;
        eprintln!(
            "seed {seed}: {c:?}, {} stars, satellite {:.1} px/s peak {:.0}",
            s.truth.stars.len(),
            s.truth.satellites[0].speed,
            s.truth.satellites[0].peak
        );
        assert!((70_000..=150_000).contains(&c.total), "{c:?}");
        assert!((75_000..=87_000).contains(&(c.noise + c.hot)), "{c:?}");
        assert!(c.satellites > 1_000 && c.stars > 3_000, "{c:?}");
    }
}

/// Bad parameters and tracks that cannot fit are refused with a message.
#[test]
fn bad_sky_parameters_are_refused() {
    for p in [
        SatelliteParams {
            step_us: 0,
            ..SatelliteParams::default()
        },
        SatelliteParams {
            width: 0,
            ..SatelliteParams::default()
        },
        SatelliteParams {
            psf_sigma: f64::NAN,
            ..SatelliteParams::default()
        },
        SatelliteParams {
            sat_speed: (30.0, 10.0),
            ..SatelliteParams::default()
        },
    ] {
        let e = record(&p, &mut Rng::new(1)).unwrap_err();
        assert!(e.to_string().contains("parameters out of range"), "{e}");
    }
    let long = SatelliteParams {
        duration_us: 60_000_000,
        ..SatelliteParams::default()
    };
    let e = record(&long, &mut Rng::new(1)).unwrap_err();
    assert!(e.to_string().contains("cannot fit"), "{e}");
    // Fits only in some directions: those are drawn, or the generator says it could not.
    let tight = SatelliteParams {
        duration_us: 6_000_000,
        sat_speed: (40.0, 40.0),
        ..quiet(SatelliteParams::default())
    };
    match record(
        &SatelliteParams {
            step_us: 6_000_000,
            ..tight
        },
        &mut Rng::new(3),
    ) {
        Ok(s) => {
            let t = s.truth.satellites[0];
            assert!(t.end.0 >= 3.0 && t.end.0 <= 236.0 && t.end.1 >= 3.0 && t.end.1 <= 176.0);
        }
        Err(e) => assert!(e.to_string().contains("does not fit"), "{e}"),
    }
}

/// Runs `events synth` through its library entry point; an error as its full message.
fn synth(kind: &str, out: &std::path::Path, extra: &[&str]) -> Result<i32, String> {
    use clap::{Parser, Subcommand};
    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: Cmd,
    }
    #[derive(Subcommand)]
    enum Cmd {
        Synth(hebb::cli::events_synth::SynthArgs),
    }
    let mut args = vec![
        "x",
        "synth",
        kind,
        "--out",
        out.to_str().unwrap(),
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    let Cmd::Synth(a) = Cli::try_parse_from(args).map_err(|e| e.to_string())?.cmd;
    hebb::cli::events_synth::run(&a).map_err(|e| format!("{e:#}"))
}

/// `events synth satellites` writes labelled `.mat` files that read back with the manifest's
/// truth; the same flags give the same bytes; a non-empty folder is refused.
#[test]
fn synth_satellites_writes_files_and_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sky");
    let flags = ["--count", "2", "--duration-ms", "300", "--seed", "9"];
    assert_eq!(synth("satellites", &out, &flags).unwrap(), 0);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let files = m["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    let mut seeds = Vec::new();
    for f in files {
        let name = f["file"].as_str().unwrap();
        assert!(name.ends_with("_labelled.mat"), "{name}");
        let bytes = std::fs::read(out.join(name)).unwrap();
        let (r, labels): (Recording, Vec<ObjectLabel>) = read_ebssa(&bytes, 240, 180).unwrap();
        assert_eq!(
            r.events.len() as u64,
            f["counts"]["total"].as_u64().unwrap()
        );
        assert_eq!(labels.len(), 30);
        let speed = f["satellites"][0]["speed"].as_f64().unwrap();
        assert!((10.0..=40.0).contains(&speed));
        seeds.push(f["seed"].as_u64().unwrap());
    }
    assert_ne!(seeds[0], seeds[1]);
    let first = std::fs::read(out.join(files[0]["file"].as_str().unwrap())).unwrap();
    let e = synth("satellites", &out, &flags).unwrap_err();
    assert!(e.contains("is not empty"), "{e}");
    let mut again = flags.to_vec();
    again.push("--overwrite");
    assert_eq!(synth("satellites", &out, &again).unwrap(), 0);
    assert_eq!(
        std::fs::read(out.join(files[0]["file"].as_str().unwrap())).unwrap(),
        first
    );
    let e = synth("satellites", &dir.path().join("x"), &["--split", "train"]).unwrap_err();
    assert!(e.contains("applies to `nmnist`"), "{e}");
    let e = synth(
        "satellites",
        &dir.path().join("y"),
        &["--duration-ms", "600000"],
    )
    .unwrap_err();
    assert!(e.contains("cannot fit"), "{e}");
    assert!(!dir.path().join("y").exists());
}

/// `events synth nmnist` writes N-MNIST's layout, one `.bin` per image, readable, with
/// distinct seeds for the training and test images of one index.
#[test]
fn synth_nmnist_writes_the_nmnist_layout() {
    use hebb::data::events::nmnist;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nm");
    assert_eq!(synth("nmnist", &out, &["--count", "3"]).unwrap(), 0);
    let split = hebb::data::embedded::load().unwrap();
    for (folder, set) in [("Train", &split.train), ("Test", &split.test)] {
        for i in 0..3 {
            let (_, label) = set.get(i).unwrap();
            let p = out
                .join(folder)
                .join(label.to_string())
                .join(format!("{i:05}.bin"));
            let r = nmnist::read(&std::fs::read(&p).unwrap(), 34, 34).unwrap();
            assert!(r.events.len() > 1000, "{}", p.display());
        }
    }
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["recordings"]["Train"], 3);
    use hebb::cli::events_synth::recording_seed;
    assert_ne!(recording_seed(42, 0), recording_seed(42, 1));
    let only = dir.path().join("test-only");
    assert_eq!(
        synth("nmnist", &only, &["--count", "1", "--split", "test"]).unwrap(),
        0
    );
    assert!(!only.join("Train").exists() && only.join("Test").exists());
    let e = synth("nmnist", &dir.path().join("z"), &["--n-sat", "2"]).unwrap_err();
    assert!(e.contains("applies to `satellites`"), "{e}");
}
