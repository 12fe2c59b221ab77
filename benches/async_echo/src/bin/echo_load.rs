//! Drives an echo server as a whole process: starts `SERVER... 127.0.0.1:0`,
//! waits for its `listening on ADDR`, runs CLIENTS connections at once that
//! each send BYTES and read them back (checking every byte), prints the
//! server's peak resident memory (VmHWM) and the throughput, then kills it.
//!
//!     echo_load CLIENTS BYTES -- SERVER [ARGS...]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sep = args.iter().position(|a| a == "--").expect("usage: echo_load CLIENTS BYTES -- SERVER...");
    let clients: usize = args[1].parse().unwrap();
    let bytes: usize = args[2].parse().unwrap();
    let mut server = Command::new(&args[sep + 1])
        .args(&args[sep + 2..])
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the server");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().strip_prefix("listening on ").expect("a listening line").to_string();
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let addr = addr.clone();
            thread::spawn(move || {
                let pattern: Vec<u8> = (0..bytes).map(|j| ((i * 31 + j) % 251) as u8).collect();
                let s = TcpStream::connect(&addr).unwrap();
                let mut w = s.try_clone().unwrap();
                let p = pattern.clone();
                let writer = thread::spawn(move || {
                    w.write_all(&p).unwrap();
                    w.shutdown(Shutdown::Write).unwrap();
                });
                let mut got = Vec::with_capacity(bytes);
                (&s).read_to_end(&mut got).unwrap();
                writer.join().unwrap();
                assert!(got == pattern, "client {i}: echo differs");
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let hwm = std::fs::read_to_string(format!("/proc/{}/status", server.id()))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
        .unwrap_or_default();
    server.kill().unwrap();
    server.wait().unwrap();
    println!(
        "{} clients x {} bytes in {:.3} s ({:.1} MiB/s each way); server peak RSS {} KiB",
        clients,
        bytes,
        secs,
        (clients * bytes) as f64 / secs / (1 << 20) as f64,
        hwm
    );
}
