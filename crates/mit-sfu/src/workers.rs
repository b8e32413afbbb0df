//! The media plane's workers: a fixed set of threads, about one per core, each running its own
//! single-threaded tokio runtime (its own timer and I/O driver) and on it a media engine
//! ([`crate::engine`]). A room is placed on one worker when it opens and stays there, so
//! everything a room's packets touch — its connections' `rtc` state machines, their timers and
//! the fan-out between them — runs on one thread: a forwarded packet crosses no other thread
//! after the port's receive task, and no lock is shared between rooms.
//!
//! Placement is a plain function of the workers' loads ([`least_loaded`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::engine::EngineInbox;
use crate::mux::UdpPort;

/// The worker threads of one media plane.
pub(crate) struct Workers {
    workers: Vec<Arc<Worker>>,
}

/// One worker: its media engine, and how many rooms it holds.
pub(crate) struct Worker {
    engine: EngineInbox,
    rooms: AtomicUsize,
}

/// A room's place on a worker; the worker counts the room until this is dropped.
pub(crate) struct Placement {
    worker: Arc<Worker>,
}

impl Workers {
    /// Starts `count` workers (at least one), each with a media engine sending from `socket`.
    pub(crate) fn start(count: usize, socket: &Arc<UdpPort>) -> std::io::Result<Self> {
        let workers = (0..count.max(1)).map(|index| start_worker(index, socket.clone())).collect::<std::io::Result<Vec<_>>>()?;
        Ok(Self { workers })
    }

    /// One worker whose engine's inputs go to `engine` (tests drive the forwarder themselves).
    #[cfg(test)]
    pub(crate) fn with_engine(engine: EngineInbox) -> Self {
        let worker = Worker { engine, rooms: AtomicUsize::new(0) };
        Self { workers: vec![Arc::new(worker)] }
    }

    /// Places a new room on the worker holding the fewest rooms.
    pub(crate) fn place(&self) -> Placement {
        let loads: Vec<usize> = self.workers.iter().map(|worker| worker.rooms.load(Ordering::Relaxed)).collect();
        let worker = self.workers[least_loaded(&loads)].clone();
        worker.rooms.fetch_add(1, Ordering::Relaxed);
        Placement { worker }
    }
}

impl Placement {
    /// The worker's media engine, which drives the room's connections.
    pub(crate) fn engine(&self) -> &EngineInbox {
        &self.worker.engine
    }
}

impl Drop for Placement {
    fn drop(&mut self) {
        self.worker.rooms.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The index of the smallest load; ties go to the lowest index. `loads` is never empty.
fn least_loaded(loads: &[usize]) -> usize {
    loads.iter().enumerate().min_by_key(|(index, load)| (**load, *index)).map_or(0, |(index, _)| index)
}

/// A thread that runs a current-thread runtime until the process ends. The media plane lives
/// as long as the server, so its workers are never stopped.
fn start_worker(index: usize, socket: Arc<UdpPort>) -> std::io::Result<Arc<Worker>> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let handle = runtime.handle().clone();
    let engine = {
        let _on_worker = handle.enter();
        crate::engine::start(socket)
    };
    std::thread::Builder::new().name(format!("mit-media-{index}")).spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    Ok(Arc::new(Worker { engine, rooms: AtomicUsize::new(0) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_loaded_worker_wins_and_ties_go_to_the_first() {
        assert_eq!(least_loaded(&[0]), 0);
        assert_eq!(least_loaded(&[2, 1, 1]), 1);
        assert_eq!(least_loaded(&[0, 0]), 0);
        assert_eq!(least_loaded(&[3, 4, 0]), 2);
    }

    fn socket() -> Arc<UdpPort> {
        Arc::new(UdpPort::bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0))).expect("a UDP port"))
    }

    #[tokio::test]
    async fn rooms_spread_over_the_workers_and_leave_them_when_closed() {
        let workers = Workers::start(2, &socket()).expect("two workers");
        let first = workers.place();
        let second = workers.place();
        assert!(!Arc::ptr_eq(&first.worker, &second.worker), "two rooms on two idle workers share one");
        drop(first);
        let third = workers.place();
        assert!(!Arc::ptr_eq(&third.worker, &second.worker), "the freed worker takes the next room");
    }
}
