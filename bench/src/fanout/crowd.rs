//! The connect step of `fanout`: N shopper sockets, one small task each, joined to one product
//! topic; and the [`Board`] they record arrivals on. A client's whole cost per push is reading
//! the frame, a prefix scan ([`protocol::peek`]), two substring checks and one atomic store: no
//! JSON value, no allocation, no message to another task, so the client is not what is timed.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use sneakers::live::protocol;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::error::BenchError;
use crate::report::{Summary, note, progress};
use crate::ws::{self, SHOPPER_SOCKET, Target};

/// Where every client of one phase records the push it waits for, and when it came.
pub struct Board {
    epoch: Instant,
    /// `product:<id>`.
    topic: Box<str>,
    /// `"item_id":<id>` (followed by anything but a digit).
    item: Box<str>,
    /// Set while an event is being timed; pushes outside one are not counted.
    armed: AtomicBool,
    /// The `"level":"..."` the awaited push carries (an index into [`LEVELS`]; 0: any).
    level: AtomicUsize,
    /// Per client: when it read the push of the current event (ns since `epoch`, plus one), or 0.
    slots: Box<[AtomicU64]>,
    /// Clients that read the push of the current event.
    arrived: AtomicUsize,
    /// Clients whose socket closed or failed, over the whole phase.
    lost: AtomicUsize,
    first_loss: Mutex<Option<String>>,
    /// Woken when the last client has the push (or one is lost).
    progress: Notify,
    /// The size of the awaited push, as client 0 read it.
    frame_bytes: AtomicUsize,
}

