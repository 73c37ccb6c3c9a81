//! IDX reader (the file format of MNIST and Fashion-MNIST), gzip-transparent.
//!
//! The format: a big-endian magic `0x0000TTDD` (`TT` = element type, `08` for u8; `DD` = number
//! of dimensions), then `DD` big-endian u32 dimension sizes, then the elements row-major.
//! Only the two layouts that image classification needs are accepted: u8 images with three
//! dimensions (`0x00000803`, n × rows × cols) and u8 labels with one (`0x00000801`).
//!
//! Everything here takes untrusted bytes: every size is checked against the bytes actually
//! present *before* anything is allocated from it, products of dimensions are computed with
//! checked arithmetic, and gzip inflation is capped, so no input can panic or exhaust memory
//! (the `idx` fuzz target exercises exactly this).

use std::borrow::Cow;
use std::io::Read;
use std::path::PathBuf;

/// Magic of a u8 image file with three dimensions (n, rows, cols).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic of a u8 label file with one dimension (n).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Default cap on the inflated size of a gzipped IDX file. The full Fashion-MNIST training
/// images are 47 MB; 1 GiB leaves room for larger sets while a gzip bomb (deflate reaches about
/// 1000:1) still cannot take the machine's memory.
pub const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Everything that can go wrong while reading a data set. Each malformation has its own
/// variant so callers (and tests) can tell a truncated download from a wrong file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The first four bytes are not the magic the caller asked for (e.g. a label file passed
    /// as images, or not an IDX file at all).
    #[error("bad IDX magic for {what}: expected {expected:#010x}, found {found:#010x}")]
    BadMagic {
        what: &'static str,
        expected: u32,
        found: u32,
    },
    /// Fewer bytes than the header (or the header's dimensions) call for.
    #[error("truncated IDX {what}: expected {expected} bytes, got {got}")]
    Truncated {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// More bytes than the header's dimensions call for: usually a wrong or concatenated file.
    #[error("IDX {what} has {extra} trailing bytes after the {expected} bytes its header declares")]
    TrailingBytes {
        what: &'static str,
        expected: usize,
        extra: usize,
    },
    /// The product of the dimensions does not fit in `usize`.
    #[error("IDX dimensions {dims:?} overflow")]
    DimensionOverflow { dims: Vec<u32> },
    /// An image dimension (rows or cols) is zero although there are images.
    #[error("IDX images have an empty shape {rows}x{cols}")]
    EmptyImage { rows: usize, cols: usize },
    /// Image and label files disagree on the number of samples.
    #[error("{images} images but {labels} labels")]
    CountMismatch { images: usize, labels: usize },
    /// A label is not below the number of classes of the data set.
    #[error("label {label} at index {index} is out of range for {n_classes} classes")]
    LabelOutOfRange {
        index: usize,
        label: u8,
        n_classes: usize,
    },
    /// A data set with no samples (it could not train or evaluate anything).
    #[error("{what} has no samples")]
    EmptyDataSet { what: &'static str },
    /// Train and test images have different shapes.
    #[error(
        "train images are {train_rows}x{train_cols} but test images are {test_rows}x{test_cols}"
    )]
    ShapeMismatch {
        train_rows: usize,
        train_cols: usize,
        test_rows: usize,
        test_cols: usize,
    },
    /// A file could not be read.
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The bytes start with the gzip magic but do not inflate (corrupt, truncated, bad CRC).
    #[error("bad gzip stream")]
    Gzip {
        #[source]
        source: std::io::Error,
    },
    /// The gzip stream inflates to more than the cap.
    #[error("gzip stream inflates to more than {limit} bytes")]
    DecompressedTooLarge { limit: u64 },
    /// A file or folder the data source needs does not exist; `hint` says how to get it.
    #[error("not found: {path} ({hint})")]
    NotFound { path: PathBuf, hint: String },
    /// An event recording is malformed (the event reader's error).
    #[error("{path}")]
    Events {
        path: PathBuf,
        #[source]
        source: crate::data::events::EventError,
    },
    /// The data and the network's input do not go together (e.g. event recordings for an
    /// image encoder); the message says why and what to do.
    #[error("{0}")]
    Unsuitable(String),
    /// Any of the above, with the file it came from.
    #[error("{path}")]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<DataError>,
    },
}

