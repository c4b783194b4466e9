//! The party's side of a non-custodial escrow in its own wallet-rpc: one fresh wallet per escrow
//! ([`EscrowWallet::open_or_create`]) and one function per round that turns the round's inputs
//! (the other parties' payloads) into this party's payload. No HTTP here: the caller relays.
//!
//! Setup (2-of-3, wallet-rpc 0.18): [`EscrowWallet::prepare`] (`prepare_multisig`),
//! [`EscrowWallet::make`] (`make_multisig`, threshold 2), [`EscrowWallet::exchange`] twice
//! (`exchange_multisig_keys`; the second gives the shared address). Payout:
//! [`EscrowWallet::export_sync`] (`refresh`, `export_multisig_info`), then the first signer's
//! [`EscrowWallet::build_txset`] (`import_multisig_info`, `sweep_all`) and the second signer's
//! [`EscrowWallet::review_txset`] (import, `describe_transfer`, the check of [`check`]) and
//! [`EscrowWallet::sign_reviewed`] (`sign_multisig`).

pub mod check;

use monero_rpc::{SweepOutcome, TransferOptions, WalletClient};
use monero_types::{
    Address, MultisigInfo, MultisigSyncInfo, MultisigTxset, WalletName, WalletPassword,
};

use crate::error::PartyError;
use crate::state::StateDir;
use check::{PayoutTerms, Reviewed};

/// Signatures a 2-of-3 escrow needs.
pub const THRESHOLD: u32 = 2;

/// What a key-exchange round produced: the next message, or (after the last round) the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exchanged {
    /// More rounds follow: give this to the others.
    Info(MultisigInfo),
    /// The exchange is complete: the shared 2-of-3 address.
    Address(Address),
}

/// Whether [`EscrowWallet::open_or_create`] made the wallet or found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// A new wallet and password file were made.
    Created,
    /// The existing wallet was opened with its stored password.
    Existing,
}

/// One escrow's wallet, open in the party's wallet-rpc (which holds one open wallet at a time:
/// keep one `EscrowWallet` per wallet-rpc in use at once).
#[derive(Debug, Clone)]
pub struct EscrowWallet {
    client: WalletClient,
    name: WalletName,
    password: WalletPassword,
}

/// The escrow wallet a long-running party process (`watch`) left open in its wallet-rpc, with
/// the address wallet-rpc reported for it after the last turn. `open_wallet` costs seconds
/// (wallet-rpc 0.18 generates an RSA certificate on every load), so the next turn on the same
/// escrow reuses the open wallet when `get_address` still reports that address, and opens it
/// again otherwise (another client switched the wallet-rpc to another wallet meanwhile).
#[derive(Debug, Default)]
pub struct KeptWallet {
    open: Option<(EscrowWallet, Address)>,
}

impl KeptWallet {
    /// The wallet `name`: the kept one when wallet-rpc still holds it, else
    /// [`EscrowWallet::open_or_create`] (and nothing is kept until [`KeptWallet::keep`]).
    ///
    /// # Errors
    /// As [`EscrowWallet::open_or_create`].
    pub async fn open(
        &mut self,
        client: &WalletClient,
        state: &StateDir,
        name: WalletName,
    ) -> Result<EscrowWallet, PartyError> {
        if let Some((wallet, address)) = self.open.take()
            && wallet.name == name
            && client.get_address(0).await.is_ok_and(|now| now == address)
        {
            return Ok(wallet);
        }
        let (wallet, _) = EscrowWallet::open_or_create(client.clone(), state, name).await?;
        Ok(wallet)
    }

    /// Keeps `wallet` (after a turn that succeeded) with the address wallet-rpc now reports; when
    /// wallet-rpc cannot say, nothing is kept and the next turn opens the wallet again.
    pub async fn keep(&mut self, wallet: EscrowWallet) {
        self.open = match wallet.client.get_address(0).await {
            Ok(address) => Some((wallet, address)),
            Err(_) => None,
        };
    }
}

/// The wallet name of escrow `escrow_id` for wallet prefix `prefix`: `<prefix>-escrow-<id>`.
///
/// # Errors
/// [`PartyError::Input`] when the prefix makes an invalid file name.
pub fn wallet_name(prefix: &str, escrow_id: i64) -> Result<WalletName, PartyError> {
    format!("{prefix}-escrow-{escrow_id}")
        .parse()
        .map_err(|e| PartyError::Input(format!("--wallet {prefix:?} is not usable: {e}")))
}

