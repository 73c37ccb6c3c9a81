//! Firmware fixtures (`firmware/*.hebb`, `*.bin`, `*.expected.txt`): the committed files agree
//! with what the host computes today, a fresh set round-trips, and the ignored tests
//! regenerate the committed set:
//!
//! ```text
//! HEBB_FW_MODEL=runs/<name>/model.hebb cargo test -p hebb-tests --release --test firmware_fixture -- --ignored
//! cargo test -p hebb-tests --release --test firmware_fixture regenerate_local -- --ignored
//! HEBB_FW_DC_MODEL=runs/<name>/model.hebb cargo test -p hebb-tests --release --test firmware_fixture regenerate_diehl -- --ignored
//! ```
//! The second writes only the local-rule fixtures (`hopfield.bin`, `oja.bin`, `sanger.bin`
//! and their expected lines), which need no model. The third writes only the Diehl & Cook
//! fixture (`diehl.bin`, `diehl.expected.txt`); without `HEBB_FW_DC_MODEL` it first trains
//! `diehl2015` on the first `HEBB_FW_DC_TRAIN` (default 4,000) embedded training digits.
//! (the committed model came from `hebb train --paper kheradpisheh2018 --device cpu`).
//! Without `HEBB_FW_MODEL` the model is a stand-in that needs no training: the
//! `kheradpisheh2018` architecture with its random start weights (seed 42) and a naive-Bayes
//! readout fitted to 2,000 embedded training digits.

use hebb::backend::Backend;
use hebb::backend::cpu::CpuBackend;
use hebb::config::TrainConfig;
use hebb::data::{DataSource, Dataset};
use hebb::firmware::{self, LearnSpec};
use hebb::net::{Net, ProvenanceOwned, Readout};
use hebb_core::rng::Rng;
use std::path::{Path, PathBuf};

fn firmware_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware")
}

fn mnist() -> hebb::data::Split {
    DataSource::EmbeddedMnist
        .load()
        .expect("embedded MNIST loads")
}

/// Bernoulli naive Bayes as a linear readout: `w[f][c] = logit p(f|c)`,
/// `b[c] = log p(c) + Σ_f log(1 − p(f|c))`, scaled so the largest |w| is 32,000.
fn naive_bayes(net: &Net, train: &Dataset, n: usize) -> Readout {
    let n = n.min(train.len());
    let fs = CpuBackend::new()
        .features(net, &train.images[..n * train.pixels_per_image()])
        .expect("features");
    let (nf, nc) = (fs.n_features, train.n_classes);
    let mut count = vec![0u32; nf * nc];
    let mut per_class = vec![0u32; nc];
    for i in 0..n {
        let c = train.labels[i] as usize;
        per_class[c] += 1;
        for f in fs.active(i) {
            count[f * nc + c] += 1;
        }
    }
    let mut w = vec![0f64; nf * nc];
    let mut b = vec![0f64; nc];
    for c in 0..nc {
        b[c] = ((f64::from(per_class[c]) + 1.0) / (n as f64 + nc as f64)).ln();
        for f in 0..nf {
            let p = (f64::from(count[f * nc + c]) + 1.0) / (f64::from(per_class[c]) + 2.0);
            w[f * nc + c] = (p / (1.0 - p)).ln();
            b[c] += (1.0 - p).ln();
        }
    }
    let max = w.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-9);
    let s = 32_000.0 / max;
    Readout {
        n_features: nf,
        n_classes: nc,
        weights: w.iter().map(|v| (v * s).round() as i16).collect(),
        bias: b.iter().map(|v| (v * s).round() as i32).collect(),
    }
}

/// The stand-in model (see the module docs), with its accuracy on `n_eval` test digits.
fn stand_in_model(split: &hebb::data::Split, n_eval: usize) -> Vec<u8> {
    let cfg = TrainConfig::preset("kheradpisheh2018").expect("preset");
    let mut net = Net::from_config(&cfg, &mut Rng::new(cfg.seed)).expect("net");
    net.readout = Some(naive_bayes(&net, &split.train, 2_000));
    let acc = {
        let n = n_eval.min(split.test.len());
        let fs = CpuBackend::new()
            .features(
                &net,
                &split.test.images[..n * split.test.pixels_per_image()],
            )
            .expect("features");
        let r = net.readout.as_ref().expect("set above");
        let correct = (0..n)
            .filter(|&i| {
                let scores: Vec<i32> = (0..r.n_classes)
                    .map(|c| {
                        r.bias[c]
                            + fs.active(i)
                                .map(|f| i32::from(r.weights[f * r.n_classes + c]))
                                .sum::<i32>()
                    })
                    .collect();
                hebb_core::readout::argmax(&scores) == Some(split.test.labels[i] as usize)
            })
            .count();
        correct as f32 / n as f32
    };
    let prov = ProvenanceOwned {
        preset: "kheradpisheh2018".into(),
        dataset: split.name.clone(),
        seed: cfg.seed,
        epochs: vec![0; cfg.layers.len()],
        test_accuracy: acc,
    };
    net.to_bytes(&prov, &[], 16).expect("encode")
}

