//! A WebSocket load client with no WebSocket library: blocking `std::net` sockets, a fixed
//! upgrade request, frames masked once in advance, and a parser that checks what comes back.
//!
//! ```text
//! load --addr 127.0.0.1:9001 --mode stream  --size 16 --conns 1   --seconds 3 [--server NAME]
//! load --addr 127.0.0.1:9001 --mode oneshot --size 16 --conns 100 --seconds 3
//! load --addr 127.0.0.1:9001 --mode idle    --conns 5000 --server-pid PID [--settle 2] [--late 35]
//! ```
//!
//! Modes:
//!
//! - `stream`: per connection a writer thread writes runs of whole frames from one prebuilt
//!   buffer of masked binary frames (about 1 MiB, at least 4 frames) over and over with
//!   blocking writes, until `--seconds` have passed; then it sends a Close frame. A reader
//!   thread parses the echoes in a 256 KiB buffer and stops at the server's Close, which comes
//!   after every echo. The writer keeps at most 4 MiB (shared among the connections, at least
//!   2 frames each) unechoed, so that a slow server is not left with seconds of queued input.
//!   The figures are over the time from the first write to the last Close.
//! - `oneshot`: per connection one thread sends one frame, waits for its echo, and repeats.
//! - `idle`: one thread opens `--conns` connections one after another, echoes one 16-byte
//!   message on each, and holds them all open. With `--server-pid` it reads the server's
//!   `VmRSS` after a warm-up connection and again `--settle` seconds after the last connection
//!   is ready (and, with `--late`, that many seconds after it), and reports the difference per
//!   connection.
//!
//! Every echoed frame is checked: FIN set, binary, payload length `--size`, unmasked (unless
//! `--echo-masked`, for a server that copies bytes back without speaking WebSocket). Payloads
//! carry the frame's index in the prebuilt buffer in their first 8 bytes, so every echo's order
//! is checked, and a fixed pattern after that, checked in full on every 64th message.
//!
//! With `--server-pid` and `--clk-tck` (from `getconf CLK_TCK`) the server's CPU time
//! (utime + stime from `/proc/PID/stat`) over the measured interval is reported too, and the
//! client's own, so that a saturated client shows.
//!
//! The output is one JSON line on stdout: `server`, `mode`, `size`, `conns`, `seconds`,
//! `elapsed_s`, `messages`, `bytes` (echoed payload), `msgs_per_s`, `mb_per_s` (10^6 bytes of
//! payload), `client_cpu_util` (cores), and with `--server-pid`: `server_cpu_ns`,
//! `server_cpu_ns_per_msg`, `server_cpu_util`, `irq_cpu_util` (the machine's irq + softirq
//! time) and `other_cpu_util` (CPU that neither side used: other work on the machine). The
//! idle mode reports `rss_before`, `rss_after` and `bytes_per_conn` (and the `late` ones).

use std::error::Error;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// A fixed key: the client does not check `Sec-WebSocket-Accept`, only the 101.
const UPGRADE: &str = "GET / HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\n\
                       Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                       Sec-WebSocket-Version: 13\r\n\r\n";
const READ_BUFFER: usize = 256 * 1024;
/// The size the prebuilt stream buffer aims at.
const WRITE_BUFFER: usize = 1024 * 1024;
/// The fewest frames in the prebuilt stream buffer, so that order is checked at any size.
const MIN_FRAMES: usize = 4;
/// Unechoed bytes the stream mode allows by default (`--in-flight`), shared among the
/// connections (at least 2 frames each): enough to keep any server busy, little enough to
/// drain quickly from a slow one.
const IN_FLIGHT: u64 = 4 * 1024 * 1024;
/// Every this many messages one is checked byte by byte.
const FULL_CHECK_EVERY: u64 = 64;
/// A read or write that takes longer than this fails the run (a stuck server).
const IO_TIMEOUT: Duration = Duration::from_secs(30);
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;
/// A masked Close frame with code 1000 and no reason.
const CLOSE_FRAME: [u8; 8] = [0x88, 0x82, 0x11, 0x22, 0x33, 0x44, 0x03 ^ 0x11, 0xE8 ^ 0x22];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Stream,
    Oneshot,
    Idle,
}

