//! Data sets: where labelled images come from.
//!
//! Three sources, picked by a string (e.g. a `--data` flag):
//! * `mnist` / `embedded`: 10,000 real MNIST digits compiled into the binary, so training works
//!   out of the box ([`embedded`]);
//! * `fashion-mnist`: the full Fashion-MNIST from the Debian package `dataset-fashion-mnist`;
//! * anything else: a folder holding the four standard IDX files.
//!
//! All readers go through [`idx`], which validates every byte it is given.

pub mod embedded;
pub mod events;
pub mod idx;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use idx::{DataError, Dataset, Split};

/// Where the Debian package `dataset-fashion-mnist` installs its IDX files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// Environment variable that overrides [`FASHION_MNIST_DIR`] (e.g. for a copy in a home folder).
pub const FASHION_MNIST_ENV: &str = "HEBB_FASHION_MNIST_DIR";

/// A data set to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// The embedded MNIST subset (7,996 train / 2,004 test).
    EmbeddedMnist,
    /// Fashion-MNIST (60,000 / 10,000) from [`FASHION_MNIST_DIR`] or `$HEBB_FASHION_MNIST_DIR`.
    FashionMnist,
    /// A folder with `train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]` and the
    /// test files named `t10k-…` or `test-…`.
    IdxDir(PathBuf),
    /// A folder of event recordings (`events:DIR`; see [`events::dataset`]), voxelised for the
    /// network's event encoder.
    Events(PathBuf),
}

impl FromStr for DataSource {
    type Err = std::convert::Infallible;

    /// `mnist` or `embedded` (any case) select the embedded set, `fashion-mnist` (or
    /// `fashion_mnist`, `fashion`) selects Fashion-MNIST, and any other string is a folder.
    /// To use a folder that happens to be called `mnist`, write `./mnist`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(dir) = s.strip_prefix("events:") {
            return Ok(Self::Events(PathBuf::from(dir)));
        }
        Ok(match s.to_ascii_lowercase().as_str() {
            "mnist" | "embedded" | "mnist-embedded" => Self::EmbeddedMnist,
            "fashion-mnist" | "fashion_mnist" | "fashion" => Self::FashionMnist,
            _ => Self::IdxDir(PathBuf::from(s)),
        })
    }
}

impl fmt::Display for DataSource {
    /// The inverse of [`FromStr`], so a source can be written into run metadata and read back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmbeddedMnist => f.write_str("mnist"),
            Self::FashionMnist => f.write_str("fashion-mnist"),
            Self::IdxDir(p) => write!(f, "{}", p.display()),
            Self::Events(p) => write!(f, "events:{}", p.display()),
        }
    }
}

impl DataSource {
    /// Reads and validates the training and test sets of a network whose encoder is `enc`
    /// (event recordings are voxelised and windowed for it; images must match its size, which
    /// the caller checks).
    pub fn load_for(
        &self,
        enc: &hebb_core::encode::EncoderParams,
        n_classes: Option<usize>,
    ) -> Result<Split, DataError> {
        let events = matches!(enc.mode(), hebb_core::encode::EncodeMode::Events(_));
        match self {
            Self::Events(dir) => {
                let input = events::dataset::EventInput::of(enc)?;
                events::dataset::load(dir, &input, n_classes)
            }
            _ if events => Err(DataError::Unsuitable(format!(
                "the network's encoder takes event recordings, but `{self}` is an image data set: pass --data events:DIR"
            ))),
            _ => self.load(),
        }
    }

