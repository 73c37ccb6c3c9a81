//! MATLAB level-5 MAT files (the format of EBSSA recordings saved with `-v7` or older) and the
//! EBSSA structures they hold: `TD` {x, y, p, ts} (events) and `Obj` {x, y, id, ts} (labelled
//! object positions), with MATLAB's 1-based coordinates converted to 0-based. (Files saved with
//! `-v7.3` are HDF5 and are refused with a message that says so.)
//!
//! The reader follows the format's data elements (8-byte tags or 4-byte small elements, 8-byte
//! padding, zlib-compressed elements, matrices of any numeric class stored in any numeric type,
//! structures), checks every declared length against the bytes present and caps decompression,
//! so a damaged file is an error that names what is wrong.

use super::{Event, EventError, Recording};
use std::io::Read;

const FORMAT: &str = "MAT";
/// Largest total decompressed size (bytes), and the largest ratio to the file's size: event
/// data compresses a few times, so a file that inflates far more is refused before it can
/// exhaust memory.
const MAX_INFLATE: u64 = 4 << 30;
const MAX_RATIO: u64 = 64;

fn bad(what: impl Into<String>) -> EventError {
    EventError::Malformed {
        format: FORMAT,
        what: what.into(),
    }
}

/// A decoded array: numeric values (as f64) or a structure's fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Numeric array, column-major, with its dimensions.
    Numeric {
        /// Dimensions.
        dims: Vec<usize>,
        /// Values.
        data: Vec<f64>,
    },
    /// A 1 × 1 structure: field names and values.
    Struct(Vec<(String, Value)>),
    /// A class this reader does not decode (cells, strings, objects, sparse).
    Other(u8),
}

/// A top-level variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: Value,
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn u32(&self, at: usize) -> Result<u32, EventError> {
        let s = self
            .b
            .get(at..at + 4)
            .ok_or_else(|| bad("truncated data element"))?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    /// The next data element: (type, payload), advancing past its padding.
    fn element(&mut self) -> Result<(u32, &'a [u8]), EventError> {
        let first = self.u32(self.at)?;
        if first >> 16 != 0 {
            // Small element: 2 bytes size, 2 bytes type, 4 bytes data.
            let (ty, n) = (first & 0xFFFF, (first >> 16) as usize);
            if n > 4 {
                return Err(bad("small data element longer than 4 bytes"));
            }
            let data = self
                .b
                .get(self.at + 4..self.at + 4 + n)
                .ok_or_else(|| bad("truncated data element"))?;
            self.at += 8;
            return Ok((ty, data));
        }
        let n = self.u32(self.at + 4)? as usize;
        let start = self.at + 8;
        let data = self
            .b
            .get(
                start
                    ..start
                        .checked_add(n)
                        .ok_or_else(|| bad("element length overflows"))?,
            )
            .ok_or_else(|| bad(format!("a data element declares {n} bytes, fewer remain")))?;
        // Compressed elements are not padded; the others are, to 8 bytes.
        self.at = if first == 15 {
            start + n
        } else {
            start + n.div_ceil(8) * 8
        };
        Ok((first, data))
    }
    fn done(&self) -> bool {
        self.at >= self.b.len()
    }
}

/// Numeric payload of type `ty` as f64 values.
fn numbers(ty: u32, d: &[u8]) -> Result<Vec<f64>, EventError> {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            d.chunks_exact($n)
                .map(|c| <$t>::from_le_bytes(c.try_into().unwrap_or([0; $n])) as f64)
                .collect()
        };
    }
    Ok(match ty {
        1 => d.iter().map(|&v| f64::from(v as i8)).collect(),
        2 => d.iter().map(|&v| f64::from(v)).collect(),
        3 => conv!(i16, 2),
        4 => conv!(u16, 2),
        5 => conv!(i32, 4),
        6 => conv!(u32, 4),
        7 => conv!(f32, 4),
        9 => conv!(f64, 8),
        12 => conv!(i64, 8),
        13 => conv!(u64, 8),
        _ => return Err(bad(format!("numeric data of type {ty} is not supported"))),
    })
}

