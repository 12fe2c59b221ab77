//! The README's async example: a read with a timeout, against a server
//! that never answers (kept here so that it is compiled and run).

use std::time::Duration;

use rouse::net::TcpStream;
use rouse::registration::{Async, Reactor};

fn main() -> std::io::Result<()> {
    let silent = std::net::TcpListener::bind("127.0.0.1:0")?;
    let reactor: Reactor = Reactor::new()?;
    reactor.block_on(async {
        let mut stream = Async::<TcpStream>::connect(&reactor, silent.local_addr()?).await?;
        stream.write_all(b"hello?").await?;
        let mut buf = [0u8; 64];
        let read = reactor.timeout(Duration::from_millis(200), stream.read(&mut buf))?;
        match read.await {
            Ok(n) => println!("answer: {:?}", &buf[..n?]),
            Err(_) => println!("no answer within 200 ms"),
        }
        Ok(())
    })?
}
