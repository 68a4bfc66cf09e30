//! The drop at a glance: `#admin-sales-chart` (pairs per second, SVG drawn here, so no chart
//! script and the CSP stays strict) and `#admin-sell-through` (a bar per product, the time
//! each size took to sell out). Both are pushed together, at most once a second.

use std::collections::HashMap;

use crate::domain::line::LineFigures;

use maud::{Markup, html};

use crate::domain::sales::{SalesSeries, WINDOW_SECS, sell_through_permille};
use crate::domain::{Catalog, ProductId};

const CHART_W: usize = WINDOW_SECS;
const CHART_H: u32 = 160;
/// Series colours are CSS classes (`.series-N`): a palette of this many.
const PALETTE: usize = 6;

/// A y-axis top that reads well: 5, 10, 20, 50, 100, ...
fn axis_top(peak: u32) -> u32 {
    let peak = peak.max(5);
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if peak <= step * m {
                return step * m;
            }
        }
        step *= 10;
    }
}

fn points(values: &[u32], top: u32) -> String {
    let mut out = String::with_capacity(values.len() * 8);
    for (x, v) in values.iter().enumerate() {
        let y = CHART_H as f64 - f64::from(*v) * f64::from(CHART_H) / f64::from(top);
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!("{x},{y:.1}"));
    }
    out
}

pub fn sales_chart(series: &SalesSeries, catalog: &Catalog, now: i64) -> Markup {
    let all = series.per_second(None, now);
    let lines: Vec<(ProductId, String, Vec<u32>)> = catalog
        .products()
        .filter(|p| p.released)
        .map(|p| {
            let label = format!("{} {}", p.brand, p.name);
            (p.id, label, series.per_second(Some(p.id), now))
        })
        .collect();
    let peak = all.iter().copied().max().unwrap_or(0);
    let top = axis_top(peak);
    let in_window: u64 = all.iter().map(|&n| u64::from(n)).sum();
    // The last few seconds, so one quiet second does not read as the drop stopping.
    let recent = &all[all.len() - 5..];
    let rate = f64::from(recent.iter().sum::<u32>()) / recent.len() as f64;
    html! {
        section #admin-sales-chart .panel.sales-chart data-no-flash data-total=(in_window) data-now=(now) {
            header.panel__head {
                h2 { "Pairs sold per second" }
                div.sales-chart__figures {
                    span { strong { (format!("{rate:.1}")) } " /s now" }
                    span { strong { (peak) } " peak" }
                    span { strong { (in_window) } " in 10 min" }
                }
            }
            svg.sales-chart__svg viewBox=(format!("0 0 {CHART_W} {CHART_H}")) preserveAspectRatio="none"
                role="img" aria-label=(format!("{in_window} pairs sold in the last 10 minutes, peak {peak} per second")) {
                @for frac in [0.25, 0.5, 0.75] {
                    line.grid x1="0" x2=(CHART_W) y1=(f64::from(CHART_H) * frac) y2=(f64::from(CHART_H) * frac) {}
                }
                @for (i, (id, _, values)) in lines.iter().enumerate() {
                    polyline class=(format!("series series-{}", i % PALETTE)) data-product-id=(id)
                        points=(points(values, top)) {}
                }
                polyline.series.series--all points=(points(&all, top)) {}
            }
            div.sales-chart__axis { span { "10 min ago" } span { (top) " /s" } span { "now" } }
            ul.legend {
                li { span.swatch.series--all {} "All products" }
                @for (i, (id, label, values)) in lines.iter().enumerate() {
                    li data-product-id=(id) {
                        span class=(format!("swatch series-{}", i % PALETTE)) {}
                        (label) " " span.muted { (values.iter().map(|&n| u64::from(n)).sum::<u64>()) }
                    }
                }
            }
        }
    }
}

fn duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, s / 60 % 60),
    }
}

/// `line_lengths`: shoppers waiting per product, when the product has a waiting line (empty
/// until the store has them; the panel shows the figure as soon as it is passed).
pub fn sell_through(
    series: &SalesSeries,
    catalog: &Catalog,
    line_lengths: &HashMap<ProductId, LineFigures>,
) -> Markup {
    html! {
        section #admin-sell-through .panel.sell-through data-no-flash {
            header.panel__head { h2 { "Sell-through" } }
            @for product in catalog.products().filter(|p| p.released) {
                @let sold = series.sold(product.id);
                @let left: u64 = product.items.iter().map(|i| i.available_count.max(0) as u64).sum();
                @let permille = sell_through_permille(sold, left);
                @let released = series.released_at(product.id)
                    .or(product.release_at.map(|t| t.timestamp()));
                div.sell-through__product data-product-id=(product.id)
                    data-permille=(permille.map_or(String::new(), |p| p.to_string())) {
                    div.sell-through__title {
                        strong { (product.brand) " " (product.name) }
                        span.sell-through__pct {
                            @match permille {
                                Some(p) => { (p / 10) "%" }
                                None => { "no stock" }
                            }
                        }
                    }
                    svg.bar viewBox="0 0 1000 12" preserveAspectRatio="none" role="img"
                        aria-label=(format!("{sold} sold, {left} left")) {
                        rect.bar__track x="0" y="0" width="1000" height="12" rx="6" {}
                        rect.bar__fill x="0" y="0" width=(permille.unwrap_or(0)) height="12" rx="6" {}
                    }
                    div.sell-through__meta {
                        span { strong { (sold) } " sold · " strong { (left) } " left" }
                        @if let Some(line) = line_lengths.get(&product.id) {
                            span.sell-through__line data-waiting=(line.waiting) data-admitted=(line.admitted) {
                                strong { (line.waiting) } " waiting · " strong { (line.admitted) } " let in · " (line.per_minute) "/min"
                            }
                        }
                    }
                    ul.sizes-out {
                        @for item in &product.items {
                            @let out = series.sold_out_at(item.id);
                            li class=(if out.is_some() || item.available_count == 0 { "size-out is-out" } else { "size-out" })
                                data-item-id=(item.id) {
                                span.size-out__size { (item.size) }
                                span.size-out__time {
                                    @match (out, released) {
                                        (Some(at), Some(from)) if at >= from => { (duration(at - from)) }
                                        _ if item.available_count == 0 => { "out" }
                                        _ => { (item.available_count) " left" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_read_well() {
        assert_eq!(axis_top(0), 5);
        assert_eq!(axis_top(5), 5);
        assert_eq!(axis_top(6), 10);
        assert_eq!(axis_top(11), 20);
        assert_eq!(axis_top(51), 100);
        assert_eq!(axis_top(170), 200);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(72), "1m 12s");
        assert_eq!(duration(3_720), "1h 02m");
    }

    #[test]
    fn the_chart_draws_one_point_per_second() {
        let mut series = SalesSeries::new();
        series.record_sale(1_000, ProductId(1), 5);
        let catalog = Catalog::new(Vec::new());
        let html = sales_chart(&series, &catalog, 1_000).into_string();
        assert!(html.contains("id=\"admin-sales-chart\""));
        assert!(html.contains("data-total=\"5\""));
        assert!(
            html.contains("599,0.0"),
            "the newest second at the top: {html}"
        );
    }
}
