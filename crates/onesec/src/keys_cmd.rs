//! Encryption at rest from the command line (docs/privacy.md, "Encryption at rest"): where
//! the key ring comes from, `onesec privacy keygen | rekey | decrypt`, and exports written to
//! files sealed when encryption is on.

use anyhow::{Context, bail};
use clap::Args;
use onesec_keys::KeyRing;
use onesec_pipeline::Config;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Installs the environment's key ring (`ONESEC_ENCRYPTION_KEY`, `ONESEC_ENCRYPTION_KEY_FILE`)
/// for every command, so offline commands on an encrypted data folder need no config file.
pub fn install_from_env() -> anyhow::Result<()> {
    if let Some(ring) = KeyRing::from_env().context("reading the encryption key")? {
        onesec_keys::install(Some(Arc::new(ring)));
    }
    Ok(())
}

/// Reads a configuration file and installs its `[privacy.encryption]` key ring, before
/// anything of its data folder is opened.
pub fn load_config(path: &Path) -> anyhow::Result<Config> {
    let config = Config::load(path)?;
    onesec_pipeline::install_encryption(&config)?;
    Ok(config)
}

/// `onesec privacy keygen` flags.
#[derive(Args)]
pub struct KeygenArgs {
    /// Write the key to this file (created readable by its owner only; refused if it
    /// exists). Without it the key goes to standard output.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Put the new key first in this existing key file, keeping its keys after it (key
    /// rotation: new data uses the new key, the old ones still open older data).
    #[arg(long, conflicts_with = "out", value_name = "KEY_FILE")]
    rotate: Option<PathBuf>,
}

