#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
// Lengths are u64 on the wire and usize in memory: every narrowing must be deliberate.
#![cfg_attr(not(test), warn(clippy::cast_possible_truncation))]

pub mod frame;
mod role;

pub use role::Role;
