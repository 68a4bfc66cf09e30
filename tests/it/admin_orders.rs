//! The admin's orders: the latest live on the dashboard, a search by number or email, and the
//! CSV export, streamed.

use sneakers::domain::ItemId;
use sneakers::store::orders;

use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, TestApp};
use crate::on_both_backends;
use crate::visitor::{PAYS, Visitor, checkout_form};

on_both_backends!(
    orders_are_listed_searched_and_exported,
    the_export_opens_as_text_in_a_spreadsheet
);

async fn admin_get(app: &TestApp, path: &str) -> (u16, String, String) {
    let response = app
        .http
        .get(format!("{}{path}", app.url))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, kind, response.text().await.unwrap_or_default())
}

/// Carts `item` and pays for it, giving `email` on the checkout form (the order's email).
async fn buy(visitor: &Visitor, item: ItemId, email: &str) -> i32 {
    assert_eq!(visitor.add(item).await.0, 303);
    let mut form = checkout_form(PAYS);
    form.retain(|(name, _)| *name != "email");
    form.push(("email", email));
    let (status, location) = visitor.post("/checkout", &form).await;
    assert_eq!(status, 303, "checkout answered {status}");
    location
        .strip_prefix("/checkout/complete?order=")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("checkout went to {location}"))
}

async fn orders_are_listed_searched_and_exported(backend: Backend) {
    let app = TestApp::start(backend).await;
    let product = app.product(true).await;
    let items: Vec<ItemId> = product
        .items
        .iter()
        .filter(|i| i.available_count > 0)
        .map(|i| i.id)
        .take(2)
        .collect();
    let (mut admin, _) = app.admin_watching().await;

    let guest = app.visitor().await;
    let guest_order = buy(&guest, items[0], "guest@example.com").await;
    let mut member = app.visitor().await;
    crate::accounts::signup(&app.db, &mut member, "Buyer@Example.com").await;
    let member_order = buy(&member, items[1], "Buyer@Example.com").await;

    // The dashboard's panel follows the sales.
    loop {
        let frame = admin.frame().await;
        if frame.event == "orders" {
            let html = frame.payload["html"].as_str().unwrap_or_default();
            if html.contains(&format!("data-order-id=\"{member_order}\"")) {
                assert!(html.contains("id=\"admin-orders\""), "{html}");
                break;
            }
        }
    }
    let (_, _, page) = admin_get(&app, "/admin").await;
    for id in [guest_order, member_order] {
        assert!(
            page.contains(&format!("data-order-id=\"{id}\"")),
            "order {id} on /admin"
        );
    }

    // Search by number and by a part of the email.
    let (status, _, found) = admin_get(&app, &format!("/admin/orders?q=%23{guest_order}")).await;
    assert_eq!(status, 200);
    assert!(found.contains(&format!("data-order-id=\"{guest_order}\"")));
    assert!(!found.contains(&format!("data-order-id=\"{member_order}\"")));
    let (_, _, found) = admin_get(&app, "/admin/orders?q=BUYER@").await;
    assert!(found.contains(&format!("data-order-id=\"{member_order}\"")));
    assert!(!found.contains(&format!("data-order-id=\"{guest_order}\"")));
    let (_, _, none) = admin_get(&app, "/admin/orders?q=%25").await;
    assert!(none.contains("No orders yet"), "a % is not a wildcard");

    // The export: the header, then one line per order, oldest first.
    let (status, kind, csv) = admin_get(&app, "/admin/orders.csv").await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/csv"), "{kind}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "order_id,placed_at,email,items,total_cents,node,state,payment_ref"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    let guest_row: Vec<&str> = lines[1].splitn(4, ',').collect();
    assert_eq!(guest_row[0], guest_order.to_string());
    assert_eq!(
        guest_row[2], "guest@example.com",
        "a guest's order has the email given at checkout"
    );
    assert!(lines[2].starts_with(&format!("{member_order},")), "{csv}");
    assert!(lines[2].contains(",buyer@example.com,"), "{csv}");
    assert!(lines[2].contains(&product.name), "{csv}");
    // Paid, with the provider's reference of the payment that paid it.
    let member_row = &csv_cells(&csv)[2];
    assert_eq!(member_row[5..7], ["test-node", "paid"], "{csv}");
    let paid_by = orders::list(&app.db, orders::OrderFilter::Id(member_order), 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .pop()
        .and_then(|o| o.payment_ref)
        .unwrap_or_else(|| panic!("order {member_order} has no payment reference"));
    assert_eq!(member_row[7], paid_by, "{csv}");

    // Admins only.
    let response = app
        .http
        .get(format!("{}/admin/orders.csv", app.url))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 401);
}

/// The cells of a CSV export (RFC 4180: quoted cells may hold commas, quotes and line breaks).
fn csv_cells(csv: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let mut chars = csv.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

/// An email a spreadsheet would run as a formula is written as text, in its own cell.
async fn the_export_opens_as_text_in_a_spreadsheet(backend: Backend) {
    let app = TestApp::start(backend).await;
    let item = app
        .product(true)
        .await
        .items
        .iter()
        .find(|i| i.available_count > 0)
        .map(|i| i.id)
        .unwrap_or_else(|| panic!("nothing in stock"));
    let hostile = [
        "=hyperlink(\"http://evil.example\",\"click\")@example.com",
        "-2+3;=1@example.com",
    ];
    for email in hostile {
        let mut member = app.visitor().await;
        crate::accounts::signup(&app.db, &mut member, email).await;
        buy(&member, item, email).await;
    }
    let (status, _, csv) = admin_get(&app, "/admin/orders.csv").await;
    assert_eq!(status, 200);
    let rows = csv_cells(&csv);
    assert_eq!(rows.len(), 3, "{csv}");
    for row in &rows {
        assert_eq!(row.len(), 8, "one cell per column: {row:?}");
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a formula cell: {cell:?} in {csv}"
            );
        }
    }
    // The text is all there, behind the quote that makes it text.
    assert_eq!(rows[1][2], format!("'{}", hostile[0]));
    assert_eq!(rows[2][2], format!("'{}", hostile[1]));
}
