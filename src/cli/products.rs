//! `sneakers product import FILE` and `sneakers product export [FILE]`: the product file (JSON,
//! or CSV with one size a row, by the file's extension) through the running server's admin
//! API, so every open page sees what an import changes. A file is read whole first; a line
//! that cannot be read, or a record the server refuses, is named with the reason, and nothing
//! is written unless every record is right (the server writes the file in one transaction).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use super::{AdminClient, CliError, ServerArgs};
use crate::domain::product_file::{self, Origin};

#[derive(Subcommand, Debug)]
pub enum ProductCommand {
    /// Create or update products (by SKU) from a JSON or CSV file, all or nothing.
    Import {
        file: PathBuf,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Write every product (not archived) as JSON, or CSV for a `.csv` file; stdout without one.
    Export {
        file: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

pub async fn run(command: ProductCommand) -> Result<(), CliError> {
    match command {
        ProductCommand::Import { file, server } => import(&file, server).await,
        ProductCommand::Export { file, server } => export(file.as_deref(), server).await,
    }
}

async fn import(path: &Path, server: ServerArgs) -> Result<(), CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let read = if is_csv(path) {
        product_file::read_csv(&text)
    } else {
        product_file::read_json(&text)
    };
    let (file, origins) = match read {
        Ok(read) => read,
        Err(lines) => {
            for line in &lines {
                eprintln!("{}: {line}", path.display());
            }
            return Err(CliError::Usage(format!(
                "{} line(s) of {} could not be read; nothing was imported",
                lines.len(),
                path.display()
            )));
        }
    };
    let client = AdminClient::from_env(server.url)?;
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message(format!(
        "importing {} product(s) into {}",
        file.products.len(),
        client.base()
    ));
    let answer = client.import_products(&file).await;
    bar.finish_and_clear();
    match answer? {
        Ok(reply) => {
            println!(
                "Imported {}: {} created, {} updated",
                path.display(),
                reply.created.len(),
                reply.updated.len()
            );
            Ok(())
        }
        Err(refused) => {
            for problem in &refused.problems {
                let place = origin(&origins, problem.product, problem.size);
                eprintln!(
                    "{}: {place}: {}: {}",
                    path.display(),
                    problem.field,
                    problem.message
                );
            }
            Err(CliError::Usage(format!(
                "{} problem(s) in {}; nothing was imported",
                refused.problems.len(),
                path.display()
            )))
        }
    }
}

fn origin(origins: &[Origin], product: usize, size: Option<usize>) -> String {
    let Some(o) = origins.get(product) else {
        return format!("products[{product}]");
    };
    size.and_then(|n| o.sizes.get(n))
        .unwrap_or(&o.product)
        .clone()
}

async fn export(path: Option<&Path>, server: ServerArgs) -> Result<(), CliError> {
    let client = AdminClient::from_env(server.url)?;
    let file = client.export_products().await?;
    let text = if path.is_some_and(is_csv) {
        product_file::write_csv(&file)
    } else {
        let mut json = serde_json::to_string_pretty(&file)
            .map_err(|e| CliError::Usage(format!("cannot write JSON: {e}")))?;
        json.push('\n');
        json
    };
    match path {
        Some(path) => {
            std::fs::write(path, text)
                .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", path.display())))?;
            eprintln!(
                "Exported {} product(s) to {}",
                file.products.len(),
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}
