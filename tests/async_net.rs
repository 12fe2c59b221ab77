//! The net types as futures (`Async<TcpListener>`, `Async<TcpStream>`,
//! `Async<UdpSocket>`, `Async<UnixStream>`) and the ecosystem's traits on
//! them (`futures-io`, `embedded-io-async`), driven by `block_on` on every
//! backend with sockets. WASI's sockets are checked by the async echo
//! example under wasmtime (ci/wasi), the only way wasip1 gets one.
#![cfg(all(any(unix, windows, rouse_wasip2), feature = "async", feature = "net"))]
mod common;
use common::*;

use std::net::SocketAddr;
use std::time::Duration;

use rouse::io::ErrorKind;
use rouse::net::{TcpListener, TcpStream, UdpSocket};
use rouse::registration::{Async, Reactor};

fn reactor<S: Backend>() -> Reactor<S, 16, 4> {
    Reactor::with_poll(new_poll::<S>()).unwrap()
}

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn tcp_accept_connect_read_write<S: Backend>() {
    let reactor = reactor::<S>();
    let listener = Async::<TcpListener, S, 16, 4>::bind(&reactor, any_port()).unwrap();
    let addr = listener.get_ref().local_addr().unwrap();
    let (mut client, (mut server, peer)) = reactor
        .block_on(async {
            let client = Async::<TcpStream, S, 16, 4>::connect(&reactor, addr).await?;
            let accepted = listener.accept().await?;
            Ok::<_, std::io::Error>((client, accepted))
        })
        .unwrap()
        .unwrap();
    assert_eq!(peer, client.get_ref().local_addr().unwrap());
    assert_eq!(reactor.len(), 3);
    // More than the socket buffers hold, so writes meet WouldBlock and
    // wait for the reader: both directions of readiness are exercised.
    let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let got = reactor
        .block_on(async {
            let mut got = Vec::new();
            let mut buf = [0u8; 65536];
            let mut sent = 0;
            while got.len() < data.len() {
                if sent < data.len() {
                    // A write while the reader has not caught up: bounded
                    // by a short timeout, then read for a while.
                    if let Ok(n) = reactor
                        .timeout(Duration::from_millis(5), client.write(&data[sent..]))
                        .unwrap()
                        .await
                    {
                        sent += n?;
                    }
                }
                if let Ok(n) = reactor
                    .timeout(Duration::from_millis(5), server.read(&mut buf))
                    .unwrap()
                    .await
                {
                    let n = n?;
                    assert_ne!(n, 0, "end-of-file before the end");
                    got.extend_from_slice(&buf[..n]);
                }
            }
            Ok::<_, std::io::Error>(got)
        })
        .unwrap()
        .unwrap();
    assert!(got == data, "[{}] data differs", S::NAME);
    drop(client);
    let n = reactor
        .block_on(async { server.read(&mut [0u8; 16]).await })
        .unwrap()
        .unwrap();
    assert_eq!(n, 0, "[{}] no end-of-file after the peer closed", S::NAME);
    drop(server);
    drop(listener);
    assert!(
        reactor.is_empty(),
        "[{}] a dropped Async kept its slot",
        S::NAME
    );
}

fn connect_to_a_closed_port_is_an_error<S: Backend>() {
    let reactor = reactor::<S>();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let result = reactor
        .block_on(Async::<TcpStream, S, 16, 4>::connect(&reactor, closed))
        .unwrap();
    let err = result.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::ConnectionRefused,
        "[{}] {err}",
        S::NAME
    );
    assert!(reactor.is_empty());
}

fn a_read_with_a_timeout<S: Backend>() {
    let reactor = reactor::<S>();
    let (a, b) = net_stream_pair();
    let mut a = Async::new(&reactor, a).unwrap();
    let mut b = Async::new(&reactor, b).unwrap();
    let mut buf = [0u8; 8];
    let r = reactor
        .block_on(
            reactor
                .timeout(Duration::from_millis(20), a.read(&mut buf))
                .unwrap(),
        )
        .unwrap();
    assert!(r.is_err(), "[{}] nothing was sent: {r:?}", S::NAME);
    reactor.block_on(b.write_all(b"late")).unwrap().unwrap();
    let r = reactor
        .block_on(reactor.timeout(LONG, a.read(&mut buf)).unwrap())
        .unwrap();
    assert_eq!(r.unwrap().unwrap(), 4);
    assert_eq!(&buf[..4], b"late");
}