    /// Reads and validates the training and test sets of an image source (an event source
    /// needs its encoder: [`DataSource::load_for`]).
    pub fn load(&self) -> Result<Split, DataError> {
        match self {
            Self::Events(_) => Err(DataError::Unsuitable(format!(
                "`{self}` holds event recordings: they are voxelised for a network's event encoder, which this command does not have"
            ))),
            Self::EmbeddedMnist => embedded::load(),
            Self::FashionMnist => load_fashion_mnist_from(&fashion_mnist_dir()),
            Self::IdxDir(dir) => {
                let name = dir.file_name().map_or_else(
                    || dir.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                load_idx_dir(dir, None, &name, "pass a folder holding IDX files")
            }
        }
    }
}

/// The Fashion-MNIST folder: `$HEBB_FASHION_MNIST_DIR` when set and non-empty, else the
/// Debian package's install path.
pub fn fashion_mnist_dir() -> PathBuf {
    std::env::var_os(FASHION_MNIST_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(FASHION_MNIST_DIR), PathBuf::from)
}

/// Loads Fashion-MNIST (10 classes) from `dir`; when the folder or a file is missing, the
/// error says how to install it.
pub fn load_fashion_mnist_from(dir: &Path) -> Result<Split, DataError> {
    let hint = format!(
        "install it with `apt-get install dataset-fashion-mnist`, \
         or set {FASHION_MNIST_ENV} to a folder holding the four IDX files"
    );
    load_idx_dir(dir, Some(10), "fashion-mnist", &hint).map_err(|e| match e {
        DataError::NotFound { path, hint: tried } => DataError::NotFound {
            path,
            hint: if tried == hint {
                hint
            } else {
                format!("{tried}; {hint}")
            },
        },
        e => e,
    })
}

/// Finds the first of `prefixes` × {"", ".gz"} that exists in `dir`; the error names the
/// file that is missing and the names that were tried.
fn find_idx_file(dir: &Path, prefixes: &[&str], kind: &str) -> Result<PathBuf, DataError> {
    let mut tried = Vec::new();
    for prefix in prefixes {
        for ext in ["", ".gz"] {
            let name = format!("{prefix}-{kind}{ext}");
            let path = dir.join(&name);
            if path.is_file() {
                return Ok(path);
            }
            tried.push(name);
        }
    }
    Err(DataError::NotFound {
        path: dir.join(format!("{}-{kind}[.gz]", prefixes[0])),
        hint: format!("tried {}", tried.join(", ")),
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads one split (`prefixes` = `["train"]` or `["t10k", "test"]`), attaching the file name
/// to any parse error so the user knows which of the four files is bad.
fn load_one(dir: &Path, prefixes: &[&str], n_classes: Option<usize>) -> Result<Dataset, DataError> {
    let images_path = find_idx_file(dir, prefixes, "images-idx3-ubyte")?;
    let labels_path = find_idx_file(dir, prefixes, "labels-idx1-ubyte")?;
    let in_file = |path: &Path| {
        let path = path.to_path_buf();
        move |e: DataError| DataError::InFile {
            path,
            source: Box::new(e),
        }
    };
    let images = idx::parse_images(&read_file(&images_path)?).map_err(in_file(&images_path))?;
    let labels = idx::parse_labels(&read_file(&labels_path)?).map_err(in_file(&labels_path))?;
    if images.n != labels.len() {
        return Err(in_file(&labels_path)(DataError::CountMismatch {
            images: images.n,
            labels: labels.len(),
        }));
    }
    let n_classes =
        n_classes.unwrap_or_else(|| labels.iter().max().map_or(0, |&m| usize::from(m) + 1));
    Dataset::new(images.pixels, labels, images.rows, images.cols, n_classes)
        .map_err(in_file(&labels_path))
}

/// Loads a folder of standard IDX files. `n_classes = None` infers it from the largest label
/// in either split.
fn load_idx_dir(
    dir: &Path,
    n_classes: Option<usize>,
    name: &str,
    hint: &str,
) -> Result<Split, DataError> {
    if !dir.is_dir() {
        return Err(DataError::NotFound {
            path: dir.to_path_buf(),
            hint: hint.to_owned(),
        });
    }
    let train = load_one(dir, &["train"], n_classes)?;
    let test = load_one(dir, &["t10k", "test"], n_classes)?;
    Split::new(train, test, name)
}
