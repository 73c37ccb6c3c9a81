//! Feeds arbitrary bytes to the event-file readers (N-MNIST `.bin`, `.npy`, CSV, MAT / EBSSA). Each must
//! return events or an error, never panic; what `.bin` and `.npy` accept must survive a round
//! trip through their writers.
#![no_main]

use hebb::data::events::{csv, mat, nmnist, npy};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(events) = nmnist::decode(data)
        && let Ok(bytes) = nmnist::encode(&events)
    {
        assert_eq!(nmnist::decode(&bytes).expect("re-decode"), events);
    }
    if let Ok(events) = npy::decode(data) {
        assert_eq!(npy::decode(&npy::encode(&events)).expect("re-decode"), events);
        let _ = npy::read(data, 64, 64);
    }
    let _ = csv::read(data, 346, 260);
    if mat::variables(data).is_ok() {
        let _ = mat::read_ebssa(data, 346, 260);
    }
});
