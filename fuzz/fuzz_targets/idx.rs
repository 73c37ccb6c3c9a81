//! Feeds arbitrary bytes to the IDX reader (raw and gzip paths): it must return an error or a
//! consistent result, never panic, overflow or allocate from an unchecked header.
#![no_main]

use hebb::data::idx::{self, Dataset};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // A small inflation cap keeps gzip bombs from hiding slow inputs behind the 1 GiB default.
    let limit = 1 << 24;
    if let Ok(images) = idx::parse_images_with_limit(data, limit) {
        assert_eq!(images.pixels.len(), images.n * images.rows * images.cols);
    }
    if let Ok(labels) = idx::parse_labels_with_limit(data, limit) {
        // Any label file pairs with a matching image file and builds a data set.
        let n = labels.len();
        if n > 0 && n <= 1 << 16 {
            let pixels = vec![0u8; n];
            let images = idx::encode_images(n, 1, 1, &pixels).unwrap();
            let ds = Dataset::from_idx(&images, data, None).unwrap();
            assert_eq!(ds.class_counts().iter().sum::<usize>(), n);
        }
    }
    // Split the input in two to exercise the image/label pairing checks.
    let mid = data.len() / 2;
    let _ = Dataset::from_idx(&data[..mid], &data[mid..], Some(10));
});
