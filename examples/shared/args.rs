//! The command line the echo servers share: `ADDRESS [--deflate[=N]] [--deflate-preset NAME]
//! [--keepalive=SECONDS] [--max-message-len=N] [--max-connections=N] [--max-per-address=N]`.

use std::time::Duration;

use wsmachine::Config;

use super::admission::Limits;

/// Connections open at once, by default: from everyone, and from one address.
const DEFAULT_LIMITS: Limits = Limits { total: 10_000, per_address: 256 };

/// What an echo server was asked for.
pub(crate) struct Args {
    /// Where to listen: the first argument that is not a flag; default `127.0.0.1:9001`.
    pub(crate) address: String,
    /// The connections' configuration: permessage-deflate with `--deflate` (built with
    /// `--features deflate`); `--deflate=N` sends messages under N bytes uncompressed;
    /// `--deflate-preset NAME` (or `=NAME`) enables it with a `DeflatePreset` (default,
    /// balanced, small, smallest, shared);
    /// `--keepalive=SECONDS` sets the keepalive interval (0: no keepalive Pings; default 20 s);
    /// `--max-message-len=N` accepts messages (and frames) of up to N bytes instead of the
    /// default 1 MiB.
    pub(crate) config: Config,
    /// Caps on connections open at once (`--max-connections`, `--max-per-address`).
    pub(crate) limits: Limits,
}

impl Args {
    /// Reads the process's arguments; a flag the build cannot honour ends the program with a
    /// usage line.
    pub(crate) fn from_env() -> Args {
        let mut args: Vec<String> = std::env::args().skip(1).collect();
        // `--deflate-preset NAME` as one argument, so that NAME is not taken for the address.
        if let Some(at) = args.iter().position(|arg| arg == "--deflate-preset") {
            let name = args.get(at + 1).cloned().unwrap_or_default();
            args.splice(at..(at + 2).min(args.len()), [format!("--deflate-preset={name}")]);
        }
        let address = args
            .iter()
            .find(|arg| !arg.starts_with("--"))
            .cloned()
            .unwrap_or_else(|| "127.0.0.1:9001".to_owned());
        #[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
        let mut config = Config::default();
        let preset = args.iter().find_map(|arg| arg.strip_prefix("--deflate-preset="));
        let flag = args.iter().find(|arg| *arg == "--deflate" || arg.starts_with("--deflate="));
        if preset.is_some() || flag.is_some() {
            #[cfg(feature = "deflate")]
            {
                use wsmachine::extensions::deflate::{DeflateConfig, DeflatePreset};
                let preset = match preset.map(str::parse::<DeflatePreset>) {
                    None => DeflatePreset::Default,
                    Some(Ok(preset)) => preset,
                    Some(Err(unknown)) => {
                        eprintln!("--deflate-preset: {unknown}");
                        std::process::exit(2);
                    }
                };
                let mut deflate = DeflateConfig::preset(preset);
                let threshold = flag.and_then(|f| f.strip_prefix("--deflate=")?.parse().ok());
                deflate.compression_threshold = threshold.unwrap_or(0);
                config.deflate = Some(deflate);
            }
            #[cfg(not(feature = "deflate"))]
            {
                let _ = (preset, flag);
                eprintln!("--deflate needs the deflate feature: cargo run --features deflate ...");
                std::process::exit(2);
            }
        }
        if let Some(seconds) = number_flag(&args, "--keepalive") {
            config.keepalive_interval = (seconds > 0).then(|| Duration::from_secs(seconds));
        }
        if let Some(len) = number_flag(&args, "--max-message-len") {
            config.max_message_len = len;
            config.max_frame_len = len;
        }
        let mut limits = DEFAULT_LIMITS;
        if let Some(total) = number_flag(&args, "--max-connections") {
            limits.total = total;
        }
        if let Some(per_address) = number_flag(&args, "--max-per-address") {
            limits.per_address = per_address;
        }
        Args { address, config, limits }
    }
}

/// The number of `--NAME=N`, if given; a value that is not a number ends the program with a
/// usage line.
fn number_flag<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    let flag = args.iter().find(|arg| arg.split('=').next() == Some(name))?;
    match flag.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')).map(str::parse) {
        Some(Ok(value)) => Some(value),
        _ => {
            eprintln!("usage: {name}=NUMBER");
            std::process::exit(2);
        }
    }
}