#[test]
fn committed_fixtures_match_the_host() {
    firmware::check_fixtures(&firmware_dir()).unwrap_or_else(|e| {
        panic!(
            "{e:#}\nregenerate with `cargo test -p hebb-tests --release --test firmware_fixture -- --ignored`"
        )
    });
}

#[test]
fn committed_local_fixtures_match_the_host() {
    firmware::check_local_fixtures(&firmware_dir()).unwrap_or_else(|e| {
        panic!(
            "{e:#}\nregenerate with `cargo test -p hebb-tests --release --test firmware_fixture regenerate_local -- --ignored`"
        )
    });
}

#[test]
fn fresh_local_fixtures_round_trip_and_detect_damage() {
    use hebb::firmware::local;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut spec = firmware::LocalSpec::default();
    spec.hopfield.neurons = 40;
    spec.hopfield.patterns = 3;
    spec.hopfield.async_cues = 2;
    spec.oja.samples = 60;
    spec.oja.every = 20;
    spec.sanger.samples = 45;
    spec.sanger.every = 10;
    let s = firmware::write_local_fixtures(dir.path(), &spec).expect("write local fixtures");
    assert_eq!((s.cues, s.files.len()), (3 * 2 + 2 * 2, 6));
    firmware::check_local_fixtures(dir.path()).expect("fresh local fixtures agree with the host");

    let h = local::parse_hopfield(&std::fs::read(dir.path().join(local::HOPFIELD)).unwrap())
        .expect("parse hopfield.bin");
    assert_eq!((h.n, h.p(), h.cues.len()), (40, 3, 10));
    assert_eq!(h.weights.len(), 40 * 40);
    let o = local::parse_rate(&std::fs::read(dir.path().join(local::OJA)).unwrap(), "oja")
        .expect("parse oja.bin");
    assert_eq!((o.n, o.k, o.checkpoints.len()), (16, 1, 3));
    let g = local::parse_rate(&std::fs::read(dir.path().join(local::SANGER)).unwrap(), "s")
        .expect("parse sanger.bin");
    assert_eq!((g.k, g.checkpoints.len()), (3, 4));

    // One flipped byte anywhere is caught by the trailing CRC.
    for name in [local::HOPFIELD, local::OJA] {
        let mut b = std::fs::read(dir.path().join(name)).unwrap();
        let mid = b.len() / 2;
        b[mid] ^= 0x10;
        let err = if name == local::OJA {
            local::parse_rate(&b, name).map(|_| ()).unwrap_err()
        } else {
            local::parse_hopfield(&b).map(|_| ()).unwrap_err()
        };
        assert!(err.to_string().contains("CRC mismatch"), "{name}: {err}");
    }
    // A changed expectation (with a valid CRC) is caught by the host's recomputation.
    let mut h2 = h.clone();
    h2.cues[0].expect.energy2 += 2;
    std::fs::write(
        dir.path().join(local::HOPFIELD),
        local::hopfield_bin(&h2).unwrap(),
    )
    .unwrap();
    let err = firmware::check_local_fixtures(dir.path()).unwrap_err();
    assert!(err.to_string().contains("cue 0"), "{err}");
}

#[test]
#[ignore = "rewrites firmware/hopfield.bin, oja.bin, sanger.bin and their expected lines"]
fn regenerate_local_rule_fixtures() {
    let s = firmware::write_local_fixtures(&firmware_dir(), &firmware::LocalSpec::default())
        .expect("write local fixtures");
    eprintln!("{s:#?}");
    firmware::check_local_fixtures(&firmware_dir()).expect("local fixtures agree with the host");
}

