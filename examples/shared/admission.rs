//! Who may connect: a cap on connections in all and on those from any one address, so that
//! neither a flood of sockets nor one peer holding many can lock everyone else out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// The caps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Connections open at once, from everyone.
    pub(crate) total: usize,
    /// Connections open at once from one IP address (a whole NAT, at worst).
    pub(crate) per_address: usize,
}

/// The connections open now, shared by the accept loop and whatever ends connections.
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    limits: Limits,
    counts: Arc<Mutex<Counts>>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// An admitted connection's place, given back when dropped.
#[derive(Debug)]
pub(crate) struct Ticket {
    counts: Arc<Mutex<Counts>>,
    address: IpAddr,
}

impl Admission {
    pub(crate) fn new(limits: Limits) -> Admission {
        Admission { limits, counts: Arc::default() }
    }

    /// A place for a connection from `address`, or `None` when a cap is reached (the caller
    /// closes the socket at once).
    pub(crate) fn admit(&self, address: IpAddr) -> Option<Ticket> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let from_address = counts.per_address.get(&address).copied().unwrap_or(0);
        if counts.total >= self.limits.total || from_address >= self.limits.per_address {
            return None;
        }
        counts.total += 1;
        counts.per_address.insert(address, from_address + 1);
        Some(Ticket { counts: Arc::clone(&self.counts), address })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total -= 1;
        if let Some(count) = counts.per_address.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                counts.per_address.remove(&self.address);
            }
        }
    }
}