/// The level needles a timed push may be asked to carry.
const LEVELS: [&str; 3] = ["", r#""level":"low""#, r#""level":"medium""#];

impl Board {
    pub fn new(clients: usize, topic: &str, item_id: i32) -> Board {
        Board {
            epoch: Instant::now(),
            topic: topic.into(),
            item: format!(r#""item_id":{item_id}"#).into(),
            armed: AtomicBool::new(false),
            level: AtomicUsize::new(0),
            slots: (0..clients).map(|_| AtomicU64::new(0)).collect(),
            arrived: AtomicUsize::new(0),
            lost: AtomicUsize::new(0),
            first_loss: Mutex::new(None),
            progress: Notify::new(),
            frame_bytes: AtomicUsize::new(0),
        }
    }

    pub fn clients(&self) -> usize {
        self.slots.len()
    }

    /// Client `client` read `text`: counted if it is the awaited push of the current event.
    pub fn seen(&self, client: usize, text: &str) {
        if !self.armed.load(Ordering::Acquire) {
            return;
        }
        if !is_awaited(
            text,
            &self.topic,
            &self.item,
            LEVELS[self.level.load(Ordering::Relaxed) % LEVELS.len()],
        ) {
            return;
        }
        let at = self.epoch.elapsed().as_nanos() as u64 + 1;
        let Some(slot) = self.slots.get(client) else {
            return;
        };
        if slot
            .compare_exchange(0, at, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            if client == 0 {
                self.frame_bytes.store(text.len(), Ordering::Relaxed);
            }
            let arrived = self.arrived.fetch_add(1, Ordering::AcqRel) + 1;
            if arrived + self.lost.load(Ordering::Acquire) >= self.slots.len() {
                self.progress.notify_one();
            }
        }
    }

    /// A client's socket closed or failed.
    pub fn lose(&self, reason: String) {
        if let Ok(mut first) = self.first_loss.lock() {
            first.get_or_insert(reason);
        }
        self.lost.fetch_add(1, Ordering::AcqRel);
        self.progress.notify_one();
    }

    /// Starts timing an event whose push carries `level` (`None`: any level); returns its t0.
    pub fn arm(&self, level: Option<&str>) -> Instant {
        self.armed.store(false, Ordering::Release);
        for slot in self.slots.iter() {
            slot.store(0, Ordering::Relaxed);
        }
        self.arrived.store(0, Ordering::Release);
        let index = level
            .and_then(|l| LEVELS.iter().position(|n| n.ends_with(&format!("\"{l}\""))))
            .unwrap_or(0);
        self.level.store(index, Ordering::Relaxed);
        self.armed.store(true, Ordering::Release);
        Instant::now()
    }

    /// Waits until every client has the push (or is lost), or `deadline`.
    pub async fn all_in(&self, deadline: Instant) {
        while self.arrived.load(Ordering::Acquire) + self.lost.load(Ordering::Acquire)
            < self.slots.len()
        {
            if tokio::time::timeout_at(deadline, self.progress.notified())
                .await
                .is_err()
            {
                return;
            }
        }
    }

    /// Stops counting; each client's latency from `t0` (`None`: no push this event).
    pub fn disarm(&self, t0: Instant) -> Vec<Option<Duration>> {
        self.armed.store(false, Ordering::Release);
        let t0 = t0.saturating_duration_since(self.epoch).as_nanos() as u64;
        self.slots
            .iter()
            .map(|slot| match slot.load(Ordering::Acquire) {
                0 => None,
                at => (at - 1).checked_sub(t0).map(Duration::from_nanos),
            })
            .collect()
    }

    pub fn lost(&self) -> (usize, Option<String>) {
        let first = self.first_loss.lock().ok().and_then(|f| f.clone());
        (self.lost.load(Ordering::Acquire), first)
    }

    pub fn frame_bytes(&self) -> Option<usize> {
        Some(self.frame_bytes.load(Ordering::Relaxed)).filter(|b| *b > 0)
    }
}

/// `[_, _, topic, "stock_change", {..."item_id":<id>..., "level":"<level>"...}]`, read without
/// parsing the payload.
fn is_awaited(text: &str, topic: &str, item: &str, level: &str) -> bool {
    matches!(protocol::peek(text), Some((t, "stock_change")) if t == topic)
        && text.match_indices(item).any(|(at, _)| {
            !text
                .as_bytes()
                .get(at + item.len())
                .is_some_and(u8::is_ascii_digit)
        })
        && (level.is_empty() || text.contains(level))
}

/// The clients of one phase, connected and listening.
pub struct Crowd {
    pub board: Arc<Board>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// From the first connect to the last join.
    pub took: Duration,
    /// Each client's connect + join, once its turn came.
    pub each: Option<Summary>,
}

/// How to reach one node: its address, and the socket tokens its clients use in turn.
pub struct Entry {
    pub target: Arc<Target>,
    pub tokens: Vec<Arc<str>>,
}

impl Crowd {
    /// Opens `board.clients()` sockets (client `c` on node `c % entries.len()`), `concurrency`
    /// at a time, each joining the board's topic as a page that already shows the sizes.
    pub async fn connect(
        board: Arc<Board>,
        entries: &[Entry],
        topic: &str,
        concurrency: usize,
        clients_per_token: usize,
    ) -> Result<Crowd, BenchError> {
        let n = board.clients();
        let k = entries.len().max(1);
        let topic: Arc<str> = Arc::from(topic);
        let (connected_tx, mut connected) = mpsc::unbounded_channel();
        let (stop, stop_rx) = watch::channel(false);
        let gate = Arc::new(Semaphore::new(concurrency));
        let mut tasks = JoinSet::new();
        let bar = progress(n as u64, "connecting");
        let started = Instant::now();
        for id in 0..n {
            let Some(entry) = entries.get(id % k) else {
                break;
            };
            let Some(token) = entry
                .tokens
                .get((id / k / clients_per_token.max(1)) % entry.tokens.len().max(1))
            else {
                return Err(BenchError::Usage("no socket token for the clients".into()));
            };
            let client = Client {
                id,
                target: Arc::clone(&entry.target),
                topic: Arc::clone(&topic),
                token: Arc::clone(token),
                gate: Arc::clone(&gate),
                connected: connected_tx.clone(),
                board: Arc::clone(&board),
                stop: stop_rx.clone(),
            };
            tasks.spawn(client.run());
        }
        drop((connected_tx, stop_rx));
        let mut joined = Vec::with_capacity(n);
        let (mut failed, mut first_error) = (0usize, None);
        while joined.len() + failed < n {
            match connected.recv().await {
                Some(Ok(took)) => {
                    joined.push(took);
                    bar.inc(1);
                }
                Some(Err(reason)) => {
                    failed += 1;
                    bar.set_message(format!("{failed} failed"));
                    first_error.get_or_insert(reason);
                }
                None => break,
            }
        }
        let took = started.elapsed();
        bar.finish_and_clear();
        if joined.len() < n {
            let _ = stop.send(true);
            return Err(BenchError::Clients(format!(
                "only {} of {n} clients connected: {}",
                joined.len(),
                first_error.unwrap_or_else(|| "they stopped".into())
            )));
        }
        Ok(Crowd {
            board,
            stop,
            tasks,
            took,
            each: Summary::of(&mut joined),
        })
    }

    /// Closes every socket (politely, for at most a few seconds).
    pub async fn close(mut self) {
        let closing = Instant::now();
        let _ = self.stop.send(true);
        let closed = tokio::time::timeout(Duration::from_secs(15), async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await
        .is_ok();
        self.tasks.abort_all();
        let n = self.board.clients();
        note(format!(
            "close: {} in {:.2} s",
            if closed {
                format!("{n} sockets closed")
            } else {
                "some sockets did not close; dropped".to_string()
            },
            closing.elapsed().as_secs_f64()
        ));
    }
}

/// One client: connect, join, then listen until the crowd closes.
struct Client {
    id: usize,
    target: Arc<Target>,
    topic: Arc<str>,
    token: Arc<str>,
    /// Bounds the connects in flight.
    gate: Arc<Semaphore>,
    /// Connect + join time (once its turn came), or why it failed.
    connected: mpsc::UnboundedSender<Result<Duration, String>>,
    board: Arc<Board>,
    /// Flips to true (or closes) when the phase is done.
    stop: watch::Receiver<bool>,
}

impl Client {
    async fn run(self) {
        let joined = {
            let Ok(_permit) = self.gate.acquire().await else {
                return;
            };
            let started = Instant::now();
            let mut stop = self.stop.clone();
            tokio::select! {
                joined = self.connect_and_join() => joined.map(|socket| (socket, started.elapsed())),
                _ = stop.changed() => return,
            }
        };
        let mut socket = match joined {
            Ok((socket, took)) => {
                let _ = self.connected.send(Ok(took));
                socket
            }
            Err(reason) => {
                let _ = self.connected.send(Err(reason));
                return;
            }
        };
        let (id, board, mut stop) = (self.id, self.board, self.stop);
        let stopped = async move {
            let _ = stop.changed().await;
        };
        match ws::listen(&mut socket, stopped, |text| board.seen(id, text)).await {
            Some(reason) => board.lose(reason),
            None => ws::close(&mut socket).await,
        }
    }

    async fn connect_and_join(&self) -> Result<ws::Socket, String> {
        let id = u32::try_from(self.id).unwrap_or(u32::MAX);
        let mut socket = ws::connect(
            id,
            &self.target,
            SHOPPER_SOCKET,
            &self.token,
            ws::small_config(),
        )
        .await?;
        // As the shim does on a page that already shows the sizes.
        let payload = json!({ "sizes_shown": true });
        ws::join(&mut socket, &self.topic, &payload, self.target.timeout).await?;
        Ok(socket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUSH: &str = r#"[null,null,"product:3","stock_change",{"html":"<form id=\"item-12\"></form>","item_id":12,"level":"low","product_id":3}]"#;

    #[test]
    fn waits_for_the_stock_change_of_its_item_on_its_topic() {
        assert!(is_awaited(PUSH, "product:3", r#""item_id":12"#, ""));
        assert!(is_awaited(PUSH, "product:3", r#""item_id":12"#, LEVELS[1]));
        assert!(!is_awaited(PUSH, "product:3", r#""item_id":12"#, LEVELS[2]));
        assert!(!is_awaited(PUSH, "product:4", r#""item_id":12"#, ""));
        // item 1 is not item 12
        assert!(!is_awaited(PUSH, "product:3", r#""item_id":1"#, ""));
        let released = r#"["1",null,"product:3","released",{"html":"stock_change","item_id":12}]"#;
        assert!(!is_awaited(released, "product:3", r#""item_id":12"#, ""));
    }

    #[test]
    fn counts_each_client_once_per_event_and_times_it_from_t0() {
        let board = Board::new(3, "product:3", 12);
        board.seen(0, PUSH);
        assert_eq!(board.arrived.load(Ordering::Relaxed), 0, "not armed yet");
        let t0 = board.arm(Some("low"));
        board.seen(0, PUSH);
        board.seen(0, PUSH);
        board.seen(2, PUSH);
        board.seen(9, PUSH);
        assert_eq!(board.arrived.load(Ordering::Relaxed), 2);
        let latencies = board.disarm(t0);
        assert_eq!(latencies.len(), 3);
        assert!(latencies[0].is_some() && latencies[1].is_none() && latencies[2].is_some());
        assert_eq!(board.frame_bytes(), Some(PUSH.len()));
        // The next event starts empty, and waits for another level.
        let t1 = board.arm(Some("medium"));
        board.seen(1, PUSH);
        assert!(board.disarm(t1).iter().all(Option::is_none));
        board.lose("closed".into());
        assert_eq!(board.lost(), (1, Some("closed".to_string())));
    }
}
