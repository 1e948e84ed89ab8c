#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
// Lengths are u64 on the wire and usize in memory: every narrowing must be deliberate.
#![cfg_attr(not(test), warn(clippy::cast_possible_truncation))]

extern crate alloc;

pub mod frame;
pub mod handshake;
mod random;
mod role;

#[cfg(feature = "std")]
pub use random::OsSeededRandom;
pub use random::RandomSource;
pub use role::Role;
