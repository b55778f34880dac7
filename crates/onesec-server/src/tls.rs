//! TLS for the HTTP API: rustls with the `ring` provider, a certificate from files or one
//! generated for localhost on first use.

use onesec_pipeline::Config;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A setting is missing or wrong.
    #[error("[http] tls: {0}")]
    Config(String),
    /// A PEM file could not be read.
    #[error("TLS: cannot read {path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The certificate could not be generated or written.
    #[error("TLS: {0}")]
    Generate(String),
    /// rustls refused the certificate and key.
    #[error("TLS: certificate and key refused: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The rustls server settings for `[http]`, or `None` for plain HTTP.
pub fn server_config(config: &Config) -> Result<Option<Arc<rustls::ServerConfig>>, TlsError> {
    let (cert, key) = match config.http.tls.as_str() {
        "off" | "" => return Ok(None),
        "files" => {
            let need = |p: &Option<PathBuf>, key: &str| {
                p.clone()
                    .ok_or_else(|| TlsError::Config(format!("tls = \"files\" needs {key}")))
            };
            (
                need(&config.http.tls_cert, "tls_cert")?,
                need(&config.http.tls_key, "tls_key")?,
            )
        }
        "self-signed" => self_signed(&config.data_dir.join("tls"))?,
        other => {
            return Err(TlsError::Config(format!(
                "{other:?}: expected off, self-signed or files"
            )));
        }
    };
    rustls_config(&cert, &key).map(Some)
}

/// The rustls server settings for syslog over TLS: `[syslog] tls_cert` and `tls_key` when
/// both are given, else the self-signed pair of `<data_dir>/tls` (the one HTTPS uses too).
pub fn syslog_config(config: &Config) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let (cert, key) = match (&config.syslog.tls_cert, &config.syslog.tls_key) {
        (Some(cert), Some(key)) => (cert.clone(), key.clone()),
        (None, None) => self_signed(&config.data_dir.join("tls"))?,
        _ => {
            return Err(TlsError::Config(
                "syslog: give both tls_cert and tls_key, or neither (self-signed)".into(),
            ));
        }
    };
    rustls_config(&cert, &key)
}

fn rustls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = read_chain(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Pem {
        path: key.to_path_buf(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(Arc::new(server))
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |reason: String| TlsError::Pem {
        path: path.to_path_buf(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if chain.is_empty() {
        return Err(bad("no certificate in the file".into()));
    }
    Ok(chain)
}

/// `cert.pem` and `key.pem` in `dir`, generated (for `localhost`, `127.0.0.1` and `::1`) when
/// absent; the key is readable by its owner only.
fn self_signed(dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    let names = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let generated =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    let io = |e: std::io::Error| TlsError::Generate(format!("writing {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    write_private(&key_path, generated.key_pair.serialize_pem().as_bytes()).map_err(io)?;
    std::fs::write(&cert_path, generated.cert.pem()).map_err(io)?;
    tracing::info!(cert = %cert_path.display(), "generated a self-signed TLS certificate");
    Ok((cert_path, key_path))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}
