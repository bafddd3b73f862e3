//! SVG figures drawn with plotters, returned as strings to inline in the HTML report.
//!
//! Categories go on the vertical axis (horizontal bars), so labels stay legible from 2 to
//! many environments; heights grow with the number of bars.

use plotters::prelude::*;
use plotters::style::full_palette::{BLUE_600, GREY_400, ORANGE_600, RED_600, TEAL_600};

/// A figure that could not be drawn (plotters reports drawing errors as strings).
#[derive(Debug, thiserror::Error)]
#[error("figure `{0}`: {1}")]
pub struct FigureError(pub String, pub String);

const WIDTH: u32 = 640;
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn err<E: std::fmt::Display>(name: &str) -> impl FnOnce(E) -> FigureError + '_ {
    move |e| FigureError(name.to_string(), e.to_string())
}

/// Draws the series labels of `chart` in the report's one legend style.
fn legend<'a, 'b: 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, CT>,
    pos: SeriesLabelPosition,
    title: &str,
) -> Result<(), FigureError> {
    chart
        .configure_series_labels()
        .position(pos)
        .background_style(WHITE.mix(0.85))
        .border_style(GREY_400)
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(err(title))
}

/// Horizontal category chart: one row per label on the vertical axis, values along x.
type CategoryChart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<
        plotters::coord::types::RangedCoordf64,
        plotters::coord::ranged1d::SegmentedCoord<plotters::coord::types::RangedCoordusize>,
    >,
>;

/// Draws a category chart of `labels` up to `max` into a new SVG string; `draw` adds the data.
fn category_chart(
    title: &str,
    unit: &str,
    labels: &[String],
    max: f64,
    extra_height: u32,
    legend: Option<SeriesLabelPosition>,
    draw: impl FnOnce(&mut CategoryChart) -> Result<(), FigureError>,
) -> Result<String, FigureError> {
    let mut svg = String::new();
    {
        let n = labels.len();
        let root = SVGBackend::with_string(&mut svg, (WIDTH, extra_height + 34 * n as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(err(title))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(130)
            .build_cartesian_2d(0.0..max.max(1e-9), (0..n).into_segmented())
            .map_err(err(title))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(unit)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_labels(n)
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(err(title))?;
        draw(&mut chart)?;
        if let Some(pos) = legend {
            self::legend(&mut chart, pos, title)?;
        }
        root.present().map_err(err(title))?;
    }
    Ok(svg)
}

/// One bar of [`bars`]: a label, a value and an optional interval drawn as an error bar.
pub type Bar = (String, f64, Option<(f64, f64)>);

/// One bar per category with an optional interval (e.g. a 95 % CI) drawn as an error bar.
pub fn bars(title: &str, unit: &str, bars: &[Bar]) -> Result<String, FigureError> {
    let max = bars.iter().map(|(_, v, ci)| ci.map(|c| c.1).unwrap_or(*v).max(*v)).fold(0.0f64, f64::max) * 1.12;
    let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    category_chart(title, unit, &labels, max, 90, None, |chart| {
        for (i, (_, v, ci)) in bars.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.0, SegmentValue::Exact(i)), (*v, SegmentValue::Exact(i + 1))],
                    c.mix(0.75).filled(),
                )))
                .map_err(err(title))?;
            if let Some((lo, hi)) = ci {
                let mid = SegmentValue::CenterOf(i);
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(*lo, mid.clone()), (*hi, mid)],
                        BLACK.stroke_width(2),
                    )))
                    .map_err(err(title))?;
            }
        }
        Ok(())
    })
}

/// Histogram of `values` with the fitted normal density scaled to counts (the AI paper's Fig. 3).
pub fn histogram(title: &str, unit: &str, values: &[f64], idx: usize) -> Result<String, FigureError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (370, 240)).into_drawing_area();
        root.fill(&WHITE).map_err(err(title))?;
        let (lo, hi) = values.iter().fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let sd = if values.len() > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        let spread = (hi - lo).max(sd * 4.0).max(mean.abs() * 0.01).max(1e-9);
        let (x0, x1) = (lo.min(mean - 2.5 * sd) - spread * 0.05, hi.max(mean + 2.5 * sd) + spread * 0.05);
        let bins = (n.sqrt().ceil() as usize).clamp(4, 20);
        let width = (hi - lo).max(spread * 0.1) / bins as f64;
        let mut counts = vec![0usize; bins];
        for v in values {
            let b = (((v - lo) / width) as usize).min(bins - 1);
            counts[b] += 1;
        }
        let pdf_peak = if sd > 0.0 { n * width / (sd * (2.0 * std::f64::consts::PI).sqrt()) } else { 0.0 };
        let ymax = (*counts.iter().max().unwrap_or(&1) as f64).max(pdf_peak) * 1.15;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 14))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(36)
            .build_cartesian_2d(x0..x1, 0.0..ymax)
            .map_err(err(title))?;
        chart
            .configure_mesh()
            .x_desc(unit)
            .x_labels(5)
            .y_labels(4)
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(err(title))?;
        let c = color(idx);
        chart
            .draw_series(counts.iter().enumerate().map(|(i, k)| {
                let a = lo + i as f64 * width;
                Rectangle::new([(a, 0.0), (a + width, *k as f64)], c.mix(0.6).filled())
            }))
            .map_err(err(title))?;
        if sd > 0.0 {
            let pts: Vec<(f64, f64)> = (0..=100)
                .map(|i| {
                    let x = x0 + (x1 - x0) * i as f64 / 100.0;
                    (x, pdf_peak * (-0.5 * ((x - mean) / sd).powi(2)).exp())
                })
                .collect();
            chart.draw_series(LineSeries::new(pts, BLACK.stroke_width(2))).map_err(err(title))?;
        }
        root.present().map_err(err(title))?;
    }
    Ok(svg)
}

