//! Time as the caller's clock tells it: the crate never reads a clock.

use core::fmt::Debug;
use core::time::Duration;

/// A point in time on the caller's monotonic clock, passed to a connection as `now`.
///
/// The connection keeps its deadlines in this type and compares them with the `now` it is
/// given; it never reads a clock itself. With `std`, [`std::time::Instant`] is one; without
/// it, a [`Duration`] since any fixed epoch (boot, say) is one; an event loop that counts
/// time in ticks can implement it for its own type (see `examples/echo_mio.rs`).
///
/// ```
/// use std::time::{Duration, Instant};
/// use wsmachine::Timestamp;
///
/// let start = Instant::now();
/// assert_eq!(Timestamp::saturating_add(start, Duration::from_secs(1)), start + Duration::from_secs(1));
/// assert_eq!(Timestamp::saturating_add(Duration::MAX, Duration::from_secs(1)), Duration::MAX);
/// ```
pub trait Timestamp: Copy + Ord + Debug {
    /// `self` plus `duration`, or the latest time the type can hold if that is later.
    #[must_use]
    fn saturating_add(self, duration: Duration) -> Self;
}

#[cfg(feature = "std")]
impl Timestamp for std::time::Instant {
    fn saturating_add(self, duration: Duration) -> Self {
        // The connection's durations are at most 2^32 ms (49.7 days), which no instant a
        // monotonic clock returns is too close to its end to hold.
        self.checked_add(duration).unwrap_or(self)
    }
}

impl Timestamp for Duration {
    fn saturating_add(self, duration: Duration) -> Self {
        Duration::saturating_add(self, duration)
    }
}

/// The timestamp a connection uses unless told otherwise: [`std::time::Instant`] with `std`.
#[cfg(feature = "std")]
pub type DefaultTimestamp = std::time::Instant;

/// The timestamp a connection uses unless told otherwise: a [`Duration`] since an epoch the
/// caller chooses, without `std`.
#[cfg(not(feature = "std"))]
pub type DefaultTimestamp = Duration;
