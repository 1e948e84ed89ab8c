//! `wss://`: a TLS echo server and a client talking to it, with rustls through tokio-rustls
//! and a self-signed certificate generated at start (rcgen).
//!
//! ```text
//! cargo run --release --example tls -- 127.0.0.1:9443
//! cargo run --release --example tls -- 127.0.0.1:0 --once   # exit after the exchange
//! ```
//!
//! Encryption is the caller's layer: the WebSocket connection runs unchanged over any stream
//! that reads and writes bytes, here a rustls stream. The program starts the server, connects
//! the client with a trust store holding only the generated certificate, exchanges a message,
//! closes cleanly, and keeps serving until interrupted (try it with any WebSocket client that
//! trusts the printed certificate, or stop it with Ctrl-C).

use std::error::Error;
use std::io;
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use wsmachine::frame::CloseCode;
use wsmachine::handshake::ClientHandshake;
use wsmachine::{Config, Connection, Event, ProtocolError};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let once = std::env::args().any(|arg| arg == "--once");
    let address = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with("--"))
        .unwrap_or_else(|| "127.0.0.1:9443".to_owned());
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    let certificate: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    println!("self-signed certificate for localhost:\n{}", certified.cert.pem());

    let server_config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certificate.clone()], key)?;
    let acceptor = TlsAcceptor::from(Arc::new(server_config));
    let listener = TcpListener::bind(&address).await?;
    let port = listener.local_addr()?.port();
    println!("wss echo server on wss://localhost:{port}/");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                match acceptor.accept(tcp).await {
                    Ok(tls) => {
                        if let Err(error) = echo(tls).await {
                            eprintln!("server connection: {error}");
                        }
                    }
                    Err(error) => eprintln!("TLS handshake failed: {error}"),
                }
            });
        }
    });

    let mut roots = rustls::RootCertStore::empty();
    roots.add(certificate)?;
    let client_config =
        rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(client_config));
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let tls = connector.connect(ServerName::try_from("localhost")?, tcp).await?;
    let reply = ask(tls, &format!("wss://localhost:{port}/"), "hello over TLS").await?;
    println!("client received: {reply}");

    if !once {
        tokio::signal::ctrl_c().await?;
    }
    Ok(())
}

/// Serves one connection: echoes every message until the connection is over.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(stream: S) -> io::Result<()> {
    let mut connection = Connection::server(Config::default(), Instant::now());
    drive(stream, &mut connection, |connection, event| match event {
        Ok(Event::Request(request)) => {
            if let Err(error) = connection.accept(request.accept()) {
                eprintln!("cannot accept: {error}");
            }
        }
        Ok(Event::Text(text)) => {
            let _closing = connection.sender().send_text(text.as_str());
        }
        Ok(Event::Binary(data)) => {
            let _closing = connection.sender().send_binary(&data);
        }
        Ok(_) => {}
        Err(error) => eprintln!("peer broke the protocol: {error}"),
    })
    .await
}

/// Opens a WebSocket over `stream`, sends `message`, and returns the first text that comes
/// back after closing cleanly.
async fn ask<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    url: &str,
    message: &str,
) -> Result<String, Box<dyn Error>> {
    let mut connection =
        Connection::client(ClientHandshake::new(url)?, Config::default(), Instant::now())?;
    let mut reply = None;
    let mut failure = None;
    // The first failure is kept, and the connection driven to its end all the same, so that
    // what it owes the server is written.
    drive(stream, &mut connection, |connection, event| {
        let outcome: Result<(), Box<dyn Error>> = match event {
            Ok(Event::Accepted(_)) => connection.sender().send_text(message).map_err(Into::into),
            Ok(Event::Text(text)) => {
                reply = Some(text.as_str().to_owned());
                connection.sender().close(CloseCode::NORMAL, "done").map_err(Into::into)
            }
            Ok(_) => Ok(()),
            Err(error) => Err(error.into()),
        };
        if let Err(error) = outcome {
            failure.get_or_insert(error);
        }
    })
    .await?;
    if let Some(error) = failure {
        return Err(error);
    }
    reply.ok_or_else(|| "no reply".into())
}

/// Drives `connection` over any async stream until it is over: writes what it queued, waits
/// for input or its next deadline, and hands every event to `on_event`; its last output is
/// written and the stream shut down however it ends (only an I/O error ends it earlier).
async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    connection: &mut Connection,
    mut on_event: impl FnMut(&mut Connection, Result<Event, ProtocolError>),
) -> io::Result<()> {
    let mut input = vec![0u8; 16 * 1024];
    let mut output = Vec::new();
    loop {
        output.clear();
        connection.poll_transmit(&mut output);
        stream.write_all(&output).await?;
        if connection.should_close_transport() {
            return stream.shutdown().await;
        }
        let deadline = connection.poll_timeout();
        tokio::select! {
            read = stream.read(&mut input) => match read? {
                0 => connection.receive_eof(),
                read => connection.receive(&input[..read]),
            },
            () = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
        connection.handle_timeout(Instant::now());
        while let Some(event) = connection.poll_event() {
            on_event(connection, event);
        }
    }
}
