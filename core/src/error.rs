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
    /// A size, count, kernel or stride that must be at least 1 is 0; the name says which (for
    /// example `"conv stride"`).
    Zero(&'static str),
    /// A convolution kernel or pooling window is larger than its zero-padded input.
    KernelTooLarge {
        /// `"conv kernel"` or `"pool window"`.
        what: &'static str,
        /// Kernel (window) size.
        k: u8,
        /// Rows or columns of the padded input, whichever is smaller.
        padded: u32,
    },
    /// A size derived from the parameters (a product of dimensions) overflows; the name says
    /// which.
    Overflow(&'static str),
    /// An index taken from caller data (a map, a position, a synapse) lies outside the layer or
    /// buffer it refers to; the name says which.
    OutOfRange(&'static str),
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
            Error::Zero(p) => write!(f, "{p} must be > 0"),
            Error::KernelTooLarge { what, k, padded } => {
                write!(
                    f,
                    "{what} of size {k} larger than the padded input ({padded})"
                )
            }
            Error::Overflow(s) => write!(f, "size overflow: {s}"),
            Error::OutOfRange(s) => write!(f, "index out of range: {s}"),
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

/// The first `n` elements of a caller buffer, or [`Error::BufferTooSmall`].
#[inline]
pub(crate) fn head<'a, T>(what: &'static str, buf: &'a [T], n: usize) -> Result<&'a [T]> {
    buf.get(..n).ok_or(Error::BufferTooSmall {
        what,
        need: n,
        got: buf.len(),
    })
}

/// The first `n` elements of a mutable caller buffer, or [`Error::BufferTooSmall`].
#[inline]
pub(crate) fn head_mut<'a, T>(
    what: &'static str,
    buf: &'a mut [T],
    n: usize,
) -> Result<&'a mut [T]> {
    let got = buf.len();
    buf.get_mut(..n)
        .ok_or(Error::BufferTooSmall { what, need: n, got })
}
