//! Phoenix's LongPoll transport, the live half: one tokio task per session holding its
//! [`Session`] (the same channel state machine a WebSocket drives), a buffer of frames for the
//! next poll, and at most one waiting poll. The web layer turns HTTP requests into
//! [`Request`]s and [`Answer`]s back into Phoenix's `{"status", "token", "messages"}`.
//!
//! Several nodes, no sticky sessions: a session lives on the node that opened it, and its
//! token names that node (`node|session_id`, signed). A request that lands elsewhere is asked
//! of the owner over the cluster (`cluster::request`, the `longpoll` service); the node that
//! took the HTTP request waits for the answer with a timeout (a poll: the window and a margin;
//! a send: the margin), and answers "gone" (410: the client opens a new session and rejoins)
//! when none comes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::cluster::{Cluster, FeedStatus};
use super::outbox::{Next, Outbox};
use super::session::{Incoming, Session};
use super::{Identity, Live};

/// Hub pushes waiting for the session's task (as a WebSocket's queue).
const QUEUE_CAPACITY: usize = 128;
/// Frames waiting for a poll: a client that lets this many pile up is not polling; its
/// session ends (it gets 410, opens a new one and rejoins: it converges).
const MAX_BUFFERED: usize = 512;
const BATCH: usize = 64;
/// Commands waiting for a session's task (polls and sends of one client: a few at most).
const COMMANDS: usize = 16;
/// How long a relayed request may take beyond its own wait (the bus is milliseconds).
const RELAY_MARGIN: Duration = Duration::from_secs(3);
/// The cluster service other nodes ask for this node's sessions.
const SERVICE: &str = "longpoll";

/// The node and id of a session, as its signed token holds them: `node|session_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRef {
    pub node: String,
    pub id: String,
}

impl SessionRef {
    pub fn to_data(&self) -> String {
        format!("{}|{}", self.node, self.id)
    }

    /// The session id never holds `|`; a node name may.
    pub fn parse(data: &str) -> Option<SessionRef> {
        let (node, id) = data.rsplit_once('|')?;
        (!node.is_empty() && !id.is_empty()).then(|| SessionRef {
            node: node.to_string(),
            id: id.to_string(),
        })
    }
}

/// What a client asks of its session.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Request {
    /// The frames waiting, or wait for some up to the window.
    Poll { session: String },
    /// Frames from the client, each a Phoenix V2 frame.
    Send {
        session: String,
        frames: Vec<String>,
    },
}

impl Request {
    fn session(&self) -> &str {
        match self {
            Request::Poll { session } | Request::Send { session, .. } => session,
        }
    }
}

/// What the session says back.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Answer {
    /// Frames for the client (already encoded).
    Messages { messages: Vec<String> },
    /// The window passed with nothing to say.
    Empty,
    /// The frames sent were dispatched.
    Sent,
    /// No such session (ended, expired, or its node is gone): open a new one.
    Gone,
    /// The client sent past its flood limit: its session is closed.
    Flooded,
}

enum Command {
    Poll(oneshot::Sender<Answer>),
    Send(Vec<String>, oneshot::Sender<Answer>),
}

/// Why a session ends.
#[derive(Debug, Clone, Copy)]
enum Ending {
    Idle,
    TooSlow,
    Flooded,
    Shutdown,
}

