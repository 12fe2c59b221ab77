//! An async TCP echo server on rouse's `Reactor` and `Registration`, with a
//! minimal single-threaded executor written right here (no runtime crate).
//!
//! ```text
//! cargo run --example async_echo --features async -- 127.0.0.1:9000
//! # on poll(2) instead of epoll:
//! cargo run --example async_echo --no-default-features --features std,net,poll,async
//! ```
//!
//! Prints `listening on ADDR`, then echoes every connection until it closes.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};

use rouse::net::{TcpListener, TcpStream};
use rouse::registration::{Reactor, Registration};
use rouse::sys::DefaultSelector;
use rouse::Interest;

/// Registrations the reactor can hold: the listener and the connections.
const SLOTS: usize = 256;

type Reactor256 = Reactor<DefaultSelector, SLOTS>;

/// A socket with its registration: the async face of a rouse net type.
struct Async<'r, T: rouse::event::Source> {
    io: T,
    reg: Registration<'r, DefaultSelector, SLOTS>,
}

impl<'r, T: rouse::event::Source> Async<'r, T> {
    fn new(reactor: &'r Reactor256, mut io: T) -> io::Result<Self> {
        let reg = Registration::new(reactor, &mut io, Interest::READABLE | Interest::WRITABLE)?;
        Ok(Async { io, reg })
    }

    fn close(mut self) {
        // Deregister before the socket is dropped (closed).
        let _ = self.reg.deregister(&mut self.io);
    }
}

impl Async<'_, TcpListener> {
    async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.reg.poll_read_io(cx, || self.io.accept())).await
    }
}

impl Async<'_, TcpStream> {
    async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.reg.poll_read_io(cx, || (&self.io).read(buf))).await
    }

    async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = poll_fn(|cx| self.reg.poll_write_io(cx, || (&self.io).write(buf))).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
        }
        Ok(())
    }
}

async fn echo(conn: Async<'_, TcpStream>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if conn.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    conn.close();
}

// ---- the executor: a task list, a run queue, a waker that queues ------

type Task<'r> = Pin<Box<dyn Future<Output = ()> + 'r>>;

struct TaskWaker {
    id: usize,
    queue: Arc<Mutex<VecDeque<usize>>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.queue.lock().unwrap().push_back(self.id);
    }
}

/// New tasks spawned while another task runs.
type Spawner<'r> = Rc<RefCell<Vec<Task<'r>>>>;

fn run<'r>(reactor: &'r Reactor256, spawner: Spawner<'r>) -> io::Result<()> {
    let queue = Arc::new(Mutex::new(VecDeque::new()));
    let mut tasks: Vec<Option<(Task<'r>, Waker)>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    loop {
        for task in spawner.borrow_mut().drain(..) {
            let id = free.pop().unwrap_or(tasks.len());
            let waker = Waker::from(Arc::new(TaskWaker {
                id,
                queue: queue.clone(),
            }));
            if id == tasks.len() {
                tasks.push(None);
            }
            tasks[id] = Some((task, waker));
            queue.lock().unwrap().push_back(id);
        }
        let next = queue.lock().unwrap().pop_front();
        match next {
            Some(id) => {
                let Some((task, waker)) = tasks[id].as_mut() else {
                    continue; // woken after it finished
                };
                let mut cx = Context::from_waker(waker);
                if task.as_mut().poll(&mut cx).is_ready() {
                    tasks[id] = None;
                    free.push(id);
                }
            }
            // Nothing to run: wait for readiness.
            None if spawner.borrow().is_empty() => {
                reactor.turn(None)?;
            }
            None => {}
        }
    }
}

fn main() -> io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".to_string())
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let reactor = Reactor256::new()?;
    let listener = Async::new(&reactor, TcpListener::bind(addr)?)?;
    println!("listening on {}", listener.io.local_addr()?);
    io::stdout().flush()?;

    let spawner: Spawner<'_> = Rc::new(RefCell::new(Vec::new()));
    let spawn = spawner.clone();
    let reactor_ref = &reactor;
    spawner.borrow_mut().push(Box::pin(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => match Async::new(reactor_ref, stream) {
                    Ok(conn) => spawn.borrow_mut().push(Box::pin(echo(conn))),
                    Err(e) => eprintln!("cannot register connection: {e}"),
                },
                Err(e) => eprintln!("accept failed: {e}"),
            }
        }
    }));
    run(&reactor, spawner)
}
