//! `sneakers product export` and `sneakers product import` against a running store: the file
//! as DESIGN fixes it (JSON, and CSV one size a row), an upsert by SKU written whole or not at
//! all, every bad record named by its place in the file.

use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(a_catalog_is_exported_edited_and_imported_back);

/// A product as the round trip must leave it: SKU, price, state, sizes with their pairs.
type Shape = (String, i32, String, Vec<(String, i32)>);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn product(app: &TestApp, args: Vec<String>) -> Output {
    let url = app.url.clone();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_sneakers"))
            .arg("product")
            .args(&args)
            .args(["--url", url.as_str()])
            .env_remove("DATABASE_URL")
            .env("ADMIN_USERNAME", ADMIN_USER)
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap_or_else(|e| panic!("cannot run sneakers: {e}"))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

async fn a_catalog_is_exported_edited_and_imported_back(backend: Backend) {
    let app = TestApp::start(backend).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = |name: &str| dir.path().join(name).display().to_string();

    // Exported: every product, with its sizes and the pairs left.
    let out = product(&app, vec!["export".into(), path("catalog.json")]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut file: Value =
        serde_json::from_str(&std::fs::read_to_string(path("catalog.json")).unwrap_or_default())
            .unwrap_or_else(|e| panic!("the export is JSON: {e}"));
    let before = app.inventory_json().await;
    let products = file["products"].as_array().cloned().unwrap_or_default();
    assert_eq!(products.len(), before.products.len());
    let first = &before.products[0];
    let record = products
        .iter()
        .find(|p| p["sku"] == first.sku.as_str())
        .unwrap_or_else(|| panic!("{} exported", first.sku));
    assert_eq!(record["price_cents"], first.price_cents);
    assert_eq!(
        record["sizes"].as_array().map(Vec::len),
        Some(first.items.len())
    );
    assert_eq!(record["sizes"][0]["stock"], first.items[0].available_count);
    if first.released {
        assert_eq!(record["release"], "now");
    }

    // Edited: a new price and size for the first product, its first size's stock (ignored:
    // an existing size changes only by restock and sales), and a new scheduled product.
    let products = file["products"]
        .as_array_mut()
        .unwrap_or_else(|| panic!("products"));
    let at = products
        .iter()
        .position(|p| p["sku"] == first.sku.as_str())
        .unwrap_or_default();
    products[at]["price_cents"] = json!(first.price_cents + 100);
    products[at]["sizes"][0]["stock"] = json!(999);
    products[at]["sizes"]
        .as_array_mut()
        .unwrap_or_else(|| panic!("sizes"))
        .push(json!({"size": "US 15", "sku": "", "stock": 7}));
    products.push(json!({
        "sku": "IMP-NEW", "brand": "Asics", "name": "Gel Import", "color": "Cream",
        "description": "Imported.", "price_cents": 14000, "release": "2030-01-01T09:30:00Z",
        "max_per_customer": 2, "line": {"admit_per_minute": 30}, "draw": null,
        "sizes": [{"size": "9", "sku": "IMP-NEW-9", "stock": 3}, {"size": "10", "stock": 4}]
    }));
    std::fs::write(path("edited.json"), file.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let out = product(&app, vec!["import".into(), path("edited.json")]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("1 created, {} updated", before.products.len())),
        "{}",
        text(&out.stdout)
    );
    let after = app.inventory_json().await;
    let edited = after
        .products
        .iter()
        .find(|p| p.id == first.id)
        .unwrap_or_else(|| panic!("still there"));
    assert_eq!(edited.price_cents, first.price_cents + 100);
    assert_eq!(
        edited.items[0].available_count,
        first.items[0].available_count
    );
    let added = edited
        .items
        .iter()
        .find(|i| i.size == "US 15")
        .unwrap_or_else(|| panic!("the new size: {edited:?}"));
    assert_eq!(added.available_count, 7);
    let new = after
        .products
        .iter()
        .find(|p| p.sku == "IMP-NEW")
        .unwrap_or_else(|| panic!("the new product"));
    assert_eq!(new.state, "scheduled");
    assert_eq!(new.mode, "line");
    assert_eq!(
        new.release_at.map(|t| t.to_rfc3339()),
        Some("2030-01-01T09:30:00+00:00".into())
    );
    let sizes: Vec<(&str, i32)> = new
        .items
        .iter()
        .map(|i| (i.size.as_str(), i.available_count))
        .collect();
    assert_eq!(sizes, [("9", 3), ("10", 4)]);
    // The open store shows it (an import goes through the server).
    let (status, page) = app.get(&format!("/products/{}", new.id)).await;
    assert_eq!(status, 200);
    assert!(page.contains("Gel Import"));

    // A CSV with bad rows: each named by its line, and nothing written, not even the good row.
    let header = "sku,brand,name,color,description,price_cents,release,max_per_customer,line_admit_per_minute,draw_opens,draw_closes,size,size_sku,stock";
    let csv = format!(
        "{header}\n\
         CSV-GOOD,Nike,Good,Black,,12000,draft,,,,,9,,2\n\
         CSV-NEG,Nike,Negative,Black,,-100,draft,,,,,9,,2\n\
         CSV-TWICE,Nike,Twice,Black,,12000,draft,,,,,9,,2\n\
         CSV-TWICE,,,,,,,,,,,9,,3\n\
         CSV-PAST,Nike,Past,Black,,12000,2001-01-01T00:00:00Z,,,,,9,,2\n\
         CSV-ODD,Nike,Odd,Black,,abc,draft,,,,,9,,2\n"
    );
    std::fs::write(path("bad.csv"), &csv).unwrap_or_else(|e| panic!("{e}"));
    let out = product(&app, vec!["import".into(), path("bad.csv")]).await;
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("line 7: price_cents: \"abc\" is not a whole number"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Readable now, but wrong: the server's problems, by line.
    let csv = csv.replace("CSV-ODD,Nike,Odd,Black,,abc", "CSV-ODD,Nike,Odd,Black,,100");
    std::fs::write(path("bad.csv"), &csv).unwrap_or_else(|e| panic!("{e}"));
    let out = product(&app, vec!["import".into(), path("bad.csv")]).await;
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    let bad = path("bad.csv");
    for expected in [
        format!("{bad}: line 3: price_cents: "),
        format!("{bad}: line 5: size: This size is in the list twice."),
        format!("{bad}: line 6: release: "),
    ] {
        assert!(stderr.contains(&expected), "{expected} in {stderr}");
    }
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    assert!(
        !stderr.contains("line 2:") && !stderr.contains("line 7:"),
        "{stderr}"
    );
    let unchanged = app.inventory_json().await;
    assert_eq!(unchanged.products.len(), after.products.len());
    assert!(
        unchanged
            .products
            .iter()
            .all(|p| !p.sku.starts_with("CSV-"))
    );

    // CSV round trip: exported and imported back, every product updated and nothing else moved.
    let out = product(&app, vec!["export".into(), path("catalog.csv")]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exported = std::fs::read_to_string(path("catalog.csv")).unwrap_or_default();
    assert!(exported.starts_with(header), "{exported}");
    let out = product(&app, vec!["import".into(), path("catalog.csv")]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("0 created, {} updated", after.products.len())),
        "{}",
        text(&out.stdout)
    );
    let again = app.inventory_json().await;
    let shape = |inv: &sneakers::web::wire::InventoryJson| -> Vec<Shape> {
        inv.products
            .iter()
            .map(|p| {
                (
                    p.sku.clone(),
                    p.price_cents,
                    p.state.clone(),
                    p.items
                        .iter()
                        .map(|i| (i.size.clone(), i.available_count))
                        .collect(),
                )
            })
            .collect()
    };
    assert_eq!(shape(&again), shape(&after));
}
