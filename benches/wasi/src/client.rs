//! The host side: `client ADDR CONNS ROUNDS SIZE` opens CONNS connections
//! to ADDR, and on each (one thread per connection) sends SIZE bytes and
//! waits for them to come back, ROUNDS times. Prints one line:
//! `round_trips=N secs=S rt_per_sec=R p50_us=A p99_us=B`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: client ADDR CONNS ROUNDS SIZE");
        std::process::exit(2);
    }
    let addr = args[1].clone();
    let conns: usize = args[2].parse().expect("CONNS");
    let rounds: usize = args[3].parse().expect("ROUNDS");
    let size: usize = args[4].parse().expect("SIZE");

    // Connect all first, so the timing covers round trips only.
    let streams: Vec<TcpStream> = (0..conns)
        .map(|_| {
            let s = TcpStream::connect(&addr).expect("connect");
            s.set_nodelay(true).expect("nodelay");
            s
        })
        .collect();
    let start = Instant::now();
    let handles: Vec<_> = streams
        .into_iter()
        .map(|mut s| {
            std::thread::spawn(move || {
                let out = vec![0x5a; size];
                let mut back = vec![0; size];
                let mut times = Vec::with_capacity(rounds);
                for _ in 0..rounds {
                    let t = Instant::now();
                    s.write_all(&out).expect("write");
                    s.read_exact(&mut back).expect("read");
                    times.push(t.elapsed());
                }
                assert_eq!(out, back, "echoed bytes differ");
                times
            })
        })
        .collect();
    let mut all: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("client thread"))
        .collect();
    let secs = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e6;
    println!(
        "round_trips={} secs={:.3} rt_per_sec={:.0} p50_us={:.1} p99_us={:.1}",
        all.len(),
        secs,
        all.len() as f64 / secs,
        pct(0.5),
        pct(0.99)
    );
}
