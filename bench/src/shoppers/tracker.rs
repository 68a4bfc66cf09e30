//! The bench's view of `shoppers`: who is joining, who is in (and can be made to leave), which
//! joins the admin has not seen yet, and what every shopper reported; and the [`Spawner`] that
//! starts shoppers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::shopper::{Event, Shopper};
use crate::http::Session;
use crate::ws::Target;

/// The pages shoppers say they are on.
const PAGES: [&str; 4] = ["/", "/products/1", "/products/2", "/checkout"];

/// Which part of the run a join belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Initial,
    Churn,
}

/// The bench's view of everyone, fed by [`Event`]s.
pub struct Tracker {
    pub phase: Phase,
    /// Joins sent that the admin has not seen yet.
    pub waiting: HashMap<Arc<str>, (Instant, Phase)>,
    pub lags: [Vec<Duration>; 2],
    /// Shoppers joining; the handle to make each leave.
    pub joining: HashMap<u32, oneshot::Sender<()>>,
    /// Shoppers in, who can be made to leave.
    pub present: Vec<Present>,
    pub ready: usize,
    pub failed: usize,
    pub first_failure: Option<String>,
    pub lost: usize,
    pub first_lost: Option<String>,
    pub added: u64,
    pub sold_out: u64,
    pub duplicate: u64,
    pub refused: u64,
    pub first_refusal: Option<String>,
    pub cart_pushes: u64,
    pub token_pushes: u64,
    pub diffs: usize,
    /// Keys joined and left, as the diffs said.
    pub joins_seen: usize,
    pub leaves_seen: usize,
    pub last_diff: Option<Instant>,
    /// The last `data-count` of `#admin-shoppers`.
    pub admin_count: Option<u64>,
    pub admin_lost: Option<String>,
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker {
            phase: Phase::Initial,
            waiting: HashMap::new(),
            lags: [Vec::new(), Vec::new()],
            joining: HashMap::new(),
            present: Vec::new(),
            ready: 0,
            failed: 0,
            first_failure: None,
            lost: 0,
            first_lost: None,
            added: 0,
            sold_out: 0,
            duplicate: 0,
            refused: 0,
            first_refusal: None,
            cart_pushes: 0,
            token_pushes: 0,
            diffs: 0,
            joins_seen: 0,
            leaves_seen: 0,
            last_diff: None,
            admin_count: None,
            admin_lost: None,
        }
    }

    pub fn handle(&mut self, event: Event) {
        match event {
            Event::Joining { cart, at } => {
                self.waiting.insert(cart, (at, self.phase));
            }
            Event::Ready { id, cart, result } => {
                let leave = self.joining.remove(&id);
                match result {
                    Ok(carted) => {
                        self.ready += 1;
                        self.added += u64::from(carted.added);
                        self.sold_out += u64::from(carted.sold_out);
                        self.duplicate += u64::from(carted.duplicate);
                        self.cart_pushes += u64::from(carted.cart_pushes);
                        self.token_pushes += u64::from(carted.token_pushes);
                        if let Some(refusal) = carted.refused {
                            self.refused += 1;
                            self.first_refusal.get_or_insert(refusal);
                        }
                        if let Some(leave) = leave {
                            self.present.push(Present { id, cart, leave });
                        }
                    }
                    Err(reason) => {
                        self.failed += 1;
                        self.first_failure.get_or_insert(reason);
                        self.waiting.remove(&cart);
                    }
                }
            }
            Event::Lost { id, reason } => {
                self.lost += 1;
                self.first_lost.get_or_insert(reason);
                self.present.retain(|present| present.id != id);
            }
            Event::Diff {
                at,
                joins,
                leaves,
                shoppers,
            } => {
                self.diffs += 1;
                self.joins_seen += joins.len();
                self.leaves_seen += leaves;
                self.last_diff = Some(at);
                if shoppers.is_some() {
                    self.admin_count = shoppers;
                }
                for key in joins {
                    if let Some((sent, phase)) = self.waiting.remove(key.as_str()) {
                        self.lags[phase as usize].push(at.saturating_duration_since(sent));
                    }
                }
            }
            Event::AdminLost(reason) => {
                self.admin_lost.get_or_insert(reason);
            }
        }
    }

    /// Makes up to `count` random present shoppers leave: only those the admin has seen
    /// arrive (one that joins and leaves within one flush is rightly never shown), so every
    /// join gets its lag. How many left.
    pub fn send_away(&mut self, count: usize) -> usize {
        let mut rng = rand::rng();
        self.present.shuffle(&mut rng);
        let mut sent = 0;
        let mut index = 0;
        while sent < count && index < self.present.len() {
            if self.waiting.contains_key(&self.present[index].cart) {
                index += 1;
                continue;
            }
            let present = self.present.swap_remove(index);
            let _ = present.leave.send(());
            sent += 1;
        }
        sent
    }
}

