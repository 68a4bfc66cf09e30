//! The node's one bus. The inventory service publishes every change it makes or applies, and the
//! shopper's cart changes travel on it too; `live::fanout` turns each into pushes and
//! `live::cluster` ships the local ones to the other nodes.

use crate::domain::{ItemChange, ProductId, SessionId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Released {
        product_id: ProductId,
    },
    StockChanged(ItemChange),
    /// An admin created, edited, archived or deleted a product: its pages re-render it (or
    /// say it is gone) from the cache, which holds it as the database does now.
    ProductChanged {
        product_id: ProductId,
    },
    /// A cart changed (a tab's channel, a plain form post, a checkout): every tab of it takes
    /// the new signed cart. `origin` is the channel that made it (0 for a form), which already
    /// shows the new state.
    CartChanged {
        cart_id: String,
        serialized: String,
        origin: u64,
    },
    /// A shopper's holds changed: their tabs re-read them from the database.
    HoldsChanged {
        holder: String,
    },
    /// An order's state changed.
    OrderChanged {
        order_id: i32,
        holder: String,
    },
    /// A line was read again and these holders' places changed (each node's own, never
    /// replicated).
    LineMoved {
        product_id: ProductId,
        holders: Vec<String>,
    },
    /// A draw entry's standing changed (entered, withdrawn, void, won, lost, passed over):
    /// its shopper's tabs show it; `standing` is `domain::draw::Standing::code`.
    DrawEntry {
        product_id: ProductId,
        holder: String,
        standing: String,
    },
    /// A product's draw is made: its pages show it and link the published draw.
    DrawMade {
        product_id: ProductId,
    },
    /// Sessions ended (a logout, sign out everywhere, a password change): every node forgets
    /// them and closes the connections opened under them.
    SessionsEnded {
        ids: Vec<SessionId>,
    },
}

/// An event as the bus carries it: `local` when this node made the change (so it is
/// replicated to the others), not when it was applied from another node (never re-published).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub event: Event,
    pub local: bool,
}
