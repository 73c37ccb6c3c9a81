//! Events as CSV text: one event per line with integer columns `x`, `y`, `t` (µs; `ts` and
//! `timestamp` are accepted names) and `p` (`polarity`; 0/1 or −1/+1). A first line of names
//! gives the order (other columns are ignored); without one the order is `x, y, t, p`. Blank
//! lines and lines starting with `#` are skipped.

use super::{Event, EventError, Recording, polarity};

const FORMAT: &str = "CSV";

/// Decodes the events of a CSV text (without a sensor check).
pub fn decode(bytes: &[u8]) -> Result<Vec<Event>, EventError> {
    let text = std::str::from_utf8(bytes).map_err(|e| EventError::Malformed {
        format: FORMAT,
        what: format!("not UTF-8 text ({e})"),
    })?;
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .peekable();
    let mut cols = [0usize, 1, 2, 3];
    let mut width = 4usize;
    if let Some(&(_, first)) = lines.peek()
        && first.split(',').any(|c| c.trim().parse::<i64>().is_err())
    {
        let names: Vec<String> = first
            .split(',')
            .map(|c| c.trim().to_ascii_lowercase())
            .collect();
        for (k, alias) in [
            &["x"][..],
            &["y"][..],
            &["t", "ts", "timestamp"][..],
            &["p", "polarity"][..],
        ]
        .iter()
        .enumerate()
        {
            cols[k] = names
                .iter()
                .position(|n| alias.contains(&n.as_str()))
                .ok_or_else(|| EventError::Malformed {
                    format: FORMAT,
                    what: format!("the header `{first}` has no column `{}`", alias[0]),
                })?;
        }
        width = names.len();
        lines.next();
    }
    let mut events = Vec::new();
    for (index, (line_no, line)) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let bad = |what: String| EventError::BadValue {
            format: FORMAT,
            index,
            what: format!("line {line_no}: {what}"),
        };
        if fields.len() != width {
            return Err(bad(format!("{} columns, expected {width}", fields.len())));
        }
        let num = |k: usize| -> Result<i64, EventError> {
            let f = fields[cols[k]];
            f.parse::<i64>()
                .map_err(|_| bad(format!("`{f}` is not an integer")))
        };
        let (x, y, t, p) = (num(0)?, num(1)?, num(2)?, num(3)?);
        let on = polarity(p).ok_or_else(|| bad(format!("polarity {p} is not 0/1 or -1/+1")))?;
        let coord =
            |c: i64| u16::try_from(c).map_err(|_| bad(format!("{c} is not a pixel coordinate")));
        let t = u64::try_from(t).map_err(|_| bad(format!("time {t} is negative")))?;
        events.push(Event {
            t,
            x: coord(x)?,
            y: coord(y)?,
            on,
        });
    }
    Ok(events)
}

/// Reads a CSV recording made on a `width × height` sensor.
pub fn read(bytes: &[u8], width: u16, height: u16) -> Result<Recording, EventError> {
    Recording::new(FORMAT, width, height, decode(bytes)?)
}
