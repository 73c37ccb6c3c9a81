//! PNG figures with no plotting dependency: learned kernels, learning curves, histograms.
//!
//! Everything is drawn into an in-memory RGB canvas and encoded with the `png` crate; text uses
//! a built-in 5×7 bitmap font (ASCII letters, digits and common symbols; anything else is drawn
//! as `?`). This keeps the host free of font and rendering stacks (plotters' defaults pull in
//! font-kit and freetype) while still giving readable titles, tick labels and legends.
//!
//! All functions write through [`crate::io::write_atomic`], so a figure is never half-written,
//! and none of them panic on awkward data: empty inputs, NaN or infinite values, single points
//! and constant series all produce a valid image (non-finite points are skipped or marked).

use std::io;
use std::path::Path;

use crate::io::write_atomic;

type Rgb = [u8; 3];

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const GRID: Rgb = [228, 228, 228];
const AXIS: Rgb = [60, 60, 60];
const NAN_MARK: Rgb = [255, 0, 0];
/// Separator between kernels in [`kernel_grid`] (dark blue, distinct from any gray pixel).
const MAP_SEP: Rgb = [30, 60, 130];
/// Separator between the channels of one kernel in [`kernel_grid`] (light blue).
const CHANNEL_SEP: Rgb = [120, 150, 210];

