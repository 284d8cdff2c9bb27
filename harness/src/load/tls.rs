//! TLS for `https://` targets, with rustls: the client configuration a suite's keys make
//! (system roots, a private CA, no verification at all, a client certificate), and the
//! stream a user's connection is, plain or encrypted, so one HTTP/1.1 exchange serves both.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::pem::certificates;
use sessionbench_model::plan::TlsPlan;

/// What connecting over TLS needs: the configuration and the name the server is asked for.
#[derive(Clone)]
pub struct Tls {
    pub connector: TlsConnector,
    pub server_name: ServerName<'static>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// The configuration for `plan`, asking for `host` (SNI, and the name the certificate must
    /// carry). Errors name the file that could not be used.
    pub fn new(plan: &TlsPlan, host: &str) -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let builder = if plan.insecure_skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(
                    provider.signature_verification_algorithms,
                )))
        } else {
            builder.with_root_certificates(roots(plan.ca_file.as_deref())?)
        };
        let mut config = match (&plan.client_cert, &plan.client_key) {
            (Some(cert), Some(key)) => {
                let chain = certificates(cert)?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| format!("{}: no private key read: {e}", key.display()))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("{}: {e}", cert.display()))?
            }
            _ => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let server_name = ServerName::try_from(host.to_string())
            .map_err(|e| format!("`{host}` is not a name TLS can ask for: {e}"))?;
        Ok(Self {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    /// The handshake on `tcp`. `Err(Some(why))`: TLS itself refused (a certificate not
    /// trusted, an alert), which trying again will not change, said so a person can act;
    /// `Err(None)`: the connection failed under it.
    pub async fn connect(&self, tcp: TcpStream) -> Result<Stream, Option<String>> {
        self.connector
            .connect(self.server_name.clone(), tcp)
            .await
            .map(|s| Stream::Tls(Box::new(s)))
            .map_err(|e| {
                let refused = e
                    .get_ref()
                    .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
                refused.then(|| explain(&e))
            })
    }
}

/// A private CA's certificates, or the system's roots.
fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for cert in certificates(path)? {
                store
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(
                    "no system root certificates found (install ca-certificates, or give `ca-file`)"
                        .into(),
                );
            }
        }
    }
    Ok(store)
}

/// A handshake error as one line with what to do.
fn explain(e: &io::Error) -> String {
    let text = e.to_string();
    let hint = if text.contains("NotValidForName") {
        ": the certificate is for another name (use the name it was issued for in `url`)"
    } else if text.contains("Expired") {
        ": the server's certificate has expired"
    } else if text.contains("invalid peer certificate") {
        ": the server's certificate is not signed by a trusted CA (give its CA in `ca-file`, \
         or for a self-signed staging server `insecure-skip-verify = true`)"
    } else {
        ""
    };
    format!("TLS handshake failed: {text}{hint}")
}

