//! NOT YET IN THE BUILD (not listed in main.rs): written at the deadline, never compiled or
//! run. Register with `mod admin_sales;` in main.rs once it passes; it uses `admin_watching`
//! from admin.rs, which must become `pub(crate)`.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, TestApp};

/// `data-total` (pairs in the chart's window) and the sell-through per mille of `product`.
fn chart_total(html: &str) -> Option<u64> {
    let marker = "id=\"admin-sales-chart\"";
    let at = html.find(marker)?;
    let tag = &html[at..at + html[at..].find('>')?];
    let start = tag.find("data-total=\"")? + 12;
    tag[start..start + tag[start..].find('"')?].parse().ok()
}

fn sell_through_permille(html: &str, product: sneakers::domain::ProductId) -> Option<u32> {
    let marker = format!("data-product-id=\"{product}\" data-permille=\"");
    let at = html.find(&marker)? + marker.len();
    html[at..at + html[at..].find('"')?].parse().ok()
}

crate::on_both_backends!(sales_move_the_chart_and_bars_at_most_once_a_second);

async fn sales_move_the_chart_and_bars_at_most_once_a_second(backend: Backend) {
    {
        let app = TestApp::start(backend).await;
        let (mut admin, _) = app.admin_watching().await;
        let product = app.product(true).await;
        let item = product
            .items
            .iter()
            .find(|i| i.available_count >= 3)
            .unwrap_or_else(|| panic!("a size with stock in {product:?}"));

        // The page itself shows the panels before anything sold.
        let response = app
            .http
            .get(format!("{}/admin", app.url))
            .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), 200);
        let page = response.text().await.unwrap_or_default();
        assert_eq!(chart_total(&page), Some(0), "{page}");
        assert_eq!(sell_through_permille(&page, product.id), Some(0));

        let mut pushes: Vec<(tokio::time::Instant, String)> = Vec::new();
        let mut sold = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while sold < 3 || pushes.last().and_then(|(_, h)| chart_total(h)) != Some(3) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the chart never showed 3 sales"
            );
            if sold < 3 {
                app.admin
                    .sell(item.id, 1)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                sold += 1;
            }
            match tokio::time::timeout(Duration::from_millis(300), admin.frame()).await {
                Ok(frame) if frame.event == "sales" => {
                    let html = frame.payload["html"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    pushes.push((tokio::time::Instant::now(), html));
                }
                Ok(_) => {}
                Err(_) => {
                    admin.push(None, "phoenix", "heartbeat", json!({})).await;
                }
            }
        }
        let (_, last) = pushes.last().expect("the loop ends on a push");
        assert!(last.contains("id=\"admin-sell-through\""), "{last}");
        // Three pairs of a few thousand are 0.1%: the bar's own count says it moved.
        let bar = last
            .split("class=\"sell-through__product\"")
            .find(|part| part.contains(&format!("data-product-id=\"{}\"", product.id)))
            .expect("a bar for the product");
        assert!(
            !bar.contains("<strong>0</strong> sold"),
            "the bar counts the sales: {bar}"
        );
        // Pushes come from a one-second clock: never two within the same second.
        for pair in pushes.windows(2) {
            let gap = pair[1].0 - pair[0].0;
            assert!(
                gap >= Duration::from_millis(700),
                "two chart pushes {gap:?} apart"
            );
        }
    }
}