#[derive(Clone, Debug)]
struct Args {
    addr: String,
    server: String,
    mode: Mode,
    size: usize,
    conns: usize,
    seconds: f64,
    server_pid: Option<u32>,
    clk_tck: u64,
    echo_masked: bool,
    settle: f64,
    late: Option<f64>,
    in_flight: u64,
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("load: {error}");
            eprintln!(
                "usage: load --addr HOST:PORT --mode stream|oneshot|idle [--size BYTES] \
                 [--conns N] [--seconds S] [--server NAME] [--server-pid PID] [--clk-tck N] \
                 [--echo-masked] [--settle S] [--late S] [--in-flight BYTES]"
            );
            std::process::exit(2);
        }
    };
    let result = match args.mode {
        Mode::Stream | Mode::Oneshot => run_load(&args),
        Mode::Idle => run_idle(&args),
    };
    match result {
        Ok(json) => println!("{json}"),
        Err(error) => {
            eprintln!(
                "load ({} {:?} {} B x{}): {error}",
                args.server, args.mode, args.size, args.conns
            );
            std::process::exit(1);
        }
    }
}

fn parse_args() -> Res<Args> {
    let mut args = Args {
        addr: String::new(),
        server: "unnamed".to_owned(),
        mode: Mode::Stream,
        size: 16,
        conns: 1,
        seconds: 3.0,
        server_pid: None,
        clk_tck: 100,
        echo_masked: false,
        settle: 2.0,
        late: None,
        in_flight: IN_FLIGHT,
    };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        if flag == "--echo-masked" {
            args.echo_masked = true;
            continue;
        }
        let value = iter.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => args.addr = value,
            "--server" => args.server = value,
            "--mode" => {
                args.mode = match value.as_str() {
                    "stream" => Mode::Stream,
                    "oneshot" => Mode::Oneshot,
                    "idle" => Mode::Idle,
                    other => return Err(format!("unknown mode {other}").into()),
                }
            }
            "--size" => args.size = value.parse()?,
            "--conns" => args.conns = value.parse()?,
            "--seconds" => args.seconds = value.parse()?,
            "--server-pid" => args.server_pid = Some(value.parse()?),
            "--clk-tck" => args.clk_tck = value.parse()?,
            "--settle" => args.settle = value.parse()?,
            "--late" => args.late = Some(value.parse()?),
            "--in-flight" => args.in_flight = value.parse()?,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    if args.addr.is_empty() {
        return Err("--addr is required".into());
    }
    if args.conns == 0 || args.clk_tck == 0 {
        return Err("--conns and --clk-tck must be positive".into());
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------------
// Connections and frames

/// Connects and upgrades; returns the socket and any bytes that came after the 101's head.
fn connect(addr: &str) -> Res<(TcpStream, Vec<u8>)> {
    let mut stream =
        TcpStream::connect(addr).map_err(|error| format!("connect {addr}: {error}"))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.write_all(UPGRADE.replace("{HOST}", addr).as_bytes())?;
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0; 512];
    loop {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Err("the server closed the connection during the handshake".into());
        }
        head.extend_from_slice(&chunk[..read]);
        if let Some(end) = head.windows(4).position(|window| window == b"\r\n\r\n") {
            let status = head.split(|&byte| byte == b'\r').next().unwrap_or_default();
            if !status.starts_with(b"HTTP/1.1 101") {
                return Err(format!("upgrade refused: {}", String::from_utf8_lossy(status)).into());
            }
            return Ok((stream, head.split_off(end + 4)));
        }
        if head.len() > 16 * 1024 {
            return Err("no end of the 101's head in 16 KiB".into());
        }
    }
}

/// The payload byte at `offset` of the frame with index `seq` in the prebuilt buffer.
fn expected_byte(seq: u64, offset: usize) -> u8 {
    if offset < 8 {
        seq.to_le_bytes()[offset]
    } else {
        (offset % 251) as u8
    }
}

/// A header for a masked frame from the client.
fn push_header(out: &mut Vec<u8>, opcode: u8, len: usize, key: [u8; 4]) {
    out.push(0x80 | opcode);
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
}