/// This node's longpoll sessions.
pub struct LongPolls {
    window: Duration,
    sessions: Mutex<HashMap<String, mpsc::Sender<Command>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LongPolls {
    pub fn new(window: Duration) -> LongPolls {
        LongPolls {
            window,
            sessions: Mutex::default(),
        }
    }

    /// Answers the other nodes' requests for this node's sessions.
    pub fn serve_relayed(this: &Arc<LongPolls>, cluster: &Cluster) {
        let this = Arc::clone(this);
        cluster.requests.serve(
            SERVICE,
            Arc::new(move |body: String| {
                let this = Arc::clone(&this);
                Box::pin(async move {
                    let answer = match serde_json::from_str::<Request>(&body) {
                        Ok(request) => this.local(request).await,
                        Err(error) => {
                            tracing::warn!(%error, "unreadable relayed longpoll request");
                            Answer::Gone
                        }
                    };
                    serde_json::to_string(&answer)
                        .expect("answers are plain data: they always serialize")
                })
            }),
        );
    }

    /// How long a poll waits for something to say.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Sessions open on this node.
    pub fn len(&self) -> usize {
        lock(&self.sessions).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Opens a session for `identity`, who connected from `address`, on this node: its task is
    /// tracked with the sockets, so shutdown waits for it. `None` when the node is shutting
    /// down.
    pub fn open(
        live: &Arc<Live>,
        identity: Identity,
        address: std::net::IpAddr,
    ) -> Option<SessionRef> {
        if live.shutdown.is_cancelled() {
            return None;
        }
        let id = format!("{:032x}", rand::random::<u128>());
        let (commands, receiver) = mpsc::channel(COMMANDS);
        lock(&live.longpoll.sessions).insert(id.clone(), commands);
        let task_live = Arc::clone(live);
        let task_id = id.clone();
        live.sockets
            .spawn(async move { run(task_live, task_id, (identity, address), receiver).await });
        Some(SessionRef {
            node: live.cluster.node().to_string(),
            id,
        })
    }

    /// Answers a request for the session `owner` names: here, or asked of its node.
    pub async fn dispatch(live: &Arc<Live>, owner: &str, request: Request) -> Answer {
        if owner == live.cluster.node() {
            return live.longpoll.local(request).await;
        }
        if live.cluster.status() == FeedStatus::Local {
            // No other node can be reached: the session cannot be.
            return Answer::Gone;
        }
        let (limit, polling) = match request {
            Request::Poll { .. } => (live.longpoll.window + RELAY_MARGIN, true),
            Request::Send { .. } => (RELAY_MARGIN, false),
        };
        let body = serde_json::to_string(&request)
            .expect("requests are plain data: they always serialize");
        metrics::counter!("sneakers_longpoll_relayed_total").increment(1);
        tokio::select! {
            answer = live.cluster.ask(owner, SERVICE, &body, limit) => {
                match answer.map(|text| serde_json::from_str::<Answer>(&text)) {
                    Some(Ok(answer)) => answer,
                    Some(Err(error)) => {
                        tracing::warn!(%error, %owner, "unreadable relayed longpoll answer");
                        Answer::Gone
                    }
                    None => Answer::Gone,
                }
            }
            // This node stops: an empty poll sends the client to another one.
            () = live.shutdown.cancelled(), if polling => Answer::Empty,
        }
    }

    async fn local(&self, request: Request) -> Answer {
        let commands = lock(&self.sessions).get(request.session()).cloned();
        let Some(commands) = commands else {
            return Answer::Gone;
        };
        let (reply, answer) = oneshot::channel();
        let command = match request {
            Request::Poll { .. } => Command::Poll(reply),
            Request::Send { frames, .. } => Command::Send(frames, reply),
        };
        if commands.send(command).await.is_err() {
            return Answer::Gone;
        }
        // The task always answers (a poll within the window); a dropped reply means it ended.
        answer.await.unwrap_or(Answer::Gone)
    }
}

/// One session's task: commands from requests, pushes from its subscriptions, the window of
/// the waiting poll, the idle limit (1.5 windows without a poll), the node's shutdown.
async fn run(
    live: Arc<Live>,
    id: String,
    (identity, address): (Identity, std::net::IpAddr),
    mut commands: mpsc::Receiver<Command>,
) {
    metrics::gauge!("sneakers_longpoll_sessions").increment(1.0);
    tracing::debug!(session = %id, "longpoll session opens");
    let outbox = Outbox::new(QUEUE_CAPACITY);
    let mut session = Session::new(Arc::clone(&live), identity, address, outbox.clone());
    let window = live.longpoll.window;
    let idle = window + window / 2;
    let shutdown = live.shutdown.clone().cancelled_owned();
    tokio::pin!(shutdown);
    let mut closing_at: Option<Instant> = None;
    let mut last_poll = Instant::now();
    let mut waiting: Option<(oneshot::Sender<Answer>, Instant)> = None;
    let mut buffer: Vec<Utf8Bytes> = Vec::new();
    let mut queued = Vec::new();
    let ending = loop {
        if !buffer.is_empty()
            && let Some((poll, _)) = waiting.take()
        {
            last_poll = Instant::now();
            let messages = buffer.drain(..).map(|f| f.as_str().to_owned()).collect();
            if let Err(Answer::Messages { messages }) = poll.send(Answer::Messages { messages }) {
                // The poll's client went away meanwhile: keep them for the next one.
                buffer = messages.into_iter().map(Utf8Bytes::from).collect();
            }
        }
        if buffer.len() > MAX_BUFFERED {
            metrics::counter!("sneakers_slow_clients_dropped_total").increment(1);
            break Ending::TooSlow;
        }
        let deadline = waiting.as_ref().map_or(last_poll + idle, |(_, at)| *at);
        let wake = closing_at.map_or(deadline, |at| at.min(deadline));
        tokio::select! {
            biased;
            next = outbox.next(&mut queued, BATCH) => match next {
                Next::Killed => break Ending::TooSlow,
                Next::Messages => {
                    for outbound in queued.drain(..) {
                        session.take(outbound, &mut buffer);
                    }
                }
            },
            command = commands.recv() => match command {
                // The registry let go of us: nothing can reach this session any more.
                None => break Ending::Shutdown,
                Some(Command::Poll(poll)) => {
                    last_poll = Instant::now();
                    if let Some((previous, _)) = waiting.replace((poll, last_poll + window)) {
                        // A newer poll of the same client replaces it (Phoenix keeps one).
                        let _ = previous.send(Answer::Empty);
                    }
                }
                Some(Command::Send(frames, done)) => {
                    last_poll = Instant::now();
                    let flooded = frames
                        .iter()
                        .any(|frame| session.receive(Incoming::Text(frame), &mut buffer).is_err());
                    if flooded {
                        let _ = done.send(Answer::Flooded);
                        break Ending::Flooded;
                    }
                    let _ = done.send(Answer::Sent);
                }
            },
            () = sleep_until(wake) => {
                let now = Instant::now();
                if closing_at.is_some_and(|at| at <= now) {
                    break Ending::Shutdown;
                }
                match waiting.take() {
                    Some((poll, at)) if at <= now => {
                        last_poll = now;
                        let _ = poll.send(Answer::Empty);
                    }
                    Some(still) => waiting = Some(still),
                    None if now >= last_poll + idle => break Ending::Idle,
                    None => {}
                }
            }
            () = &mut shutdown, if closing_at.is_none() => {
                // Not all at once, as sockets: every client would come back in the same second.
                let spread = live.shutdown_spread.as_millis() as u64;
                closing_at = Some(Instant::now() + Duration::from_millis(rand::random_range(0..=spread)));
            }
        }
        if buffer.capacity() > 8 && buffer.is_empty() {
            buffer = Vec::new();
        }
    };
    lock(&live.longpoll.sessions).remove(&id);
    tracing::debug!(session = %id, ?ending, channels = session.channel_count(), "longpoll session ends");
    // Its channels end as a closed WebSocket's do (presence sees the leaves).
    session.leave_all();
    if let Some((poll, _)) = waiting {
        let _ = poll.send(Answer::Gone);
    }
    commands.close();
    while let Ok(command) = commands.try_recv() {
        match command {
            Command::Poll(reply) | Command::Send(_, reply) => {
                let _ = reply.send(Answer::Gone);
            }
        }
    }
    metrics::gauge!("sneakers_longpoll_sessions").decrement(1.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_refs_round_trip_with_bars_in_node_names() {
        let r = SessionRef {
            node: "web|1".into(),
            id: "abc".into(),
        };
        assert_eq!(SessionRef::parse(&r.to_data()), Some(r));
        assert_eq!(SessionRef::parse("nobar"), None);
        assert_eq!(SessionRef::parse("node|"), None);
        assert_eq!(SessionRef::parse("|id"), None);
    }

    #[test]
    fn requests_and_answers_cross_the_bus_as_json() {
        let request = Request::Send {
            session: "s".into(),
            frames: vec!["[null,\"1\",\"phoenix\",\"heartbeat\",{}]".into()],
        };
        let text = serde_json::to_string(&request).unwrap_or_default();
        assert_eq!(serde_json::from_str::<Request>(&text).ok(), Some(request));
        let answer = Answer::Messages {
            messages: vec!["x".into()],
        };
        let text = serde_json::to_string(&answer).unwrap_or_default();
        assert_eq!(serde_json::from_str::<Answer>(&text).ok(), Some(answer));
    }
}