#[test]
fn fresh_fixtures_round_trip_and_detect_damage() {
    let split = mnist();
    let cfg = TrainConfig::preset("mcu").expect("preset");
    let mut net = Net::from_config(&cfg, &mut Rng::new(3)).expect("net");
    net.readout = Some(naive_bayes(&net, &split.train, 200));
    let model = net
        .to_bytes(&ProvenanceOwned::default(), &[], 16)
        .expect("encode");
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = LearnSpec {
        maps: 4,
        double_every: Some(1),
        ..LearnSpec::default()
    };
    let s = firmware::write_fixtures_with(&model, &split.test, dir.path(), 3, 2, &spec)
        .expect("write fixtures");
    assert_eq!((s.n_infer, s.n_learn, s.files.len()), (3, 2, 8));
    assert!(s.model8_bytes < s.model_bytes);
    firmware::check_fixtures(dir.path()).expect("fresh fixtures agree with the host");

    // The files parse back to what was written.
    let sm = firmware::parse_samples(&std::fs::read(dir.path().join("samples.bin")).unwrap())
        .expect("parse samples.bin");
    assert_eq!(sm.expect.len(), 3);
    assert_eq!(sm.images, split.test.images[..3 * 784]);
    let l = firmware::parse_learn(&std::fs::read(dir.path().join("learn.bin")).unwrap())
        .expect("parse learn.bin");
    assert_eq!(l.expect.len(), 2);
    assert_eq!(l.train.double_every, 1);
    assert_eq!(
        firmware::learn_bin(&l).unwrap(),
        std::fs::read(dir.path().join("learn.bin")).unwrap()
    );

    // One flipped byte anywhere is caught by the trailing CRC.
    for name in ["samples.bin", "learn.bin"] {
        let p = dir.path().join(name);
        let mut b = std::fs::read(&p).unwrap();
        let mid = b.len() / 2;
        b[mid] ^= 0x10;
        let err = if name == "learn.bin" {
            firmware::parse_learn(&b).map(|_| ()).unwrap_err()
        } else {
            firmware::parse_samples(&b).map(|_| ()).unwrap_err()
        };
        assert!(err.to_string().contains("CRC mismatch"), "{name}: {err}");
    }
}

#[test]
#[ignore = "rewrites firmware/*.hebb, *.bin, *.expected.txt"]
fn regenerate_firmware_fixtures() {
    let split = mnist();
    let model = match std::env::var_os("HEBB_FW_MODEL") {
        Some(p) => std::fs::read(&p)
            .unwrap_or_else(|e| panic!("reading {}: {e}", PathBuf::from(p).display())),
        None => stand_in_model(&split, 2_000),
    };
    let n = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let s = firmware::write_fixtures(
        &model,
        &split.test,
        &firmware_dir(),
        n("HEBB_FW_N_INFER", 64),
        n("HEBB_FW_N_LEARN", 8),
    )
    .expect("write fixtures");
    eprintln!("{s:#?}");
    firmware::check_fixtures(&firmware_dir()).expect("fixtures agree with the host");
    regenerate_local_rule_fixtures();
}

#[test]
fn committed_diehl_fixture_matches_the_host() {
    firmware::check_diehl_fixture(&firmware_dir()).unwrap_or_else(|e| {
        panic!(
            "{e:#}\nregenerate with `cargo test -p hebb-tests --release --test firmware_fixture regenerate_diehl -- --ignored`"
        )
    });
}

