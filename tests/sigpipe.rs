//! Writing to a stream whose peer is gone is a `BrokenPipe` error, never a
//! `SIGPIPE` that kills the process, even where the program has restored
//! SIGPIPE's default action (std's runtime ignores it; C hosts and
//! `#[no_main]` programs may not). A test binary of its own: it changes
//! the signal action for the whole process.
#![cfg(all(feature = "net", any(target_os = "linux", target_os = "android")))]

use std::io::{ErrorKind, Write};
use std::net::Shutdown;

use rouse::net::{TcpListener, TcpStream, UnixStream};

fn default_sigpipe() {
    // SAFETY: sets SIGPIPE's action to the default (terminate); no handler
    // runs, and this test binary holds only this test.
    let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(old, libc::SIG_ERR);
}

fn broken_pipe(mut stream: impl Write) {
    // The first write after the peer closed may still be accepted (TCP
    // learns of the close from the peer's RST); a bounded number of writes
    // must end in BrokenPipe (or ConnectionReset), with the process alive.
    for _ in 0..100 {
        match stream.write(b"x") {
            Ok(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(std::time::Duration::from_millis(1))
            }
            Err(e) => {
                assert!(
                    matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
                    "{e:?}"
                );
                return;
            }
        }
    }
    panic!("no error after 100 writes to a closed peer");
}

#[test]
fn writing_to_a_closed_peer_is_an_error_not_a_signal() {
    default_sigpipe();

    let (a, b) = UnixStream::pair().unwrap();
    drop(b);
    broken_pipe(&a);

    let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let server = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(std::time::Duration::from_millis(1))
            }
            Err(e) => panic!("{e:?}"),
        }
    };
    drop(server);
    // Our side's write half stays open; the peer's is gone.
    let _ = client.shutdown(Shutdown::Read);
    broken_pipe(&client);
}
