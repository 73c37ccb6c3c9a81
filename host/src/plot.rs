//! PNG figures: learning curves and histograms drawn with `plotters` (bitmap back end, text in
//! an embedded DejaVu Sans), and the learned-kernel mosaic, written pixel by pixel.
//!
//! Every figure is rendered into memory, PNG-encoded with the `png` crate and written through
//! [`crate::io::write_atomic`], so a figure is never half-written; the same input always gives
//! the same bytes. None of the functions panic on awkward data: empty inputs, NaN or infinite
//! values, single points, constant series and spans near `f64::MAX` all produce a valid image
//! (non-finite points are skipped, or in a kernel mosaic drawn red).
//!
//! Plotters is only handed ranges it handles well: each chart axis picks nice bounds, ticks and
//! tick labels from the finite data itself and maps values to pixels with overflow-safe
//! arithmetic, so plotters' own range and tick code never meets a degenerate, tiny or
//! overflowing range.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use crate::io::write_atomic;

type Rgb = [u8; 3];

const NAN_MARK: Rgb = [255, 0, 0];
/// Separator between kernels in [`kernel_grid`] (dark blue, distinct from any gray pixel).
const MAP_SEP: Rgb = [30, 60, 130];
/// Separator between the channels of one kernel in [`kernel_grid`] (light blue).
const CHANNEL_SEP: Rgb = [120, 150, 210];

const GRID: RGBColor = RGBColor(228, 228, 228);
const AXIS: RGBColor = RGBColor(60, 60, 60);

/// Colours for successive series (the "tab10" palette: distinct and colour-blind friendly).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Largest image any function here will allocate (64 Mpixel = 192 MB RGB), so an absurd
/// shape or scale gives an error instead of exhausting memory.
const MAX_PIXELS: u64 = 64 << 20;

const CHART_W: u32 = 800;
const CHART_H: u32 = 500;
/// The font family every chart uses; [`font_ready`] registers DejaVu Sans under this name.
const FONT: &str = "sans-serif";
const TITLE_PX: u32 = 26;
const LABEL_PX: u32 = 15;
const DESC_PX: u32 = 17;
const MARGIN_PX: u32 = 14;
/// Room for the right half of the last x tick label.
const RIGHT_MARGIN_PX: u32 = 40;
const X_AREA_PX: u32 = 48;

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

// ---------------------------------------------------------------------------------------------
// Rendering and encoding

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type DrawResult<T = ()> =
    Result<T, DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>>;

/// Registers the embedded DejaVu Sans as [`FONT`], once per process.
fn font_ready() -> io::Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok());
    if ok {
        Ok(())
    } else {
        Err(io::Error::other(
            "plot: the embedded DejaVu Sans font does not load",
        ))
    }
}

/// Encodes 8-bit RGB pixels as a PNG in memory.
pub fn encode_png(w: u32, h: u32, rgb: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(io::Error::other)?;
    writer.write_image_data(rgb).map_err(io::Error::other)?;
    writer.finish().map_err(io::Error::other)?;
    Ok(out)
}

