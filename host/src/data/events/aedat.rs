//! AEDAT4 files (iniVation DV): the line `#!AER-DAT4.0\r\n`; a little-endian `u32` length and
//! an `IOHeader` FlatBuffer (identifier `IOHE`: the compression of every packet, the position
//! of the data table or −1, and an XML description of the streams: their ids, type
//! identifiers `EVTS` / `FRME` / `IMUS` / `TRIG` and, for event streams, the sensor's `sizeX`
//! and `sizeY`); then packets, each an `i32` stream id, an `i32` byte size and that many bytes:
//! a size-prefixed FlatBuffer, compressed as the header says (none, an LZ4 frame or a
//! Zstandard frame). An event packet (`EventPacket`, identifier `EVTS`) is a vector of 16-byte
//! structs {t: i64 µs, x: i16, y: i16, on: bool, 3 bytes of padding}. When the header gives
//! a data-table position, the packets end there (the table, an index of the packets, is not
//! needed and not read).
//!
//! The reader takes one event stream (the lowest-numbered one, or the one asked for), skips
//! the packets of every other stream without decompressing them, uses the sensor size the
//! description declares (an event stream that declares none is an error) and checks every
//! event against it. Every offset and length is checked against the bytes present, and the
//! decompressed size is capped at 64 times the file plus 8 MiB, so a damaged or hostile file
//! is an error that names what is wrong and where, never a panic or a runaway allocation.
//!
//! [`encode`] writes a file of one event stream (uncompressed, LZ4 or Zstandard), for tests and
//! generated recordings.

use super::{Event, EventError, Recording};
use std::io::Read;

const FORMAT: &str = "AEDAT4";
/// The first line of every AEDAT4 file.
pub const MAGIC: &[u8] = b"#!AER-DAT4.0\r\n";
/// Bytes per event in an event packet.
pub const EVENT_SIZE: usize = 16;
/// Largest ratio of decompressed bytes to the file's size, and the allowance added to it.
const MAX_RATIO: u64 = 64;
const SLACK: u64 = 8 << 20;
/// Largest total decompressed size (bytes).
const MAX_INFLATE: u64 = 4 << 30;
/// Events per packet written by [`encode`].
const EVENTS_PER_PACKET: usize = 4096;

fn bad(what: impl Into<String>) -> EventError {
    EventError::Malformed {
        format: FORMAT,
        what: what.into(),
    }
}

/// How the packets of a file are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain FlatBuffers.
    None,
    /// LZ4 frames.
    Lz4,
    /// LZ4 frames, written with the high-compression setting.
    Lz4High,
    /// Zstandard frames.
    Zstd,
    /// Zstandard frames, written with the high-compression setting.
    ZstdHigh,
}

impl Compression {
    fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            0 => Self::None,
            1 => Self::Lz4,
            2 => Self::Lz4High,
            3 => Self::Zstd,
            4 => Self::ZstdHigh,
            _ => return None,
        })
    }
    fn to_i32(self) -> i32 {
        match self {
            Self::None => 0,
            Self::Lz4 => 1,
            Self::Lz4High => 2,
            Self::Zstd => 3,
            Self::ZstdHigh => 4,
        }
    }
    /// The name DV gives it.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Lz4 => "LZ4",
            Self::Lz4High => "LZ4_HIGH",
            Self::Zstd => "ZSTD",
            Self::ZstdHigh => "ZSTD_HIGH",
        }
    }
}

/// A stream the description declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// Its id, as packets name it.
    pub id: i32,
    /// Its type identifier (`EVTS`, `FRME`, `IMUS`, `TRIG`, …).
    pub type_id: String,
    /// Its `sizeX`, when declared.
    pub size_x: Option<u16>,
    /// Its `sizeY`, when declared.
    pub size_y: Option<u16>,
}

/// What the header of a file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The compression of every packet.
    pub compression: Compression,
    /// Where the data table starts (and the packets end), when the file has one.
    pub data_table: Option<usize>,
    /// The streams, in the order the description declares them.
    pub streams: Vec<Stream>,
    /// Offset of the first packet.
    pub packets_start: usize,
}

// ---- a bounds-checked reader of the few FlatBuffers fields needed ----

fn le<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}
fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    le(b, at).map(u16::from_le_bytes)
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    le(b, at).map(u32::from_le_bytes)
}
fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    le(b, at).map(i32::from_le_bytes)
}
fn i64_at(b: &[u8], at: usize) -> Option<i64> {
    le(b, at).map(i64::from_le_bytes)
}