/// `count` masked binary frames of `size` bytes, each with its own key.
fn build_frames(size: usize, count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count * (size + 14));
    for seq in 0..count {
        let key = (seq as u32).wrapping_mul(0x9E37_79B9).wrapping_add(0x0101_0101).to_be_bytes();
        push_header(&mut out, OP_BINARY, size, key);
        out.extend((0..size).map(|offset| expected_byte(seq as u64, offset) ^ key[offset % 4]));
    }
    out
}

/// How many frames the stream mode's prebuilt buffer holds.
fn frames_per_buffer(size: usize) -> usize {
    (WRITE_BUFFER / (size + 14)).max(MIN_FRAMES)
}

/// A parsed frame header.
#[derive(Clone, Copy, Debug)]
struct Header {
    len: usize,
    fin: bool,
    opcode: u8,
    payload: u64,
    mask: Option<[u8; 4]>,
}

/// Parses a header from the start of `bytes`; `None` while it is incomplete.
fn parse_header(bytes: &[u8]) -> Option<Header> {
    let (&first, &second) = (bytes.first()?, bytes.get(1)?);
    let masked = second & 0x80 != 0;
    let (mut len, payload) = match second & 0x7F {
        126 => (4, u64::from(u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?))),
        127 => (10, u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?)),
        short => (2, u64::from(short)),
    };
    let mask = if masked {
        let key = bytes.get(len..len + 4)?.try_into().ok()?;
        len += 4;
        Some(key)
    } else {
        None
    };
    Some(Header { len, fin: first & 0x80 != 0, opcode: first & 0x0F, payload, mask })
}

/// Parses and checks the server's frames as they arrive, in chunks of any size.
#[derive(Debug)]
struct FrameReader {
    size: usize,
    /// Frames in the prebuilt buffer: the echo of message `n` carries index `n % period`.
    period: u64,
    echo_masked: bool,
    messages: u64,
    bytes: u64,
    pings: u64,
    closed: bool,
    /// A header split across reads.
    partial: [u8; 14],
    have: usize,
    /// The frame whose payload is being read.
    current: Option<Header>,
    offset: usize,
    remaining: u64,
    full_check: bool,
    /// The index the next echo carries: `messages % period`, kept without a division.
    seq: u64,
    /// The header of a binary echo of `size` bytes up to its key, for the fast path.
    echo_header: Vec<u8>,
}

impl FrameReader {
    fn new(size: usize, period: u64, echo_masked: bool) -> FrameReader {
        FrameReader {
            size,
            period,
            echo_masked,
            messages: 0,
            bytes: 0,
            pings: 0,
            closed: false,
            partial: [0; 14],
            have: 0,
            current: None,
            offset: 0,
            remaining: 0,
            full_check: false,
            seq: 0,
            echo_header: {
                let mut header = Vec::new();
                push_header(&mut header, OP_BINARY, size, [0; 4]);
                header.truncate(header.len() - 4); // the key differs from frame to frame
                if !echo_masked {
                    header[1] &= 0x7F;
                }
                header
            },
        }
    }

