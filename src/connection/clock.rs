//! The connection's deadlines: kept by the machine, measured on the caller's clock.
//!
//! The clock holds one armed deadline and the time input was last seen. Which deadline is
//! armed follows from the lifecycle's [`TimerFamily`]: when a transition changes the family
//! (the connection opened, a Close went out), the armed deadline is stale, and
//! [`Clock::poll_timeout`] answers with a time already past, so that the caller's next
//! `handle_timeout(now)` arms the new one from the right `now`. Input is dated by the next
//! `now` the clock is given: a deadline measured from it can come late by as long as the
//! caller waits to pass `now` (never early).

use core::time::Duration;

use super::lifecycle::TimerFamily;
use crate::time::Timestamp;
use crate::Config;

/// The durations the clock needs after the handshake, in milliseconds (0: off), compact so
/// that an idle connection stays small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timeouts {
    idle: u32,
    keepalive: u32,
    pong: u32,
    close: u32,
    transport_close: u32,
}

impl Timeouts {
    /// The config's durations, the keepalive interval shortened by `spread` (a random draw,
    /// 0 to 65,535) parts in 65,536 of [`Config::keepalive_jitter`], which may take at most
    /// half the interval.
    fn new(config: &Config, spread: u16) -> Timeouts {
        let interval = millis(config.keepalive_interval);
        let jitter = millis(config.keepalive_jitter).min(interval / 2);
        let shortening = (u64::from(jitter) * u64::from(spread)) >> 16;
        Timeouts {
            idle: millis(config.idle_timeout),
            // Less than `jitter`, which is at most half of `interval`: never 0 (off).
            keepalive: interval - u32::try_from(shortening).unwrap_or(0),
            pong: millis(config.pong_timeout),
            close: millis(config.close_timeout),
            transport_close: millis(config.transport_close_timeout),
        }
    }

    /// Whether any deadline applies to `family`.
    fn any_for(&self, family: TimerFamily) -> bool {
        match family {
            TimerFamily::None => false,
            // Armed once, at construction; never stale.
            TimerFamily::Handshake => false,
            TimerFamily::Open => self.idle != 0 || self.keepalive != 0,
            TimerFamily::Closing => self.close != 0,
            TimerFamily::TransportClose => self.transport_close != 0,
        }
    }
}

/// A duration in whole milliseconds, at least 1 so that a tiny timeout is not "off", at most
/// `u32::MAX` (49.7 days); `None` is 0, off.
fn millis(duration: Option<Duration>) -> u32 {
    duration.map_or(0, |duration| u32::try_from(duration.as_millis()).unwrap_or(u32::MAX).max(1))
}

fn after<T: Timestamp>(start: T, millis: u32) -> T {
    start.saturating_add(Duration::from_millis(u64::from(millis)))
}

/// What the armed deadline is for; returned by [`Clock::handle_timeout`] when it passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    Nothing,
    Handshake,
    /// A keepalive Ping is due (when passed: send it; its Pong deadline is already armed).
    Ping,
    /// The keepalive Ping's answer is overdue.
    Pong,
    Idle,
    Close,
    TransportClose,
}

/// The deadlines of one connection (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Clock<T> {
    deadline: T,
    last_input: T,
    /// While a keepalive Ping is outstanding, when its Pong is due (with no Pong deadline,
    /// when it went out); otherwise when the last Pong arrived, or the input that opened the
    /// connection, from which the next Ping is due.
    ping_mark: T,
    timeouts: Timeouts,
    /// The family the deadline was armed for.
    family: TimerFamily,
    due: Due,
    /// Input arrived since the last `now`.
    input_seen: bool,
    /// A keepalive Ping went out and no Pong arrived since.
    ping_outstanding: bool,
    /// A Pong was read from input not dated yet: it takes the next `now`.
    pong_undated: bool,
}

impl<T: Timestamp> Clock<T> {
    /// A clock for a connection created at `now`, in `family` (the handshake, or open), its
    /// keepalive interval shortened by `spread` parts in 65,536 of the configured jitter.
    pub(crate) fn new(config: &Config, now: T, family: TimerFamily, spread: u16) -> Clock<T> {
        let mut clock = Clock {
            deadline: now,
            last_input: now,
            ping_mark: now,
            timeouts: Timeouts::new(config, spread),
            family,
            due: Due::Nothing,
            input_seen: false,
            ping_outstanding: false,
            pong_undated: false,
        };
        match family {
            TimerFamily::Handshake => {
                if let Some(timeout) = config.handshake_timeout {
                    clock.deadline = now.saturating_add(timeout);
                    clock.due = Due::Handshake;
                }
            }
            other => clock.arm(other, now),
        }
        clock
    }