/// A FlatBuffers table: its position and its vtable's.
struct Table<'a> {
    b: &'a [u8],
    pos: usize,
    vtable: usize,
    vt_len: usize,
}

impl<'a> Table<'a> {
    /// The root table of buffer `b`, whose identifier (bytes 4..8) must be `ident`.
    fn root(b: &'a [u8], ident: &[u8; 4], what: &str) -> Result<Self, String> {
        let found = b
            .get(4..8)
            .ok_or_else(|| format!("{what}: {} bytes is too short for a FlatBuffer", b.len()))?;
        if found != ident {
            return Err(format!(
                "{what}: identifier {:?}, expected {:?}",
                String::from_utf8_lossy(found),
                String::from_utf8_lossy(ident)
            ));
        }
        let pos = u32_at(b, 0).unwrap_or(u32::MAX) as usize;
        Self::at(b, pos).ok_or_else(|| format!("{what}: root table at {pos} is out of bounds"))
    }
    fn at(b: &'a [u8], pos: usize) -> Option<Self> {
        let soff = i64::from(i32_at(b, pos)?);
        let vtable = usize::try_from(pos as i64 - soff).ok()?;
        let vt_len = usize::from(u16_at(b, vtable)?);
        let table_len = usize::from(u16_at(b, vtable + 2)?);
        if vt_len < 4 || vt_len % 2 != 0 || b.len() < vtable + vt_len || b.len() < pos + table_len {
            return None;
        }
        Some(Self {
            b,
            pos,
            vtable,
            vt_len,
        })
    }
    /// Position of field `i`, `Ok(None)` when absent.
    fn field(&self, i: usize) -> Option<usize> {
        let slot = 4 + 2 * i;
        if slot + 2 > self.vt_len {
            return None;
        }
        match u16_at(self.b, self.vtable + slot)? {
            0 => None,
            off => Some(self.pos + usize::from(off)),
        }
    }
    /// The target of the offset stored at `at`, with the `u32` length it starts with.
    fn indirect(&self, at: usize) -> Option<(usize, usize)> {
        let target = at.checked_add(u32_at(self.b, at)? as usize)?;
        let len = u32_at(self.b, target)? as usize;
        Some((target + 4, len))
    }
}

// ---- the XML description ----

