//! SVG plots of a `compare` run (plotters): the round-trip distributions of
//! every channel, and sairing's scaling with message size and ring capacity.

use std::path::Path;

use anyhow::anyhow;
use plotters::coord::combinators::WithKeyPoints;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;
use sairing_benches::measure::Stats;

/// One point of a scaling run.
#[derive(Clone, Copy, Debug)]
pub struct Point {
    /// Message bytes, or ring capacity in bytes.
    pub x: u64,
    /// One-way messages per second.
    pub msgs_per_s: f64,
    /// Round-trip p99, in nanoseconds.
    pub p99_ns: u64,
    /// Round-trip p50, in nanoseconds.
    pub p50_ns: u64,
    /// The cache-line floor's p50 just before this point, in nanoseconds.
    pub floor_ns: u64,
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing the plot: {e:?}")
}

/// Nines on the x axis: x = -log10(1 - q), so 1 is p90, 2 p99, 3 p99.9.
fn quantile_at(x: f64) -> f64 {
    1.0 - 10f64.powf(-x)
}

fn nines_label(x: &f64) -> String {
    match x.round() as i64 {
        0 => "p0".into(),
        1 => "p90".into(),
        2 => "p99".into(),
        3 => "p99.9".into(),
        4 => "p99.99".into(),
        n => format!("{n} nines"),
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn micros_label(y: &f64) -> String {
    if *y >= 1000.0 {
        format!("{} ms", y / 1000.0)
    } else {
        format!("{y} µs")
    }
}

/// Round-trip latency by percentile, one line per channel, log scales.
pub fn latency(path: &Path, runs: &[Stats], title: &str) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1040, 620)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (root, legend) = root.split_horizontally(860);
    let lo = runs.iter().map(|s| s.hist.min()).min().unwrap_or(1).max(10) as f64 / 1000.0;
    let hi = runs.iter().map(|s| s.hist.max()).max().unwrap_or(1) as f64 / 1000.0;
    let max_x = 4.0;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..max_x, (lo * 0.8..hi * 1.25).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("round trip")
        .x_labels(5)
        .x_label_formatter(&nines_label)
        .y_label_formatter(&micros_label)
        .draw()
        .map_err(err)?;
    for (i, s) in runs.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(f64, f64)> = (0..=(max_x * 40.0) as u32)
            .map(|k| {
                let x = k as f64 / 40.0;
                let q = quantile_at(x).min(1.0);
                (x, s.hist.value_at_quantile(q).max(1) as f64 / 1000.0)
            })
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(err)?;
        // The legend, in the order of the table, beside the chart.
        let y = 60 + 24 * i as i32;
        legend
            .draw(&PathElement::new(
                vec![(8, y), (32, y)],
                color.stroke_width(3),
            ))
            .map_err(err)?;
        let p50 = s.hist.value_at_quantile(0.5) as f64 / 1000.0;
        legend
            .draw(&Text::new(
                format!("{}  {}", s.name, micros_label(&round2(p50))),
                (40, y - 7),
                ("sans-serif", 13),
            ))
            .map_err(err)?;
    }
    legend
        .draw(&Text::new(
            "channel  p50",
            (40, 30),
            ("sans-serif", 13).into_font().style(FontStyle::Bold),
        ))
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

fn bytes_label(x: &f64) -> String {
    let v = *x;
    if v >= (1 << 20) as f64 {
        format!("{} MiB", v / (1u64 << 20) as f64)
    } else if v >= 1024.0 {
        format!("{} KiB", v / 1024.0)
    } else {
        format!("{v} B")
    }
}

/// One line of a panel: its name and its y for a point.
type Series = (&'static str, fn(&Point) -> f64);

/// One panel of the scaling plot.
struct Panel<'a> {
    caption: &'a str,
    x_desc: &'a str,
    y_desc: &'a str,
    series: &'a [Series],
    y_label: fn(&f64) -> String,
    /// A log y axis (for ranges over decades); linear from 0 otherwise.
    log_y: bool,
}

