//! Framed family files: a postcard body inside the core's `.hebb` frame (magic, version,
//! family tag, length, CRC), as every family other than convolutional STDP writes them.

use anyhow::{Context, Result};

/// Encodes `body` into a framed file tagged `tag`.
pub fn seal<T: serde::Serialize>(tag: u16, body: &T) -> Result<Vec<u8>> {
    let hl = hebb_core::frame::header_len(tag);
    let mut buf = vec![0u8; hl];
    postcard::to_io(body, &mut buf).context("encoding model")?;
    let len = buf.len() - hl;
    hebb_core::frame::seal(tag, &mut buf, len)?;
    Ok(buf)
}

/// Decodes the body of a framed file, which must be tagged `tag` (the CRC is checked first).
pub fn open<T: serde::de::DeserializeOwned>(tag: u16, bytes: &[u8]) -> Result<T> {
    let (h, body) = hebb_core::frame::open(bytes)?;
    if h.family != tag {
        return Err(hebb_core::Error::WrongFamily(h.family).into());
    }
    postcard::from_bytes(body).context("model body malformed")
}