    /// The fast path: consumes the whole binary echoes at the start of `data` with a header
    /// compare and an index compare each (a full check on every 64th), and returns the rest
    /// for the general path. Word compares, not slice compares: a call to `memcmp`
    /// per frame would make the client the bottleneck at 16 bytes.
    fn feed_whole<'a>(&mut self, mut data: &'a [u8]) -> Res<&'a [u8]> {
        let header_len = self.echo_header.len();
        if self.size < 8 || header_len > 8 {
            return Ok(data); // tiny or large frames: the general path (large ones are few)
        }
        let word = |bytes: &[u8]| u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        let mut padded = [0; 8];
        padded[..header_len].copy_from_slice(&self.echo_header);
        let header_mask = u64::MAX >> (64 - 8 * header_len as u32);
        let header_word = u64::from_le_bytes(padded);
        let key_len = if self.echo_masked { 4 } else { 0 };
        let payload_at = header_len + key_len;
        let frame_len = payload_at + self.size;
        while data.len() >= frame_len && word(data) & header_mask == header_word {
            let key: Option<[u8; 4]> = data[header_len..payload_at].try_into().ok();
            let key_word = key.map_or(0, |key| {
                let key = u64::from(u32::from_le_bytes(key));
                key | key << 32
            });
            let payload = &data[payload_at..frame_len];
            if word(payload) ^ key_word != self.seq
                || self.messages.is_multiple_of(FULL_CHECK_EVERY)
            {
                self.full_check = true;
                self.offset = 0;
                self.check(payload, key)?;
            }
            self.messages += 1;
            self.bytes += self.size as u64;
            self.seq = if self.seq + 1 == self.period { 0 } else { self.seq + 1 };
            data = &data[frame_len..];
        }
        Ok(data)
    }

    /// Consumes `data`, parsing in place; only a header split across reads is copied.
    fn feed(&mut self, mut data: &[u8]) -> Res<()> {
        while !data.is_empty() {
            if self.closed {
                return Err("bytes after the server's Close".into());
            }
            if self.current.is_none() && self.have == 0 {
                data = self.feed_whole(data)?;
                if data.is_empty() {
                    break;
                }
            }
            if let Some(header) = self.current {
                let take = data.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                if header.opcode == OP_BINARY {
                    self.check(&data[..take], header.mask)?;
                }
                self.offset += take;
                self.remaining -= take as u64;
                data = &data[take..];
                if self.remaining == 0 {
                    self.finish_frame(header);
                }
                continue;
            }
            let direct = if self.have == 0 { parse_header(data) } else { None };
            let header = match direct {
                Some(header) => {
                    data = &data[header.len..];
                    header
                }
                None => {
                    let mut found = None;
                    while found.is_none() && !data.is_empty() {
                        self.partial[self.have] = data[0];
                        self.have += 1;
                        data = &data[1..];
                        found = parse_header(&self.partial[..self.have]);
                    }
                    match found {
                        Some(header) => {
                            self.have = 0;
                            header
                        }
                        None => return Ok(()),
                    }
                }
            };
            self.start_frame(header)?;
        }
        Ok(())
    }

    fn start_frame(&mut self, header: Header) -> Res<()> {
        if !header.fin {
            return Err(format!("fragmented echo (opcode {:#x})", header.opcode).into());
        }
        if header.mask.is_some() && !self.echo_masked {
            return Err("masked frame from the server".into());
        }
        match header.opcode {
            OP_BINARY if header.payload != self.size as u64 => {
                return Err(format!(
                    "echo {} has {} bytes, sent {}",
                    self.messages, header.payload, self.size
                )
                .into());
            }
            OP_BINARY | OP_CLOSE | OP_PING | OP_PONG => {}
            other => return Err(format!("unexpected opcode {other:#x}").into()),
        }
        self.full_check = self.messages.is_multiple_of(FULL_CHECK_EVERY);
        self.offset = 0;
        self.remaining = header.payload;
        if header.payload == 0 {
            self.finish_frame(header);
        } else {
            self.current = Some(header);
        }
        Ok(())
    }

    fn finish_frame(&mut self, header: Header) {
        self.current = None;
        match header.opcode {
            OP_BINARY => {
                self.messages += 1;
                self.bytes += header.payload;
                self.seq = if self.seq + 1 == self.period { 0 } else { self.seq + 1 };
            }
            OP_CLOSE => self.closed = true,
            OP_PING => self.pings += 1,
            _ => {}
        }
    }

    /// Checks a chunk of the current binary payload: the index always, the rest sometimes.
    fn check(&self, chunk: &[u8], mask: Option<[u8; 4]>) -> Res<()> {
        let seq = self.seq;
        let checked =
            if self.full_check { chunk.len() } else { 8usize.saturating_sub(self.offset) };
        for (index, &byte) in chunk.iter().take(checked).enumerate() {
            let offset = self.offset + index;
            let byte = mask.map_or(byte, |key| byte ^ key[offset % 4]);
            let want = expected_byte(seq, offset);
            if byte != want {
                return Err(format!(
                    "echo {} (index {seq}) byte {offset} is {byte:#04x}, sent {want:#04x}",
                    self.messages
                )
                .into());
            }
        }
        Ok(())
    }
}

