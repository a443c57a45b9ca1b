//! The SVG chart of the table: one panel per scenario, one bar per system
//! on that scenario's headline figure, labelled with its value and its
//! ratio to imedge.

use std::path::Path;

use anyhow::anyhow;
use plotters::prelude::*;

use super::suite::{Scenario, Suite, BASELINE, CEILING};

/// A bar's colour: imedge variants, the ceiling and the peers told apart.
fn colour(system: &str) -> RGBColor {
    if system.starts_with(BASELINE) {
        RGBColor(31, 119, 180)
    } else if system == CEILING {
        RGBColor(120, 120, 120)
    } else {
        RGBColor(255, 127, 14)
    }
}

/// The headline in the unit the panel shows.
fn shown(scenario: Scenario, v: f64) -> (f64, String) {
    match scenario {
        Scenario::Idle => (v, format!("{v:.0} B")),
        Scenario::ChatMax | Scenario::RoomMax => (v / 1000.0, format!("{:.0}k", v / 1000.0)),
        Scenario::Latency => (v / 1000.0, format!("{:.2} ms", v / 1000.0)),
    }
}

/// Draws `suite` as a 2x2 grid of bar panels into an SVG file.
///
/// # Errors
/// The file cannot be written.
pub fn draw(suite: &Suite, path: &Path) -> anyhow::Result<()> {
    let systems = suite.systems();
    let root = SVGBackend::new(path, (1200, 860)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let title = format!(
        "imedge end-to-end suite, {}, {} cores, Linux {}{}",
        suite.date,
        suite.cores,
        suite.kernel,
        if suite.quick {
            " (--quick smoke run)"
        } else {
            ""
        }
    );
    let root = root
        .titled(&title, ("sans-serif", 20))
        .map_err(|e| anyhow!("{e}"))?;
    let panels = root.split_evenly((2, 2));
    for (panel, scenario) in panels.iter().zip(Scenario::ALL) {
        let (what, more_is_better) = scenario.headline();
        let bars: Vec<_> = systems
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let row = suite.row(scenario, s)?;
                let (v, label) = shown(scenario, row.headline()?);
                let ratio = suite
                    .ratio_to_imedge(row)
                    .map_or(String::new(), |x| format!(" ({x:.2}x)"));
                Some((i, *s, v, format!("{label}{ratio}")))
            })
            .collect();
        let top = bars.iter().map(|b| b.2).fold(0.0, f64::max).max(1e-9) * 1.25;
        let unit = match scenario {
            Scenario::Idle => "bytes",
            Scenario::ChatMax | Scenario::RoomMax => "thousands",
            Scenario::Latency => "ms",
        };
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!(
                    "{}: {what} ({} is better)",
                    scenario.name(),
                    if more_is_better { "higher" } else { "lower" }
                ),
                ("sans-serif", 15),
            )
            .margin(12)
            .y_label_area_size(55)
            .x_label_area_size(10)
            .build_cartesian_2d(0.0..systems.len().max(1) as f64, 0.0..top)
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_x_axis()
            .y_desc(unit)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .draw_series(bars.iter().map(|(i, s, v, _)| {
                let x = *i as f64;
                Rectangle::new([(x + 0.12, 0.0), (x + 0.88, *v)], colour(s).filled())
            }))
            .map_err(|e| anyhow!("{e}"))?;
        for (i, s, v, label) in &bars {
            let x = *i as f64 + 0.12;
            chart
                .draw_series([
                    Text::new(s.to_string(), (x, *v + top * 0.09), ("sans-serif", 12)),
                    Text::new(label.clone(), (x, *v + top * 0.045), ("sans-serif", 11)),
                ])
                .map_err(|e| anyhow!("{e}"))?;
        }
        if bars.is_empty() {
            chart
                .draw_series([Text::new(
                    "no figures".to_owned(),
                    (0.2, top / 2.0),
                    ("sans-serif", 14),
                )])
                .map_err(|e| anyhow!("{e}"))?;
        }
    }
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}