/// Colours for successive series (the "tab10" palette: distinct and colour-blind friendly).
const PALETTE: [Rgb; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// Largest image any function here will allocate (64 Mpixel = 192 MB RGB), so an absurd
/// shape or scale gives an error instead of exhausting memory.
const MAX_PIXELS: u64 = 64 << 20;

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

// ---------------------------------------------------------------------------------------------
// Font

const GLYPH_W: i64 = 5;
const GLYPH_H: i64 = 7;
/// Horizontal advance per character in font pixels (glyph + 1 px spacing).
const ADVANCE: i64 = GLYPH_W + 1;

/// Rows of a glyph, top to bottom; bit 4 is the leftmost pixel. Rows 0..7 are the 5×7 cell
/// (capitals and digits fill it); rows 7 and 8 hold the descenders of g, j, p, q and y, which
/// a 5×7 cell alone would have to squash until "p" reads as "r".
fn glyph(c: char) -> [u8; 9] {
    match c {
        'g' => [0, 0, 0x0F, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x0E],
        'j' => [0x02, 0, 0x06, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'p' => [0, 0, 0x1E, 0x11, 0x11, 0x11, 0x1E, 0x10, 0x10],
        'q' => [0, 0, 0x0F, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x01],
        'y' => [0, 0, 0x11, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x0E],
        _ => {
            let g = glyph7(c);
            [g[0], g[1], g[2], g[3], g[4], g[5], g[6], 0, 0]
        }
    }
}

/// The 5×7 glyphs (see [`glyph`]).
fn glyph7(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        'a' => [0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F],
        'b' => [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E],
        'c' => [0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E],
        'd' => [0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F],
        'e' => [0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E],
        'f' => [0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08],
        'h' => [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11],
        'i' => [0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E],
        'k' => [0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12],
        'l' => [0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'm' => [0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11],
        'n' => [0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11],
        'o' => [0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E],
        'r' => [0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10],
        's' => [0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E],
        't' => [0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06],
        'u' => [0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D],
        'v' => [0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'w' => [0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A],
        'x' => [0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11],
        'z' => [0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F],
        ' ' => [0; 7],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        ',' => [0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        ';' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x04, 0x08],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '+' => [0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00],
        '=' => [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00],
        '/' => [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00],
        '\\' => [0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00],
        '_' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '[' => [0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E],
        ']' => [0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E],
        '<' => [0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02],
        '>' => [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        '#' => [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A],
        '*' => [0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00],
        '!' => [0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04],
        '|' => [0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        '\'' => [0x0C, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00],
        '"' => [0x0A, 0x0A, 0x0A, 0x00, 0x00, 0x00, 0x00],
        '^' => [0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00],
        '~' => [0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00],
        '&' => [0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D],
        '@' => [0x0E, 0x11, 0x01, 0x0D, 0x15, 0x15, 0x0E],
        '$' => [0x04, 0x0F, 0x14, 0x0E, 0x05, 0x1E, 0x04],
        '{' => [0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02],
        '}' => [0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08],
        _ => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04], // '?'
    }
}

/// Width in pixels of `s` drawn at `scale`.
fn text_width(s: &str, scale: i64) -> i64 {
    let n = s.chars().count() as i64;
    if n == 0 { 0 } else { (n * ADVANCE - 1) * scale }
}

// ---------------------------------------------------------------------------------------------
// Canvas

/// An RGB image in memory. Every drawing call clips to the canvas, so callers can pass any
/// coordinates.
struct Canvas {
    w: i64,
    h: i64,
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: u32, h: u32, bg: Rgb) -> io::Result<Self> {
        let n = u64::from(w) * u64::from(h);
        if w == 0 || h == 0 || n > MAX_PIXELS {
            return Err(invalid(format!("image size {w}x{h} out of range")));
        }
        let px = bg.iter().copied().cycle().take(n as usize * 3).collect();
        Ok(Self {
            w: i64::from(w),
            h: i64::from(h),
            px,
        })
    }

    fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if (0..self.w).contains(&x) && (0..self.h).contains(&y) {
            let i = ((y * self.w + x) * 3) as usize;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb) {
        let (x0, x1) = (x.max(0), (x.saturating_add(w)).min(self.w));
        let (y0, y1) = (y.max(0), (y.saturating_add(h)).min(self.h));
        for yy in y0..y1 {
            for xx in x0..x1 {
                self.set(xx, yy, c);
            }
        }
    }

    fn rect_outline(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb) {
        self.fill_rect(x, y, w, 1, c);
        self.fill_rect(x, y + h - 1, w, 1, c);
        self.fill_rect(x, y, 1, h, c);
        self.fill_rect(x + w - 1, y, 1, h, c);
    }

    /// Bresenham line. Endpoints are first clamped to a margin around the canvas so that the
    /// loop length stays bounded whatever the caller passes.
    fn line(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb) {
        let cx = |x: i64| x.clamp(-self.w, 2 * self.w);
        let cy = |y: i64| y.clamp(-self.h, 2 * self.h);
        let (mut x, mut y, x1, y1) = (cx(x0), cy(y0), cx(x1), cy(y1));
        let dx = (x1 - x).abs();
        let dy = -(y1 - y).abs();
        let sx = if x < x1 { 1 } else { -1 };
        let sy = if y < y1 { 1 } else { -1 };
        let mut err = dx + dy;
        loop {
            self.set(x, y, c);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// A line two pixels thick, so curves stay visible next to the 1-px grid.
    fn thick_line(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb) {
        self.line(x0, y0, x1, y1, c);
        if (x1 - x0).abs() >= (y1 - y0).abs() {
            self.line(x0, y0 + 1, x1, y1 + 1, c);
        } else {
            self.line(x0 + 1, y0, x1 + 1, y1, c);
        }
    }

    /// Draws `s` with its top-left corner at (x, y).
    fn text(&mut self, x: i64, y: i64, s: &str, scale: i64, c: Rgb) {
        for (i, ch) in s.chars().enumerate() {
            let gx = x + i as i64 * ADVANCE * scale;
            for (row, bits) in glyph(ch).iter().enumerate() {
                for col in 0..GLYPH_W {
                    if bits & (0x10 >> col) != 0 {
                        self.fill_rect(gx + col * scale, y + row as i64 * scale, scale, scale, c);
                    }
                }
            }
        }
    }

    /// Draws `s` rotated 90° counter-clockwise (reading bottom to top), with the start of the
    /// text at the bottom-left (x, y). Used for the y-axis label.
    fn text_up(&mut self, x: i64, y: i64, s: &str, c: Rgb) {
        for (i, ch) in s.chars().enumerate() {
            let base = y - i as i64 * ADVANCE;
            for (row, bits) in glyph(ch).iter().enumerate() {
                for col in 0..GLYPH_W {
                    if bits & (0x10 >> col) != 0 {
                        self.set(x + row as i64, base - col, c);
                    }
                }
            }
        }
    }

    fn text_centered(&mut self, cx: i64, y: i64, s: &str, scale: i64, c: Rgb) {
        self.text(cx - text_width(s, scale) / 2, y, s, scale, c);
    }

    fn encode_png(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, self.w as u32, self.h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(io::Error::other)?;
        writer
            .write_image_data(&self.px)
            .map_err(io::Error::other)?;
        writer.finish().map_err(io::Error::other)?;
        Ok(out)
    }

    fn save(&self, path: &Path) -> io::Result<()> {
        write_atomic(path, &self.encode_png()?)
    }
}

// ---------------------------------------------------------------------------------------------
// Axes

/// A "nice" tick step (1, 2 or 5 × 10^k) giving about `target` intervals over `span`.
fn nice_step(span: f64, target: f64) -> f64 {
    let raw = span / target;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let f = if norm < 1.5 {
        1.0
    } else if norm < 3.0 {
        2.0
    } else if norm < 7.0 {
        5.0
    } else {
        10.0
    };
    f * mag
}

/// An axis range and its ticks, chosen from the finite data values.
#[derive(Debug, Clone)]
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    step: f64,
}

impl Axis {
    /// Covers `[min, max]` with nice bounds. Degenerate ranges (no data, one value) are
    /// widened; ranges too wide for nice steps (near `f64::MAX`) fall back to two ticks.
    fn new(min: Option<f64>, max: Option<f64>, target: f64) -> Self {
        let (mut lo, mut hi) = match (min, max) {
            (Some(a), Some(b)) if a <= b => (a, b),
            _ => (0.0, 1.0),
        };
        if lo == hi {
            let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            lo -= pad;
            hi += pad;
        }
        let span = hi - lo;
        let step = nice_step(span, target);
        if span.is_finite() && step.is_finite() && step > 0.0 {
            let nlo = (lo / step).floor() * step;
            let nhi = (hi / step).ceil() * step;
            if nlo.is_finite() && nhi.is_finite() && nhi > nlo {
                let mut ticks = Vec::new();
                let mut k = 0.0;
                while ticks.len() < 64 {
                    let v = nlo + k * step;
                    if v > nhi + step * 1e-9 {
                        break;
                    }
                    // Snap values like 0.30000000000000004 and -0 to what a human expects.
                    ticks.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
                    k += 1.0;
                }
                return Self {
                    lo: nlo,
                    hi: nhi,
                    ticks,
                    step,
                };
            }
        }
        Self {
            lo,
            hi,
            ticks: vec![lo, hi],
            step: f64::NAN,
        }
    }

    /// Position of `v` in [0, 1] along the axis (clamped; halves first so that spans near
    /// `f64::MAX` do not overflow to infinity).
    fn frac(&self, v: f64) -> f64 {
        let t = (v / 2.0 - self.lo / 2.0) / (self.hi / 2.0 - self.lo / 2.0);
        if t.is_nan() { 0.5 } else { t.clamp(0.0, 1.0) }
    }

    /// Tick label with as many decimals as the step needs; exponent form for very large or
    /// very small magnitudes.
    fn label(&self, v: f64) -> String {
        let mag = v.abs().max(if self.step.is_finite() {
            self.step.abs()
        } else {
            0.0
        });
        if !self.step.is_finite() || mag >= 1e6 || (v != 0.0 && mag < 1e-3) {
            return format!("{v:.2e}");
        }
        let decimals = (-self.step.log10().floor()).clamp(0.0, 6.0) as usize;
        format!("{v:.decimals$}")
    }
}

/// The rectangle of a chart's plotting area, in pixels.
#[derive(Debug, Clone, Copy)]
struct Frame {
    x: i64,
    y: i64,
    w: i64,
    h: i64,
}

impl Frame {
    fn px(&self, ax: &Axis, v: f64) -> i64 {
        self.x + (ax.frac(v) * (self.w - 1) as f64).round() as i64
    }
    fn py(&self, ax: &Axis, v: f64) -> i64 {
        self.y + self.h - 1 - (ax.frac(v) * (self.h - 1) as f64).round() as i64
    }
}

const CHART_W: u32 = 800;
const CHART_H: u32 = 500;

/// Draws title, axis labels, the y axis with grid lines and tick labels, and the frame.
/// The x axis ticks are left to the caller (numeric for line charts, indices for bars).
fn chart_skeleton(
    title: &str,
    x_label: &str,
    y_label: &str,
    yax: &Axis,
) -> io::Result<(Canvas, Frame)> {
    let mut cv = Canvas::new(CHART_W, CHART_H, WHITE)?;
    // Room on the left for the widest y tick label.
    let y_label_w = yax
        .ticks
        .iter()
        .map(|&t| text_width(&yax.label(t), 1))
        .max()
        .unwrap_or(0);
    let left = 24 + y_label_w + 8;
    let frame = Frame {
        x: left,
        y: 40,
        w: i64::from(CHART_W) - left - 20,
        h: i64::from(CHART_H) - 40 - 48,
    };
    cv.text_centered(i64::from(CHART_W) / 2, 12, title, 2, BLACK);
    for &t in &yax.ticks {
        let y = frame.py(yax, t);
        cv.fill_rect(frame.x, y, frame.w, 1, GRID);
        cv.fill_rect(frame.x - 4, y, 4, 1, AXIS);
        let s = yax.label(t);
        cv.text(frame.x - 7 - text_width(&s, 1), y - 3, &s, 1, AXIS);
    }
    cv.rect_outline(frame.x, frame.y, frame.w, frame.h, AXIS);
    cv.text_centered(
        frame.x + frame.w / 2,
        frame.y + frame.h + 28,
        x_label,
        1,
        BLACK,
    );
    cv.text_up(
        6,
        frame.y + frame.h / 2 + text_width(y_label, 1) / 2,
        y_label,
        BLACK,
    );
    Ok((cv, frame))
}

/// Writes "no data" in the middle of the frame, so an empty chart is clearly intentional.
fn no_data(cv: &mut Canvas, f: Frame) {
    cv.text_centered(f.x + f.w / 2, f.y + f.h / 2 - GLYPH_H, "no data", 2, AXIS);
}

fn finite_range(vals: impl Iterator<Item = f64>) -> (Option<f64>, Option<f64>) {
    vals.filter(|v| v.is_finite())
        .fold((None, None), |(lo, hi): (Option<f64>, Option<f64>), v| {
            (
                Some(lo.map_or(v, |l| l.min(v))),
                Some(hi.map_or(v, |h| h.max(v))),
            )
        })
}

// ---------------------------------------------------------------------------------------------
// Line chart

/// Draws a line chart (800×500) of one or more `(name, points)` series, e.g. accuracy per
/// epoch. Each series gets its own colour (cycling after ten) and a legend entry. Points with
/// a non-finite coordinate are skipped and break the line there; series with few points also
/// get a dot per point, so a single point is visible.
pub fn line_chart(
    path: &Path,
    title: &str,
    series: &[(&str, &[(f64, f64)])],
    x_label: &str,
    y_label: &str,
) -> io::Result<()> {
    let all = || series.iter().flat_map(|(_, pts)| pts.iter());
    let finite = |&&(x, y): &&(f64, f64)| x.is_finite() && y.is_finite();
    let (xmin, xmax) = finite_range(all().filter(finite).map(|p| p.0));
    let (ymin, ymax) = finite_range(all().filter(finite).map(|p| p.1));
    let xax = Axis::new(xmin, xmax, 8.0);
    let yax = Axis::new(ymin, ymax, 6.0);
    let (mut cv, f) = chart_skeleton(title, x_label, y_label, &yax)?;

    // x ticks: skip labels that would overlap the previous one.
    let mut last_right = i64::MIN;
    for &t in &xax.ticks {
        let x = f.px(&xax, t);
        cv.fill_rect(x, f.y + f.h, 1, 4, AXIS);
        let s = xax.label(t);
        let w = text_width(&s, 1);
        if x - w / 2 > last_right + 6 {
            cv.text(x - w / 2, f.y + f.h + 8, &s, 1, AXIS);
            last_right = x - w / 2 + w;
        }
    }

    if xmin.is_none() {
        no_data(&mut cv, f);
    }
    for (i, (_, pts)) in series.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        let dots = pts.len() <= 60;
        let mut prev: Option<(i64, i64)> = None;
        for &(x, y) in pts.iter() {
            if !(x.is_finite() && y.is_finite()) {
                prev = None;
                continue;
            }
            let p = (f.px(&xax, x), f.py(&yax, y));
            if let Some(q) = prev {
                cv.thick_line(q.0, q.1, p.0, p.1, c);
            }
            if dots {
                cv.fill_rect(p.0 - 2, p.1 - 2, 5, 5, c);
            }
            prev = Some(p);
        }
    }

    // Legend, top right inside the frame.
    if !series.is_empty() {
        let text_w = series
            .iter()
            .map(|(name, _)| text_width(name, 1))
            .max()
            .unwrap_or(0);
        let (lw, lh) = (text_w + 34, series.len() as i64 * 12 + 8);
        // Put the legend in the corner that hides the fewest data points.
        let corners = [
            (f.x + f.w - lw - 8, f.y + 8),
            (f.x + f.w - lw - 8, f.y + f.h - lh - 8),
            (f.x + 8, f.y + 8),
            (f.x + 8, f.y + f.h - lh - 8),
        ];
        let hidden = |&(lx, ly): &(i64, i64)| {
            all()
                .filter(finite)
                .filter(|&&(x, y)| {
                    let (px, py) = (f.px(&xax, x), f.py(&yax, y));
                    (lx - 3..lx + lw + 3).contains(&px) && (ly - 3..ly + lh + 3).contains(&py)
                })
                .count()
        };
        let (lx, ly) = corners
            .iter()
            .copied()
            .min_by_key(hidden)
            .unwrap_or(corners[0]);
        cv.fill_rect(lx, ly, lw, lh, WHITE);
        cv.rect_outline(lx, ly, lw, lh, GRID);
        for (i, (name, _)) in series.iter().enumerate() {
            let y = ly + 6 + i as i64 * 12;
            let c = PALETTE[i % PALETTE.len()];
            cv.fill_rect(lx + 6, y + 2, 16, 3, c);
            cv.text(lx + 28, y, name, 1, BLACK);
        }
    }
    cv.save(path)
}

// ---------------------------------------------------------------------------------------------
// Histogram

/// Draws a bar chart (800×500) of `values[i]` against index `i`, e.g. how many times each
/// feature map won the winner-take-all competition. Bars are at least one pixel wide; index
/// labels are thinned out so they do not overlap; counts are printed above bars when there is
/// room. An empty slice gives an empty chart marked "no data".
pub fn histogram(path: &Path, title: &str, values: &[u32]) -> io::Result<()> {
    let max = values.iter().copied().max().unwrap_or(0);
    let yax = Axis::new(Some(0.0), Some(f64::from(max.max(1))), 6.0);
    let (mut cv, f) = chart_skeleton(title, "index", "count", &yax)?;
    if values.is_empty() {
        no_data(&mut cv, f);
        return cv.save(path);
    }
    let n = values.len() as i64;
    let inner = f.w - 2;
    // Labels every `every` bars, so that the widest label fits with a gap.
    let label_w = text_width(&(n - 1).to_string(), 1) + 6;
    let every = ((label_w * n + inner - 1) / inner.max(1)).max(1);
    let bar_x = |i: i64| f.x + 1 + i * inner / n;
    let base = f.py(&yax, 0.0);
    for (i, &v) in values.iter().enumerate() {
        let i = i as i64;
        let (x0, x1) = (bar_x(i), bar_x(i + 1));
        let gap = if x1 - x0 >= 4 { 1 } else { 0 };
        let w = (x1 - x0 - gap).max(1);
        let top = f.py(&yax, f64::from(v));
        cv.fill_rect(x0, top, w, base - top + 1, PALETTE[0]);
        let s = v.to_string();
        if text_width(&s, 1) <= x1 - x0 && v > 0 {
            cv.text_centered(x0 + w / 2, top - 9, &s, 1, AXIS);
        }
        if i % every == 0 {
            cv.fill_rect(x0 + w / 2, f.y + f.h, 1, 4, AXIS);
            cv.text_centered(x0 + w / 2, f.y + f.h + 8, &i.to_string(), 1, AXIS);
        }
    }
    cv.save(path)
}

// ---------------------------------------------------------------------------------------------
// Kernel grid

/// Shape of a flat kernel tensor, laid out `[map][channel][row][col]` (row-major, OIHW).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelShape {
    pub maps: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

/// How the channels of one kernel are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelMode {
    /// Each channel as its own tile, left to right, separated by a 1-px light-blue line.
    #[default]
    SideBySide,
    /// For two-channel (ON/OFF) kernels: one tile of `channel 0 − channel 1`, mid-gray = 0,
    /// white = ON-preferring, black = OFF-preferring. Errors for other channel counts.
    OnMinusOff,
}

/// How weights map to gray levels.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Normalize {
    /// Each kernel stretched from its own minimum (black) to maximum (white): shows the shape
    /// of every kernel, even weak ones.
    #[default]
    PerKernel,
    /// One range over all kernels: shows which kernels are stronger.
    Global,
    /// A fixed range, e.g. `Fixed(0.0, 1.0)` for STDP weights bounded in [0, 1], so images
    /// from different epochs are comparable.
    Fixed(f32, f32),
}

/// Options for [`kernel_grid`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KernelGridOptions {
    /// Each weight becomes a `scale × scale` block (clamped to at least 1).
    pub scale: u32,
    /// Kernels per row; `None` gives a near-square grid.
    pub columns: Option<usize>,
    pub channels: ChannelMode,
    pub normalize: Normalize,
}