/// Reads from `stream` into `buffer` and feeds `reader` until `done` holds.
fn read_until(
    stream: &mut TcpStream,
    buffer: &mut [u8],
    reader: &mut FrameReader,
    done: impl Fn(&FrameReader) -> bool,
) -> Res<()> {
    while !done(reader) {
        let read = stream.read(buffer).map_err(|error| format!("read: {error}"))?;
        if read == 0 {
            return Err(format!("the server closed after {} echoes", reader.messages).into());
        }
        reader.feed(&buffer[..read])?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// stream and oneshot

/// What one connection did.
#[derive(Debug)]
struct ConnResult {
    messages: u64,
    bytes: u64,
    /// When its last echo (its Close, for `stream`) arrived.
    end: Instant,
}

fn run_load(args: &Args) -> Res<String> {
    if args.size == 0 {
        return Err("--size must be positive".into());
    }
    let mut conns = Vec::with_capacity(args.conns);
    for _ in 0..args.conns {
        conns.push(connect(&args.addr)?);
    }
    let (period, frames) = match args.mode {
        Mode::Stream => {
            let count = frames_per_buffer(args.size);
            (count as u64, Arc::new(build_frames(args.size, count)))
        }
        _ => (1, Arc::new(build_frames(args.size, 1))),
    };
    let frame_len = (frames.len() / period as usize) as u64;
    let window = (args.in_flight / args.conns as u64 / frame_len).max(2);
    let server_before = args.server_pid.map(cpu_ticks).transpose()?;
    let client_before = cpu_ticks_of("/proc/self/stat")?;
    let machine_before = machine_ticks()?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(args.seconds);
    let mut handles = Vec::with_capacity(conns.len());
    for (stream, leftover) in conns {
        let frames = Arc::clone(&frames);
        let reader = FrameReader::new(args.size, period, args.echo_masked);
        let mode = args.mode;
        let handle = thread::Builder::new().stack_size(256 * 1024).spawn(move || match mode {
            Mode::Stream => stream_conn(stream, leftover, reader, frames, window, deadline),
            _ => oneshot_conn(stream, leftover, reader, frames, deadline),
        })?;
        handles.push(handle);
    }
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(handle.join().map_err(|_| "a connection thread panicked")??);
    }
    let server_after = args.server_pid.map(cpu_ticks).transpose()?;
    let client_after = cpu_ticks_of("/proc/self/stat")?;
    let machine_after = machine_ticks()?;

    let end = results.iter().map(|result| result.end).max().unwrap_or(start);
    let elapsed = end.duration_since(start).as_secs_f64();
    let messages: u64 = results.iter().map(|result| result.messages).sum();
    let bytes: u64 = results.iter().map(|result| result.bytes).sum();
    let tick_ns = 1e9 / args.clk_tck as f64;
    let client_cpu_ns = (client_after - client_before) as f64 * tick_ns;
    let mode = if args.mode == Mode::Stream { "stream" } else { "oneshot" };
    let mut json = format!(
        "{{\"server\":\"{}\",\"mode\":\"{mode}\",\"size\":{},\"conns\":{},\"seconds\":{},\
         \"elapsed_s\":{elapsed:.4},\"messages\":{messages},\"bytes\":{bytes},\
         \"msgs_per_s\":{:.1},\"mb_per_s\":{:.3},\"client_cpu_util\":{:.3}",
        json_escape(&args.server),
        args.size,
        args.conns,
        args.seconds,
        messages as f64 / elapsed,
        bytes as f64 / elapsed / 1e6,
        client_cpu_ns / 1e9 / elapsed,
    );
    let machine_cpu_ns = (machine_after.0 - machine_before.0) as f64 * tick_ns;
    let irq_cpu_ns = (machine_after.1 - machine_before.1) as f64 * tick_ns;
    if let (Some(before), Some(after)) = (server_before, server_after) {
        let server_cpu_ns = (after - before) as f64 * tick_ns;
        // What neither side used: other processes on the machine (noise), and softirq work
        // in kernel threads (ksoftirqd) or interrupting other processes.
        let other_cpu_ns = (machine_cpu_ns - server_cpu_ns - client_cpu_ns).max(0.0);
        write!(
            json,
            ",\"server_cpu_ns\":{server_cpu_ns:.0},\"server_cpu_ns_per_msg\":{:.1},\
             \"server_cpu_util\":{:.3},\"irq_cpu_util\":{:.3},\"other_cpu_util\":{:.3}",
            server_cpu_ns / messages.max(1) as f64,
            server_cpu_ns / 1e9 / elapsed,
            irq_cpu_ns / 1e9 / elapsed,
            other_cpu_ns / 1e9 / elapsed,
        )?;
    }
    json.push('}');
    Ok(json)
}

/// A writer thread streams the prebuilt frames until the deadline, then a Close; this thread
/// reads the echoes until the server's Close. The writer keeps at most `window` frames
/// unechoed, so that a slow server does not leave seconds of queued input to drain.
fn stream_conn(
    mut stream: TcpStream,
    leftover: Vec<u8>,
    mut reader: FrameReader,
    frames: Arc<Vec<u8>>,
    window: u64,
    deadline: Instant,
) -> Res<ConnResult> {
    let period = reader.period;
    let frame_len = frames.len() / period as usize;
    // Each write is a run of whole frames: half the window, at most the prebuilt buffer.
    let chunk = (window / 2).clamp(1, period);
    let echoed = Arc::new(AtomicU64::new(0));
    let mut write_half = stream.try_clone()?;
    let writer_echoed = Arc::clone(&echoed);
    let writer = thread::Builder::new().stack_size(256 * 1024).spawn(move || -> Res<u64> {
        let (mut sent, mut at) = (0, 0);
        while Instant::now() < deadline {
            while sent + chunk > writer_echoed.load(Ordering::Acquire).saturating_add(window) {
                thread::park_timeout(Duration::from_millis(10));
            }
            let count = chunk.min(period - at);
            let run = &frames[at as usize * frame_len..(at + count) as usize * frame_len];
            write_half.write_all(run).map_err(|error| format!("write: {error}"))?;
            sent += count;
            at = (at + count) % period;
        }
        write_half.write_all(&CLOSE_FRAME)?;
        Ok(sent)
    })?;
    let waker = writer.thread().clone();
    let mut buffer = vec![0; READ_BUFFER];
    let mut read = reader.feed(&leftover);
    while read.is_ok() && !reader.closed {
        read = match stream.read(&mut buffer) {
            Ok(0) => Err(format!("the server closed after {} echoes", reader.messages).into()),
            Ok(count) => reader.feed(&buffer[..count]),
            Err(error) => Err(format!("read: {error}").into()),
        };
        echoed.store(reader.messages, Ordering::Release);
        waker.unpark();
    }
    let end = Instant::now();
    if read.is_err() {
        // Release the writer at once rather than at its write timeout.
        echoed.store(u64::MAX, Ordering::Release);
        waker.unpark();
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
    let written = writer.join().map_err(|_| "the writer thread panicked")?;
    read?; // a bad echo explains a failed write better than the write's own error
    let sent = written?;
    if reader.messages != sent {
        return Err(format!("sent {sent} messages, {} echoed", reader.messages).into());
    }
    Ok(ConnResult { messages: reader.messages, bytes: reader.bytes, end })
}

/// One message at a time until the deadline, then a Close.
fn oneshot_conn(
    mut stream: TcpStream,
    leftover: Vec<u8>,
    mut reader: FrameReader,
    frame: Arc<Vec<u8>>,
    deadline: Instant,
) -> Res<ConnResult> {
    let mut buffer = vec![0; READ_BUFFER.min(frame.len() + 64 * 1024)];
    reader.feed(&leftover)?;
    let mut end = Instant::now();
    while end < deadline {
        stream.write_all(&frame).map_err(|error| format!("write: {error}"))?;
        let want = reader.messages + 1;
        read_until(&mut stream, &mut buffer, &mut reader, |reader| reader.messages >= want)?;
        end = Instant::now();
    }
    stream.write_all(&CLOSE_FRAME)?;
    read_until(&mut stream, &mut buffer, &mut reader, |reader| reader.closed)?;
    Ok(ConnResult { messages: reader.messages, bytes: reader.bytes, end })
}

// ---------------------------------------------------------------------------------------------
// idle

/// Opens a connection, echoes one 16-byte message on it, and returns it.
fn used_connection(addr: &str, frame: &[u8], echo_masked: bool) -> Res<TcpStream> {
    let (mut stream, leftover) = connect(addr)?;
    let mut reader = FrameReader::new(16, 1, echo_masked);
    let mut buffer = [0; 256];
    reader.feed(&leftover)?;
    stream.write_all(frame)?;
    read_until(&mut stream, &mut buffer, &mut reader, |reader| reader.messages == 1)?;
    Ok(stream)
}

fn run_idle(args: &Args) -> Res<String> {
    let frame = build_frames(16, 1);
    let rss = |pid: Option<u32>| pid.map(rss_bytes).transpose();
    // Warm-up: the server's first connection allocates what every later one shares.
    let mut warm = used_connection(&args.addr, &frame, args.echo_masked)?;
    warm.write_all(&CLOSE_FRAME)?;
    let mut sink = [0; 256];
    while matches!(warm.read(&mut sink), Ok(read) if read > 0) {}
    drop(warm);
    thread::sleep(Duration::from_millis(500));
    let before = rss(args.server_pid)?;
    let opening = Instant::now();
    let mut held = Vec::with_capacity(args.conns);
    for index in 0..args.conns {
        let stream = used_connection(&args.addr, &frame, args.echo_masked)
            .map_err(|error| format!("connection {index}: {error}"))?;
        held.push(stream);
    }
    let open_s = opening.elapsed().as_secs_f64();
    eprintln!("ready: {} connections open in {open_s:.2} s", held.len());
    thread::sleep(Duration::from_secs_f64(args.settle));
    let after = rss(args.server_pid)?;
    let mut json = format!(
        "{{\"server\":\"{}\",\"mode\":\"idle\",\"size\":16,\"conns\":{},\"open_s\":{open_s:.3},\
         \"settle_s\":{}",
        json_escape(&args.server),
        args.conns,
        args.settle
    );
    if let (Some(before), Some(after)) = (before, after) {
        write!(
            json,
            ",\"rss_before\":{before},\"rss_after\":{after},\"bytes_per_conn\":{:.0}",
            (after as f64 - before as f64) / args.conns as f64
        )?;
    }
    if let Some(late) = args.late {
        thread::sleep(Duration::from_secs_f64((late - args.settle).max(0.0)));
        if let (Some(before), Some(late_rss)) = (before, rss(args.server_pid)?) {
            write!(
                json,
                ",\"late_s\":{late},\"rss_late\":{late_rss},\"bytes_per_conn_late\":{:.0}",
                (late_rss as f64 - before as f64) / args.conns as f64
            )?;
        }
    }
    json.push('}');
    // Check that every connection survived the wait: nothing but (keepalive) pings may arrive.
    for (index, stream) in held.iter_mut().enumerate() {
        stream.set_nonblocking(true)?;
        if let Ok(0) = stream.read(&mut sink) {
            return Err(format!("the server closed idle connection {index}").into());
        }
    }
    Ok(json)
}

// ---------------------------------------------------------------------------------------------
// /proc

/// utime + stime, in clock ticks, of every thread of process `pid`.
fn cpu_ticks(pid: u32) -> Res<u64> {
    cpu_ticks_of(&format!("/proc/{pid}/stat"))
}

fn cpu_ticks_of(path: &str) -> Res<u64> {
    let stat = std::fs::read_to_string(path).map_err(|error| format!("{path}: {error}"))?;
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    let after_name = &stat[stat.rfind(')').ok_or("no ')' in stat")? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat(5) are the 12th and 13th after the name.
    let utime: u64 = fields.get(11).ok_or("short stat")?.parse()?;
    let stime: u64 = fields.get(12).ok_or("short stat")?.parse()?;
    Ok(utime + stime)
}

/// CPU time of the whole machine, in clock ticks, from the first line of `/proc/stat`:
/// (everything but idle and iowait, the irq + softirq part of it). Loopback TCP does much of
/// its work in softirqs; a tick that lands in one is charged to the process it interrupted
/// (in its stime) as well as to the softirq line here, so the total includes it.
fn machine_ticks() -> Res<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().ok_or("empty /proc/stat")?;
    let fields: Vec<u64> =
        line.split_whitespace().skip(1).take(8).map(str::parse).collect::<Result<_, _>>()?;
    let [user, nice, system, _idle, _iowait, irq, softirq, steal] = fields[..] else {
        return Err("short /proc/stat".into());
    };
    Ok((user + nice + system + irq + softirq + steal, irq + softirq))
}

/// `VmRSS` of process `pid`, in bytes.
fn rss_bytes(pid: u32) -> Res<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|error| format!("{path}: {error}"))?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).ok_or("no VmRSS")?;
    let kib: u64 = line.split_whitespace().nth(1).ok_or("short VmRSS")?.parse()?;
    Ok(kib * 1024)
}