fn matrix(payload: &[u8], depth: usize) -> Result<(String, Value), EventError> {
    if depth > 8 {
        return Err(bad("structures nest too deep"));
    }
    let mut c = Cursor { b: payload, at: 0 };
    let (_, flags) = c.element()?;
    let class = *flags.first().ok_or_else(|| bad("missing array flags"))?;
    let (_, dims_b) = c.element()?;
    let dims: Vec<usize> = numbers(5, dims_b)?
        .into_iter()
        .map(|v| if v >= 0.0 { v as usize } else { 0 })
        .collect();
    let (_, name_b) = c.element()?;
    let name = String::from_utf8_lossy(name_b).into_owned();
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad("dimensions overflow"))?;
    let value = match class {
        2 => {
            if count != 1 {
                return Err(bad(format!(
                    "structure `{name}` is an array of {count} (expected 1 × 1)"
                )));
            }
            let (_, len_b) = c.element()?;
            let len = numbers(5, len_b)?.first().copied().unwrap_or(0.0) as usize;
            let (_, names_b) = c.element()?;
            if len == 0 || names_b.len() % len != 0 {
                return Err(bad(format!("structure `{name}`: malformed field names")));
            }
            let mut fields = Vec::new();
            for raw in names_b.chunks_exact(len) {
                let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
                let field = String::from_utf8_lossy(&raw[..end]).into_owned();
                let (ty, sub) = c.element()?;
                if ty != 14 {
                    return Err(bad(format!("field `{field}` of `{name}` is not a matrix")));
                }
                let value = if sub.is_empty() {
                    Value::Numeric {
                        dims: vec![0, 0],
                        data: Vec::new(),
                    }
                } else {
                    matrix(sub, depth + 1)?.1
                };
                fields.push((field, value));
            }
            Value::Struct(fields)
        }
        6..=15 => {
            let (ty, real) = c.element()?;
            let data = numbers(ty, real)?;
            if data.len() != count {
                return Err(bad(format!(
                    "`{name}` declares {count} values but holds {}",
                    data.len()
                )));
            }
            Value::Numeric { dims, data }
        }
        other => Value::Other(other),
    };
    Ok((name, value))
}

/// Decodes the variables of a level-5 MAT file.
pub fn variables(bytes: &[u8]) -> Result<Vec<Variable>, EventError> {
    if bytes.starts_with(b"\x89HDF") || bytes.get(512..516) == Some(b"\x89HDF") {
        return Err(bad(
            "an HDF5 (MATLAB -v7.3) file: save it with -v7, or convert it with h5py",
        ));
    }
    if bytes.len() < 128 {
        return Err(bad("shorter than the 128-byte header"));
    }
    if &bytes[126..128] != b"IM" {
        return Err(bad(if &bytes[126..128] == b"MI" {
            "a big-endian MAT file (only little-endian is read)"
        } else {
            "not a level-5 MAT file (no endian indicator)"
        }));
    }
    let mut c = Cursor {
        b: &bytes[128..],
        at: 0,
    };
    let mut vars = Vec::new();
    let mut inflated_total = 0u64;
    let budget = MAX_INFLATE.min((bytes.len() as u64).saturating_mul(MAX_RATIO) + (1 << 20));
    while !c.done() {
        let (outer, data) = c.element()?;
        let (ty, owned);
        let payload: &[u8] = match outer {
            15 => {
                let mut out = Vec::new();
                flate2::read::ZlibDecoder::new(data)
                    .take(budget.saturating_sub(inflated_total) + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| bad(format!("compressed element: {e}")))?;
                inflated_total += out.len() as u64;
                if inflated_total > budget {
                    return Err(bad(format!(
                        "decompresses to more than {budget} bytes ({MAX_RATIO}× the file, at most 4 GiB)"
                    )));
                }
                owned = out;
                let mut inner = Cursor { b: &owned, at: 0 };
                let (t, d) = inner.element()?;
                ty = t;
                d
            }
            t => {
                ty = t;
                data
            }
        };
        if ty == 14 && !payload.is_empty() {
            let (name, value) = matrix(payload, 0)?;
            vars.push(Variable { name, value });
        }
    }
    Ok(vars)
}

fn field<'v>(
    fields: &'v [(String, Value)],
    names: &[&str],
    var: &str,
) -> Result<&'v [f64], EventError> {
    let v = fields
        .iter()
        .find(|(n, _)| names.contains(&n.as_str()))
        .map(|(_, v)| v)
        .ok_or_else(|| bad(format!("`{var}` has no field `{}`", names[0])))?;
    match v {
        Value::Numeric { data, .. } => Ok(data),
        _ => Err(bad(format!("`{var}.{}` is not numeric", names[0]))),
    }
}

/// An object position of EBSSA's `Obj` labels (0-based, sub-pixel).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObjectLabel {
    /// Time (µs).
    pub t: u64,
    /// Column.
    pub x: f64,
    /// Row.
    pub y: f64,
    /// Object id.
    pub id: u32,
}