fn udp_send_to_and_recv_from<S: Backend>() {
    let reactor = reactor::<S>();
    let a = Async::<UdpSocket, S, 16, 4>::bind(&reactor, any_port()).unwrap();
    let b = Async::<UdpSocket, S, 16, 4>::bind(&reactor, any_port()).unwrap();
    let b_addr = b.get_ref().local_addr().unwrap();
    let a_addr = a.get_ref().local_addr().unwrap();
    let (n, from, buf) = reactor
        .block_on(async {
            let mut buf = [0u8; 32];
            // The receiver waits first; the send comes from the same task
            // through a join of the two futures by hand.
            a.send_to(b"datagram", b_addr).await?;
            let (n, from) = b.recv_from(&mut buf).await?;
            Ok::<_, std::io::Error>((n, from, buf))
        })
        .unwrap()
        .unwrap();
    assert_eq!((&buf[..n], from), (&b"datagram"[..], a_addr));
    // Connected: send and recv.
    a.get_ref().connect(b_addr).unwrap();
    b.get_ref().connect(a_addr).unwrap();
    let n = reactor
        .block_on(async {
            b.send(b"back").await?;
            let mut buf = [0u8; 8];
            a.recv(&mut buf).await
        })
        .unwrap()
        .unwrap();
    assert_eq!(n, 4);
}

#[cfg(unix)]
fn unix_stream_pair_and_listener<S: Backend>() {
    use rouse::net::{UnixListener, UnixStream};
    let reactor = reactor::<S>();
    let (mut a, mut b) = Async::<UnixStream, S, 16, 4>::pair(&reactor).unwrap();
    let mut buf = [0u8; 8];
    let n = reactor
        .block_on(async {
            a.write_all(b"unix").await?;
            b.read(&mut buf).await
        })
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"unix");
    let dir = TempDir::new("async-uds");
    let path = dir.path().join("sock");
    let listener = Async::<UnixListener, S, 16, 4>::bind(&reactor, &path).unwrap();
    let (mut c, (mut s, _)) = reactor
        .block_on(async {
            let c = Async::<UnixStream, S, 16, 4>::connect(&reactor, &path).await?;
            let s = listener.accept().await?;
            Ok::<_, std::io::Error>((c, s))
        })
        .unwrap()
        .unwrap();
    let n = reactor
        .block_on(async {
            s.write_all(b"hi").await?;
            c.read(&mut buf).await
        })
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"hi");
}

#[cfg(feature = "futures-io")]
fn futures_io_traits<S: Backend>() {
    use futures_io::{AsyncRead, AsyncWrite};
    use std::future::poll_fn;
    use std::pin::Pin;
    let reactor = reactor::<S>();
    let (a, b) = net_stream_pair();
    let mut a = Async::new(&reactor, a).unwrap();
    let mut b = Async::new(&reactor, b).unwrap();
    let mut buf = [0u8; 16];
    let n = reactor
        .block_on(async {
            let n = poll_fn(|cx| Pin::new(&mut a).poll_write(cx, b"futures-io")).await?;
            poll_fn(|cx| Pin::new(&mut a).poll_flush(cx)).await?;
            assert_eq!(n, 10);
            poll_fn(|cx| Pin::new(&mut b).poll_read(cx, &mut buf)).await
        })
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"futures-io");
    fn is_async_io<T: AsyncRead + AsyncWrite + Unpin>(_: &T) {}
    is_async_io(&a);
}

#[cfg(feature = "embedded-io-async")]
fn embedded_io_async_traits<S: Backend>() {
    use embedded_io_async::{Read, Write};
    let reactor = reactor::<S>();
    let (a, b) = net_stream_pair();
    let mut a = Async::new(&reactor, a).unwrap();
    let mut b = Async::new(&reactor, b).unwrap();
    let mut buf = [0u8; 17];
    reactor
        .block_on(async {
            Write::write_all(&mut a, b"embedded-io-async").await?;
            Write::flush(&mut a).await?;
            Read::read_exact(&mut b, &mut buf)
                .await
                .map_err(|e| match e {
                    embedded_io_async::ReadExactError::Other(e) => e,
                    embedded_io_async::ReadExactError::UnexpectedEof => {
                        std::io::ErrorKind::UnexpectedEof.into()
                    }
                })
        })
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"embedded-io-async");
}

backend_tests!(
    tcp_accept_connect_read_write,
    connect_to_a_closed_port_is_an_error,
    a_read_with_a_timeout,
    udp_send_to_and_recv_from,
    #[cfg(unix)]
    unix_stream_pair_and_listener,
);

#[cfg(feature = "futures-io")]
mod futures_io_tests {
    use super::*;
    backend_tests!(futures_io_traits);
}

#[cfg(feature = "embedded-io-async")]
mod embedded_io_tests {
    use super::*;
    backend_tests!(embedded_io_async_traits);
}
