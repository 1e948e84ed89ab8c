#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
// Lengths are u64 on the wire and usize in memory: every narrowing must be deliberate.
#![cfg_attr(not(test), warn(clippy::cast_possible_truncation))]

extern crate alloc;

mod config;
mod connection;
mod error;
mod event;
#[cfg(feature = "deflate")]
pub mod extensions;
pub mod frame;
pub mod handshake;
mod random;
mod role;
mod time;

pub use config::Config;
pub use connection::{
    CloseCause, Closed, Command, Connection, DefaultRandom, InPlace, Receiver, Reply, Sender,
    ServerOnly, SplitError, State,
};
pub use error::{CommandError, ProtocolError};
pub use event::{CloseFrame, Event, EventRef, MessageKind, Piece, Text};
#[cfg(feature = "std")]
pub use random::OsSeededRandom;
pub use random::RandomSource;
pub use role::Role;
pub use time::{DefaultTimestamp, Timestamp};