/// The events (`TD`) and labels (`Obj`, when present) of an EBSSA recording on a
/// `width × height` sensor (ATIS 304 × 240, DAVIS240C 240 × 180).
pub fn read_ebssa(
    bytes: &[u8],
    width: u16,
    height: u16,
) -> Result<(Recording, Vec<ObjectLabel>), EventError> {
    let vars = variables(bytes)?;
    let get = |n: &str| vars.iter().find(|v| v.name == n).map(|v| &v.value);
    let Some(Value::Struct(td)) = get("TD") else {
        return Err(bad("no structure `TD` (the events)"));
    };
    let (x, y, p, ts) = (
        field(td, &["x"], "TD")?,
        field(td, &["y"], "TD")?,
        field(td, &["p"], "TD")?,
        field(td, &["ts"], "TD")?,
    );
    let n = x.len();
    if y.len() != n || p.len() != n || ts.len() != n {
        return Err(bad(format!(
            "`TD` fields differ in length: x {n}, y {}, p {}, ts {}",
            y.len(),
            p.len(),
            ts.len()
        )));
    }
    let mut events = Vec::with_capacity(n);
    for i in 0..n {
        let badv = |what: String| EventError::BadValue {
            format: FORMAT,
            index: i,
            what,
        };
        let coord = |v: f64, axis: &str| {
            if v.fract() != 0.0 || !(1.0..=65536.0).contains(&v) {
                Err(badv(format!(
                    "TD.{axis} = {v} is not a 1-based pixel coordinate"
                )))
            } else {
                Ok((v - 1.0) as u16)
            }
        };
        // ON is 1; OFF is 0, −1 or 2 (the codings EBSSA tools use).
        let on = if p[i] == 1.0 {
            true
        } else if p[i] == 0.0 || p[i] == -1.0 || p[i] == 2.0 {
            false
        } else {
            return Err(badv(format!("TD.p = {} is not a polarity", p[i])));
        };
        let t = ts[i];
        if !(t.is_finite() && t >= 0.0 && t.fract() == 0.0) {
            return Err(badv(format!("TD.ts = {t} is not a time in µs")));
        }
        events.push(Event {
            t: t as u64,
            x: coord(x[i], "x")?,
            y: coord(y[i], "y")?,
            on,
        });
    }
    let mut labels = Vec::new();
    if let Some(Value::Struct(obj)) = get("Obj") {
        let (ox, oy, oid, ots) = (
            field(obj, &["x"], "Obj")?,
            field(obj, &["y"], "Obj")?,
            field(obj, &["id"], "Obj")?,
            field(obj, &["ts"], "Obj")?,
        );
        let m = ox.len();
        if oy.len() != m || oid.len() != m || ots.len() != m {
            return Err(bad("`Obj` fields differ in length"));
        }
        for i in 0..m {
            if !(ots[i].is_finite() && ots[i] >= 0.0 && ox[i].is_finite() && oy[i].is_finite()) {
                return Err(bad(format!(
                    "`Obj` entry {i} is not a finite position and time"
                )));
            }
            labels.push(ObjectLabel {
                t: ots[i] as u64,
                x: ox[i] - 1.0,
                y: oy[i] - 1.0,
                id: oid[i].clamp(0.0, f64::from(u32::MAX)) as u32,
            });
        }
    }
    Ok((Recording::new(FORMAT, width, height, events)?, labels))
}

/// A structure to write: its name and its fields (name, column vector).
pub type StructSpec<'a> = (&'a str, Vec<(&'a str, Vec<f64>)>);

/// Writes a level-5 MAT file (uncompressed) of 1 × 1 structures of `f64` column vectors: for
/// tests and generated EBSSA-like recordings.
pub fn write_structs(structs: &[StructSpec<'_>]) -> Vec<u8> {
    fn element(ty: u32, data: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(8) * 8, 0);
    }
    fn matrix_body(class: u8, dims: &[i32], name: &str, rest: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        element(6, &[class, 0, 0, 0, 0, 0, 0, 0], &mut m);
        let d: Vec<u8> = dims.iter().flat_map(|v| v.to_le_bytes()).collect();
        element(5, &d, &mut m);
        element(1, name.as_bytes(), &mut m);
        m.extend_from_slice(rest);
        m
    }
    let mut out = vec![b' '; 116];
    out[..22].copy_from_slice(b"MATLAB 5.0 MAT-file, h");
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&0x0100u16.to_le_bytes());
    out.extend_from_slice(b"IM");
    for (name, fields) in structs {
        let mut rest = Vec::new();
        const LEN: usize = 32;
        element(5, &(LEN as i32).to_le_bytes(), &mut rest);
        let mut names = Vec::new();
        for (f, _) in fields {
            let mut n = f.as_bytes().to_vec();
            n.resize(LEN, 0);
            names.extend(n);
        }
        element(1, &names, &mut rest);
        for (_, values) in fields {
            let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            let mut real = Vec::new();
            element(9, &data, &mut real);
            let body = matrix_body(6, &[values.len() as i32, 1], "", &real);
            element(14, &body, &mut rest);
        }
        let body = matrix_body(2, &[1, 1], name, &rest);
        element(14, &body, &mut out);
    }
    out
}
