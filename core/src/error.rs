//! The one error type of `hebb-core`.

use core::fmt;

/// Everything that can go wrong in the core. Every constructor, decoder and kernel that takes
/// caller data returns this instead of panicking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// A parameter is outside its documented range; the name says which.
    InvalidParam(&'static str),
    /// A caller-owned buffer is shorter than the operation needs.
    BufferTooSmall {
        /// Which buffer.
        what: &'static str,
        /// Elements needed.
        need: usize,
        /// Elements given.
        got: usize,
    },
    /// Two shapes that must agree do not.
    ShapeMismatch(&'static str),
    /// Model bytes do not start with the `HEBB` magic.
    BadMagic,
    /// The model was written by a format version this build does not read.
    UnsupportedVersion(u16),
    /// The CRC-32 of the model body does not match the stored one.
    CrcMismatch {
        /// CRC stored in the file.
        stored: u32,
        /// CRC computed over the body.
        computed: u32,
    },
    /// The model bytes end before the structure does.
    Truncated,
    /// The model body is not valid postcard for the model schema.
    Malformed,
    /// Bytes remain after the model body.
    TrailingBytes,
    /// A fixed-capacity container in the model would overflow.
    CapacityExceeded(&'static str),
    /// Encoding into the caller's buffer failed (buffer too small).
    EncodeFailed,
    /// The file holds a network of another family (its tag) than the reader expects.
    WrongFamily(u16),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidParam(p) => write!(f, "invalid parameter: {p}"),
            Error::BufferTooSmall { what, need, got } => {
                write!(f, "buffer `{what}` too small: need {need}, got {got}")
            }
            Error::ShapeMismatch(s) => write!(f, "shape mismatch: {s}"),
            Error::BadMagic => write!(f, "not a hebb model (bad magic)"),
            Error::UnsupportedVersion(v) => write!(f, "unsupported model format version {v}"),
            Error::CrcMismatch { stored, computed } => write!(
                f,
                "model CRC mismatch: stored {stored:#010x}, computed {computed:#010x} (file corrupted)"
            ),
            Error::Truncated => write!(f, "model truncated"),
            Error::Malformed => write!(f, "model body malformed"),
            Error::TrailingBytes => write!(f, "trailing bytes after model body"),
            Error::CapacityExceeded(s) => write!(f, "capacity exceeded: {s}"),
            Error::EncodeFailed => write!(f, "model encoding failed: output buffer too small"),
            Error::WrongFamily(t) => write!(
                f,
                "the file holds a network of another family (tag {t}) than this reader expects"
            ),
        }
    }
}

impl core::error::Error for Error {}

/// Result alias of the core.
pub type Result<T> = core::result::Result<T, Error>;

/// Checks that a caller buffer holds at least `need` elements.
pub(crate) fn need<T>(what: &'static str, buf: &[T], need: usize) -> Result<()> {
    if buf.len() < need {
        Err(Error::BufferTooSmall {
            what,
            need,
            got: buf.len(),
        })
    } else {
        Ok(())
    }
}