    /// How long output left at the end may wait for the peer to take it: nothing after a
    /// deadline ended the connection (`ended_by` one: the peer is gone, or too slow), else
    /// [`Config::close_timeout`] (10 s when that is off). Adapters give up on the rest then.
    pub(crate) fn output_linger(&self, ended_by: Option<crate::CloseCause>) -> Duration {
        use crate::CloseCause::{CloseTimeout, HandshakeTimeout, PongTimeout};
        if matches!(ended_by, Some(PongTimeout | HandshakeTimeout | CloseTimeout)) {
            return Duration::ZERO;
        }
        match self.timeouts.close {
            0 => Duration::from_secs(10),
            close => Duration::from_millis(u64::from(close)),
        }
    }

    /// Notes that bytes arrived; they are dated by the next `now`.
    #[inline]
    pub(crate) fn note_input(&mut self) {
        self.input_seen = true;
    }

    /// Notes that a Pong was read: it answers the keepalive Ping, or makes one unnecessary
    /// for another interval (nothing else does: other input may have been sent before the
    /// Ping reached the peer, or by a peer that never reads). Dated as the input it came in.
    pub(crate) fn note_pong(&mut self) {
        if self.input_seen {
            self.pong_undated = true;
        } else {
            self.pong_dated(self.last_input);
        }
    }

    fn pong_dated(&mut self, at: T) {
        self.ping_outstanding = false;
        self.ping_mark = at;
        if self.family == TimerFamily::Open {
            self.arm_open();
        }
    }

    /// When [`handle_timeout`](Clock::handle_timeout) should next be called: the armed
    /// deadline, or a time already past when the phase changed since the last `now`.
    pub(crate) fn poll_timeout(&self, family: TimerFamily) -> Option<T> {
        if family != self.family {
            return self.timeouts.any_for(family).then_some(self.last_input);
        }
        (self.due != Due::Nothing).then_some(self.deadline)
    }

    /// Takes the time: dates input seen since the last call (and a Pong read from it), arms
    /// the deadline of a new phase, and reports the armed deadline if it passed (re-arming
    /// what follows a Ping). A deadline measured from the last input can have passed the
    /// moment it is armed.
    pub(crate) fn handle_timeout(&mut self, now: T, family: TimerFamily) -> Option<Due> {
        if core::mem::take(&mut self.input_seen) {
            self.last_input = now;
            if core::mem::take(&mut self.pong_undated) {
                self.pong_dated(now);
            } else if family == TimerFamily::Open && self.family == family {
                self.arm_open();
            }
        }
        if family != self.family {
            self.arm(family, now);
        }
        if self.due == Due::Nothing || now < self.deadline {
            return None;
        }
        let passed = self.due;
        if passed == Due::Ping {
            self.ping_outstanding = true;
            self.arm_after_ping(now);
        } else {
            self.due = Due::Nothing;
        }
        Some(passed)
    }

    fn arm(&mut self, family: TimerFamily, now: T) {
        self.family = family;
        self.due = Due::Nothing;
        let t = self.timeouts;
        match family {
            TimerFamily::None | TimerFamily::Handshake => {}
            TimerFamily::Open => {
                self.ping_outstanding = false;
                // From the input that opened it: the 101, or the request accepted.
                self.ping_mark = self.last_input;
                self.arm_open();
            }
            TimerFamily::Closing => self.set(now, t.close, Due::Close),
            TimerFamily::TransportClose => self.set(now, t.transport_close, Due::TransportClose),
        }
    }

    /// The open phase's deadlines: the next keepalive Ping, an interval after the last Pong
    /// (or the opening) whatever else arrives, since only a Pong shows that the peer reads;
    /// while one is unanswered, its Pong deadline (or, with none, the next Ping); and the
    /// idle deadline, from the last input; whichever comes first.
    fn arm_open(&mut self) {
        self.due = Due::Nothing;
        if !self.ping_outstanding {
            self.set(self.ping_mark, self.timeouts.keepalive, Due::Ping);
        } else if self.timeouts.pong != 0 {
            self.deadline = self.ping_mark;
            self.due = Due::Pong;
        } else {
            self.set(self.ping_mark, self.timeouts.keepalive, Due::Ping);
        }
        self.set_if_earlier(self.last_input, self.timeouts.idle, Due::Idle);
    }

    /// After a keepalive Ping at `now`: its Pong deadline (or, with none, the next Ping) and
    /// the idle deadline, whichever comes first.
    fn arm_after_ping(&mut self, now: T) {
        // With no Pong deadline, `ping_mark` dates the Ping, from which the next repeats.
        self.ping_mark = after(now, self.timeouts.pong);
        self.arm_open();
    }

    fn set(&mut self, start: T, millis: u32, due: Due) {
        if millis != 0 {
            self.deadline = after(start, millis);
            self.due = due;
        }
    }

    fn set_if_earlier(&mut self, start: T, millis: u32, due: Due) {
        if millis == 0 {
            return;
        }
        let deadline = after(start, millis);
        if self.due == Due::Nothing || deadline < self.deadline {
            self.deadline = deadline;
            self.due = due;
        }
    }
}
