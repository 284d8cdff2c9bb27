//! PEM files a suite names (a private CA, a client certificate): validation reads them so a
//! wrong path or an empty file is an error at its line, and the TLS client loads them.

/// The certificates in a PEM file (one at least): validation reads `ca-file` with it, so a
/// wrong path or an empty file is an error at its line.
pub fn certificates(
    path: &std::path::Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    Ok(certs)
}