/// The streams of a DV description: `<node name="outInfo">` holds one `<node name="ID">` per
/// stream with `<attr key="typeIdentifier">` and a `<node name="info">` with `sizeX`, `sizeY`.
fn parse_description(xml: &str) -> Result<Vec<Stream>, EventError> {
    let err = |what: String| bad(format!("stream description (XML): {what}"));
    let b = xml.as_bytes();
    let mut nodes: Vec<String> = Vec::new();
    let mut streams: Vec<Stream> = Vec::new();
    let mut i = 0;
    while let Some(lt) = xml[i..].find('<').map(|k| i + k) {
        let rest = &xml[lt..];
        let skip_to = |end: &str| {
            rest.find(end)
                .map(|k| lt + k + end.len())
                .ok_or_else(|| err(format!("unterminated markup at byte {lt}")))
        };
        if rest.starts_with("<!--") {
            i = skip_to("-->")?;
            continue;
        }
        if rest.starts_with("<?") {
            i = skip_to("?>")?;
            continue;
        }
        if rest.starts_with("<!") {
            i = skip_to(">")?;
            continue;
        }
        let gt = skip_to(">")?;
        let inner = &xml[lt + 1..gt - 1];
        i = gt;
        if let Some(name) = inner.strip_prefix('/') {
            if name.trim() == "node" && nodes.pop().is_none() {
                return Err(err(format!("`</node>` without `<node>` at byte {lt}")));
            }
            continue;
        }
        let self_closing = inner.ends_with('/');
        let inner = inner.strip_suffix('/').unwrap_or(inner);
        let (tag, attrs) = inner
            .split_once(|c: char| c.is_ascii_whitespace())
            .unwrap_or((inner, ""));
        let attrs = parse_attrs(attrs)
            .ok_or_else(|| err(format!("malformed attributes in the tag at byte {lt}")))?;
        let attr = |k: &str| attrs.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        match tag {
            "node" if !self_closing => nodes.push(attr("name").unwrap_or("").to_owned()),
            "attr" if !self_closing => {
                let text_end = xml[gt..].find('<').map_or(b.len(), |k| gt + k);
                let text = xml[gt..text_end].trim();
                let Some(key) = attr("key") else { continue };
                let n = nodes.len();
                let (id, info) = if n >= 2 && nodes[n - 2] == "outInfo" {
                    (&nodes[n - 1], false)
                } else if n >= 3 && nodes[n - 3] == "outInfo" && nodes[n - 1] == "info" {
                    (&nodes[n - 2], true)
                } else {
                    continue;
                };
                let id: i32 = id
                    .parse()
                    .map_err(|_| err(format!("stream name `{id}` is not a number")))?;
                let k = match streams.iter().position(|s| s.id == id) {
                    Some(k) => k,
                    None => {
                        streams.push(Stream {
                            id,
                            type_id: String::new(),
                            size_x: None,
                            size_y: None,
                        });
                        streams.len() - 1
                    }
                };
                let s = &mut streams[k];
                let size = || {
                    text.parse::<u16>().map_err(|_| {
                        err(format!(
                            "stream {id}: {key} = `{text}` is not a size in 0..=65535"
                        ))
                    })
                };
                match (info, key) {
                    (false, "typeIdentifier") => s.type_id = text.to_owned(),
                    (true, "sizeX") => s.size_x = Some(size()?),
                    (true, "sizeY") => s.size_y = Some(size()?),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if streams.is_empty() {
        return Err(err(
            "declares no stream (no `outInfo` node with streams)".into()
        ));
    }
    Ok(streams)
}

/// `name="value"` pairs (either quote).
fn parse_attrs(s: &str) -> Option<Vec<(&str, &str)>> {
    let mut out = Vec::new();
    let mut s = s.trim_start();
    while !s.is_empty() {
        let eq = s.find('=')?;
        let name = s[..eq].trim();
        let v = s[eq + 1..].trim_start();
        let q = v.chars().next().filter(|&c| c == '"' || c == '\'')?;
        let end = v[1..].find(q)? + 1;
        out.push((name, &v[1..end]));
        s = v[end + 1..].trim_start();
    }
    Some(out)
}

// ---- header, packets, decompression ----

/// Decodes the header: compression, data-table position and streams.
pub fn header(bytes: &[u8]) -> Result<Header, EventError> {
    if !bytes.starts_with(MAGIC) {
        return Err(if MAGIC.starts_with(bytes) {
            bad(format!(
                "truncated header: {} bytes, shorter than the 14-byte `#!AER-DAT4.0` line",
                bytes.len()
            ))
        } else if bytes.starts_with(b"#!AER-DAT") {
            bad(format!(
                "not an AEDAT 4.0 file (first line {:?}; AEDAT 2 and 3 are not read)",
                String::from_utf8_lossy(&bytes[..bytes.len().min(16)])
            ))
        } else {
            bad("not an AEDAT4 file (no `#!AER-DAT4.0` line)")
        });
    }
    let at = MAGIC.len();
    let len = u32_at(bytes, at)
        .ok_or_else(|| bad("truncated header: no IOHeader length after the first line"))?
        as usize;
    let start = at + 4;
    let io = bytes.get(start..start.saturating_add(len)).ok_or_else(|| {
        bad(format!(
            "truncated header: the IOHeader declares {len} bytes, {} remain",
            bytes.len() - start
        ))
    })?;
    let t = Table::root(io, b"IOHE", "IOHeader").map_err(bad)?;
    let raw = match t.field(0) {
        None => 0,
        Some(p) => i32_at(io, p).ok_or_else(|| bad("IOHeader: compression out of bounds"))?,
    };
    let compression = Compression::from_i32(raw).ok_or_else(|| {
        bad(format!(
            "IOHeader: compression {raw} is not one of 0..=4 (NONE, LZ4, LZ4_HIGH, ZSTD, ZSTD_HIGH)"
        ))
    })?;
    let table = match t.field(1) {
        None => -1,
        Some(p) => {
            i64_at(io, p).ok_or_else(|| bad("IOHeader: data-table position out of bounds"))?
        }
    };
    let packets_start = start + len;
    let data_table = match table {
        -1 => None,
        p if p >= packets_start as i64 && p <= bytes.len() as i64 => Some(p as usize),
        p => {
            return Err(bad(format!(
                "IOHeader: data-table position {p} lies outside the packets ({packets_start}..={})",
                bytes.len()
            )));
        }
    };
    let desc = t
        .field(2)
        .ok_or_else(|| bad("IOHeader has no stream description"))?;
    let (s, n) = t
        .indirect(desc)
        .ok_or_else(|| bad("IOHeader: stream description out of bounds"))?;
    let xml = io.get(s..s.saturating_add(n)).ok_or_else(|| {
        bad(format!(
            "IOHeader: the description declares {n} bytes, fewer remain"
        ))
    })?;
    let xml = std::str::from_utf8(xml)
        .map_err(|e| bad(format!("IOHeader: the description is not UTF-8 ({e})")))?;
    Ok(Header {
        compression,
        data_table,
        streams: parse_description(xml)?,
        packets_start,
    })
}

/// The window a Zstandard frame asks for (bytes), read from its header, so that a frame that
/// would make the decoder reserve more than `limit` is refused before decoding.
fn zstd_window(d: &[u8]) -> Option<u64> {
    if u32_at(d, 0)? != 0xFD2F_B528 {
        return None;
    }
    let fhd = *d.get(4)?;
    let single = fhd & 0x20 != 0;
    let mut at = 5;
    let window = if single {
        0
    } else {
        let wd = *d.get(at)?;
        at += 1;
        let base = 1u64 << (10 + (wd >> 3));
        base + base / 8 * u64::from(wd & 7)
    };
    at += [0, 1, 2, 4][usize::from(fhd & 3)];
    let fcs = match (fhd >> 6, single) {
        (0, false) => return Some(window),
        (0, true) => u64::from(*d.get(at)?),
        (1, _) => u64::from(u16_at(d, at)?) + 256,
        (2, _) => u64::from(u32_at(d, at)?),
        _ => u64::from_le_bytes(le(d, at)?),
    };
    Some(if single { fcs } else { window })
}

/// The packet payload decompressed, at most `limit` bytes.
fn decompress(c: Compression, data: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    match c {
        Compression::None => {
            if data.len() as u64 > limit {
                return Err(format!("more than {limit} bytes"));
            }
            out.extend_from_slice(data);
        }
        Compression::Lz4 | Compression::Lz4High => {
            lz4_flex::frame::FrameDecoder::new(data)
                .take(limit + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("LZ4: {e}"))?;
        }
        Compression::Zstd | Compression::ZstdHigh => {
            let w = zstd_window(data).ok_or("not a Zstandard frame")?;
            if w > limit {
                return Err(format!("Zstandard window of {w} bytes exceeds {limit}"));
            }
            let mut src = data;
            let dec = ruzstd::decoding::StreamingDecoder::new(&mut src)
                .map_err(|e| format!("Zstandard: {e}"))?;
            dec.take(limit + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("Zstandard: {e}"))?;
        }
    }
    if out.len() as u64 > limit {
        return Err(format!(
            "decompresses to more than {limit} bytes ({MAX_RATIO}× the file plus 8 MiB)"
        ));
    }
    Ok(out)
}

/// Reads the lowest-numbered event stream of an AEDAT4 file.
pub fn read(bytes: &[u8]) -> Result<Recording, EventError> {
    read_stream(bytes, None)
}

/// Reads event stream `stream` of an AEDAT4 file (`None`: the lowest-numbered `EVTS` stream).
pub fn read_stream(bytes: &[u8], stream: Option<i32>) -> Result<Recording, EventError> {
    let h = header(bytes)?;
    let s = match stream {
        Some(id) => {
            let s = h
                .streams
                .iter()
                .find(|s| s.id == id)
                .ok_or_else(|| bad(format!("no stream {id} in the description")))?;
            if s.type_id != "EVTS" {
                return Err(bad(format!(
                    "stream {id} holds `{}`, not events (`EVTS`)",
                    s.type_id
                )));
            }
            s
        }
        None => h
            .streams
            .iter()
            .filter(|s| s.type_id == "EVTS")
            .min_by_key(|s| s.id)
            .ok_or_else(|| bad("the description declares no event (`EVTS`) stream"))?,
    };
    let id = s.id;
    let width = s.size_x.ok_or_else(|| {
        bad(format!(
            "event stream {id} declares no sensor width (sizeX)"
        ))
    })?;
    let height = s.size_y.ok_or_else(|| {
        bad(format!(
            "event stream {id} declares no sensor height (sizeY)"
        ))
    })?;
    if width == 0 || height == 0 {
        return Err(EventError::EmptySensor { width, height });
    }
    let end = h.data_table.unwrap_or(bytes.len());
    let mut budget = MAX_INFLATE.min((bytes.len() as u64).saturating_mul(MAX_RATIO) + SLACK);
    let mut events = Vec::new();
    let mut at = h.packets_start;
    let mut n_packet = 0usize;
    while at < end {
        let (Some(sid), Some(size)) = (i32_at(bytes, at), i32_at(bytes, at + 4)) else {
            return Err(bad(format!(
                "packet {n_packet} at offset {at}: truncated packet header ({} of 8 bytes)",
                end - at
            )));
        };
        if at + 8 > end {
            return Err(bad(format!(
                "packet {n_packet} at offset {at}: its header runs into the data table at {end}"
            )));
        }
        let avail = end - at - 8;
        let size = usize::try_from(size)
            .ok()
            .filter(|&s| s <= avail)
            .ok_or_else(|| {
                bad(format!(
                    "packet {n_packet} at offset {at} (stream {sid}) declares {size} bytes, {avail} remain"
                ))
            })?;
        let payload = &bytes[at + 8..at + 8 + size];
        let here = at;
        at += 8 + size;
        let pk = n_packet;
        n_packet += 1;
        if !h.streams.iter().any(|s| s.id == sid) {
            return Err(bad(format!(
                "packet {pk} at offset {here}: stream {sid} is not in the description"
            )));
        }
        if sid != id {
            continue;
        }
        let where_ = |what: String| {
            bad(format!(
                "packet {pk} at offset {here} (stream {id}): {what}"
            ))
        };
        let buf = decompress(h.compression, payload, budget).map_err(&where_)?;
        budget -= buf.len() as u64;
        let n = u32_at(&buf, 0)
            .ok_or_else(|| where_(format!("{} bytes, no size prefix", buf.len())))?
            as usize;
        let fb = buf.get(4..4usize.saturating_add(n)).ok_or_else(|| {
            where_(format!(
                "the size prefix declares {n} bytes, {} follow it",
                buf.len() - 4
            ))
        })?;
        let t = Table::root(fb, b"EVTS", "event packet").map_err(&where_)?;
        let Some(f) = t.field(0) else { continue };
        let (start, count) = t
            .indirect(f)
            .ok_or_else(|| where_("the event vector is out of bounds".into()))?;
        let data = count
            .checked_mul(EVENT_SIZE)
            .and_then(|len| fb.get(start..start.checked_add(len)?))
            .ok_or_else(|| {
                where_(format!(
                    "the event vector declares {count} events, fewer bytes remain"
                ))
            })?;
        events.reserve(count);
        for r in data.chunks_exact(EVENT_SIZE) {
            let index = events.len();
            let t = i64_at(r, 0).unwrap_or(0);
            let x = u16_at(r, 8).unwrap_or(0) as i16;
            let y = u16_at(r, 10).unwrap_or(0) as i16;
            let t = u64::try_from(t).map_err(|_| EventError::BadValue {
                format: FORMAT,
                index,
                what: format!("time {t} µs is negative (packet {pk} at offset {here})"),
            })?;
            let (xu, yu) = (u16::try_from(x), u16::try_from(y));
            match (xu, yu) {
                (Ok(xu), Ok(yu)) if xu < width && yu < height => events.push(Event {
                    t,
                    x: xu,
                    y: yu,
                    on: r[12] != 0,
                }),
                _ if x < 0 || y < 0 => {
                    return Err(EventError::BadValue {
                        format: FORMAT,
                        index,
                        what: format!(
                            "negative coordinate ({x}, {y}) (packet {pk} at offset {here})"
                        ),
                    });
                }
                _ => {
                    return Err(EventError::OutOfSensor {
                        format: FORMAT,
                        index,
                        x: x as u64,
                        y: y as u64,
                        width,
                        height,
                    });
                }
            }
        }
    }
    Recording::new(FORMAT, width, height, events)
}

// ---- writing ----

/// An `EventPacket` as a size-prefixed FlatBuffer.
fn event_packet(events: &[Event]) -> Vec<u8> {
    // Offsets relative to the FlatBuffer (after the size prefix): root offset, identifier,
    // vtable {6, 8, 4} at 8, table at 16 (soffset 8 back to the vtable, then the offset of the
    // vector), vector length at 28, 16-byte structs from 32 (8-aligned).
    let mut fb = Vec::with_capacity(32 + EVENT_SIZE * events.len());
    fb.extend_from_slice(&16u32.to_le_bytes());
    fb.extend_from_slice(b"EVTS");
    for v in [6u16, 8, 4, 0] {
        fb.extend_from_slice(&v.to_le_bytes());
    }
    fb.extend_from_slice(&8i32.to_le_bytes());
    fb.extend_from_slice(&8u32.to_le_bytes());
    fb.extend_from_slice(&[0; 4]);
    fb.extend_from_slice(&(events.len() as u32).to_le_bytes());
    for e in events {
        fb.extend_from_slice(&(e.t as i64).to_le_bytes());
        fb.extend_from_slice(&(e.x as i16).to_le_bytes());
        fb.extend_from_slice(&(e.y as i16).to_le_bytes());
        fb.extend_from_slice(&[u8::from(e.on), 0, 0, 0]);
    }
    let mut out = (fb.len() as u32).to_le_bytes().to_vec();
    out.extend(fb);
    out
}

/// An `IOHeader` FlatBuffer.
fn io_header(c: Compression, description: &str) -> Vec<u8> {
    // Root offset, identifier, vtable {10, 20, 4, 8, 16} at 8, table at 24: soffset 16,
    // compression (i32) at +4, data-table position (i64, 8-aligned) at +8, the offset of the
    // description at +16; the string (length, bytes, NUL) at 44.
    let mut fb = Vec::new();
    fb.extend_from_slice(&24u32.to_le_bytes());
    fb.extend_from_slice(b"IOHE");
    for v in [10u16, 20, 4, 8, 16, 0, 0, 0] {
        fb.extend_from_slice(&v.to_le_bytes());
    }
    fb.extend_from_slice(&16i32.to_le_bytes());
    fb.extend_from_slice(&c.to_i32().to_le_bytes());
    fb.extend_from_slice(&(-1i64).to_le_bytes());
    fb.extend_from_slice(&4u32.to_le_bytes());
    fb.extend_from_slice(&(description.len() as u32).to_le_bytes());
    fb.extend_from_slice(description.as_bytes());
    fb.push(0);
    fb.resize(fb.len().div_ceil(4) * 4, 0);
    fb
}

/// Writes `rec` as an AEDAT4 file of one event stream (id 0, its sensor declared), packets of
/// up to 4096 events, compressed with `c`, without a data table. Times must be below 2⁶³ µs,
/// coordinates below 2¹⁵.
pub fn encode(rec: &Recording, c: Compression) -> Result<Vec<u8>, EventError> {
    for (index, e) in rec.events.iter().enumerate() {
        if e.t > i64::MAX as u64 || e.x > i16::MAX as u16 || e.y > i16::MAX as u16 {
            return Err(EventError::BadValue {
                format: FORMAT,
                index,
                what: format!(
                    "({}, {}) at {} µs does not fit AEDAT4's i16 coordinates and i64 time",
                    e.x, e.y, e.t
                ),
            });
        }
    }
    let desc = format!(
        r#"<dv version="2.0">
    <node name="outInfo" path="/mainloop/Recorder/outInfo/">
        <node name="0" path="/mainloop/Recorder/outInfo/0/">
            <attr key="compression" type="string">{}</attr>
            <attr key="typeIdentifier" type="string">EVTS</attr>
            <node name="info" path="/mainloop/Recorder/outInfo/0/info/">
                <attr key="sizeX" type="int">{}</attr>
                <attr key="sizeY" type="int">{}</attr>
            </node>
        </node>
    </node>
</dv>
"#,
        c.name(),
        rec.width,
        rec.height
    );
    let io = io_header(c, &desc);
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&(io.len() as u32).to_le_bytes());
    out.extend(io);
    for chunk in rec.events.chunks(EVENTS_PER_PACKET) {
        let plain = event_packet(chunk);
        let data = match c {
            Compression::None => plain,
            Compression::Lz4 | Compression::Lz4High => {
                use std::io::Write;
                let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
                enc.write_all(&plain)
                    .and_then(|()| enc.finish().map_err(std::io::Error::other))
                    .map_err(|e| bad(format!("LZ4 compression: {e}")))?
            }
            Compression::Zstd | Compression::ZstdHigh => ruzstd::encoding::compress_to_vec(
                &plain[..],
                ruzstd::encoding::CompressionLevel::Fastest,
            ),
        };
        out.extend_from_slice(&0i32.to_le_bytes());
        out.extend_from_slice(&(data.len() as i32).to_le_bytes());
        out.extend(data);
    }
    Ok(out)
}
