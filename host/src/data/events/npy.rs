//! Event arrays in NumPy `.npy` files (format versions 1–3): either a 2-D integer or float
//! array of `n` rows `x, y, t, p` (C or Fortran order), or a 1-D structured array with fields
//! `x`, `y`, `t` (or `ts`, `timestamp`) and `p` (or `polarity`), in any order, packed. Times
//! are integers in µs; polarity 0/1 or −1/+1; floats must hold integers.

use super::{Event, EventError, Recording, polarity};

const FORMAT: &str = ".npy";

fn bad(what: impl Into<String>) -> EventError {
    EventError::Malformed {
        format: FORMAT,
        what: what.into(),
    }
}

/// One scalar type of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Int {
        size: usize,
        signed: bool,
        big: bool,
    },
    Float {
        size: usize,
        big: bool,
    },
}

impl Scalar {
    fn parse(descr: &str) -> Result<Self, EventError> {
        let unsupported = || bad(format!("unsupported dtype `{descr}`"));
        // `get` rather than `split_at`: a multi-byte character is an error, not a panic.
        let (order, kind) = (
            descr.get(..1).ok_or_else(unsupported)?,
            descr.get(1..).ok_or_else(unsupported)?,
        );
        let big = match order {
            "<" | "|" | "=" => false,
            ">" => true,
            _ => return Err(bad(format!("unsupported dtype `{descr}`"))),
        };
        let (k, size) = (
            kind.get(..1).ok_or_else(unsupported)?,
            kind.get(1..).ok_or_else(unsupported)?,
        );
        let size: usize = size
            .parse()
            .map_err(|_| bad(format!("unsupported dtype `{descr}`")))?;
        match (k, size) {
            ("i", 1 | 2 | 4 | 8) => Ok(Self::Int {
                size,
                signed: true,
                big,
            }),
            ("u" | "b", 1 | 2 | 4 | 8) => Ok(Self::Int {
                size,
                signed: false,
                big,
            }),
            ("f", 4 | 8) => Ok(Self::Float { size, big }),
            _ => Err(bad(format!(
                "unsupported dtype `{descr}` (integers, floats, bool)"
            ))),
        }
    }
    fn size(self) -> usize {
        match self {
            Self::Int { size, .. } | Self::Float { size, .. } => size,
        }
    }
    /// The value at `b` (exactly `size` bytes) as an integer; `None` for a float that is not
    /// one.
    fn read(self, b: &[u8]) -> Option<i64> {
        let mut buf = [0u8; 8];
        let n = self.size();
        let big = match self {
            Self::Int { big, .. } | Self::Float { big, .. } => big,
        };
        if big {
            buf[..n].copy_from_slice(b);
            buf[..n].reverse();
        } else {
            buf[..n].copy_from_slice(b);
        }
        match self {
            Self::Int { size, signed, .. } => {
                let u = u64::from_le_bytes(buf);
                if signed && size < 8 {
                    let sh = 64 - 8 * size as u32;
                    Some(((u << sh) as i64) >> sh)
                } else if !signed && u > i64::MAX as u64 {
                    None
                } else {
                    Some(u as i64)
                }
            }
            Self::Float { size, .. } => {
                let v = if size == 4 {
                    f64::from(f32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]))
                } else {
                    f64::from_le_bytes(buf)
                };
                (v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e18).then_some(v as i64)
            }
        }
    }
}

