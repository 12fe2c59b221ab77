//! The ecosystem's async I/O traits for [`Async`]: `futures-io`'s
//! `AsyncRead` / `AsyncWrite` (feature `futures-io`, with `std`) and
//! `embedded-io-async`'s `Read` / `Write` (feature `embedded-io-async`,
//! with or without `std`), for any source that implements [`TryRead`] /
//! [`TryWrite`].
//!
//! Both are thin: each call is one [`Async::poll_read`] /
//! [`Async::poll_write`], which waits for readiness and retries after
//! `WouldBlock`.

#[cfg(any(feature = "futures-io", feature = "embedded-io-async"))]
#[allow(unused_imports)]
use super::{Async, TryRead, TryWrite};
#[cfg(any(feature = "futures-io", feature = "embedded-io-async"))]
use crate::event::Source;
#[cfg(any(feature = "futures-io", feature = "embedded-io-async"))]
use crate::sys::Selector;

#[cfg(feature = "futures-io")]
mod futures_io_impls {
    use core::pin::Pin;
    use core::task::{Context, Poll};

    use super::{Async, Selector, Source, TryRead, TryWrite};

    impl<U, S: Selector, const N: usize, const T: usize> futures_io::AsyncRead for Async<'_, U, S, N, T>
    where
        U: Source<S> + TryRead + Unpin,
    {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<std::io::Result<usize>> {
            Async::poll_read(Pin::get_mut(self), cx, buf)
        }
    }

    impl<U, S: Selector, const N: usize, const T: usize> futures_io::AsyncWrite
        for Async<'_, U, S, N, T>
    where
        U: Source<S> + TryWrite + Unpin,
    {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            Async::poll_write(Pin::get_mut(self), cx, buf)
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Async::poll_flush(Pin::get_mut(self), cx)
        }

        /// Flushes; the socket is shut down when the `Async` is dropped.
        fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Async::poll_flush(Pin::get_mut(self), cx)
        }
    }
}

#[cfg(feature = "embedded-io-async")]
mod embedded_io_impls {
    use core::future::poll_fn;

    use super::{Async, Selector, Source, TryRead, TryWrite};
    use crate::io;

    impl<U: Source<S>, S: Selector, const N: usize, const T: usize> embedded_io_async::ErrorType
        for Async<'_, U, S, N, T>
    {
        type Error = io::Error;
    }

    impl<U, S: Selector, const N: usize, const T: usize> embedded_io_async::Read
        for Async<'_, U, S, N, T>
    where
        U: Source<S> + TryRead,
    {
        async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            poll_fn(|cx| self.poll_read(cx, buf)).await
        }
    }

    impl<U, S: Selector, const N: usize, const T: usize> embedded_io_async::Write
        for Async<'_, U, S, N, T>
    where
        U: Source<S> + TryWrite,
    {
        async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            poll_fn(|cx| self.poll_write(cx, buf)).await
        }

        async fn flush(&mut self) -> io::Result<()> {
            poll_fn(|cx| self.poll_flush(cx)).await
        }
    }

    /// rouse's own error without `std` (with `std` it is `std::io::Error`,
    /// for which `embedded-io`'s `std` feature has this).
    #[cfg(not(feature = "std"))]
    impl embedded_io_async::Error for io::Error {
        fn kind(&self) -> embedded_io_async::ErrorKind {
            use embedded_io_async::ErrorKind as E;
            match io::Error::kind(self) {
                io::ErrorKind::NotFound => E::NotFound,
                io::ErrorKind::PermissionDenied => E::PermissionDenied,
                io::ErrorKind::AlreadyExists => E::AlreadyExists,
                io::ErrorKind::InvalidInput => E::InvalidInput,
                io::ErrorKind::Interrupted => E::Interrupted,
                io::ErrorKind::Unsupported => E::Unsupported,
                io::ErrorKind::OutOfMemory => E::OutOfMemory,
                _ => E::Other,
            }
        }
    }
}