/// Accepts every certificate (`insecure-skip-verify`), but still checks the handshake's
/// signatures, so the session is at least with whoever holds the certificate's key.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// A user's connection: plain TCP (the fast path on loopback) or TLS over it.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// The TCP connection underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) => s,
            Self::Tls(s) => s.get_ref().0,
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use hyper::Method;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use rustls::server::WebPkiClientVerifier;

    use super::*;
    use crate::load::client::tests::echo_on;
    use crate::load::{Client, Endpoint, SendFailure};
    use crate::protocol::Reply;
    use sessionbench_model::plan::TargetUrl;

    /// A certificate (for 127.0.0.1) and its key.
    fn made() -> (rcgen::Certificate, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress(IpAddr::from([127, 0, 0, 1])));
        (params.self_signed(&key).expect("cert"), key)
    }

    fn der(cert: &rcgen::Certificate) -> CertificateDer<'static> {
        CertificateDer::from(cert.der().to_vec())
    }

    fn key_der(key: &rcgen::KeyPair) -> PrivateKeyDer<'static> {
        PrivateKeyDer::try_from(key.serialize_der()).expect("key")
    }

    /// A TLS server on loopback answering with `echo_on` on each connection; with
    /// `client_ca`, it asks for a client certificate signed by it. Returns its port, its
    /// certificate, and how many handshakes it has completed.
    async fn serve(
        client_ca: Option<&rcgen::Certificate>,
    ) -> (u16, rcgen::Certificate, Arc<AtomicUsize>) {
        let (cert, key) = made();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("versions");
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                roots.add(der(ca)).expect("root");
                let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .expect("verifier");
                builder.with_client_cert_verifier(verifier)
            }
        };
        let server = builder
            .with_single_cert(vec![der(&cert)], key_der(&key))
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counted = handshakes.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    counted.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(echo_on(tls));
                }
            }
        });
        (port, cert, handshakes)
    }

    fn pem_file(name: &str, pem: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!(
            "sessionbench-tls-{name}-{}.pem",
            std::process::id()
        ));
        std::fs::write(&path, pem).expect("write");
        path
    }

    fn client(port: u16, tls: &TlsPlan) -> Client {
        let url = TargetUrl::parse(&format!("https://127.0.0.1:{port}"), false).expect("url");
        Client::for_user(
            Arc::new(Endpoint::new(&url, Some(tls)).expect("endpoint")),
            0,
        )
    }

    fn text(r: Reply) -> String {
        String::from_utf8(r.body.to_vec()).expect("utf-8")
    }

    /// Trusted through `ca-file`: the requests share one connection (one handshake), and a
    /// `Secure` cookie comes back.
    #[tokio::test]
    async fn over_tls_a_user_keeps_its_connection_and_its_secure_cookies() {
        let (port, cert, handshakes) = serve(None).await;
        let ca = pem_file("ca", &cert.pem());
        let tls = TlsPlan {
            ca_file: Some(ca.clone()),
            ..TlsPlan::default()
        };
        let mut user = client(port, &tls);
        let first = text(user.send(Method::GET, "/a", None).await.expect("answer"));
        assert!(!first.contains("cookie:"), "{first}");
        assert_eq!(
            user.cookie("s"),
            Some("1"),
            "a Secure cookie is kept over TLS"
        );
        let second = text(user.send(Method::GET, "/b", None).await.expect("answer"));
        assert!(second.contains("cookie: s=1"), "{second}");
        assert!(
            second.contains(&format!("host: 127.0.0.1:{port}")),
            "{second}"
        );
        assert_eq!(
            handshakes.load(Ordering::SeqCst),
            1,
            "one connection carried both"
        );
        let _ = std::fs::remove_file(ca);
    }

    /// Without its CA the certificate is refused with what to do; with
    /// `insecure-skip-verify` it is not checked at all.
    #[tokio::test]
    async fn an_unknown_certificate_is_refused_unless_verification_is_skipped() {
        let (port, _, _) = serve(None).await;
        let (other, _) = made();
        let ca = pem_file("other-ca", &other.pem());
        let tls = TlsPlan {
            ca_file: Some(ca.clone()),
            ..TlsPlan::default()
        };
        match client(port, &tls).send(Method::GET, "/", None).await {
            Err(SendFailure::Tls(why)) => {
                assert!(why.contains("invalid peer certificate"), "{why}");
                assert!(why.contains("insecure-skip-verify"), "{why}");
            }
            other => panic!("a certificate from an unknown CA was accepted: {other:?}"),
        }
        let skip = TlsPlan {
            insecure_skip_verify: true,
            ..TlsPlan::default()
        };
        client(port, &skip)
            .send(Method::GET, "/", None)
            .await
            .expect("not verified, so accepted");
        let _ = std::fs::remove_file(ca);
    }

    /// A server that asks for a client certificate gets the one `client-cert` and
    /// `client-key` name; without them the handshake fails.
    #[tokio::test]
    async fn a_client_certificate_is_presented_when_given() {
        let (client_cert, client_key) = made();
        let (port, server_cert, _) = serve(Some(&client_cert)).await;
        let ca = pem_file("server-ca", &server_cert.pem());
        let cert = pem_file("client-cert", &client_cert.pem());
        let key = pem_file("client-key", &client_key.serialize_pem());
        let without = TlsPlan {
            ca_file: Some(ca.clone()),
            ..TlsPlan::default()
        };
        let refused = client(port, &without).send(Method::GET, "/", None).await;
        assert!(
            refused.is_err(),
            "no client certificate, no answer: {refused:?}"
        );
        let with = TlsPlan {
            client_cert: Some(cert.clone()),
            client_key: Some(key.clone()),
            ..without
        };
        let answer = client(port, &with)
            .send(Method::GET, "/", None)
            .await
            .expect("the client certificate was accepted");
        assert_eq!(answer.status, hyper::StatusCode::OK);
        for f in [ca, cert, key] {
            let _ = std::fs::remove_file(f);
        }
    }
}
