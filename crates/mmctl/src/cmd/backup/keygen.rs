//! `mmctl backup keygen --out FILE`: a new Ed25519 key that signs backup manifests, written to
//! FILE (mode 0600, never overwriting); its public key, the verify key, goes to stdout.

use std::path::PathBuf;

use clap::Args;

use mmkt_backup::signing::SigningKey;

use crate::exit::Outcome;

/// `mmctl backup keygen`
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the signing key (a new file; keep it off the backup store).
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `mmctl backup keygen`: exit 1 when the file exists or cannot be written.
pub fn run(args: KeygenArgs) -> anyhow::Result<Outcome> {
    let key = SigningKey::generate();
    key.write_new(&args.out)?;
    eprintln!(
        "wrote the signing key to {} (mode 0600): set MMKT_BACKUP_SIGNING_KEY_FILE to it on the backup host.\n\
         Trust the public key below where backups are verified and restored (MMKT_BACKUP_VERIFY_KEYS):",
        args.out.display()
    );
    println!("{}", key.public_key());
    Ok(Outcome::Success)
}
