//! Feeds arbitrary bytes to the checkpoint reader (frame → model → training state → stored
//! config → state against network and config → network against config) and, for what it
//! accepts, to the resume plan (the state against a data set of the config's image size). It
//! must return an error or a state whose resume plan checks, never panic or hang. Each input is
//! tried as a whole file and as the training state of a valid tiny network, so that mutations
//! reach the state decoder and its validation without having to forge a CRC.
#![no_main]

use hebb::backend::cpu::CpuBackend;
use hebb::config::TrainConfig;
use hebb::data::{Dataset, Split};
use hebb::family::conv_stdp::{ConvStdp, checkpoint_from_bytes};
use hebb::net::{Net, ProvenanceOwned};
use hebb_core::rng::Rng;
use std::sync::OnceLock;

const TINY: &str = r#"
preset = "kheradpisheh2018"
[[layers]]
maps = 4
epochs = 2
[[layers]]
maps = 8
epochs = 2
"#;

fn tiny() -> &'static (TrainConfig, Net) {
    static T: OnceLock<(TrainConfig, Net)> = OnceLock::new();
    T.get_or_init(|| {
        let cfg = TrainConfig::from_toml_str(TINY).expect("tiny config");
        let net = Net::from_config(&cfg, &mut Rng::new(cfg.seed)).expect("tiny net");
        (cfg, net)
    })
}

fn split(rows: usize, cols: usize, n: usize) -> Split {
    let set = |n: usize| Dataset {
        images: vec![0u8; n * rows * cols],
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
        rows,
        cols,
        n_classes: 10,
    };
    Split {
        train: set(n),
        test: set(4),
        name: "fuzz".into(),
    }
}

fn check(bytes: &[u8]) {
    let Ok((net, st)) = checkpoint_from_bytes(bytes) else {
        return;
    };
    let (h, w) = (net.encoder.h() as usize, net.encoder.w() as usize);
    if h * w > 4096 {
        return;
    }
    let mut be = CpuBackend::new();
    let Ok(t) = ConvStdp::resume(net, st, &mut be) else {
        return;
    };
    let _ = t.check_data(&split(h, w, 16));
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    check(data);
    let (cfg, net) = tiny();
    let prov = ProvenanceOwned {
        preset: cfg.preset.clone(),
        dataset: "mnist".into(),
        seed: cfg.seed,
        epochs: Vec::new(),
        test_accuracy: f32::NAN,
    };
    if let Ok(file) = net.to_bytes(&prov, data, 16) {
        check(&file);
    }
});