/// `onesec privacy keygen`: a new random 256-bit key.
pub fn keygen(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let key = onesec_keys::generate_key_hex()?;
    let line = format!(
        "{}  # created {}\n",
        key.as_str(),
        chrono::Utc::now().format("%Y-%m-%d")
    );
    match (&args.out, &args.rotate) {
        (Some(path), _) => {
            write_private(path, line.as_bytes(), false)?;
            let id = KeyRing::load_file(path)?.current_id();
            eprintln!("wrote key {id} to {}", path.display());
        }
        (None, Some(path)) => {
            let old = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            KeyRing::parse(&old, &path.display().to_string())?;
            write_private(path, format!("{line}{old}").as_bytes(), true)?;
            let ring = KeyRing::load_file(path)?;
            eprintln!(
                "key {} is now current in {} (keys: {}); restart onesec, then `onesec privacy rekey` moves the databases and sealed journal segments to it",
                ring.current_id(),
                path.display(),
                ring.ids_text()
            );
        }
        (None, None) => print!("{line}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to a file only its owner can read: a new file, or (with `replace`) a
/// temporary file renamed over the old one.
fn write_private(path: &Path, bytes: &[u8], replace: bool) -> anyhow::Result<()> {
    let target = if replace {
        path.with_extension("new")
    } else {
        path.to_owned()
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&target)
        .with_context(|| format!("creating {} (it must not exist yet)", target.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", target.display()))?;
    if replace {
        std::fs::rename(&target, path).with_context(|| format!("replacing {}", path.display()))?;
    }
    Ok(())
}

/// `onesec privacy rekey` flags.
#[derive(Args)]
pub struct RekeyArgs {
    /// The configuration file onesec runs with (its data folder and `[privacy.encryption]`).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Data folder (overrides the config file's).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// The SQLite databases of a data folder, with the page size each is opened with.
const DATABASES: &[(&str, Option<u32>)] = &[
    ("onesec.db", Some(16384)),
    ("auth/auth.db", None),
    ("compliance.db", None),
];

/// `onesec privacy rekey`: moves every database of a stopped onesec's data folder to the
/// current key (encrypting plain ones), and re-seals journal segments of older keys.
pub fn rekey(args: RekeyArgs) -> anyhow::Result<ExitCode> {
    let data = match &args.config {
        Some(path) => {
            let config = load_config(path)?;
            args.data_dir.clone().unwrap_or(config.data_dir)
        }
        None => args
            .data_dir
            .clone()
            .unwrap_or_else(crate::default_data_dir),
    };
    let Some(ring) = onesec_keys::installed() else {
        bail!(
            "no encryption key: configure [privacy.encryption] (--config) or set ONESEC_ENCRYPTION_KEY_FILE"
        );
    };
    // The journal first: its lock proves onesec is not running on the folder (the databases
    // must not be rewritten under it).
    let journal_dir = data.join("journal");
    let resealed = onesec_journal::reseal_dir(onesec_journal::JournalConfig::new(&journal_dir))
        .with_context(|| {
            format!(
                "re-sealing the journal {} (stop onesec on this folder first)",
                journal_dir.display()
            )
        })?;
    for (segment, from) in &resealed.resealed {
        println!(
            "{}: re-sealed from {} to key {}",
            segment.display(),
            from.map_or("plain".to_string(), |k| format!("key {k}")),
            ring.current_id()
        );
    }
    for segment in &resealed.plain_kept {
        println!(
            "{}: plain segment kept (its records stay in the clear until retention removes it)",
            segment.display()
        );
    }
    for (name, page_size) in DATABASES {
        let path = data.join(name);
        if !path.exists() {
            continue;
        }
        match onesec_keys::sqlite::rekey(&ring, &path, *page_size)? {
            Some(done) => println!("{}: {done} with key {}", path.display(), ring.current_id()),
            None => println!("{}: already on key {}", path.display(), ring.current_id()),
        }
    }
    reseal_file(&ring, &data.join("hygiene/baselines.json"))?;
    report_audit_keys(&ring, &data.join("audit"))?;
    Ok(ExitCode::SUCCESS)
}

/// Re-seals a sealed file (the connection baselines) with the current key, or seals a plain
/// one; absent: nothing to do.
fn reseal_file(ring: &KeyRing, path: &Path) -> anyhow::Result<()> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let what = path.display().to_string();
    let plain = if onesec_keys::is_sealed_file(&bytes) {
        zeroize::Zeroizing::new(onesec_keys::open_file(ring, &bytes, &what)?)
    } else {
        zeroize::Zeroizing::new(bytes)
    };
    let sealed = onesec_keys::seal_file(ring, &plain)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, sealed)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("writing {}", path.display()))?;
    println!("{what}: re-sealed with key {}", ring.current_id());
    Ok(())
}

/// The audit log is never rewritten (its Merkle tree and signed checkpoints cover the sealed
/// bytes): says how many entries each older key sealed, which stay readable only while that
/// key is in the ring.
fn report_audit_keys(ring: &KeyRing, audit: &Path) -> anyhow::Result<()> {
    if !audit.join(onesec_audit::LEAVES_FILE).exists() {
        return Ok(());
    }
    let contents = onesec_audit::read_contents(audit)?;
    let mut by_key: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for payload in &contents.stored {
        let key = onesec_audit::sealed_key(payload).map_or("clear".to_string(), |k| k.to_string());
        *by_key.entry(key).or_default() += 1;
    }
    let current = ring.current_id().to_string();
    for (key, count) in by_key {
        if key == current {
            continue;
        }
        let held = ring.ids().iter().any(|id| id.to_string() == key);
        println!(
            "{}: {count} entries {} (the audit log is not rewritten: {})",
            audit.join(onesec_audit::LEAVES_FILE).display(),
            if key == "clear" {
                "in the clear, written before encryption was on".to_string()
            } else {
                format!("sealed with key {key}")
            },
            if key == "clear" {
                "they stay as they are"
            } else if held {
                "keep that key in the key file after the current one while their details must stay readable; dropping it erases their personal part, the log still verifies"
            } else {
                "that key is no longer in the ring, their personal part is unreadable; the log still verifies"
            }
        );
    }
    Ok(())
}

/// `onesec privacy decrypt` flags.
#[derive(Args)]
pub struct DecryptArgs {
    /// A file an export wrote while encryption was on.
    file: PathBuf,
    /// Where to write the plaintext (default: standard output).
    #[arg(long, short)]
    out: Option<PathBuf>,
}

/// `onesec privacy decrypt`: the plaintext of a sealed export, with the key ring in force.
pub fn decrypt(args: DecryptArgs) -> anyhow::Result<ExitCode> {
    let Some(ring) = onesec_keys::installed() else {
        bail!("no encryption key: set ONESEC_ENCRYPTION_KEY_FILE to the key file");
    };
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let plain = onesec_keys::open_file(&ring, &bytes, &args.file.display().to_string())?;
    match &args.out {
        Some(path) => write_private(path, &plain, false)?,
        None => std::io::stdout().lock().write_all(&plain)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes an export to `path`: sealed with the current key when encryption is on, unless
/// the operator asked for `plaintext` (a copy for a data subject, who has no key). Returns
/// whether it was sealed.
pub fn write_export(path: &Path, bytes: &[u8], plaintext: bool) -> anyhow::Result<bool> {
    let sealed = match onesec_keys::installed() {
        Some(ring) if !plaintext => Some(onesec_keys::seal_file(&ring, bytes)?),
        _ => None,
    };
    let written = sealed.as_deref().unwrap_or(bytes);
    std::fs::write(path, written).with_context(|| format!("writing {}", path.display()))?;
    Ok(sealed.is_some())
}