impl Default for KernelGridOptions {
    fn default() -> Self {
        Self {
            scale: 8,
            columns: None,
            channels: ChannelMode::SideBySide,
            normalize: Normalize::PerKernel,
        }
    }
}

/// Maps values to gray with `lo` → black and `hi` → white; non-finite values stay non-finite
/// so they can be drawn red.
#[derive(Debug, Clone, Copy)]
struct GrayMap {
    lo: f32,
    hi: f32,
}

impl GrayMap {
    fn from_values(vals: &[f32], symmetric: bool) -> Self {
        let (lo, hi) = finite_range(vals.iter().map(|&v| f64::from(v)));
        let (lo, hi) = (lo.unwrap_or(0.0) as f32, hi.unwrap_or(0.0) as f32);
        if symmetric {
            let m = lo.abs().max(hi.abs());
            Self { lo: -m, hi: m }
        } else {
            Self { lo, hi }
        }
    }

    fn rgb(&self, v: f32) -> Rgb {
        if !v.is_finite() {
            return NAN_MARK;
        }
        let span = self.hi - self.lo;
        let t = if span > 0.0 && span.is_finite() {
            ((v - self.lo) / span).clamp(0.0, 1.0)
        } else {
            0.5
        };
        let g = (t * 255.0).round() as u8;
        [g, g, g]
    }
}

