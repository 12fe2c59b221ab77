//! Readiness events and event sources.
//!
//! [`Event`] and [`Events`] are what [`Poll::poll`](crate::Poll::poll)
//! hands back; [`Source`] is what [`Registry`](crate::Registry) accepts.

mod events;
#[cfg(feature = "std")]
pub(crate) mod io_source;
mod source;

pub use self::events::{Events, Iter, DEFAULT_CAPACITY};
#[cfg(feature = "std")]
pub use self::io_source::IoSource;
pub use self::source::Source;
pub use crate::sys::event::Event;
