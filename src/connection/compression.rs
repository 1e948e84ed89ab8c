//! permessage-deflate inside a connection (RFC 7692 §6–§7): the parameters each direction
//! uses, and codecs created on first use and dropped when no context needs keeping.

use alloc::vec::Vec;

use crate::extensions::deflate::{DeflateParams, MessageCompressor, MessageDecompressor};
use crate::Role;

/// How one direction compresses: its window and whether it resets after every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Direction {
    window_bits: u8,
    no_context_takeover: bool,
}

/// The directions an endpoint of `role` sends and receives with: a server compresses with the
/// `server_*` parameters and inflates with the `client_*` ones (§7.1), a client the reverse.
pub(crate) fn directions(params: &DeflateParams, role: Role) -> (Direction, Direction) {
    let server = Direction {
        window_bits: params.server_max_window_bits,
        no_context_takeover: params.server_no_context_takeover,
    };
    let client = Direction {
        window_bits: params.client_max_window_bits,
        no_context_takeover: params.client_no_context_takeover,
    };
    match role {
        Role::Server => (server, client),
        Role::Client => (client, server),
    }
}

/// The sending side: compresses outgoing messages.
#[derive(Debug)]
pub(crate) struct Deflate {
    direction: Direction,
    /// Created by the first compressed message: a connection that never sends one holds none.
    compressor: Option<MessageCompressor>,
    /// Messages shorter than this go uncompressed unless the caller asks otherwise.
    pub(crate) threshold: usize,
    /// The compressed bytes of the message being framed, reused from message to message.
    scratch: Vec<u8>,
}

impl Deflate {
    pub(crate) fn new(direction: Direction, threshold: usize) -> Deflate {
        Deflate { direction, compressor: None, threshold, scratch: Vec::new() }
    }

    /// Compresses one piece of a message (the whole message when `last` and nothing came
    /// before) into the reused scratch buffer, which the caller hands back with
    /// [`restore`](Deflate::restore) once the bytes are framed.
    pub(crate) fn compress_piece(&mut self, piece: &[u8], last: bool) -> Vec<u8> {
        let Direction { window_bits, no_context_takeover } = self.direction;
        let compressor = self
            .compressor
            .get_or_insert_with(|| MessageCompressor::new(window_bits, no_context_takeover));
        let mut out = core::mem::take(&mut self.scratch);
        out.clear();
        compressor.compress_piece(piece, last, &mut out);
        out
    }

    /// Takes back the scratch buffer lent by [`compress_piece`](Deflate::compress_piece).
    pub(crate) fn restore(&mut self, scratch: Vec<u8>) {
        self.scratch = scratch;
    }

    /// Frees what an idle connection need not hold: the scratch buffer, and the compressor
    /// itself when it keeps no context between messages.
    pub(crate) fn release(&mut self) {
        self.scratch = Vec::new();
        if self.direction.no_context_takeover {
            self.compressor = None;
        }
    }
}

/// The receiving side: inflates incoming messages.
#[derive(Debug)]
pub(crate) struct Inflate {
    direction: Direction,
    /// Created by the first compressed message.
    decompressor: Option<MessageDecompressor>,
}

impl Inflate {
    pub(crate) fn new(direction: Direction) -> Inflate {
        Inflate { direction, decompressor: None }
    }

    pub(crate) fn decompressor(&mut self) -> &mut MessageDecompressor {
        let Direction { window_bits, no_context_takeover } = self.direction;
        self.decompressor
            .get_or_insert_with(|| MessageDecompressor::new(window_bits, no_context_takeover))
    }

    /// Frees the decompressor when it keeps no context between messages; only call it between
    /// messages.
    pub(crate) fn release(&mut self) {
        if self.direction.no_context_takeover {
            self.decompressor = None;
        }
    }
}
