//! Feeds arbitrary bytes to the Diehl & Cook model reader (frame → postcard body → the core's
//! parameter validation → shape and range checks), as a whole file and as a body inside a valid
//! frame (so mutations reach the decoder without forging a CRC). It must return an error or a
//! network that works: a small accepted network answers a digit, and a checkpoint's state
//! resumes or is refused, never a panic.
#![no_main]

use hebb::family::diehl_cook::DiehlCook;
use hebb::family::diehl_cook::model::{ModelFile, TraceTables};

fn check(bytes: &[u8]) {
    let Ok(f) = ModelFile::from_bytes(bytes) else {
        return;
    };
    if f.net.n * f.net.n_in <= 1 << 14 {
        if let Ok(t) = TraceTables::new(&f.net.params) {
            let digit: Vec<u8> = (0..f.net.n_in).map(|i| (i * 37 % 256) as u8).collect();
            let _ = DiehlCook::predict_seeded(&f.net, &t, &digit, 7);
        }
    }
    if !f.state.is_empty() && f.config.len() < 1 << 16 {
        let _ = DiehlCook::resume(f);
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    check(data);
    let tag = hebb_core::frame::FAMILY_DIEHL_COOK;
    let hl = hebb_core::frame::header_len(tag);
    let mut buf = vec![0u8; hl];
    buf.extend_from_slice(data);
    if hebb_core::frame::seal(tag, &mut buf, data.len()).is_ok() {
        check(&buf);
    }
});
