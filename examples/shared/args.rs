//! The command line the echo servers share: `ADDRESS [--deflate[=N]] [--max-message-len=N]`.

use wsmachine::Config;

/// What an echo server was asked for.
pub(crate) struct Args {
    /// Where to listen: the first argument that is not a flag; default `127.0.0.1:9001`.
    pub(crate) address: String,
    /// The connections' configuration: permessage-deflate with `--deflate` (built with
    /// `--features deflate`); `--deflate=N` sends messages under N bytes uncompressed;
    /// `--max-message-len=N` accepts messages (and frames) of up to N bytes instead of the
    /// default 1 MiB.
    pub(crate) config: Config,
}

impl Args {
    /// Reads the process's arguments; a flag the build cannot honour ends the program with a
    /// usage line.
    pub(crate) fn from_env() -> Args {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let address = args
            .iter()
            .find(|arg| !arg.starts_with("--"))
            .cloned()
            .unwrap_or_else(|| "127.0.0.1:9001".to_owned());
        #[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
        let mut config = Config::default();
        if let Some(flag) = args.iter().find(|arg| arg.starts_with("--deflate")) {
            #[cfg(feature = "deflate")]
            {
                let mut deflate = wsmachine::extensions::deflate::DeflateConfig::default();
                let threshold = flag.strip_prefix("--deflate=").and_then(|n| n.parse().ok());
                deflate.compression_threshold = threshold.unwrap_or(0);
                config.deflate = Some(deflate);
            }
            #[cfg(not(feature = "deflate"))]
            {
                let _ = flag;
                eprintln!("--deflate needs the deflate feature: cargo run --features deflate ...");
                std::process::exit(2);
            }
        }
        if let Some(flag) = args.iter().find(|arg| arg.starts_with("--max-message-len")) {
            let Some(len) = flag.strip_prefix("--max-message-len=").and_then(|n| n.parse().ok())
            else {
                eprintln!("usage: --max-message-len=BYTES");
                std::process::exit(2);
            };
            config.max_message_len = len;
            config.max_frame_len = len;
        }
        Args { address, config }
    }
}
