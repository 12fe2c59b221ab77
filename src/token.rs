//! `Token`: the caller's name for a registered source.
//!
//! A token is chosen by the caller at registration and handed back in every
//! event for that source. rouse never interprets it, except that
//! [`Token::RESERVED`] (`usize::MAX`) is kept for the backends' own use on
//! every platform, so a program that works on one backend works on all.

/// Associates readiness events with the [`event::Source`] that produced them.
///
/// `Token` wraps a `usize` picked by the caller, usually an index into a
/// slab or an array of connections.
///
/// [`event::Source`]: crate::event::Source
///
/// # Examples
///
/// ```
/// use rouse::Token;
///
/// const LISTENER: Token = Token(0);
/// let client = Token(1);
/// assert_ne!(LISTENER, client);
/// assert_eq!(usize::from(client), 1);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Token(pub usize);

impl Token {
    /// The one token rouse keeps for itself on every backend.
    ///
    /// Registering a source or creating a [`Waker`](crate::Waker) with it
    /// fails with [`ErrorKind::InvalidInput`](crate::io::ErrorKind).
    pub const RESERVED: Token = Token(usize::MAX);
}

impl From<Token> for usize {
    fn from(token: Token) -> usize {
        token.0
    }
}