/// Draws `panel` for `points` (log x axis, ticks at the measured x values).
fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    panel: &Panel<'_>,
    points: &[Point],
) -> anyhow::Result<()> {
    let xs = points.iter().map(|p| p.x as f64);
    let (x0, x1) = (xs.clone().fold(f64::MAX, f64::min), xs.fold(0f64, f64::max));
    let ys = points
        .iter()
        .flat_map(|p| panel.series.iter().map(move |(_, f)| f(p)));
    let (y0, y1) = (ys.clone().fold(f64::MAX, f64::min), ys.fold(0f64, f64::max));
    let x_range = (x0 / 1.5..x1 * 1.5)
        .log_scale()
        .with_key_points(points.iter().map(|p| p.x as f64).collect());
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(panel.caption, ("sans-serif", 17))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(70);
    if panel.log_y {
        let mut chart = builder
            .build_cartesian_2d(x_range, (y0 / 1.5..y1 * 1.5).log_scale())
            .map_err(err)?;
        draw_panel(&mut chart, panel, points)
    } else {
        let mut chart = builder
            .build_cartesian_2d(x_range, 0f64..y1 * 1.15)
            .map_err(err)?;
        draw_panel(&mut chart, panel, points)
    }
}

fn draw_panel<'a, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<WithKeyPoints<LogCoord<f64>>, Y>>,
    panel: &Panel<'_>,
    points: &[Point],
) -> anyhow::Result<()>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_desc(panel.x_desc)
        .y_desc(panel.y_desc)
        .x_label_formatter(&bytes_label)
        .y_label_formatter(&panel.y_label)
        .draw()
        .map_err(err)?;
    for (i, (name, f)) in panel.series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let pts: Vec<(f64, f64)> = points.iter().map(|p| (p.x as f64, f(p))).collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3))
            });
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}

fn rate_label(y: &f64) -> String {
    if *y >= 1e6 {
        format!("{:.1} M/s", y / 1e6)
    } else {
        format!("{:.0} k/s", y / 1e3)
    }
}

fn ns_label(y: &f64) -> String {
    micros_label(&(y / 1000.0))
}

/// sairing's scaling: one-way messages/s and round-trip p50 and p99, by
/// message size and by ring capacity.
pub fn scaling(
    path: &Path,
    by_size: &[Point],
    by_capacity: &[Point],
    title: &str,
) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1100, 820)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(title, ("sans-serif", 20)).map_err(err)?;
    let areas = root.split_evenly((2, 2));
    panel(
        &areas[0],
        &Panel {
            caption: "one-way throughput by message size",
            x_desc: "message size",
            y_desc: "messages/s",
            series: &[("messages/s", |p| p.msgs_per_s)],
            y_label: rate_label,
            log_y: false,
        },
        by_size,
    )?;
    panel(
        &areas[1],
        &Panel {
            caption: "round trip by message size",
            x_desc: "message size",
            y_desc: "round trip",
            series: &[("p50", |p| p.p50_ns as f64), ("p99", |p| p.p99_ns as f64)],
            y_label: ns_label,
            log_y: true,
        },
        by_size,
    )?;
    panel(
        &areas[2],
        &Panel {
            caption: "one-way throughput by ring capacity (128 B)",
            x_desc: "ring capacity",
            y_desc: "messages/s",
            series: &[("messages/s", |p| p.msgs_per_s)],
            y_label: rate_label,
            log_y: false,
        },
        by_capacity,
    )?;
    panel(
        &areas[3],
        &Panel {
            caption: "round trip by ring capacity (128 B)",
            x_desc: "ring capacity",
            y_desc: "round trip",
            series: &[("p50", |p| p.p50_ns as f64), ("p99", |p| p.p99_ns as f64)],
            y_label: ns_label,
            log_y: false,
        },
        by_capacity,
    )?;
    root.present().map_err(err)?;
    Ok(())
}
