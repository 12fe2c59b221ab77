//! The echo server under test. For wasm32-wasip1: `server rouse` or
//! `server mio`, on the listener wasmtime preopens as fd 3
//! (`-S tcplisten=ADDR`). For wasm32-wasip2: `server rouse ADDR`, which
//! binds ADDR itself (`-S inherit-network=y`; mio has no wasip2 support).
//! The loops are the same mio-style code: on an event, read until
//! `WouldBlock` and write each chunk straight back (the client sends one
//! small message at a time, so writes rarely block; when the host refuses
//! one, the loop tries again).

#[cfg(target_os = "wasi")]
fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let listener = listener();
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    println!("serving with {which}");
    let result = match which.as_str() {
        "rouse" => rouse_echo::run(listener),
        #[cfg(not(target_env = "p2"))]
        "mio" => mio_echo::run(listener),
        _ => {
            eprintln!("usage: server rouse|mio (wasip1), server rouse ADDR (wasip2)");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("server: {e}");
        std::process::exit(1);
    }
}

/// wasip1: the listener wasmtime preopens as fd 3.
#[cfg(all(target_os = "wasi", not(target_env = "p2")))]
fn listener() -> std::net::TcpListener {
    use std::os::fd::FromRawFd;
    // SAFETY: fd 3 is the listener wasmtime preopens for -S tcplisten;
    // nothing else in this program owns it.
    unsafe { std::net::TcpListener::from_raw_fd(3) }
}

/// wasip2: binds the address given after the crate's name.
#[cfg(all(target_os = "wasi", target_env = "p2"))]
fn listener() -> std::net::TcpListener {
    let addr = std::env::args().nth(2).expect("usage: server rouse ADDR");
    std::net::TcpListener::bind(addr).expect("bind")
}

#[cfg(not(target_os = "wasi"))]
fn main() {
    eprintln!("build the server for wasm32-wasip1 or wasm32-wasip2 and run it under wasmtime (see run.sh)");
    std::process::exit(2);
}

/// One echo loop, written once and instantiated for each crate: the two
/// APIs are the same (that is rouse's point), only the paths differ.
#[cfg(target_os = "wasi")]
macro_rules! echo_loop {
    ($krate:ident) => {
        pub fn run(listener: std::net::TcpListener) -> std::io::Result<()> {
            use std::io::{ErrorKind, Read, Write};
            use $krate::net::{TcpListener, TcpStream};
            use $krate::{Events, Interest, Poll, Token};

            const LISTENER: Token = Token(usize::MAX - 1);
            let mut listener = TcpListener::from_std(listener);
            let mut poll = Poll::new()?;
            let mut events = Events::with_capacity(256);
            poll.registry()
                .register(&mut listener, LISTENER, Interest::READABLE)?;
            let mut conns: Vec<Option<TcpStream>> = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match poll.poll(&mut events, None) {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
                for event in events.iter() {
                    if event.token() == LISTENER {
                        loop {
                            match listener.accept() {
                                Ok((mut s, _)) => {
                                    let i = conns.len();
                                    poll.registry().register(
                                        &mut s,
                                        Token(i),
                                        Interest::READABLE,
                                    )?;
                                    conns.push(Some(s));
                                }
                                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                                Err(e) => return Err(e),
                            }
                        }
                        continue;
                    }
                    let slot = &mut conns[event.token().0];
                    let Some(stream) = slot else { continue };
                    let mut close = false;
                    loop {
                        match stream.read(&mut buf) {
                            Ok(0) => {
                                close = true;
                                break;
                            }
                            Ok(n) => {
                                let mut out = &buf[..n];
                                while !out.is_empty() {
                                    match stream.write(out) {
                                        Ok(m) => out = &out[m..],
                                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                                        Err(e) => return Err(e),
                                    }
                                }
                            }
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                            Err(e) => return Err(e),
                        }
                    }
                    if close {
                        if let Some(mut s) = slot.take() {
                            poll.registry().deregister(&mut s)?;
                        }
                    }
                }
            }
        }
    };
}

#[cfg(target_os = "wasi")]
mod rouse_echo {
    echo_loop!(rouse);
}

#[cfg(all(target_os = "wasi", not(target_env = "p2")))]
mod mio_echo {
    echo_loop!(mio);
}
