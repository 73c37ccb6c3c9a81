//! The frame around every `.hebb` file body: magic, format version, family tag, length, CRC.
//!
//! ```text
//! version 1 (convolutional STDP models, the original format):
//! offset 0   b"HEBB"   magic
//! offset 4   u16 LE    1
//! offset 6   u32 LE    body length
//! offset 10  u32 LE    CRC-32 (ISO-HDLC, as zlib) of the body
//! offset 14  body
//!
//! version 2 (any family):
//! offset 0   b"HEBB"   magic
//! offset 4   u16 LE    2
//! offset 6   u16 LE    family tag (FAMILY_*)
//! offset 8   u32 LE    body length
//! offset 12  u32 LE    CRC-32 of the body
//! offset 16  body
//! ```
//! A version-1 file is a convolutional STDP model: its family is implied, so every file written
//! before families existed still loads unchanged, and such models are still written as version 1
//! (the firmware's flash images keep their bytes). [`peek`] reads only the header, so a reader
//! can check a file's kind and size before reading all of it.

use crate::error::{Error, Result};

/// Magic tag at the start of every file.
pub const MAGIC: [u8; 4] = *b"HEBB";
/// Family tag of convolutional STDP models (version-1 files).
pub const FAMILY_CONV_STDP: u16 = 1;
/// Family tag of local-rule models (Hopfield memories, Oja / Sanger / BCM layers, trace-STDP
/// layers).
pub const FAMILY_LOCAL_RULES: u16 = 2;
/// Family tag of Diehl & Cook 2015 networks (Poisson inputs, conductance LIF, trace STDP,
/// label assignment by response).
pub const FAMILY_DIEHL_COOK: u16 = 3;
/// Family tag of conductance-based E/I networks with homeostatic rules.
pub const FAMILY_EI_NETWORK: u16 = 5;
/// Header bytes of version 1.
pub const HEADER_V1: usize = 14;
/// Header bytes of version 2.
pub const HEADER_V2: usize = 16;
/// The longest header: read this many bytes to [`peek`] any file.
pub const MAX_HEADER: usize = HEADER_V2;
/// CRC of the body.
pub const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// What a header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header {
    /// Format version (1 or 2).
    pub version: u16,
    /// Family tag.
    pub family: u16,
    /// Header length.
    pub header_len: usize,
    /// Body length.
    pub body_len: usize,
    /// Stored CRC of the body.
    pub crc: u32,
}

impl Header {
    /// Header plus body: the exact length of a valid file.
    pub fn file_len(&self) -> usize {
        self.header_len.saturating_add(self.body_len)
    }
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(i)?,
        *b.get(i + 1)?,
        *b.get(i + 2)?,
        *b.get(i + 3)?,
    ]))
}

/// Reads the header at the start of `bytes` (which may be only the first [`MAX_HEADER`] bytes
/// of a file).
pub fn peek(bytes: &[u8]) -> Result<Header> {
    let n = bytes.len().min(4);
    if bytes.get(..n) != MAGIC.get(..n) {
        return Err(Error::BadMagic);
    }
    let version = u16_at(bytes, 4).ok_or(Error::Truncated)?;
    let (family, header_len, at) = match version {
        1 => (FAMILY_CONV_STDP, HEADER_V1, 6),
        2 => (u16_at(bytes, 6).ok_or(Error::Truncated)?, HEADER_V2, 8),
        v => return Err(Error::UnsupportedVersion(v)),
    };
    let body_len = u32_at(bytes, at).ok_or(Error::Truncated)? as usize;
    let crc = u32_at(bytes, at + 4).ok_or(Error::Truncated)?;
    Ok(Header {
        version,
        family,
        header_len,
        body_len,
        crc,
    })
}

/// Checks the frame of a whole file and returns its header and body.
pub fn open(bytes: &[u8]) -> Result<(Header, &[u8])> {
    let h = peek(bytes)?;
    let rest = bytes.get(h.header_len..).ok_or(Error::Truncated)?;
    if rest.len() < h.body_len {
        return Err(Error::Truncated);
    }
    if rest.len() > h.body_len {
        return Err(Error::TrailingBytes);
    }
    let computed = CRC.checksum(rest);
    if computed != h.crc {
        return Err(Error::CrcMismatch {
            stored: h.crc,
            computed,
        });
    }
    Ok((h, rest))
}

/// Writes a header for a body of `body` in front of it: `buf[..header_len]` must be free and
/// `buf[header_len..header_len + body_len]` hold the body. Version 1 for convolutional STDP,
/// version 2 otherwise. Returns the file length.
pub fn seal(family: u16, buf: &mut [u8], body_len: usize) -> Result<usize> {
    let header_len = header_len(family);
    let total = header_len
        .checked_add(body_len)
        .ok_or(Error::EncodeFailed)?;
    let len32 = u32::try_from(body_len).map_err(|_| Error::EncodeFailed)?;
    let file = buf.get_mut(..total).ok_or(Error::EncodeFailed)?;
    let (head, body) = file.split_at_mut(header_len);
    let crc = CRC.checksum(body);
    let crc = crc.to_le_bytes();
    let len = len32.to_le_bytes();
    let family = family.to_le_bytes();
    let v1 = 1u16.to_le_bytes();
    let v2 = 2u16.to_le_bytes();
    let fields: &[&[u8]] = if header_len == HEADER_V1 {
        &[&MAGIC, &v1, &len, &crc]
    } else {
        &[&MAGIC, &v2, &family, &len, &crc]
    };
    let mut dst = head.iter_mut();
    for f in fields {
        // The field's bytes drive the zip, so no destination byte is skipped between fields.
        for (s, d) in f.iter().zip(dst.by_ref()) {
            *d = *s;
        }
    }
    Ok(total)
}

/// Header length of a family's files.
pub fn header_len(family: u16) -> usize {
    if family == FAMILY_CONV_STDP {
        HEADER_V1
    } else {
        HEADER_V2
    }
}