/// Draws a `CHART_W × CHART_H` chart on white into memory and writes it as a PNG. A drawing
/// error, or a panic inside plotters, becomes an `io::Error`: a figure is never worth a run.
fn render(path: &Path, draw: impl FnOnce(&Area) -> DrawResult) -> io::Result<()> {
    font_ready()?;
    let mut buf = vec![255u8; CHART_W as usize * CHART_H as usize * 3];
    let drawn = catch_unwind(AssertUnwindSafe(|| -> DrawResult {
        let root = BitMapBackend::with_buffer(&mut buf, (CHART_W, CHART_H)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()
    }));
    match drawn {
        Ok(Ok(())) => write_atomic(path, &encode_png(CHART_W, CHART_H, &buf)?),
        Ok(Err(e)) => Err(io::Error::other(format!("plot {}: {e}", path.display()))),
        Err(_) => Err(io::Error::other(format!(
            "plot {}: the chart renderer panicked",
            path.display()
        ))),
    }
}

fn text_style(px: u32, colour: RGBColor) -> TextStyle<'static> {
    (FONT, px).into_font().color(&colour)
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

/// One chart axis as a plotters coordinate: maps values to pixels through [`Axis::frac`] and
/// offers the ticks and labels chosen in advance (no light grid lines).
#[derive(Debug, Clone)]
struct Scale {
    axis: Axis,
    ticks: Vec<(f64, String)>,
}

impl Scale {
    /// The axis with its own ticks and labels.
    fn new(axis: &Axis) -> Self {
        let ticks = axis.ticks.iter().map(|&t| (t, axis.label(t))).collect();
        Self::with_ticks(axis, ticks)
    }

    fn with_ticks(axis: &Axis, ticks: Vec<(f64, String)>) -> Self {
        Self {
            axis: axis.clone(),
            ticks,
        }
    }
}

impl Ranged for Scale {
    type ValueType = f64;
    type FormatOption = NoDefaultFormatting;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = f64::from(limit.1) - f64::from(limit.0);
        limit.0 + (span * self.axis.frac(*v)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.iter().map(|t| t.0).collect()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.axis.lo..self.axis.hi
    }
}

impl ValueFormatter<f64> for Scale {
    /// The label of the tick nearest to `v` (plotters asks only about the ticks it was given).
    fn format_ext(&self, v: &f64) -> String {
        let u = self.axis.frac(*v);
        self.ticks
            .iter()
            .min_by(|a, b| {
                let da = (self.axis.frac(a.0) - u).abs();
                da.total_cmp(&(self.axis.frac(b.0) - u).abs())
            })
            .map(|t| t.1.clone())
            .unwrap_or_default()
    }
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

/// Width of the y label area: the widest tick label, the gap to the axis and the rotated
/// axis description.
fn y_area_px(root: &Area, scale: &Scale) -> DrawResult<u32> {
    let style = text_style(LABEL_PX, AXIS);
    let mut widest = 0;
    for (_, s) in &scale.ticks {
        widest = widest.max(root.estimate_text_size(s, &style)?.0);
    }
    Ok(widest + DESC_PX + 24)
}

/// Writes "no data" in the middle of the plotting area, so an empty chart is clearly
/// intentional.
fn no_data(chart: &mut ChartContext<BitMapBackend, Cartesian2d<Scale, Scale>>) -> DrawResult {
    let style = text_style(26, AXIS).pos(Pos::new(HPos::Center, VPos::Center));
    let (x, y) = (chart.x_range(), chart.y_range());
    let at = (x.start / 2.0 + x.end / 2.0, y.start / 2.0 + y.end / 2.0);
    chart.draw_series(std::iter::once(Text::new("no data", at, style)))?;
    Ok(())
}

/// The legend corner (in unit coordinates) that hides the fewest data points.
fn legend_corner(points: impl Iterator<Item = (f64, f64)>) -> SeriesLabelPosition {
    use SeriesLabelPosition::{LowerLeft, LowerRight, UpperLeft, UpperRight};
    let corners = [
        (UpperRight, 0.6..=1.0, 0.7..=1.0),
        (LowerRight, 0.6..=1.0, 0.0..=0.3),
        (UpperLeft, 0.0..=0.4, 0.7..=1.0),
        (LowerLeft, 0.0..=0.4, 0.0..=0.3),
    ];
    let mut hidden = [0usize; 4];
    for (x, y) in points {
        for (n, (_, xs, ys)) in hidden.iter_mut().zip(&corners) {
            *n += usize::from(xs.contains(&x) && ys.contains(&y));
        }
    }
    // The first of the least hidden corners: upper right when it is free.
    let best = (0..4).min_by_key(|&i| (hidden[i], i)).unwrap_or(0);
    corners[best].0.clone()
}

// ---------------------------------------------------------------------------------------------
// Line chart

/// Splits a polyline (in pixels) into pieces that plotters can stroke as thick paths: repeated
/// pixels are dropped, and a new piece starts wherever the line turns back on itself, where
/// plotters' mitred joins would spike across the chart.
fn stroke_pieces(pixels: impl Iterator<Item = (i32, i32)>) -> Vec<Vec<(i32, i32)>> {
    let mut pieces = Vec::new();
    let mut cur: Vec<(i32, i32)> = Vec::new();
    for p in pixels {
        if cur.last() == Some(&p) {
            continue;
        }
        if let [.., a, b] = cur[..] {
            let u = (f64::from(b.0 - a.0), f64::from(b.1 - a.1));
            let v = (f64::from(p.0 - b.0), f64::from(p.1 - b.1));
            let cos = (u.0 * v.0 + u.1 * v.1) / (u.0.hypot(u.1) * v.0.hypot(v.1));
            if cos < -0.8 {
                pieces.push(std::mem::replace(&mut cur, vec![b]));
            }
        }
        cur.push(p);
    }
    if cur.len() >= 2 {
        pieces.push(cur);
    }
    pieces
}

/// Draws a line chart (800×500) of one or more `(name, points)` series, e.g. accuracy per
/// epoch. Each series gets its own colour (cycling after ten) and a legend entry. Points with
/// a non-finite coordinate are skipped and break the line there; series with few points also
/// get a dot per point, so a single point is visible. With no finite point at all the chart
/// is drawn empty and marked "no data".
pub fn line_chart(
    path: &Path,
    title: &str,
    series: &[(&str, &[(f64, f64)])],
    x_label: &str,
    y_label: &str,
) -> io::Result<()> {
    let finite = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let points = || {
        series
            .iter()
            .flat_map(|(_, pts)| pts.iter())
            .filter(|p| finite(p))
    };
    let (xmin, xmax) = finite_range(points().map(|p| p.0));
    let (ymin, ymax) = finite_range(points().map(|p| p.1));
    let xax = Axis::new(xmin, xmax, 8.0);
    let yax = Axis::new(ymin, ymax, 6.0);
    let legend = legend_corner(points().map(|&(x, y)| (xax.frac(x), yax.frac(y))));
    let (xs, ys) = (Scale::new(&xax), Scale::new(&yax));

    render(path, |root| {
        let y_area = y_area_px(root, &ys)?;
        let mut chart = ChartBuilder::on(root)
            .caption(title, text_style(TITLE_PX, BLACK))
            .margin(MARGIN_PX)
            .margin_right(RIGHT_MARGIN_PX)
            .x_label_area_size(X_AREA_PX)
            .y_label_area_size(y_area)
            .build_cartesian_2d(xs, ys)?;
        chart
            .configure_mesh()
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .label_style(text_style(LABEL_PX, AXIS))
            .axis_desc_style(text_style(DESC_PX, BLACK))
            .x_desc(x_label)
            .y_desc(y_label)
            .draw()?;
        if xmin.is_none() {
            no_data(&mut chart)?;
        }
        for (i, &(name, pts)) in series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let style = colour.filled().stroke_width(2);
            let dots = pts.len() <= 60;
            // The legend entry, on an empty series so that it exists even without points.
            chart
                .draw_series(LineSeries::new(std::iter::empty(), style))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 18, y)], colour.filled().stroke_width(3))
                });
            for run in pts.split(|p| !finite(p)) {
                let pixels = run.iter().map(|p| chart.backend_coord(p));
                for piece in stroke_pieces(pixels) {
                    root.draw(&PathElement::new(piece, style))?;
                }
                if dots {
                    chart.draw_series(run.iter().map(|&p| Circle::new(p, 3, style)))?;
                }
            }
        }
        if !series.is_empty() {
            chart
                .configure_series_labels()
                .position(legend)
                .margin(8)
                .background_style(WHITE)
                .border_style(GRID)
                .label_font(text_style(LABEL_PX, BLACK))
                .draw()?;
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Histogram

/// Draws a bar chart (800×500) of `values[i]` against index `i`, e.g. how many times each
/// feature map won the winner-take-all competition. Bars are separated by a 1-px gap when
/// they are wide enough; index labels are thinned out so they do not overlap; counts are
/// printed above bars when there is room. An empty slice gives an empty chart marked
/// "no data".
pub fn histogram(path: &Path, title: &str, values: &[u32]) -> io::Result<()> {
    let n = values.len();
    let nf = n.max(1) as f64;
    let max = values.iter().copied().max().unwrap_or(0);
    let yax = Axis::new(Some(0.0), Some(f64::from(max.max(1))), 6.0);
    let ys = Scale::new(&yax);
    // Bar i spans [i, i + 1] on the x axis.
    let xax = Axis {
        lo: 0.0,
        hi: nf,
        ticks: Vec::new(),
        step: 1.0,
    };

    render(path, |root| {
        let y_area = y_area_px(root, &ys)?;
        // Index labels every `every` bars (1, 2 or 5 × 10^k), so the widest fits with a gap.
        let label_style = text_style(LABEL_PX, AXIS);
        let widest = root
            .estimate_text_size(&n.saturating_sub(1).to_string(), &label_style)?
            .0;
        let plot_w = f64::from(
            CHART_W
                .saturating_sub(MARGIN_PX + RIGHT_MARGIN_PX + y_area)
                .max(1),
        );
        let need = (f64::from(widest + 10) * nf / plot_w).ceil().max(1.0);
        let mag = 10f64.powf(need.log10().floor());
        let every = [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|f| f * mag)
            .find(|&s| s >= need)
            .unwrap_or(10.0 * mag) as usize;
        let x_ticks = (0..n)
            .step_by(every.max(1))
            .map(|i| (i as f64 + 0.5, i.to_string()))
            .collect();
        let mut chart = ChartBuilder::on(root)
            .caption(title, text_style(TITLE_PX, BLACK))
            .margin(MARGIN_PX)
            .margin_right(RIGHT_MARGIN_PX)
            .x_label_area_size(X_AREA_PX)
            .y_label_area_size(y_area)
            .build_cartesian_2d(Scale::with_ticks(&xax, x_ticks), ys.clone())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .label_style(label_style.clone())
            .axis_desc_style(text_style(DESC_PX, BLACK))
            .x_desc("index")
            .y_desc("count")
            .draw()?;
        if n == 0 {
            return no_data(&mut chart);
        }
        let (area_w, _) = chart.plotting_area().dim_in_pixel();
        let bar_px = f64::from(area_w) / nf;
        // One pixel of gap, in bar units, once bars are wide enough to spare it.
        let gap = if bar_px >= 4.0 { 1.0 / bar_px } else { 0.0 };
        let bars = || {
            values
                .iter()
                .enumerate()
                .filter(|(_, v)| **v > 0)
                .map(|(i, &v)| (i as f64, v))
        };
        let fill = PALETTE[0].filled();
        chart.draw_series(
            bars().map(|(x, v)| Rectangle::new([(x, 0.0), (x + 1.0 - gap, f64::from(v))], fill)),
        )?;
        // Counts above the bars, when every one of them fits its bar.
        let count_style = label_style.pos(Pos::new(HPos::Center, VPos::Bottom));
        let fits = n <= 200
            && values.iter().all(|v| {
                root.estimate_text_size(&v.to_string(), &count_style)
                    .is_ok_and(|(w, _)| f64::from(w) + 2.0 <= bar_px)
            });
        if fits {
            chart.draw_series(bars().map(|(x, v)| {
                EmptyElement::at((x + 0.5, f64::from(v)))
                    + Text::new(v.to_string(), (0, -3), count_style.clone())
            }))?;
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Kernel grid

/// An RGB image in memory for [`kernel_grid`]; drawing clips to the image.
struct Image {
    w: i64,
    h: i64,
    px: Vec<u8>,
}

impl Image {
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

    fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb) {
        let (x0, x1) = (x.max(0), x.saturating_add(w).min(self.w));
        let (y0, y1) = (y.max(0), y.saturating_add(h).min(self.h));
        for yy in y0..y1 {
            for xx in x0..x1 {
                let i = ((yy * self.w + xx) * 3) as usize;
                self.px[i..i + 3].copy_from_slice(&c);
            }
        }
    }

    fn save(&self, path: &Path) -> io::Result<()> {
        write_atomic(path, &encode_png(self.w as u32, self.h as u32, &self.px)?)
    }
}

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
    let mut cv = Image::new(img_w as u32, img_h as u32, MAP_SEP)?;
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

    type Img = (u32, u32, Vec<u8>);

    fn rgb(c: RGBColor) -> Rgb {
        [c.0, c.1, c.2]
    }

    fn not_blank(img: &Img) -> bool {
        img.2.iter().any(|&b| b != 255)
    }

    /// Pixels in rows `y0..y1` that are gray (r = g = b) with a level in `levels`.
    fn grays_in_rows(img: &Img, rows: std::ops::Range<u32>, levels: std::ops::Range<u8>) -> usize {
        rows.flat_map(|y| (0..img.0).map(move |x| (x, y)))
            .map(|(x, y)| pixel(img, x, y))
            .filter(|p| p[0] == p[1] && p[1] == p[2] && levels.contains(&p[0]))
            .count()
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
        assert!(not_blank(&img));
        assert!(count_colour(&img, rgb(PALETTE[0])) > 300);
        assert!(count_colour(&img, rgb(PALETTE[1])) > 100);
        assert_eq!(count_colour(&img, rgb(PALETTE[2])), 0);
    }

    #[test]
    fn titles_are_drawn_as_antialiased_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.png");
        let pts = [(0.0, 0.0), (1.0, 1.0)];
        let band = 0..MARGIN_PX + TITLE_PX + 8;
        line_chart(&p, "", &[("a", &pts)], "", "").unwrap();
        let plain = read_png(&p);
        line_chart(&p, "Learning curve", &[("a", &pts)], "epoch", "accuracy").unwrap();
        let titled = read_png(&p);
        // Glyph cores are near-black; their edges blend into intermediate grays.
        let dark = grays_in_rows(&titled, band.clone(), 0..80);
        let edges = grays_in_rows(&titled, band.clone(), 80..220);
        assert!(dark > 100, "{dark} dark title pixels");
        assert!(edges > 50, "{edges} antialiased title pixels");
        assert!(grays_in_rows(&plain, band, 0..220) < dark / 4);
    }

    #[test]
    fn lines_stay_inside_the_plot() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.png");
        // Lines that double back on themselves (here exactly, many points per x) once made
        // plotters' mitred joins spike out of the plotting area.
        let zigzag: Vec<(f64, f64)> = (0..200)
            .map(|i| (f64::from(i / 50), f64::from(i % 2)))
            .collect();
        let huge = [(f64::MIN, f64::MAX), (f64::MAX, f64::MIN), (0.0, 1e-300)];
        let c = rgb(PALETTE[0]);
        for s in [&zigzag[..], &huge] {
            line_chart(&p, "", &[("s", s)], "", "").unwrap();
            let img = read_png(&p);
            assert!(count_colour(&img, c) > 300);
            let (x0, x1) = (MARGIN_PX + DESC_PX + 20, CHART_W - RIGHT_MARGIN_PX + 4);
            let (y0, y1) = (MARGIN_PX - 4, CHART_H - MARGIN_PX - X_AREA_PX + 4);
            for y in 0..img.1 {
                for x in 0..img.0 {
                    if pixel(&img, x, y) == c {
                        assert!((x0..x1).contains(&x) && (y0..y1).contains(&y), "({x}, {y})");
                    }
                }
            }
        }
    }

    #[test]
    fn stroke_pieces_split_where_lines_turn_back() {
        let pieces = stroke_pieces([(0, 0), (10, 0), (10, 0), (0, 0), (0, 10), (5, 5)].into_iter());
        assert_eq!(
            pieces,
            [
                vec![(0, 0), (10, 0)],
                vec![(10, 0), (0, 0), (0, 10), (5, 5)]
            ]
        );
        assert!(stroke_pieces([(1, 1), (1, 1)].into_iter()).is_empty());
    }

    #[test]
    fn histogram_bar_heights_follow_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.png");
        let data = [10, 0, 5, 20];
        histogram(&p, "h", &data).unwrap();
        let img = read_png(&p);
        assert_eq!((img.0, img.1), (CHART_W, CHART_H));
        let bar = rgb(PALETTE[0]);
        let height = |x: u32| (0..img.1).filter(|&y| pixel(&img, x, y) == bar).count();
        // Runs of columns holding bar pixels, as (first column, height at its middle).
        let mut bars = Vec::new();
        let mut x = 0;
        while x < img.0 {
            if height(x) == 0 {
                x += 1;
                continue;
            }
            let start = x;
            while x < img.0 && height(x) > 0 {
                x += 1;
            }
            bars.push((start, height((start + x) / 2)));
        }
        // The zero bar draws nothing, so three runs, left to right: 10, 5, 20.
        assert_eq!(bars.len(), 3, "{bars:?}");
        let h: Vec<f64> = bars.iter().map(|b| b.1 as f64).collect();
        assert!(h[2] > h[0] && h[0] > h[1], "{h:?}");
        assert!((h[0] / h[1] - 2.0).abs() < 0.05, "{h:?}");
        assert!((h[2] / h[0] - 2.0).abs() < 0.05, "{h:?}");
        assert!(h[2] > 200.0, "{h:?}");
        // The empty slot for index 1 is about as wide as a bar.
        let slot = f64::from(bars[1].0 - bars[0].0) / 2.0;
        assert!(f64::from(bars[2].0 - bars[1].0) > 0.9 * slot);
    }

    #[test]
    fn awkward_input_gives_a_valid_chart() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.png");
        let check = |p: &Path| {
            let img = read_png(p);
            assert_eq!((img.0, img.1), (CHART_W, CHART_H));
            assert!(not_blank(&img));
        };
        let nan = [(f64::NAN, f64::NAN)];
        let inf = [(f64::INFINITY, 1.0), (0.0, f64::NEG_INFINITY)];
        let one = [(3.0, 3.0)];
        let flat = [(0.0, 1.0), (1.0, 1.0)];
        let huge = [
            (f64::MIN, f64::MAX),
            (f64::MAX, f64::MIN),
            (0.0, f64::MIN_POSITIVE),
        ];
        let tiny = [(0.0, 1e-12), (1e-12, 2e-12)];
        let offset = [(1e20, 1e20), (1e20 + 16384.0, 1e20 + 16384.0)];
        let subnormal = [(5e-324, 5e-324)];
        for s in [
            &nan[..],
            &inf,
            &one,
            &flat,
            &huge,
            &tiny,
            &offset,
            &subnormal,
            &[],
        ] {
            line_chart(&p, "", &[("s", s)], "", "").unwrap();
            check(&p);
        }
        line_chart(&p, "no series at all: \u{3bc}s \u{2713}", &[], "x", "y").unwrap();
        check(&p);
        let many: Vec<(&str, &[(f64, f64)])> = (0..25).map(|_| ("s", &one[..])).collect();
        line_chart(&p, "25 series", &many, "x", "y").unwrap();
        check(&p);
        let long = "x".repeat(1000);
        line_chart(&p, &long, &[(long.as_str(), &one)], &long, &long).unwrap();
        check(&p);
        for v in [&[][..], &[0, 0, 0], &[u32::MAX, 0, 1], &[7], &vec![7; 5000]] {
            histogram(&p, "h", v).unwrap();
            check(&p);
        }
        histogram(&p, &long, &[1, 2]).unwrap();
        check(&p);
    }

    #[test]
    fn same_input_gives_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let a: Vec<(f64, f64)> = (0..50)
            .map(|i| (f64::from(i), (f64::from(i) / 7.0).sin()))
            .collect();
        let b = [(0.0, 0.5), (f64::NAN, 0.0), (40.0, -0.5)];
        let counts: Vec<u32> = (0..64).map(|i| (i * 37) % 23).collect();
        let draw = |name: &str| {
            let (c, h) = (
                dir.path().join(format!("c{name}.png")),
                dir.path().join(format!("h{name}.png")),
            );
            line_chart(&c, "sin", &[("a", &a), ("b", &b)], "t", "v").unwrap();
            histogram(&h, "wins", &counts).unwrap();
            (std::fs::read(c).unwrap(), std::fs::read(h).unwrap())
        };
        assert_eq!(draw("1"), draw("2"));
    }

    #[test]
    fn writes_are_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("c.png");
        std::fs::write(&c, b"an older, shorter file").unwrap();
        line_chart(&c, "t", &[("a", &[(0.0, 1.0), (1.0, 2.0)])], "x", "y").unwrap();
        histogram(&dir.path().join("h.png"), "t", &[1, 2, 3]).unwrap();
        assert_eq!(read_png(&c).0, CHART_W);
        // A target that cannot be replaced fails without leaving a temporary file behind.
        let blocked = dir.path().join("blocked.png");
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("keep"), b"").unwrap();
        assert!(histogram(&blocked, "t", &[1]).is_err());
        assert!(line_chart(&dir.path().join("missing/c.png"), "t", &[], "x", "y").is_err());
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["blocked.png", "c.png", "h.png"]);
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
