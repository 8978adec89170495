//! A self-signed certificate for `--https` without given files: generated once into the data dir and
//! reused, so that a browser's exception for it survives restarts.

use anyhow::Context;
use config_types::PublicUrl;
use std::path::Path;

/// The PEM certificate and key, generated for the host of `public_url` (plus localhost) when missing.
pub fn self_signed(data_dir: &Path, public_url: &PublicUrl) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let (cert_path, key_path) = (
        data_dir.join("self-signed.crt"),
        data_dir.join("self-signed.key"),
    );
    if cert_path.exists() && key_path.exists() {
        return Ok((std::fs::read(&cert_path)?, std::fs::read(&key_path)?));
    }
    let host = public_url.host().to_owned();
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    if !names.contains(&host) {
        names.push(host);
    }
    let generated = rcgen::generate_simple_self_signed(names)
        .context("generating a self-signed certificate")?;
    let (cert, key) = (generated.cert.pem(), generated.key_pair.serialize_pem());
    std::fs::write(&cert_path, &cert)?;
    write_private(&key_path, key.as_bytes())?;
    tracing::warn!(
        "generated a self-signed certificate: {}",
        cert_path.display()
    );
    Ok((cert.into_bytes(), key.into_bytes()))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    Ok(())
}
