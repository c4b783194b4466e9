//! `mmctl secrets init|edit|get|set|rotate|recipients`: the environment's SOPS secrets file
//! (`mmkt_secrets`); values go to stdout only (`get`) or through a tmpfs file (`edit`).

pub mod change;

use clap::{Args, Subcommand};

use crate::exit::{Outcome, classify_secrets};
use crate::secrets::{SecretsTarget, save};

/// The environment's encrypted secrets (deploy/secrets/<env>.enc.yaml), readable by sops.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mmctl secrets init --env staging --recipient age1...   # new file, encrypted to these keys
  printf '%s' \"$PW\" | mmctl secrets set GRAFANA_ADMIN_PASSWORD --env staging
  mmctl secrets get WALLET_RPC_LOGIN --env staging       # the value on stdout only
  mmctl secrets edit --env staging                        # $EDITOR on a 0600 tmpfs file
  mmctl secrets rotate --env staging                      # new data key, same recipients
  mmctl secrets recipients add age1... --env staging

The age identity: --secrets-identity, MMCTL_SECRETS_IDENTITY_FILE, the config file's
secrets_identity_file, else SOPS_AGE_KEY_FILE. Exit codes: 30 wrong identity, 31 tampered
file, 32 unknown key, 33 not a file mmctl reads, 34 no tmpfs, 35 edit not saved, 36 file
missing (init: exists); nothing is written on any of them.")]
pub struct SecretsArgs {
    #[command(subcommand)]
    pub command: SecretsCommand,
}

/// One secrets operation.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Create an empty secrets file encrypted to the given age recipients.
    Init(InitArgs),
    /// Edit every value in $VISUAL/$EDITOR (a 0600 file on a tmpfs, removed afterwards).
    Edit(SecretsTarget),
    /// Print one value to stdout.
    Get(KeyArgs),
    /// Set one value, read from stdin (never from the command line).
    Set(KeyArgs),
    /// Re-encrypt every value with a new data key for the current recipients.
    Rotate(SecretsTarget),
    /// List, add or remove the age recipients.
    #[command(subcommand)]
    Recipients(RecipientsCommand),
}

/// `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub target: SecretsTarget,
    /// age recipient (age1...) to encrypt to; repeat for each operator.
    #[arg(long = "recipient", required = true)]
    pub recipients: Vec<String>,
}

/// `get KEY` and `set KEY`.
#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(flatten)]
    pub target: SecretsTarget,
    /// The key, a variable name (e.g. WALLET_RPC_LOGIN).
    pub key: String,
}

/// `recipients list|add|remove`.
#[derive(Debug, Subcommand)]
pub enum RecipientsCommand {
    /// Print the recipients.
    List(SecretsTarget),
    /// Wrap the data key to one more recipient.
    Add(RecipientArgs),
    /// Remove a recipient and rotate the data key.
    Remove(RecipientArgs),
}

/// `recipients add|remove RECIPIENT`.
#[derive(Debug, Args)]
pub struct RecipientArgs {
    #[command(flatten)]
    pub target: SecretsTarget,
    /// The age recipient, age1...
    pub recipient: String,
}

impl SecretsCommand {
    /// The file and identity the operation acts on.
    pub fn target(&self) -> &SecretsTarget {
        match self {
            SecretsCommand::Init(a) => &a.target,
            SecretsCommand::Get(a) | SecretsCommand::Set(a) => &a.target,
            SecretsCommand::Edit(t) | SecretsCommand::Rotate(t) => t,
            SecretsCommand::Recipients(RecipientsCommand::List(t)) => t,
            SecretsCommand::Recipients(
                RecipientsCommand::Add(a) | RecipientsCommand::Remove(a),
            ) => &a.target,
        }
    }
}

/// Runs a secrets operation; only `get` prints a value, and nothing is written on an error.
pub fn run(args: SecretsArgs) -> anyhow::Result<Outcome> {
    let target = args.command.target();
    if let SecretsCommand::Init(init) = &args.command {
        return change::create(&target.path()?, &init.recipients);
    }
    let (path, mut file) = target.open()?;
    let message = match &args.command {
        SecretsCommand::Get(a) => {
            println!("{}", file.get(&a.key).map_err(classify_secrets)?.text());
            return Ok(Outcome::Success);
        }
        SecretsCommand::Recipients(RecipientsCommand::List(_)) => {
            file.recipients().iter().for_each(|r| println!("{r}"));
            return Ok(Outcome::Success);
        }
        SecretsCommand::Set(a) => Some(change::set(&mut file, &a.key)?),
        SecretsCommand::Edit(_) => change::edit(&mut file)?,
        SecretsCommand::Rotate(_) => {
            file.rotate().map_err(classify_secrets)?;
            Some(format!(
                "new data key for {} recipient(s)",
                file.recipients().len()
            ))
        }
        SecretsCommand::Recipients(RecipientsCommand::Add(a)) => {
            change::add(&mut file, &a.recipient)?
        }
        SecretsCommand::Recipients(RecipientsCommand::Remove(a)) => {
            file.remove_recipient(&a.recipient)
                .map_err(classify_secrets)?;
            Some(format!("{} removed and the data key rotated", a.recipient))
        }
        SecretsCommand::Init(init) => return change::create(&path, &init.recipients),
    };
    let Some(message) = message else {
        println!("nothing changed; {} is left as it was", path.display());
        return Ok(Outcome::Success);
    };
    save(&path, &file)?;
    println!("{message}: {}", path.display());
    Ok(Outcome::Success)
}