/// Parsed IDX images: `pixels` holds `n * rows * cols` bytes, image after image, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    pub n: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// Inflates `bytes` if they start with the gzip magic (`1f 8b`), else borrows them unchanged.
/// IDX magics start with `00 00`, so the two can never be confused. Inflation stops with
/// [`DataError::DecompressedTooLarge`] once more than `limit` bytes come out. Concatenated
/// gzip members are read as one stream, as `gzip -d` does.
pub fn maybe_gunzip(bytes: &[u8], limit: u64) -> Result<Cow<'_, [u8]>, DataError> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    // Read one byte past the limit so "exactly at the limit" and "over it" can be told apart.
    flate2::read::MultiGzDecoder::new(bytes)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|source| DataError::Gzip { source })?;
    if out.len() as u64 > limit {
        return Err(DataError::DecompressedTooLarge { limit });
    }
    Ok(Cow::Owned(out))
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Checks the magic and returns the `ndims` dimension sizes and the body after the header.
fn parse_header<'a>(
    bytes: &'a [u8],
    what: &'static str,
    magic: u32,
    ndims: usize,
) -> Result<(Vec<u32>, &'a [u8]), DataError> {
    let header_len = 4 + 4 * ndims;
    let found = be_u32(bytes, 0).ok_or(DataError::Truncated {
        what,
        expected: header_len,
        got: bytes.len(),
    })?;
    if found != magic {
        return Err(DataError::BadMagic {
            what,
            expected: magic,
            found,
        });
    }
    if bytes.len() < header_len {
        return Err(DataError::Truncated {
            what,
            expected: header_len,
            got: bytes.len(),
        });
    }
    let dims = (0..ndims)
        .map(|i| be_u32(bytes, 4 + 4 * i).unwrap_or(0))
        .collect();
    Ok((dims, &bytes[header_len..]))
}

/// Checks that `body` holds exactly `dims`' product of bytes.
fn check_body(
    what: &'static str,
    dims: &[u32],
    header_len: usize,
    body: &[u8],
) -> Result<(), DataError> {
    let overflow = || DataError::DimensionOverflow {
        dims: dims.to_vec(),
    };
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?));
    let count = count.ok_or_else(overflow)?;
    let expected = count.checked_add(header_len).ok_or_else(overflow)?;
    let got = header_len + body.len();
    match body.len().cmp(&count) {
        std::cmp::Ordering::Less => Err(DataError::Truncated {
            what,
            expected,
            got,
        }),
        std::cmp::Ordering::Greater => Err(DataError::TrailingBytes {
            what,
            expected,
            extra: body.len() - count,
        }),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

/// Parses an IDX u8 image file (raw or gzipped) with the default inflation cap.
pub fn parse_images(bytes: &[u8]) -> Result<IdxImages, DataError> {
    parse_images_with_limit(bytes, MAX_DECOMPRESSED_BYTES)
}

/// Parses an IDX u8 image file (raw or gzipped), inflating at most `limit` bytes.
pub fn parse_images_with_limit(bytes: &[u8], limit: u64) -> Result<IdxImages, DataError> {
    const WHAT: &str = "images";
    let raw = maybe_gunzip(bytes, limit)?;
    let (dims, body) = parse_header(&raw, WHAT, IMAGES_MAGIC, 3)?;
    check_body(WHAT, &dims, 16, body)?;
    // check_body proved the product fits in usize, so each factor does too.
    let [n, rows, cols] = [dims[0], dims[1], dims[2]].map(|d| d as usize);
    if n > 0 && (rows == 0 || cols == 0) {
        return Err(DataError::EmptyImage { rows, cols });
    }
    Ok(IdxImages {
        n,
        rows,
        cols,
        pixels: body.to_vec(),
    })
}

/// Parses an IDX u8 label file (raw or gzipped) with the default inflation cap.
pub fn parse_labels(bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    parse_labels_with_limit(bytes, MAX_DECOMPRESSED_BYTES)
}

/// Parses an IDX u8 label file (raw or gzipped), inflating at most `limit` bytes.
pub fn parse_labels_with_limit(bytes: &[u8], limit: u64) -> Result<Vec<u8>, DataError> {
    const WHAT: &str = "labels";
    let raw = maybe_gunzip(bytes, limit)?;
    let (dims, body) = parse_header(&raw, WHAT, LABELS_MAGIC, 1)?;
    check_body(WHAT, &dims, 8, body)?;
    Ok(body.to_vec())
}

/// Encodes u8 images as a raw IDX file (`0x00000803`). Used by tests, fuzz seeds and tools
/// that write subsets. Returns `None` when a dimension does not fit the format's u32 or
/// `pixels.len() != n * rows * cols`.
pub fn encode_images(n: usize, rows: usize, cols: usize, pixels: &[u8]) -> Option<Vec<u8>> {
    let expected = n.checked_mul(rows)?.checked_mul(cols)?;
    if pixels.len() != expected {
        return None;
    }
    let mut out = Vec::with_capacity(16 + pixels.len());
    out.extend_from_slice(&IMAGES_MAGIC.to_be_bytes());
    for d in [n, rows, cols] {
        out.extend_from_slice(&u32::try_from(d).ok()?.to_be_bytes());
    }
    out.extend_from_slice(pixels);
    Some(out)
}

/// Encodes labels as a raw IDX file (`0x00000801`); `None` if there are more than `u32::MAX`.
pub fn encode_labels(labels: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&u32::try_from(labels.len()).ok()?.to_be_bytes());
    out.extend_from_slice(labels);
    Some(out)
}

