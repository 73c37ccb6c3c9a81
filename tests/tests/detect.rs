//! `hebb detect` end to end on a tiny hand-made event network and a short generated
//! recording, and its refusals of bad input.

use clap::Parser;
use hebb::cli::{Cli, run};
use hebb::net::{Net, ProvenanceOwned};
use hebb_core::encode::{EncodeMode, EncoderParams, EventEncoding};
use hebb_core::events::voxel::{Binning, Norm};
use hebb_core::geometry::{ConvGeom, Padding, PoolGeom, Shape};
use hebb_core::model::LayerArch;
use hebb_core::neuron::{NeuronKind, NeuronParams};
use std::path::Path;

/// Encoder 32×32 (two channels, one 1×1 filter, 100-ms windows of 4 bins) → 2 maps 3×3 + pool
/// 2/2 → 1 map 3×3: low thresholds so that it spikes.
fn tiny_net() -> Net {
    let e = EventEncoding {
        channels: 2,
        split_channels: false,
        norm: Norm::MaxPerBin,
        theta: 1 << 14,
        leak: 0,
        binning: Binning::Fraction,
        window_us: 100_000,
        stride_us: 100_000,
    };
    let encoder = EncoderParams::new(32, 32, 1, 1, 0, 0, 4, EncodeMode::Events(e)).unwrap();
    let neuron = NeuronParams::new(NeuronKind::LifSub { leak: 0 }, true).unwrap();
    let c0 = ConvGeom::new(Shape::new(1, 32, 32), 2, 3, 1, Padding::Same).unwrap();
    let p0 = PoolGeom::new(c0.output(), 2, 2, 0).unwrap();
    let c1 = ConvGeom::new(p0.output(), 1, 3, 1, Padding::Same).unwrap();
    let arch = vec![
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
    Net {
        encoder,
        filters: vec![1 << 16],
        weights: vec![vec![52_000; c0.n_weights()], vec![40_000; c1.n_weights()]],
        thresholds: vec![vec![1 << 15; 2], vec![1 << 16; 1]],
        arch,
        readout: None,
    }
}

/// Runs the CLI; an error comes back as its full message.
fn cli(args: &[&str]) -> Result<i32, String> {
    let mut v = vec!["hebb"];
    v.extend_from_slice(args);
    run(Cli::try_parse_from(v).map_err(|e| e.to_string())?).map_err(|e| format!("{e:#}"))
}

fn write_model(net: &Net, path: &Path) {
    let bytes = net.to_bytes(&ProvenanceOwned::default(), &[], 16).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn detect_writes_detections_metrics_and_overlays() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny.hebb");
    write_model(&tiny_net(), &model);
    let data = dir.path().join("rec");
    let s = data.to_str().unwrap();
    cli(&[
        "events",
        "synth",
        "satellites",
        "--out",
        s,
        "--count",
        "1",
        "--duration-ms",
        "300",
        "--no-progress",
    ])
    .unwrap();
    let mat = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "mat"))
        .or_else(|| {
            // Train/Test layout.
            walk(&data)
        })
        .expect("a generated recording");
    let out = dir.path().join("out");
    let code = cli(&[
        "detect",
        model.to_str().unwrap(),
        "--events",
        mat.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .unwrap();
    assert_eq!(code, 0);
    let det: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("detections.json")).unwrap()).unwrap();
    assert!(det["summary"]["windows"].as_u64().unwrap() >= 1);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    for k in [
        "network",
        "baseline_raw_events",
        "baseline_empty",
        "baseline_random_same_density",
    ] {
        let j = m[k]["afshar_sliced"]["informedness"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&j), "{k}: {j}");
    }
    // The empty output is never positive.
    assert_eq!(m["baseline_empty"]["afshar_sliced"]["tp"], 0);
    assert_eq!(m["baseline_empty"]["afshar_sliced"]["fp"], 0);
    // The volume protocol is degenerate.
    let v = &m["baseline_raw_events"]["volume_reference_protocol"];
    assert_eq!(v["sensitivity"], v["specificity"]);
}

fn walk(dir: &Path) -> Option<std::path::PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = walk(&p) {
                return Some(f);
            }
        } else if p.extension().is_some_and(|x| x == "mat") {
            return Some(p);
        }
    }
    None
}

#[test]
fn detect_refuses_bad_input_with_a_named_error() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("r.csv");
    std::fs::write(&rec, "x,y,t,p\n1,1,0,1\n2,2,10,0\n").unwrap();
    let r = rec.to_str().unwrap();
    // No model.
    let e = cli(&["detect", "/nonexistent/model.hebb", "--events", r]).unwrap_err();
    assert!(e.contains("model"), "{e}");
    // A non-event (image) model.
    let mut img = tiny_net();
    img.encoder = EncoderParams::new(32, 32, 1, 1, 0, 0, 4, EncodeMode::Latency).unwrap();
    let m = dir.path().join("img.hebb");
    write_model(&img, &m);
    let e = cli(&["detect", m.to_str().unwrap(), "--events", r]).unwrap_err();
    assert!(e.contains("not an event model"), "{e}");
    // A damaged recording.
    let good = dir.path().join("tiny.hebb");
    write_model(&tiny_net(), &good);
    let bad = dir.path().join("bad.mat");
    std::fs::write(&bad, b"MATLAB 5.0 MAT-file, damaged").unwrap();
    let e = cli(&[
        "detect",
        good.to_str().unwrap(),
        "--events",
        bad.to_str().unwrap(),
    ])
    .unwrap_err();
    assert!(e.contains("reading the recording"), "{e}");
}