#[test]
fn fresh_diehl_fixture_round_trips_and_detects_damage() {
    use hebb::family::diehl_cook::config::DiehlCookConfig;
    use hebb::family::diehl_cook::model::Network;
    use hebb::firmware::diehl_cook as dc;
    let split = mnist();
    let cfg = DiehlCookConfig::preset("diehl2015").expect("preset");
    // An untrained network with made-up assignments: the fixture checks bits, not accuracy.
    let mut net = Network::new(
        cfg.params().expect("params"),
        (28, 28),
        12,
        10,
        (0.3, 0.01),
        9,
    )
    .expect("network");
    for (j, a) in net.assignments.iter_mut().enumerate() {
        *a = (j % 10) as u8;
    }
    for (j, p) in net.proportions.chunks_exact_mut(10).enumerate() {
        p[j % 10] = 1 << 16;
    }
    let spec = firmware::DiehlSpec {
        infer: 2,
        assign: 3,
        learn: 2,
        learn_neurons: 5,
        init: (0.3, 0.01),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let s = firmware::write_diehl_fixture(&net, 17, &split, dir.path(), &spec)
        .expect("write the diehl fixture");
    assert_eq!((s.infer, s.files.len()), (2, 2));
    firmware::check_diehl_fixture(dir.path()).expect("fresh diehl fixture agrees with the host");
    let bytes = std::fs::read(dir.path().join(dc::DIEHL)).unwrap();
    let f = dc::parse_diehl(&bytes).expect("parse diehl.bin");
    assert_eq!((f.net.n, f.learn_neurons), (12, 5));
    assert_eq!(f.net.w, net.w);
    assert_eq!(f.net.params, net.params);
    assert_eq!((f.infer.len(), f.assign.len(), f.learn.len()), (2, 3, 2));
    assert_eq!(f.learn[0].index, 3);
    assert_eq!(dc::diehl_bin(&f).unwrap(), bytes);

    // One flipped byte anywhere is caught by the trailing CRC.
    let mut b = bytes.clone();
    let mid = b.len() / 2;
    b[mid] ^= 0x10;
    let err = dc::parse_diehl(&b).map(|_| ()).unwrap_err();
    assert!(err.to_string().contains("CRC mismatch"), "{err}");
    // A changed expectation (with a valid CRC) is caught by the host's recomputation.
    let mut f2 = f.clone();
    f2.expect.learn[1].theta_crc ^= 1;
    std::fs::write(dir.path().join(dc::DIEHL), dc::diehl_bin(&f2).unwrap()).unwrap();
    let err = firmware::check_diehl_fixture(dir.path()).unwrap_err();
    assert!(err.to_string().contains("learning digit 1"), "{err}");
}

#[test]
#[ignore = "rewrites firmware/diehl.bin and diehl.expected.txt (trains a network first)"]
fn regenerate_diehl_fixture() {
    use hebb::firmware::diehl_cook as dc;
    let split = mnist();
    let n = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (net, seed) = match std::env::var_os("HEBB_FW_DC_MODEL") {
        Some(p) => dc::read_model(
            &std::fs::read(&p)
                .unwrap_or_else(|e| panic!("reading {}: {e}", PathBuf::from(p).display())),
        )
        .expect("a diehl-cook model"),
        None => {
            let t0 = std::time::Instant::now();
            let r = dc::train_model("diehl2015", &split, n("HEBB_FW_DC_TRAIN", 4_000), 200)
                .expect("train diehl2015");
            eprintln!("trained in {:.1} s", t0.elapsed().as_secs_f64());
            r
        }
    };
    let spec = firmware::DiehlSpec {
        infer: n("HEBB_FW_DC_INFER", 8),
        assign: n("HEBB_FW_DC_ASSIGN", 20),
        learn: n("HEBB_FW_DC_LEARN", 4),
        learn_neurons: n("HEBB_FW_DC_LEARN_NEURONS", 20),
        ..firmware::DiehlSpec::default()
    };
    let s = firmware::write_diehl_fixture(&net, seed, &split, &firmware_dir(), &spec)
        .expect("write the diehl fixture");
    eprintln!("{s:#?}");
    firmware::check_diehl_fixture(&firmware_dir()).expect("diehl fixture agrees with the host");
}

#[test]
fn committed_events_fixture_matches_the_host() {
    firmware::check_events_fixture(&firmware_dir()).unwrap_or_else(|e| {
        panic!(
            "{e:#}\nregenerate with `cargo test -p hebb-tests --release --test firmware_fixture regenerate_events -- --ignored`"
        )
    });
}

#[test]
fn fresh_events_fixture_round_trips_and_detects_damage() {
    use hebb::firmware::events as ev;
    let dir = tempfile::tempdir().unwrap();
    let spec = firmware::EventsSpec {
        windows: 2,
        seed: 11,
        ..firmware::EventsSpec::default()
    };
    let s = firmware::write_events_fixture(dir.path(), &spec).expect("write the events fixture");
    assert_eq!(s.filter.raw as usize, s.events);
    assert_eq!(
        s.filter.raw,
        s.filter.hot + s.filter.refractory + s.filter.unsupported + s.filter.kept
    );
    firmware::check_events_fixture(dir.path()).expect("fresh events fixture agrees with the host");
    let bytes = std::fs::read(dir.path().join(ev::EVENTS)).unwrap();
    let f = ev::parse_events(&bytes).expect("parse events.bin");
    assert_eq!(ev::events_bin(&f).unwrap(), bytes);
    let kept: u32 = f.expect.windows.iter().map(|w| w.kept).sum();
    assert_eq!(kept, f.expect.filter.kept);
    // A flipped byte is caught by the CRC.
    let mut b = bytes.clone();
    let mid = b.len() / 2;
    b[mid] ^= 0x10;
    let err = ev::parse_events(&b).map(|_| ()).unwrap_err();
    assert!(format!("{err:#}").contains("CRC"), "{err:#}");
    // A wrong expectation (with a valid CRC) is caught by the recomputation.
    let mut f2 = f.clone();
    if let Some(w) = f2.expect.windows.first_mut() {
        w.mask_crc ^= 1;
    }
    std::fs::write(dir.path().join(ev::EVENTS), ev::events_bin(&f2).unwrap()).unwrap();
    let err = firmware::check_events_fixture(dir.path()).unwrap_err();
    assert!(format!("{err:#}").contains("window 0"), "{err:#}");
}

#[test]
#[ignore = "rewrites firmware/events.bin and events.expected.txt"]
fn regenerate_events_fixture() {
    let s = firmware::write_events_fixture(&firmware_dir(), &firmware::EventsSpec::default())
        .expect("write the events fixture");
    eprintln!("{s:#?}");
    firmware::check_events_fixture(&firmware_dir()).expect("events fixture agrees with the host");
}