impl EscrowWallet {
    /// Opens wallet `name` with the password stored in `state`, or, when no password is stored,
    /// makes a random one, stores it (0600) and creates the wallet (`create_wallet`,
    /// `open_wallet`). The password never leaves this machine.
    ///
    /// # Errors
    /// [`PartyError::Wallet`] when wallet-rpc fails (e.g. a wallet of that name exists without a
    /// stored password: `create_wallet` -21); [`PartyError::State`] or
    /// [`PartyError::InsecureFile`] for the password file.
    pub async fn open_or_create(
        client: WalletClient,
        state: &StateDir,
        name: WalletName,
    ) -> Result<(EscrowWallet, Opened), PartyError> {
        let (password, opened) = match state.wallet_password(&name)? {
            Some(password) => {
                let open = client.open_wallet(&name, &password).await;
                open.map_err(PartyError::wallet("open_wallet"))?;
                (password, Opened::Existing)
            }
            None => {
                let password = state.new_wallet_password(&name)?;
                let create = client.create_wallet(&name, &password).await;
                create.map_err(PartyError::wallet("create_wallet"))?;
                (password, Opened::Created)
            }
        };
        let wallet = EscrowWallet {
            client,
            name,
            password,
        };
        Ok((wallet, opened))
    }

    /// The wallet's file name.
    pub fn name(&self) -> &WalletName {
        &self.name
    }

    /// The wallet-rpc client.
    pub fn client(&self) -> &WalletClient {
        &self.client
    }

    /// Round `prepare`: this party's first message (`prepare_multisig`).
    ///
    /// # Errors
    /// [`PartyError::Wallet`], e.g. when the wallet is already multisig.
    pub async fn prepare(&self) -> Result<MultisigInfo, PartyError> {
        self.client
            .prepare_multisig()
            .await
            .map_err(PartyError::wallet("prepare_multisig"))
    }

    /// Round `make`: from the other two parties' `prepare` messages, the 2-of-3 wallet and this
    /// party's first exchange message (`make_multisig`). Calls `prepare_multisig` again first:
    /// wallet-rpc 0.18 keeps the multisig gate in memory only until `make_multisig`, so a wallet
    /// reopened since `prepare` needs it (the earlier message stays valid).
    ///
    /// # Errors
    /// [`PartyError::Protocol`] unless exactly two inputs; [`PartyError::Wallet`].
    pub async fn make(&self, others: &[MultisigInfo]) -> Result<MultisigInfo, PartyError> {
        two_inputs("make", others.len())?;
        self.prepare().await?;
        self.client
            .make_multisig(others, THRESHOLD, &self.password)
            .await
            .map_err(PartyError::wallet("make_multisig"))
    }

    /// Rounds `exchange_round_1` and `exchange_round_2`: one `exchange_multisig_keys` with the
    /// other two parties' messages of the previous round.
    ///
    /// # Errors
    /// [`PartyError::Protocol`] unless exactly two inputs, or when wallet-rpc returns neither
    /// a message nor the address; [`PartyError::Wallet`].
    pub async fn exchange(&self, others: &[MultisigInfo]) -> Result<Exchanged, PartyError> {
        two_inputs("exchange_multisig_keys", others.len())?;
        let round = self
            .client
            .exchange_multisig_keys(others, &self.password)
            .await
            .map_err(PartyError::wallet("exchange_multisig_keys"))?;
        if let Some(address) = round.address {
            let status = self
                .client
                .is_multisig()
                .await
                .map_err(PartyError::wallet("is_multisig"))?;
            if status.ready {
                return Ok(Exchanged::Address(address));
            }
        }
        round.multisig_info.map(Exchanged::Info).ok_or_else(|| {
            PartyError::Protocol(
                "exchange_multisig_keys gave neither a message nor the address".into(),
            )
        })
    }

    /// The shared escrow address once setup is complete (`get_address`).
    ///
    /// # Errors
    /// [`PartyError::Wallet`].
    pub async fn address(&self) -> Result<Address, PartyError> {
        self.client
            .get_address(0)
            .await
            .map_err(PartyError::wallet("get_address"))
    }