/// A labelled image data set held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// `len() * rows * cols` pixels, image after image, row-major.
    pub images: Vec<u8>,
    /// One label per image, each `< n_classes`.
    pub labels: Vec<u8>,
    pub rows: usize,
    pub cols: usize,
    pub n_classes: usize,
}

impl Dataset {
    /// Builds a data set and checks that it is consistent: at least one sample, non-empty
    /// images, `images.len() == labels.len() * rows * cols`, and every label `< n_classes`.
    pub fn new(
        images: Vec<u8>,
        labels: Vec<u8>,
        rows: usize,
        cols: usize,
        n_classes: usize,
    ) -> Result<Self, DataError> {
        if labels.is_empty() {
            return Err(DataError::EmptyDataSet { what: "data set" });
        }
        if rows == 0 || cols == 0 {
            return Err(DataError::EmptyImage { rows, cols });
        }
        let pixels = rows.checked_mul(cols);
        let n_images = pixels.map_or(0, |p| images.len() / p);
        if pixels.and_then(|p| p.checked_mul(labels.len())) != Some(images.len()) {
            return Err(DataError::CountMismatch {
                images: n_images,
                labels: labels.len(),
            });
        }
        if let Some((index, &label)) = labels
            .iter()
            .enumerate()
            .find(|&(_, &l)| usize::from(l) >= n_classes)
        {
            return Err(DataError::LabelOutOfRange {
                index,
                label,
                n_classes,
            });
        }
        Ok(Self {
            images,
            labels,
            rows,
            cols,
            n_classes,
        })
    }

    /// Parses an image file and a label file (each raw or gzipped) into a data set.
    /// With `n_classes = None` the number of classes is the largest label + 1.
    pub fn from_idx(
        images: &[u8],
        labels: &[u8],
        n_classes: Option<usize>,
    ) -> Result<Self, DataError> {
        let images = parse_images(images)?;
        let labels = parse_labels(labels)?;
        if images.n != labels.len() {
            return Err(DataError::CountMismatch {
                images: images.n,
                labels: labels.len(),
            });
        }
        let n_classes =
            n_classes.unwrap_or_else(|| labels.iter().max().map_or(0, |&m| usize::from(m) + 1));
        Self::new(images.pixels, labels, images.rows, images.cols, n_classes)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no samples (never, for a set built by [`Dataset::new`]).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image (`rows * cols`).
    pub fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// The `i`-th image, `rows * cols` bytes row-major.
    ///
    /// # Panics
    /// If `i >= len()`, like slice indexing; use [`Dataset::get`] for a checked variant.
    pub fn image(&self, i: usize) -> &[u8] {
        let p = self.pixels_per_image();
        &self.images[i * p..(i + 1) * p]
    }

    /// The `i`-th image and its label, or `None` when out of range.
    pub fn get(&self, i: usize) -> Option<(&[u8], u8)> {
        let p = self.pixels_per_image();
        let start = i.checked_mul(p)?;
        let image = self.images.get(start..start.checked_add(p)?)?;
        Some((image, *self.labels.get(i)?))
    }

    /// Iterates over `(image, label)` pairs in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], u8)> + '_ {
        let p = self.pixels_per_image().max(1);
        self.images.chunks_exact(p).zip(self.labels.iter().copied())
    }

    /// The first `n` samples (all of them if `n >= len()`). The embedded set interleaves the
    /// classes, so a prefix of it is close to class-balanced.
    pub fn subset(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        let p = self.pixels_per_image();
        Dataset {
            images: self.images[..(n * p).min(self.images.len())].to_vec(),
            labels: self.labels[..n].to_vec(),
            rows: self.rows,
            cols: self.cols,
            n_classes: self.n_classes,
        }
    }

    /// Number of samples per class, indexed by label. Has `n_classes` entries (more if a
    /// hand-built set holds larger labels, so it never panics).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0usize; self.n_classes];
        for &l in &self.labels {
            let l = usize::from(l);
            if l >= counts.len() {
                counts.resize(l + 1, 0);
            }
            counts[l] += 1;
        }
        counts
    }
}

/// A training set and a test set with the same image shape and classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub train: Dataset,
    pub test: Dataset,
    /// A short name for logs and run metadata, e.g. `mnist-embedded`.
    pub name: String,
}

impl Split {
    /// Pairs two data sets after checking that their images have the same shape; both get the
    /// larger of the two `n_classes` so that class indices mean the same in both.
    pub fn new(
        mut train: Dataset,
        mut test: Dataset,
        name: impl Into<String>,
    ) -> Result<Self, DataError> {
        if (train.rows, train.cols) != (test.rows, test.cols) {
            return Err(DataError::ShapeMismatch {
                train_rows: train.rows,
                train_cols: train.cols,
                test_rows: test.rows,
                test_cols: test.cols,
            });
        }
        let n_classes = train.n_classes.max(test.n_classes);
        train.n_classes = n_classes;
        test.n_classes = n_classes;
        Ok(Self {
            train,
            test,
            name: name.into(),
        })
    }
}