/// A Python literal of the header: strings, booleans, integers, tuples and lists.
#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Str(String),
    Bool(bool),
    Int(u64),
    Seq(Vec<Lit>),
    Dict(Vec<(String, Lit)>),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn value(&mut self) -> Result<Lit, EventError> {
        self.ws();
        self.depth += 1;
        if self.depth > 16 {
            return Err(bad("header nests too deep"));
        }
        let v = match self.s.get(self.i) {
            Some(b'\'' | b'"') => {
                let q = self.s[self.i];
                let start = self.i + 1;
                let end = self.s[start..]
                    .iter()
                    .position(|&c| c == q)
                    .ok_or_else(|| bad("header: unterminated string"))?;
                self.i = start + end + 1;
                Lit::Str(String::from_utf8_lossy(&self.s[start..start + end]).into_owned())
            }
            Some(b'(' | b'[') => {
                let close = if self.s[self.i] == b'(' { b')' } else { b']' };
                self.i += 1;
                let mut items = Vec::new();
                while !self.eat(close) {
                    items.push(self.value()?);
                    if !self.eat(b',') {
                        if !self.eat(close) {
                            return Err(bad("header: expected `,` or a closing bracket"));
                        }
                        break;
                    }
                }
                Lit::Seq(items)
            }
            Some(b'{') => {
                self.i += 1;
                let mut items = Vec::new();
                while !self.eat(b'}') {
                    let Lit::Str(k) = self.value()? else {
                        return Err(bad("header: a dictionary key is not a string"));
                    };
                    if !self.eat(b':') {
                        return Err(bad("header: expected `:`"));
                    }
                    items.push((k, self.value()?));
                    if !self.eat(b',') {
                        if !self.eat(b'}') {
                            return Err(bad("header: expected `,` or `}`"));
                        }
                        break;
                    }
                }
                Lit::Dict(items)
            }
            Some(c) if c.is_ascii_digit() => {
                let start = self.i;
                while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                Lit::Int(text.parse().map_err(|_| bad("header: integer too large"))?)
            }
            _ if self.s[self.i..].starts_with(b"True") => {
                self.i += 4;
                Lit::Bool(true)
            }
            _ if self.s[self.i..].starts_with(b"False") => {
                self.i += 5;
                Lit::Bool(false)
            }
            _ => return Err(bad("header: unexpected character")),
        };
        self.depth -= 1;
        Ok(v)
    }
}

/// The layout the header describes.
#[derive(Debug)]
enum Layout {
    /// `n × 4` of one scalar type, columns x, y, t, p.
    Table {
        rows: usize,
        scalar: Scalar,
        fortran: bool,
    },
    /// `n` records; field offsets of x, y, t, p and the record size.
    Records {
        rows: usize,
        fields: [(usize, Scalar); 4],
        itemsize: usize,
    },
}

