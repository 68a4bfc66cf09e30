//! A TCP relay that a test can cut: a node connects to Redis through it, and `cut` drops its
//! connections and refuses new ones (a network partition between that node and Redis only)
//! until `restore`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

pub struct Cut {
    pub port: u16,
    down: Arc<AtomicBool>,
    /// Cancelled on `cut`: every relayed connection ends.
    links: Arc<std::sync::Mutex<CancellationToken>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Cut {
    fn drop(&mut self) {
        self.task.abort();
        self.links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .cancel();
    }
}

impl Cut {
    /// Relays 127.0.0.1:<new port> to 127.0.0.1:`target`.
    pub async fn to(target: u16) -> Cut {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{e}"))
            .port();
        let down = Arc::new(AtomicBool::new(false));
        let links = Arc::new(std::sync::Mutex::new(CancellationToken::new()));
        let (is_down, all) = (Arc::clone(&down), Arc::clone(&links));
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if is_down.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let stop = all
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .child_token();
                tokio::spawn(relay(client, target, stop));
            }
        });
        Cut {
            port,
            down,
            links,
            task,
        }
    }

    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        let mut links = self
            .links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        links.cancel();
        *links = CancellationToken::new();
    }

    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

async fn relay(mut client: TcpStream, target: u16, stop: CancellationToken) {
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", target)).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        () = stop.cancelled() => {}
    }
}