/// Writes the learned kernels as a grid of grayscale tiles, each weight upscaled to a
/// `scale × scale` block, with 1-px dark-blue separators between kernels (so a black weight
/// is never confused with a border). Non-finite weights are drawn pure red.
///
/// `weights` holds `maps * channels * height * width` values in `[map][channel][row][col]`
/// order. Multi-channel kernels are drawn channel by channel side by side, or as the ON−OFF
/// difference ([`ChannelMode`]). Returns `InvalidInput` for an empty or inconsistent shape,
/// or an image larger than 64 Mpixel.
pub fn kernel_grid(
    path: &Path,
    weights: &[f32],
    shape: KernelShape,
    opts: &KernelGridOptions,
) -> io::Result<()> {
    let KernelShape {
        maps,
        channels,
        height: kh,
        width: kw,
    } = shape;
    let per_map = channels.checked_mul(kh).and_then(|v| v.checked_mul(kw));
    let total = per_map.and_then(|v| v.checked_mul(maps));
    if maps == 0 || per_map == Some(0) || total != Some(weights.len()) {
        return Err(invalid(format!(
            "kernel_grid: {} weights do not match shape {shape:?}",
            weights.len()
        )));
    }
    let per_map = per_map.unwrap_or(0);
    let per_channel = kh * kw;
    let diff = opts.channels == ChannelMode::OnMinusOff;
    if diff && channels != 2 {
        return Err(invalid(format!(
            "kernel_grid: ON-OFF needs 2 channels, got {channels}"
        )));
    }

    // The value tiles to draw per map: the channels, or their difference.
    let tile_values = |m: usize| -> Vec<Vec<f32>> {
        let k = &weights[m * per_map..(m + 1) * per_map];
        if diff {
            vec![
                k[..per_channel]
                    .iter()
                    .zip(&k[per_channel..])
                    .map(|(on, off)| on - off)
                    .collect(),
            ]
        } else {
            k.chunks_exact(per_channel).map(<[f32]>::to_vec).collect()
        }
    };
    let global = match opts.normalize {
        Normalize::Fixed(lo, hi) => Some(GrayMap { lo, hi }),
        Normalize::Global => {
            let all: Vec<f32> = (0..maps).flat_map(|m| tile_values(m).concat()).collect();
            Some(GrayMap::from_values(&all, diff))
        }
        Normalize::PerKernel => None,
    };

    let tiles = if diff { 1 } else { channels } as u64;
    let scale = u64::from(opts.scale.max(1));
    let cols = opts
        .columns
        .filter(|&c| c > 0)
        .unwrap_or_else(|| (maps as f64).sqrt().ceil() as usize)
        .min(maps) as u64;
    let rows = (maps as u64).div_ceil(cols);
    let cell_w = tiles * kw as u64 * scale + (tiles - 1);
    let cell_h = kh as u64 * scale;
    let img_w = cols.saturating_mul(cell_w).saturating_add(cols + 1);
    let img_h = rows.saturating_mul(cell_h).saturating_add(rows + 1);
    if img_w.saturating_mul(img_h) > MAX_PIXELS {
        return Err(invalid(format!(
            "kernel_grid: image {img_w}x{img_h} exceeds {MAX_PIXELS} pixels"
        )));
    }
    let mut cv = Canvas::new(img_w as u32, img_h as u32, MAP_SEP)?;
    let (scale, cell_w, cell_h) = (scale as i64, cell_w as i64, cell_h as i64);
    for m in 0..maps {
        let (gx, gy) = ((m as u64 % cols) as i64, (m as u64 / cols) as i64);
        let (x0, y0) = (1 + gx * (cell_w + 1), 1 + gy * (cell_h + 1));
        let values = tile_values(m);
        let gray = global.unwrap_or_else(|| GrayMap::from_values(&values.concat(), diff));
        for (t, tile) in values.iter().enumerate() {
            let tx = x0 + t as i64 * (kw as i64 * scale + 1);
            if t > 0 {
                cv.fill_rect(tx - 1, y0, 1, cell_h, CHANNEL_SEP);
            }
            for (i, &v) in tile.iter().enumerate() {
                let (r, c) = ((i / kw) as i64, (i % kw) as i64);
                cv.fill_rect(tx + c * scale, y0 + r * scale, scale, scale, gray.rgb(v));
            }
        }
    }
    cv.save(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a PNG written by this module into (width, height, RGB bytes).
    fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
        let dec = png::Decoder::new(io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn pixel(img: &(u32, u32, Vec<u8>), x: u32, y: u32) -> Rgb {
        let i = ((y * img.0 + x) * 3) as usize;
        [img.2[i], img.2[i + 1], img.2[i + 2]]
    }

    fn count_colour(img: &(u32, u32, Vec<u8>), c: Rgb) -> usize {
        img.2.chunks_exact(3).filter(|p| *p == c).count()
    }

    #[test]
    fn kernel_grid_layout_and_gray_levels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.png");
        // 3 maps, 1 channel, 2x2: map 0 ramps 0..3, map 1 is constant, map 2 has a NaN.
        let w = [
            0.0,
            1.0,
            2.0,
            3.0,
            5.0,
            5.0,
            5.0,
            5.0,
            0.0,
            f32::NAN,
            1.0,
            1.0,
        ];
        let shape = KernelShape {
            maps: 3,
            channels: 1,
            height: 2,
            width: 2,
        };
        let opts = KernelGridOptions {
            scale: 3,
            columns: Some(2),
            ..Default::default()
        };
        kernel_grid(&path, &w, shape, &opts).unwrap();
        let img = read_png(&path);
        // 2 columns x 2 rows of 6x6 cells with 1-px separators.
        assert_eq!((img.0, img.1), (2 * 6 + 3, 2 * 6 + 3));
        assert_eq!(pixel(&img, 0, 0), MAP_SEP);
        assert_eq!(pixel(&img, 1, 1), [0, 0, 0]); // map 0 min
        assert_eq!(pixel(&img, 6, 6), [255, 255, 255]); // map 0 max
        assert_eq!(pixel(&img, 4, 1), [85, 85, 85]); // 1/3
        assert_eq!(pixel(&img, 7, 1), MAP_SEP);
        assert_eq!(pixel(&img, 8, 1), [128, 128, 128]); // constant map: mid-gray
        assert_eq!(pixel(&img, 4, 8), NAN_MARK); // map 2, weight 1
        assert_eq!(pixel(&img, 9, 9), MAP_SEP); // empty 4th cell
    }

    #[test]
    fn kernel_grid_channels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.png");
        // 1 map, ON/OFF channels of 1x2.
        let w = [1.0, 0.0, 0.0, 1.0];
        let shape = KernelShape {
            maps: 1,
            channels: 2,
            height: 1,
            width: 2,
        };
        let side = KernelGridOptions {
            scale: 1,
            ..Default::default()
        };
        kernel_grid(&path, &w, shape, &side).unwrap();
        let img = read_png(&path);
        assert_eq!((img.0, img.1), (2 + 1 + 2 + 2, 3));
        assert_eq!(pixel(&img, 3, 1), CHANNEL_SEP);
        assert_eq!(pixel(&img, 1, 1), [255; 3]);
        assert_eq!(pixel(&img, 4, 1), [0; 3]);
        let diff = KernelGridOptions {
            scale: 1,
            channels: ChannelMode::OnMinusOff,
            ..side
        };
        kernel_grid(&path, &w, shape, &diff).unwrap();
        let img = read_png(&path);
        assert_eq!((img.0, img.1), (4, 3));
        assert_eq!(pixel(&img, 1, 1), [255; 3]); // ON - OFF = +1
        assert_eq!(pixel(&img, 2, 1), [0; 3]); // -1
        let fixed = KernelGridOptions {
            normalize: Normalize::Fixed(-2.0, 2.0),
            ..diff
        };
        kernel_grid(&path, &w, shape, &fixed).unwrap();
        assert_eq!(pixel(&read_png(&path), 1, 1), [191; 3]);
    }

    #[test]
    fn kernel_grid_rejects_bad_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.png");
        let opts = KernelGridOptions::default();
        let shape = |maps, channels, height, width| KernelShape {
            maps,
            channels,
            height,
            width,
        };
        for (w, s) in [
            (vec![0.0; 3], shape(1, 1, 2, 2)),
            (vec![], shape(0, 1, 2, 2)),
            (vec![], shape(1, 0, 2, 2)),
            (vec![0.0; 4], shape(usize::MAX, usize::MAX, 2, 2)),
        ] {
            let e = kernel_grid(&path, &w, s, &opts).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        }
        let on_off = KernelGridOptions {
            channels: ChannelMode::OnMinusOff,
            ..opts
        };
        assert!(kernel_grid(&path, &[0.0; 3], shape(1, 3, 1, 1), &on_off).is_err());
        let huge = KernelGridOptions {
            scale: u32::MAX,
            ..opts
        };
        assert!(kernel_grid(&path, &[0.0; 4], shape(1, 1, 2, 2), &huge).is_err());
        assert!(!path.exists());
    }

    #[test]
    fn line_chart_draws_each_series_in_its_colour() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.png");
        let a: Vec<(f64, f64)> = (0..20).map(|i| (f64::from(i), f64::from(i * i))).collect();
        let b = [
            (0.0, 5.0),
            (5.0, 50.0),
            (f64::NAN, 1.0),
            (10.0, f64::INFINITY),
            (19.0, 300.0),
        ];
        line_chart(&path, "Test", &[("a", &a), ("b", &b)], "x", "y").unwrap();
        let img = read_png(&path);
        assert_eq!((img.0, img.1), (CHART_W, CHART_H));
        assert!(count_colour(&img, PALETTE[0]) > 300);
        assert!(count_colour(&img, PALETTE[1]) > 100);
        assert_eq!(count_colour(&img, PALETTE[2]), 0);
        assert!(count_colour(&img, BLACK) > 50); // title and legend text
    }

    #[test]
    fn charts_survive_degenerate_input() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.png");
        let nan = [(f64::NAN, f64::NAN)];
        let one = [(3.0, 3.0)];
        let flat = [(0.0, 1.0), (1.0, 1.0)];
        let huge = [
            (f64::MIN, f64::MAX),
            (f64::MAX, f64::MIN),
            (0.0, f64::MIN_POSITIVE),
        ];
        let tiny = [(0.0, 1e-12), (1e-12, 2e-12)];
        for s in [&nan[..], &one, &flat, &huge, &tiny, &[]] {
            line_chart(&p, "", &[("s", s)], "", "").unwrap();
            assert_eq!(read_png(&p).0, CHART_W);
        }
        line_chart(&p, "no series at all: \u{3bc}s \u{2713}", &[], "x", "y").unwrap();
        let long = "x".repeat(1000);
        line_chart(&p, &long, &[(long.as_str(), &one)], &long, &long).unwrap();
        histogram(&p, "empty", &[]).unwrap();
        histogram(&p, "zeros", &[0, 0, 0]).unwrap();
        histogram(&p, "max", &[u32::MAX, 0, 1]).unwrap();
        histogram(&p, "wide", &vec![7; 5000]).unwrap();
        assert_eq!(read_png(&p).1, CHART_H);
    }

    #[test]
    fn histogram_bar_heights() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.png");
        histogram(&p, "h", &[10, 0, 5]).unwrap();
        let img = read_png(&p);
        // Count bar pixels per column group: bar 0 is twice as tall as bar 2, bar 1 empty.
        let bar_height = |col: u32| {
            (0..img.1)
                .filter(|&y| pixel(&img, col, y) == PALETTE[0])
                .count()
        };
        let xs: Vec<u32> = (0..img.0).filter(|&x| bar_height(x) > 0).collect();
        let first = bar_height(xs[0]);
        let last = bar_height(*xs.last().unwrap());
        assert!(first > 100);
        assert!(
            (first as f64 / last as f64 - 2.0).abs() < 0.05,
            "{first} vs {last}"
        );
    }

    #[test]
    fn ticks_are_nice() {
        let ax = Axis::new(Some(0.03), Some(0.97), 6.0);
        assert_eq!((ax.lo, ax.hi), (0.0, 1.0));
        let labels: Vec<String> = ax.ticks.iter().map(|&t| ax.label(t)).collect();
        assert_eq!(labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let ax = Axis::new(Some(-250.0), Some(1234.0), 8.0);
        assert_eq!(ax.label(ax.ticks[0]), "-400");
        assert!(ax.ticks.iter().all(|t| t % 200.0 == 0.0));
        let ax = Axis::new(Some(5.0), Some(5.0), 6.0);
        assert!(ax.lo < 5.0 && ax.hi > 5.0);
    }
}
