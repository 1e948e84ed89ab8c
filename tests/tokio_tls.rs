//! `wss://` through `wsmachine::tokio::connect` (feature `rustls`): a TLS echo server with a
//! certificate made at start; the client trusting it connects and echoes, and `connect` with
//! its built-in roots refuses the self-signed certificate.

#![cfg(feature = "rustls")]

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;
use wsmachine::frame::CloseCode;
use wsmachine::Message;

/// A wss echo server on a fresh port with a self-signed certificate for `localhost`; returns
/// the port and the certificate.
async fn serve() -> (u16, CertificateDer<'static>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let certificate: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certificate.clone()], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut ws) = wsmachine::tokio::accept(tls).await else { return };
                while let Some(Ok(message)) = ws.recv().await {
                    if message.is_data() {
                        let _ = ws.send(message).await;
                    }
                }
            });
        }
    });
    (port, certificate)
}

#[tokio::test]
async fn wss_connects_over_tls_and_echoes() {
    let (port, certificate) = serve().await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certificate).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let url = format!("wss://localhost:{port}/");
    let mut ws = wsmachine::tokio::connect_tls(&url, Arc::new(config)).await.unwrap();
    assert!(matches!(ws.get_ref(), wsmachine::tokio::Stream::Tls(_)));
    ws.send("over TLS".into()).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::from("over TLS"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

#[tokio::test]
async fn connect_checks_the_certificate_against_its_roots() {
    let (port, _) = serve().await;
    let error = wsmachine::tokio::connect(&format!("wss://localhost:{port}/")).await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("certificate") || text.contains("UnknownIssuer"), "{text}");
}
