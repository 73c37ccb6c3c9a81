//! Feeds arbitrary bytes to the local-rules model reader (frame → postcard body → the core's
//! parameter validation → shape checks), as a whole file and as a body inside a valid frame
//! (so mutations reach the decoder without forging a CRC). It must return an error or a model
//! that works: a small accepted Hopfield memory recalls a cue, a linear layer runs an input, a
//! spiking layer runs a step, and a checkpoint's state decodes or is refused, never a panic.
#![no_main]

use hebb::family::rules::model::{Model, ModelFile};
use hebb::family::rules::{LocalRules, predict};

fn check(bytes: &[u8]) {
    let Ok(f) = ModelFile::from_bytes(bytes) else {
        return;
    };
    match &f.model {
        Model::Hopfield(h) if h.n <= 256 => {
            let cue: Vec<f64> = (0..h.n).map(|i| if i % 3 == 0 { 1.0 } else { -1.0 }).collect();
            let _ = predict(&f.model, &cue);
        }
        Model::Linear(l) if l.n * l.k <= 1 << 16 => {
            let _ = predict(&f.model, &vec![0.5; l.n]);
        }
        Model::Spiking(s) if s.n * s.k <= 1 << 16 => {
            let _ = predict(&f.model, &vec![1.0; s.n]);
        }
        _ => {}
    }
    if !f.state.is_empty() && f.config.len() < 1 << 16 {
        let _ = LocalRules::resume(f);
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    check(data);
    let tag = hebb_core::frame::FAMILY_LOCAL_RULES;
    let hl = hebb_core::frame::header_len(tag);
    let mut buf = vec![0u8; hl];
    buf.extend_from_slice(data);
    if hebb_core::frame::seal(tag, &mut buf, data.len()).is_ok() {
        check(&buf);
    }
});
