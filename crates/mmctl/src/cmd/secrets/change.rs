//! The `mmctl secrets` operations that need more than one call: `init`, `set` (the value from
//! stdin), `edit` (the operator's editor on a tmpfs file) and `recipients add`. Each returns
//! what to print after the file is saved, or `None` when nothing changed.

use std::path::Path;

use mmkt_secrets::{AddOutcome, Recipient, SecretsFile, SetOutcome, Value, edit};

use crate::exit::{EDIT_FAILED, Outcome, SECRETS_FILE_STATE, SecretsExit, classify_secrets};
use crate::secrets::{read_value, save};

/// `init`: a new file encrypted to `recipients`, refused when one exists (exit 36).
pub fn create(path: &Path, recipients: &[String]) -> anyhow::Result<Outcome> {
    if path.exists() {
        let why = format!(
            "{} already exists; change it with set, edit or rotate",
            path.display()
        );
        return Err(SecretsExit(SECRETS_FILE_STATE, why).into());
    }
    let recipients: Vec<Recipient> = recipients
        .iter()
        .map(|r| Recipient::parse(r))
        .collect::<Result<_, _>>()
        .map_err(classify_secrets)?;
    save(
        path,
        &SecretsFile::create(&recipients).map_err(classify_secrets)?,
    )?;
    println!(
        "created {} for {} recipient(s)",
        path.display(),
        recipients.len()
    );
    Ok(Outcome::Success)
}

/// `set KEY`: the value read from stdin (never an argument, so never in `ps`).
pub fn set(file: &mut SecretsFile, key: &str) -> anyhow::Result<String> {
    let value = Value::Str(read_value(key)?);
    Ok(match file.set(key, value).map_err(classify_secrets)? {
        SetOutcome::Added => format!("{key} added"),
        SetOutcome::Replaced => format!("{key} replaced"),
    })
}

/// `edit`: `$VISUAL`, else `$EDITOR`, else `vi` on the values as flat YAML in a tmpfs file;
/// invalid text or a failing editor is exit 35.
pub fn edit(file: &mut SecretsFile) -> anyhow::Result<Option<String>> {
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
        .unwrap_or_else(|| "vi".into());
    let text = edit::in_editor(&file.plain_yaml(), &editor).map_err(classify_secrets)?;
    let not_saved = |e| SecretsExit(EDIT_FAILED, format!("the edit was not saved: {e}"));
    Ok(file
        .replace_from_yaml(&text)
        .map_err(not_saved)?
        .then(|| format!("{} values saved", file.entries().len())))
}

/// `recipients add RECIPIENT`: the current data key wrapped to it too.
pub fn add(file: &mut SecretsFile, recipient: &str) -> anyhow::Result<Option<String>> {
    let parsed = Recipient::parse(recipient).map_err(classify_secrets)?;
    Ok(
        match file.add_recipient(&parsed).map_err(classify_secrets)? {
            AddOutcome::Added => Some(format!("{recipient} added")),
            AddOutcome::AlreadyPresent => None,
        },
    )
}