    /// The shared address if the key exchange is complete (`is_multisig`, `get_address`).
    ///
    /// # Errors
    /// [`PartyError::Wallet`].
    pub async fn ready_address(&self) -> Result<Option<Address>, PartyError> {
        let status = self
            .client
            .is_multisig()
            .await
            .map_err(PartyError::wallet("is_multisig"))?;
        if !status.ready {
            return Ok(None);
        }
        self.address().await.map(Some)
    }

    /// Round `export_sync`: scans new blocks, then exports this signer's partial key images
    /// (`refresh`, `export_multisig_info`).
    ///
    /// # Errors
    /// [`PartyError::Wallet`].
    pub async fn export_sync(&self) -> Result<MultisigSyncInfo, PartyError> {
        self.refresh().await?;
        self.client
            .export_multisig_info()
            .await
            .map_err(PartyError::wallet("export_multisig_info"))
    }

    /// Round `build_txset` (first signer): imports the other signer's sync info and sweeps the
    /// whole escrow to `destination` (`import_multisig_info`, `sweep_all`, unlock time 0), the
    /// partial set carrying this signer's signature.
    ///
    /// # Errors
    /// [`PartyError::Protocol`] unless exactly one input or when wallet-rpc does not return a
    /// multisig set; [`PartyError::Wallet`].
    pub async fn build_txset(
        &self,
        other: &[MultisigSyncInfo],
        destination: &Address,
    ) -> Result<MultisigTxset, PartyError> {
        self.import(other).await?;
        let outcome = self
            .client
            .sweep_all(destination, TransferOptions::default())
            .await
            .map_err(PartyError::wallet("sweep_all"))?;
        match outcome {
            SweepOutcome::MultisigPending { multisig_txset, .. } => Ok(multisig_txset),
            _ => Err(PartyError::Protocol(
                "sweep_all did not build a multisig set: this wallet is not the escrow's".into(),
            )),
        }
    }

    /// Round `sign_txset`, part one (second signer): imports the other signer's sync info,
    /// snapshots the unlocked balance, decodes `txset` with this wallet (`describe_transfer`)
    /// and checks it against `terms` ([`check::review`]). Nothing is signed.
    ///
    /// # Errors
    /// [`PartyError::Refused`] when the check fails (an undecodable set included);
    /// [`PartyError::Protocol`], [`PartyError::Wallet`].
    pub async fn review_txset(
        &self,
        other: &[MultisigSyncInfo],
        txset: MultisigTxset,
        terms: &PayoutTerms,
    ) -> Result<Reviewed, PartyError> {
        self.import(other).await?;
        let balance = self
            .client
            .get_balance(0)
            .await
            .map_err(PartyError::wallet("get_balance"))?;
        let escrow_address = self.address().await?;
        let described = self.client.describe_transfer(&txset).await;
        check::review(
            terms,
            check::Snapshot {
                escrow_address,
                unlocked_balance: balance.unlocked_balance,
            },
            described,
            txset,
        )
    }

    /// Round `sign_txset`, part two: adds this signer's signature to a set that passed
    /// [`EscrowWallet::review_txset`] (`sign_multisig`) and returns the signed set.
    ///
    /// # Errors
    /// [`PartyError::Wallet`] (e.g. -35 stale data when a signer exported again since).
    pub async fn sign_reviewed(&self, reviewed: Reviewed) -> Result<MultisigTxset, PartyError> {
        let outcome = self
            .client
            .sign_multisig(reviewed.txset())
            .await
            .map_err(PartyError::wallet("sign_multisig"))?;
        Ok(outcome.multisig_txset().clone())
    }

    async fn refresh(&self) -> Result<(), PartyError> {
        self.client
            .clone()
            .with_timeout(std::time::Duration::from_secs(600))
            .refresh(None)
            .await
            .map_err(PartyError::wallet("refresh"))?;
        Ok(())
    }

    async fn import(&self, other: &[MultisigSyncInfo]) -> Result<(), PartyError> {
        if other.len() != 1 {
            return Err(PartyError::Protocol(format!(
                "a payout round takes the other signer's sync info, got {} inputs",
                other.len()
            )));
        }
        self.refresh().await?;
        self.client
            .import_multisig_info(other)
            .await
            .map_err(PartyError::wallet("import_multisig_info"))?;
        Ok(())
    }
}

fn two_inputs(step: &str, found: usize) -> Result<(), PartyError> {
    if found == 2 {
        return Ok(());
    }
    Err(PartyError::Protocol(format!(
        "{step} takes the other two parties' messages, got {found}"
    )))
}
