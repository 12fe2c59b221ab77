//! A tokio TCP echo, server and clients in one process: the program whose
//! wall time and size compare tokio on real mio with tokio on rouse
//! (`benches/tokio_facade/run`). The same source is built by two manifests:
//! `Cargo.toml` (real mio) and `rouse/Cargo.toml` (`[patch.crates-io]` to
//! facade/mio).
//!
//!     tokio_facade_mio [CONNECTIONS] [ROUNDS] [BYTES] [BULK_MB]
//!
//! CONNECTIONS clients (64) each send ROUNDS (500) messages of BYTES (64)
//! bytes and wait for each echo; then 4 clients each push BULK_MB (8) MiB
//! through while reading the echo at the same time. Every byte is checked.
//! Loopback only; every loop is bounded by its counts.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .map(|a| a.parse().expect("arguments are numbers"))
        .unwrap_or(default)
}

async fn serve(listener: TcpListener) {
    loop {
        let (mut stream, _) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => panic!("accept: {e}"),
        };
        tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = stream.read(&mut buf).await.expect("server read");
                if n == 0 {
                    return;
                }
                stream.write_all(&buf[..n]).await.expect("server write");
            }
        });
    }
}

/// ROUNDS request/response round trips of BYTES bytes.
async fn ping_pong(addr: SocketAddr, rounds: usize, bytes: usize, seed: u8) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let msg: Vec<u8> = (0..bytes).map(|i| (i as u8).wrapping_add(seed)).collect();
    let mut back = vec![0u8; bytes];
    for _ in 0..rounds {
        stream.write_all(&msg).await.expect("client write");
        stream.read_exact(&mut back).await.expect("client read");
        assert_eq!(back, msg, "echo differs");
    }
}

/// `mib` MiB pushed through while the echo is read at the same time.
async fn bulk(addr: SocketAddr, mib: usize, seed: u8) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let total = mib << 20;
    let writer = tokio::spawn(async move {
        let chunk: Vec<u8> = (0..64 * 1024).map(|i| (i as u8) ^ seed).collect();
        let mut sent = 0;
        while sent < total {
            let n = chunk.len().min(total - sent);
            wr.write_all(&chunk[..n]).await.expect("bulk write");
            sent += n;
        }
        wr.shutdown().await.expect("shutdown");
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    loop {
        let n = rd.read(&mut buf).await.expect("bulk read");
        if n == 0 {
            break;
        }
        for (i, b) in buf[..n].iter().enumerate() {
            assert_eq!(*b, (((got + i) % (64 * 1024)) as u8) ^ seed, "bulk byte");
        }
        got += n;
    }
    assert_eq!(got, total, "bulk length");
    writer.await.expect("writer");
}

#[tokio::main]
async fn main() {
    let (conns, rounds, bytes, mib) = (arg(1, 64), arg(2, 500), arg(3, 64), arg(4, 8));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve(listener));

    let start = Instant::now();
    let clients: Vec<_> = (0..conns)
        .map(|i| tokio::spawn(ping_pong(addr, rounds, bytes, i as u8)))
        .collect();
    for c in clients {
        c.await.expect("client");
    }
    let pp = start.elapsed();
    let start = Instant::now();
    let bulks: Vec<_> = (0..4u8).map(|i| tokio::spawn(bulk(addr, mib, i))).collect();
    for b in bulks {
        b.await.expect("bulk");
    }
    println!(
        "{conns} x {rounds} round trips of {bytes} B: {:.3}s; 4 x {mib} MiB: {:.3}s",
        pp.as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
}