/// Named lines of (seconds, value) points.
pub type Lines = [(String, Vec<(f64, f64)>)];

/// Lines of (seconds, value) per named series, with an optional horizontal threshold.
pub fn lines(title: &str, y_desc: &str, series: &Lines, threshold: Option<f64>) -> Result<String, FigureError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(err(title))?;
        let xmax = series.iter().flat_map(|(_, p)| p.iter().map(|x| x.0)).fold(0.0f64, f64::max).max(0.1);
        draw_lines(&root, title, y_desc, series, threshold, xmax)?;
        root.present().map_err(err(title))?;
    }
    Ok(svg)
}

/// Panels of lines stacked on one time axis (e.g. host CPU above power): the same seconds
/// line up vertically.
pub fn panels(title: &str, panels: &[(&str, &Lines, Option<f64>)]) -> Result<String, FigureError> {
    let mut svg = String::new();
    {
        let height = 300 * panels.len().max(1) as u32;
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err(title))?;
        let xmax = panels
            .iter()
            .flat_map(|(_, s, _)| s.iter().flat_map(|(_, p)| p.iter().map(|x| x.0)))
            .fold(0.0f64, f64::max)
            .max(0.1);
        for (i, (area, (y_desc, series, threshold))) in
            root.split_evenly((panels.len().max(1), 1)).iter().zip(panels).enumerate()
        {
            let caption = if i == 0 { title } else { "" };
            draw_lines(area, caption, y_desc, series, *threshold, xmax)?;
        }
        root.present().map_err(err(title))?;
    }
    Ok(svg)
}

fn draw_lines(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    title: &str,
    y_desc: &str,
    series: &Lines,
    threshold: Option<f64>,
    xmax: f64,
) -> Result<(), FigureError> {
    let ymax =
        series.iter().flat_map(|(_, p)| p.iter().map(|x| x.1)).fold(threshold.unwrap_or(0.0), f64::max).max(1.0) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 17))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(0.0..xmax, 0.0..ymax)
        .map_err(err(title))?;
    chart
        .configure_mesh()
        .x_desc("seconds into the trial")
        .y_desc(y_desc)
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err(title))?;
    if let Some(t) = threshold {
        chart.draw_series(LineSeries::new(vec![(0.0, t), (xmax, t)], GREY_400.stroke_width(1))).map_err(err(title))?;
    }
    for (i, (name, pts)) in series.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
            .map_err(err(title))?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight, title)
}

/// Stacked horizontal bars: one row per category, one colour per part (e.g. boot phases).
pub fn stacked(title: &str, unit: &str, parts: &[&str], rows: &[(String, Vec<f64>)]) -> Result<String, FigureError> {
    let colors = [BLUE_600, ORANGE_600, TEAL_600, RED_600];
    let max = rows.iter().map(|(_, v)| v.iter().sum::<f64>()).fold(0.0f64, f64::max) * 1.1;
    let labels: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    category_chart(title, unit, &labels, max, 110, Some(SeriesLabelPosition::LowerRight), |chart| {
        for (p, part) in parts.iter().enumerate() {
            let c = colors[p % colors.len()];
            chart
                .draw_series(rows.iter().enumerate().map(|(i, (_, v))| {
                    let start: f64 = v[..p].iter().sum();
                    Rectangle::new(
                        [(start, SegmentValue::Exact(i)), (start + v[p], SegmentValue::Exact(i + 1))],
                        c.mix(0.8).filled(),
                    )
                }))
                .map_err(err(title))?
                .label(*part)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        }
        Ok(())
    })
}

/// Metric against a swept parameter, one line with markers per environment; a logarithmic
/// x axis when the parameter spans more than a factor of 8 (block and message sizes).
pub fn sweep(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    lines: &[(String, Vec<(f64, f64)>)],
) -> Result<String, FigureError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(err(title))?;
        let xs: Vec<f64> = lines.iter().flat_map(|(_, p)| p.iter().map(|x| x.0)).collect();
        if xs.is_empty() {
            return Err(FigureError(title.to_string(), "no points to draw".into()));
        }
        let (xmin, xmax) = xs.iter().fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
        let ymax = lines.iter().flat_map(|(_, p)| p.iter().map(|x| x.1)).fold(0.0f64, f64::max).max(1e-9) * 1.1;
        let log = xmin > 0.0 && xmax / xmin > 8.0;
        let tx = |x: f64| if log { x.log2() } else { x };
        let (a, b) = (tx(xmin), tx(xmax));
        let pad = ((b - a) * 0.05).max(0.5);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d((a - pad)..(b + pad), 0.0..ymax)
            .map_err(err(title))?;
        chart
            .configure_mesh()
            .x_desc(if log { format!("{x_desc} (log scale)") } else { x_desc.to_string() })
            .y_desc(y_desc)
            .x_label_formatter(&|v| if log { format!("{}", 2f64.powf(*v).round()) } else { format!("{v}") })
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(err(title))?;
        for (i, (name, pts)) in lines.iter().enumerate() {
            let c = color(i);
            let p: Vec<(f64, f64)> = pts.iter().map(|(x, y)| (tx(*x), *y)).collect();
            chart
                .draw_series(LineSeries::new(p.clone(), c.stroke_width(2)))
                .map_err(err(title))?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
            chart.draw_series(p.into_iter().map(|pt| Circle::new(pt, 4, c.filled()))).map_err(err(title))?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft, title)?;
        root.present().map_err(err(title))?;
    }
    Ok(svg)
}
