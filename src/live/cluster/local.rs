//! One node on its own (embedded database): there is nobody to tell and nobody to hear.

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use super::wire::Message;
use super::{Adapter, Bus, FeedStatus, NodeEvent};

pub struct Local;

impl Adapter for Local {
    fn bus(&self) -> Bus {
        Bus::Local
    }

    fn publish(&self, _: Message) {}

    /// A feed that has ended before it began.
    fn subscribe(&self) -> mpsc::Receiver<NodeEvent> {
        mpsc::channel(1).1
    }

    fn status(&self) -> FeedStatus {
        FeedStatus::Local
    }

    fn max_payload(&self) -> usize {
        usize::MAX
    }

    fn leave(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}