fn header(bytes: &[u8]) -> Result<(Layout, usize), EventError> {
    const MAGIC: &[u8] = b"\x93NUMPY";
    if !bytes.starts_with(MAGIC) {
        return Err(bad("not a .npy file (no \\x93NUMPY magic)"));
    }
    let major = *bytes.get(6).ok_or_else(|| bad("truncated header"))?;
    let (len, start): (usize, usize) = match major {
        1 => {
            let b = bytes.get(8..10).ok_or_else(|| bad("truncated header"))?;
            (usize::from(u16::from_le_bytes([b[0], b[1]])), 10)
        }
        2 | 3 => {
            let b = bytes.get(8..12).ok_or_else(|| bad("truncated header"))?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        v => return Err(bad(format!("format version {v} is not 1, 2 or 3"))),
    };
    let text = bytes
        .get(start..start.saturating_add(len))
        .ok_or_else(|| bad("truncated header"))?;
    let mut p = Parser {
        s: text,
        i: 0,
        depth: 0,
    };
    let Lit::Dict(d) = p.value()? else {
        return Err(bad("header is not a dictionary"));
    };
    let get = |k: &str| d.iter().find(|(n, _)| n == k).map(|(_, v)| v);
    let fortran = matches!(get("fortran_order"), Some(Lit::Bool(true)));
    let shape: Vec<usize> = match get("shape") {
        Some(Lit::Seq(s)) => s
            .iter()
            .map(|v| match v {
                Lit::Int(n) => usize::try_from(*n).map_err(|_| bad("shape too large")),
                _ => Err(bad("shape holds a non-integer")),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(bad("header has no shape")),
    };
    let layout = match get("descr") {
        Some(Lit::Str(s)) => {
            let &[rows, 4] = shape.as_slice() else {
                return Err(bad(format!(
                    "shape {shape:?} is not (n, 4): columns x, y, t, p"
                )));
            };
            Layout::Table {
                rows,
                scalar: Scalar::parse(s)?,
                fortran,
            }
        }
        Some(Lit::Seq(fields)) => {
            let &[rows] = shape.as_slice() else {
                return Err(bad(format!(
                    "a structured array must be 1-D, not {shape:?}"
                )));
            };
            let mut found: [Option<(usize, Scalar)>; 4] = [None; 4];
            let mut off = 0usize;
            for f in fields {
                let Lit::Seq(f) = f else {
                    return Err(bad("a structured field is not a (name, dtype) pair"));
                };
                let (Some(Lit::Str(name)), Some(Lit::Str(ty)), 2) = (f.first(), f.get(1), f.len())
                else {
                    return Err(bad("a structured field is not a (name, dtype) pair"));
                };
                let sc = Scalar::parse(ty)?;
                let slot = match name.as_str() {
                    "x" => Some(0),
                    "y" => Some(1),
                    "t" | "ts" | "timestamp" => Some(2),
                    "p" | "polarity" => Some(3),
                    _ => None,
                };
                if let Some(k) = slot {
                    if found[k].is_some() {
                        return Err(bad(format!("field `{name}` given twice")));
                    }
                    found[k] = Some((off, sc));
                }
                off += sc.size();
            }
            let names = ["x", "y", "t", "p"];
            let mut out = [(
                0,
                Scalar::Int {
                    size: 1,
                    signed: false,
                    big: false,
                },
            ); 4];
            for (k, f) in found.iter().enumerate() {
                out[k] = f.ok_or_else(|| bad(format!("no field `{}`", names[k])))?;
            }
            Layout::Records {
                rows,
                fields: out,
                itemsize: off,
            }
        }
        _ => return Err(bad("header has no descr")),
    };
    Ok((layout, start + len))
}

/// Decodes the events of a `.npy` file (without a sensor check).
pub fn decode(bytes: &[u8]) -> Result<Vec<Event>, EventError> {
    let (layout, data_start) = header(bytes)?;
    let data = &bytes[data_start.min(bytes.len())..];
    let (rows, itemsize) = match &layout {
        Layout::Table { rows, scalar, .. } => (*rows, 4 * scalar.size()),
        Layout::Records { rows, itemsize, .. } => (*rows, *itemsize),
    };
    let need = rows
        .checked_mul(itemsize)
        .ok_or_else(|| bad("shape overflows"))?;
    if data.len() != need {
        return Err(bad(format!(
            "the header declares {rows} events ({need} bytes) but {} bytes follow it",
            data.len()
        )));
    }
    let value = |i: usize, col: usize| -> Option<i64> {
        match &layout {
            Layout::Table {
                scalar, fortran, ..
            } => {
                let s = scalar.size();
                let k = if *fortran {
                    col * rows + i
                } else {
                    i * 4 + col
                };
                scalar.read(&data[k * s..(k + 1) * s])
            }
            Layout::Records {
                fields, itemsize, ..
            } => {
                let (off, sc) = fields[col];
                let at = i * itemsize + off;
                sc.read(&data[at..at + sc.size()])
            }
        }
    };
    let mut events = Vec::with_capacity(rows);
    for i in 0..rows {
        let mut v = [0i64; 4];
        for (col, slot) in v.iter_mut().enumerate() {
            *slot = value(i, col).ok_or_else(|| EventError::BadValue {
                format: FORMAT,
                index: i,
                what: format!("column {} is not an integer", ["x", "y", "t", "p"][col]),
            })?;
        }
        let [x, y, t, p] = v;
        let bad_value = |what: String| EventError::BadValue {
            format: FORMAT,
            index: i,
            what,
        };
        let on =
            polarity(p).ok_or_else(|| bad_value(format!("polarity {p} is not 0/1 or -1/+1")))?;
        let coord = |c: i64, name: &str| {
            u16::try_from(c)
                .map_err(|_| bad_value(format!("{name} = {c} is not a pixel coordinate")))
        };
        let t = u64::try_from(t).map_err(|_| bad_value(format!("time {t} is negative")))?;
        events.push(Event {
            t,
            x: coord(x, "x")?,
            y: coord(y, "y")?,
            on,
        });
    }
    Ok(events)
}

/// Reads a `.npy` event array recorded on a `width × height` sensor.
pub fn read(bytes: &[u8], width: u16, height: u16) -> Result<Recording, EventError> {
    Recording::new(FORMAT, width, height, decode(bytes)?)
}

/// Writes events as an `n × 4` little-endian `i64` array (x, y, t, p with p in 0/1).
pub fn encode(events: &[Event]) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '<i8', 'fortran_order': False, 'shape': ({}, 4), }}",
        events.len()
    );
    // Pad the header with spaces to a multiple of 64 bytes, ending in a newline.
    let unpadded = 10 + dict.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    let mut h = dict.into_bytes();
    h.extend(std::iter::repeat_n(b' ', pad));
    h.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(&h);
    for e in events {
        for v in [i64::from(e.x), i64::from(e.y), e.t as i64, i64::from(e.on)] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}