fn json_escape(text: &str) -> String {
    text.chars().filter(|c| *c != '"' && *c != '\\' && !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server's unmasked echo of `count` frames of `size` bytes.
    fn echoed(size: usize, count: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for seq in 0..count {
            out.push(0x82);
            if size < 126 {
                out.push(size as u8);
            } else if size <= 65535 {
                out.push(126);
                out.extend_from_slice(&(size as u16).to_be_bytes());
            } else {
                out.push(127);
                out.extend_from_slice(&(size as u64).to_be_bytes());
            }
            out.extend((0..size).map(|offset| expected_byte(seq as u64, offset)));
        }
        out
    }

    #[test]
    fn reads_echoes_in_any_chunking() {
        for size in [1, 16, 125, 126, 1024, 65535, 65536, 70000] {
            let wire = echoed(size, 5);
            for chunk in [1, 2, 3, 7, 64, 4096, usize::MAX] {
                let mut reader = FrameReader::new(size, 5, false);
                for part in wire.chunks(chunk.min(wire.len())) {
                    reader.feed(part).unwrap();
                }
                assert_eq!(reader.messages, 5, "size {size} chunk {chunk}");
                assert_eq!(reader.bytes, 5 * size as u64);
                assert!(reader.current.is_none() && reader.have == 0);
            }
        }
    }

    #[test]
    fn masked_echoes_are_checked_on_the_fast_path_too() {
        let mut wire = build_frames(16, 3);
        let mut reader = FrameReader::new(16, 3, true);
        reader.feed(&wire).unwrap();
        assert_eq!(reader.messages, 3);
        wire[2 + 4 + 22] ^= 0x01; // the second frame's index
        assert!(FrameReader::new(16, 3, true).feed(&wire).is_err());
    }

    #[test]
    fn masked_frames_unmask_to_the_same_payloads() {
        let wire = build_frames(300, 4);
        let mut reader = FrameReader::new(300, 4, true);
        reader.feed(&wire).unwrap();
        assert_eq!(reader.messages, 4);
        let mut strict = FrameReader::new(300, 4, false);
        assert!(strict.feed(&wire).is_err());
    }

    #[test]
    fn catches_reordered_wrong_and_short_echoes() {
        let one = echoed(16, 1);
        let mut wire = echoed(16, 2);
        wire.extend_from_slice(&one); // index 0 again where index 2 belongs
        assert!(FrameReader::new(16, 4, false).feed(&wire).is_err());
        let mut corrupt = echoed(1024, 1);
        corrupt[500] ^= 1;
        assert!(FrameReader::new(1024, 1, false).feed(&corrupt).is_err());
        assert!(FrameReader::new(17, 1, false).feed(&one).is_err());
    }

    #[test]
    fn close_and_ping_are_recognised() {
        let mut reader = FrameReader::new(16, 1, false);
        reader.feed(&[0x89, 0x02, b'h', b'i', 0x88, 0x02, 0x03, 0xE8]).unwrap();
        assert_eq!((reader.pings, reader.closed, reader.messages), (1, true, 0));
        let mut masked = FrameReader::new(16, 1, true);
        masked.feed(&CLOSE_FRAME).unwrap();
        assert!(masked.closed);
    }

    #[test]
    fn stat_fields_after_a_name_with_spaces() {
        let path = std::env::temp_dir().join(format!("loopback-stat-{}", std::process::id()));
        std::fs::write(&path, "42 (a b) c) S 1 2 3 4 5 6 7 8 9 10 111 222 13 14").unwrap();
        assert_eq!(cpu_ticks_of(path.to_str().unwrap()).unwrap(), 333);
        std::fs::remove_file(path).unwrap();
    }
}
