//! Feeds arbitrary bytes to the AEDAT4 reader and the format-sniffing opener. Each must return
//! a recording or an error, never panic nor allocate beyond its cap; what the reader accepts
//! must survive a round trip through the writer.
#![no_main]

use hebb::data::events::aedat::{self, Compression};
use hebb::data::events::open::open_bytes;
use std::path::Path;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(r) = aedat::read(data)
        && let Ok(bytes) = aedat::encode(&r, Compression::None)
    {
        assert_eq!(aedat::read(&bytes).expect("re-decode"), r);
    }
    let _ = aedat::read_stream(data, Some(1));
    let _ = open_bytes(data, Path::new("f.aedat4"), None);
});
