//! The mock buyer (the book's): keeps buying random in-stock pairs of released products.

use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::IndexedRandom;

use super::{AdminClient, CliError, ServerArgs};
use crate::domain::ItemId;

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("stop").required(true).args(["until_gone", "count"])))]
pub struct SellRandomArgs {
    /// Keep buying until every released pair is gone.
    #[arg(long)]
    until_gone: bool,
    /// Buy this many pairs, then stop.
    #[arg(long)]
    count: Option<u64>,
    /// Pairs per second.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    #[command(flatten)]
    server: ServerArgs,
}

pub async fn run(args: SellRandomArgs) -> Result<(), CliError> {
    if !(args.rate > 0.0 && args.rate <= 100_000.0) {
        return Err(CliError::Usage(format!(
            "--rate must be between 0 and 100000 pairs per second, got {}",
            args.rate
        )));
    }
    let client = AdminClient::from_env(args.server.url)?;
    let mut stock = in_stock(&client).await?;
    let total: u64 = stock.iter().map(|(_, n)| *n as u64).sum();
    let target = args.count.map_or(total, |c| c.min(total));
    let bar = ProgressBar::new(target);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{bar:40}] {pos}/{len} pairs sold · {per_sec} · eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sold = 0u64;
    while sold < target {
        let Some(&(item_id, _)) = stock.choose(&mut rand::rng()) else {
            // Our view says nothing is left; ask again in case someone restocked.
            stock = in_stock(&client).await?;
            if stock.is_empty() {
                break;
            }
            continue;
        };
        ticker.tick().await;
        match client.sell(item_id, 1).await {
            Ok(reply) => {
                sold += 1;
                bar.inc(1);
                bar.set_message(format!("item {item_id} → {} left", reply.available_count));
                update(&mut stock, item_id, reply.available_count);
            }
            Err(e) if e.code() == Some("sold_out") => update(&mut stock, item_id, 0),
            Err(e) => {
                bar.abandon();
                return Err(e.into());
            }
        }
    }
    bar.finish_and_clear();
    let left: u64 = in_stock(&client)
        .await?
        .iter()
        .map(|(_, n)| *n as u64)
        .sum();
    println!("Sold {sold} pair(s); {left} released pair(s) left.");
    Ok(())
}

async fn in_stock(client: &AdminClient) -> Result<Vec<(ItemId, i32)>, CliError> {
    Ok(client
        .inventory()
        .await?
        .products
        .into_iter()
        .filter(|p| p.released)
        .flat_map(|p| p.items)
        .filter(|i| i.available_count > 0)
        .map(|i| (i.id, i.available_count))
        .collect())
}

fn update(stock: &mut Vec<(ItemId, i32)>, item_id: ItemId, left: i32) {
    if left <= 0 {
        stock.retain(|(id, _)| *id != item_id);
    } else if let Some(entry) = stock.iter_mut().find(|(id, _)| *id == item_id) {
        entry.1 = left;
    }
}
