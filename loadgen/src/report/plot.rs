//! `--plot`: delivery latency (p50, p99, p999) and throughput over time, as SVG.

use std::path::Path;

use anyhow::anyhow;
use plotters::prelude::*;

use super::Report;
use crate::coord::Point;

/// A named line of the plot: how to read it from a point, and its colour.
type Line<T> = (&'static str, fn(&Point) -> T, RGBColor);

/// Draws the report's timeline into an SVG file.
pub fn plot(r: &Report, path: &Path) -> anyhow::Result<()> {
    let pts = &r.timeline;
    let t_max = pts.iter().map(|p| p.t_s).fold(1.0, f64::max);
    let lat_max = pts
        .iter()
        .map(|p| p.p999_us.max(p.p99_us) as f64 / 1e3)
        .fold(1.0, f64::max);
    let rate_max = pts
        .iter()
        .map(|p| p.sent_per_s.max(p.delivered_per_s))
        .fold(1.0, f64::max);
    let root = SVGBackend::new(path, (1000, 720)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let (top, bottom) = root.split_vertically(360);
    let title = format!("imedge-loadgen {:?}, {} users", r.scenario, r.config.users);

    let mut lat = ChartBuilder::on(&top)
        .caption(format!("{title}: delivery latency"), ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, 0.0..lat_max * 1.1)
        .map_err(|e| anyhow!("{e}"))?;
    lat.configure_mesh()
        .x_desc("seconds")
        .y_desc("ms")
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    let series: [Line<u64>; 3] = [
        ("p50", |p| p.p50_us, BLUE),
        ("p99", |p| p.p99_us, RED),
        ("p999", |p| p.p999_us, MAGENTA),
    ];
    for (name, get, color) in series {
        lat.draw_series(LineSeries::new(
            pts.iter()
                .filter(|p| get(p) > 0)
                .map(|p| (p.t_s, get(p) as f64 / 1e3)),
            &color,
        ))
        .map_err(|e| anyhow!("{e}"))?
        .label(name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    lat.configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;

    let mut thr = ChartBuilder::on(&bottom)
        .caption("throughput", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, 0.0..rate_max * 1.1)
        .map_err(|e| anyhow!("{e}"))?;
    thr.configure_mesh()
        .x_desc("seconds")
        .y_desc("per second")
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    let series: [Line<f64>; 2] = [
        ("sent", |p| p.sent_per_s, GREEN),
        ("delivered", |p| p.delivered_per_s, BLACK),
    ];
    for (name, get, color) in series {
        thr.draw_series(LineSeries::new(pts.iter().map(|p| (p.t_s, get(p))), &color))
            .map_err(|e| anyhow!("{e}"))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    thr.configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}
