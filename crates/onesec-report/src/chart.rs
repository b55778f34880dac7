//! Bar charts, described once and drawn as inline SVG (HTML) or PDF rectangles.

/// A bar chart: a title and labelled values.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Caption.
    pub title: String,
    /// (label, value) in display order.
    pub bars: Vec<(String, f64)>,
}

/// One bar's geometry within a chart of the given size: (x, y-from-top, width, height).
pub fn layout(chart: &BarChart, width: f64, height: f64) -> Vec<(f64, f64, f64, f64)> {
    let n = chart.bars.len().max(1) as f64;
    let max = chart
        .bars
        .iter()
        .map(|(_, v)| *v)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let slot = width / n;
    chart
        .bars
        .iter()
        .enumerate()
        .map(|(i, (_, v))| {
            let h = (v / max) * (height - 30.0);
            (
                i as f64 * slot + slot * 0.15,
                height - 18.0 - h,
                slot * 0.7,
                h,
            )
        })
        .collect()
}

/// Every how many bars a label is written, so that labels of a long series do not overlap
/// (at most about 16 labels).
pub fn label_step(bars: usize) -> usize {
    bars.div_ceil(16).max(1)
}

/// Whether values are written above the bars (not for long series, where they would overlap).
pub fn shows_values(bars: usize) -> bool {
    bars <= 31
}

/// The chart as an inline SVG element (no script, no external resource).
pub fn svg(chart: &BarChart) -> String {
    const W: f64 = 560.0;
    const H: f64 = 180.0;
    let mut out = format!(
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{}\">",
        crate::html::escape(&chart.title),
        crate::html::escape(&chart.title)
    );
    let step = label_step(chart.bars.len());
    for (i, ((label, value), (x, y, w, h))) in
        chart.bars.iter().zip(layout(chart, W, H)).enumerate()
    {
        let label = if i % step == 0 {
            crate::html::escape(label)
        } else {
            String::new()
        };
        let shown = if shows_values(chart.bars.len()) {
            format_value(*value)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"#3b6ea5\"><title>{}: {}</title></rect><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{label}</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            crate::html::escape(&chart.bars[i].0),
            format_value(*value),
            x + w / 2.0,
            H - 5.0,
            x + w / 2.0,
            (y - 3.0).max(10.0),
            shown
        ));
    }
    out.push_str("</svg></figure>");
    out
}

/// A value without needless decimals.
pub fn format_value(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tallest_bar_fills_the_chart_and_the_others_scale() {
        let chart = BarChart {
            title: "t".into(),
            bars: vec![("a".into(), 4.0), ("b".into(), 2.0)],
        };
        let bars = layout(&chart, 200.0, 130.0);
        assert_eq!(bars[0].3, 100.0);
        assert_eq!(bars[1].3, 50.0);
        assert!(svg(&chart).contains("<rect"));
    }
}