/// A shopper in, who can be made to leave.
pub struct Present {
    id: u32,
    cart: Arc<str>,
    leave: oneshot::Sender<()>,
}

/// Starts shoppers and remembers how to make them leave.
pub struct Spawner {
    pub target: Arc<Target>,
    pub items: Vec<i32>,
    pub gate: Arc<Semaphore>,
    pub events: mpsc::UnboundedSender<Event>,
    pub stop: watch::Receiver<bool>,
    pub sessions: std::vec::IntoIter<Session>,
    pub next_id: u32,
}

impl Spawner {
    /// Starts up to `count` shoppers (as many as sessions are left); how many started.
    pub fn spawn(&mut self, count: usize, tracker: &mut Tracker, tasks: &mut JoinSet<()>) -> usize {
        let mut rng = rand::rng();
        let mut started = 0;
        for session in self.sessions.by_ref().take(count) {
            let id = self.next_id;
            self.next_id += 1;
            let wanted = rng.random_range(1..=2usize);
            let items = self
                .items
                .choose_multiple(&mut rng, wanted)
                .copied()
                .collect();
            let page = PAGES.choose(&mut rng).copied().unwrap_or("/");
            let (leave_tx, leave) = oneshot::channel();
            tracker.joining.insert(id, leave_tx);
            let shopper = Shopper {
                id,
                target: Arc::clone(&self.target),
                session,
                page,
                items,
                gate: Arc::clone(&self.gate),
                events: self.events.clone(),
                leave,
                stop: self.stop.clone(),
            };
            tasks.spawn(shopper.run());
            started += 1;
        }
        started
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shoppers::shopper::Carted;

    fn ready(tracker: &mut Tracker, id: u32, cart: &Arc<str>) -> oneshot::Receiver<()> {
        let (leave_tx, leave) = oneshot::channel();
        tracker.joining.insert(id, leave_tx);
        tracker.handle(Event::Joining {
            cart: Arc::clone(cart),
            at: Instant::now(),
        });
        tracker.handle(Event::Ready {
            id,
            cart: Arc::clone(cart),
            result: Ok(Carted {
                added: 2,
                ..Carted::default()
            }),
        });
        leave
    }

    #[test]
    fn times_each_join_until_a_diff_names_it_and_sends_away_only_the_seen() {
        let mut tracker = Tracker::new();
        let (seen, unseen): (Arc<str>, Arc<str>) = (Arc::from("abc"), Arc::from("def"));
        let mut seen_leave = ready(&mut tracker, 1, &seen);
        let mut unseen_leave = ready(&mut tracker, 2, &unseen);
        assert_eq!(
            (tracker.ready, tracker.added, tracker.present.len()),
            (2, 4, 2)
        );
        tracker.handle(Event::Diff {
            at: Instant::now(),
            joins: vec!["abc".into()],
            leaves: 0,
            shoppers: Some(1),
        });
        assert_eq!(tracker.lags[Phase::Initial as usize].len(), 1);
        assert_eq!(tracker.admin_count, Some(1));
        assert!(tracker.waiting.contains_key("def"));
        // Only the shopper the admin has seen arrive may leave.
        assert_eq!(tracker.send_away(2), 1);
        assert!(seen_leave.try_recv().is_ok());
        assert!(unseen_leave.try_recv().is_err());
        tracker.handle(Event::Lost {
            id: 2,
            reason: "closed".into(),
        });
        assert_eq!((tracker.lost, tracker.present.len()), (1, 0));
    }
}
