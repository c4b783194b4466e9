//! [`Participant`]: one signer of the 2-of-3 escrow (buyer, vendor or arbiter) as the orchestrator
//! sees it, and [`HostedParticipant`], the implementation where the server drives that role's
//! wallet-rpc through its [`WalletWorker`].
//!
//! The orchestrator (setup, funding watch, payout) is written against the trait only. A later
//! non-custodial mode adds an implementation for buyer and vendor whose methods hand the request to
//! the party (through the API: post multisig_info, partially signed txsets) and resolve once the
//! party has answered; only the arbiter stays hosted.

use std::future::Future;

use escrow_core::Actor;
use monero_rpc::{
    Address, Balance, KeyExchangeRound, MultisigInfo, MultisigStatus, MultisigSyncInfo,
    MultisigTxset, RpcError, SignOutcome, SweepOutcome, TransferDescription, TransferEntry,
    TransferFilter, TransferOptions, Transfers, TxHash,
};

use super::worker::{OpenMode, Priority, WalletRef, WalletWorker, WorkerError};

/// The 2-of-3 threshold (any two signers can spend), from escrow-core.
pub const THRESHOLD: u32 = escrow_core::escrow::THRESHOLD;

/// One signer of an escrow. Every method is one protocol step; errors are wallet-rpc errors
/// ([`RpcError::is_resync_needed`] tells the caller to re-sync and retry).
pub trait Participant: Send + Sync {
    /// The escrow role this participant signs for.
    fn role(&self) -> Actor;

    /// Creates the fresh per-escrow wallet (if not yet created) and returns its first multisig_info
    /// (`create_wallet`, `prepare_multisig` with the experimental flag).
    fn prepare(&self) -> impl Future<Output = Result<MultisigInfo, WorkerError>> + Send;

    /// `make_multisig` with the other two participants' `prepare` outputs; returns the message for
    /// the first key exchange round.
    fn make(
        &self,
        others: Vec<MultisigInfo>,
    ) -> impl Future<Output = Result<MultisigInfo, WorkerError>> + Send;

    /// One `exchange_multisig_keys` round with the other two participants' previous outputs.
    fn exchange(
        &self,
        others: Vec<MultisigInfo>,
    ) -> impl Future<Output = Result<KeyExchangeRound, WorkerError>> + Send;

    /// `is_multisig` and `get_address` of the escrow wallet (after the last round: ready + the
    /// shared address).
    fn status(&self)
    -> impl Future<Output = Result<(MultisigStatus, Address), WorkerError>> + Send;

    /// Scans new blocks and returns the incoming transfers (confirmed and pool) of the escrow
    /// address (`refresh`, `get_transfers {in, pool}`).
    fn incoming(&self) -> impl Future<Output = Result<Transfers, WorkerError>> + Send;

    /// Scans new blocks and exports this signer's multisig sync info (`refresh`,
    /// `export_multisig_info`).
    fn export_sync(&self) -> impl Future<Output = Result<MultisigSyncInfo, WorkerError>> + Send;

    /// Imports the other signer's sync info (`import_multisig_info`).
    fn import_sync(
        &self,
        others: Vec<MultisigSyncInfo>,
    ) -> impl Future<Output = Result<u64, WorkerError>> + Send;

    /// Scans new blocks and returns the escrow wallet's balance of account 0 as this signer sees
    /// it (`refresh`, `get_balance`); after a re-sync its `unlocked_balance` is what a sweep
    /// spends.
    fn balance(&self) -> impl Future<Output = Result<Balance, WorkerError>> + Send;

    /// Builds the payout: `sweep_all` of the whole escrow to `destination` (fee taken from the
    /// escrow), signed by this participant.
    fn build_sweep(
        &self,
        destination: Address,
    ) -> impl Future<Output = Result<SweepOutcome, WorkerError>> + Send;

    /// Decodes a transaction set before co-signing it (`describe_transfer`).
    fn describe(
        &self,
        txset: MultisigTxset,
    ) -> impl Future<Output = Result<Vec<TransferDescription>, WorkerError>> + Send;

    /// Co-signs a transaction set (`sign_multisig`).
    fn cosign(
        &self,
        txset: MultisigTxset,
    ) -> impl Future<Output = Result<SignOutcome, WorkerError>> + Send;

    /// Relays a fully signed transaction set (`submit_multisig`).
    fn submit(
        &self,
        txset: MultisigTxset,
    ) -> impl Future<Output = Result<Vec<TxHash>, WorkerError>> + Send;

    /// Whether this signer's wallet knows transaction `hash` (pending, in the pool or mined), after
    /// a refresh (`refresh`, `get_transfer_by_txid`).
    fn knows_tx(&self, hash: TxHash) -> impl Future<Output = Result<bool, WorkerError>> + Send;
}

/// `get_transfers` filter of every incoming transfer, confirmed and in the pool.
pub fn incoming_filter() -> TransferFilter {
    TransferFilter {
        incoming: true,
        outgoing: false,
        pending: false,
        failed: false,
        pool: true,
    }
}

/// A role whose per-escrow wallet lives in the server's wallet-rpc for that role (hosted mode).
#[derive(Clone, Debug)]
pub struct HostedParticipant {
    role: Actor,
    worker: WalletWorker,
    wallet: WalletRef,
}

impl HostedParticipant {
    /// The participant for `role`, driving `wallet` through `worker`.
    pub fn new(role: Actor, worker: WalletWorker, wallet: WalletRef) -> Self {
        HostedParticipant {
            role,
            worker,
            wallet,
        }
    }

    /// One job on this participant's wallet-rpc, served at `priority` (payout steps ahead of
    /// setup steps).
    async fn call<T, F, Fut>(
        &self,
        priority: Priority,
        mode: OpenMode,
        f: F,
    ) -> Result<T, WorkerError>
    where
        T: Send + 'static,
        F: FnOnce(monero_rpc::WalletClient) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, RpcError>> + Send + 'static,
    {
        self.worker.run(&self.wallet, mode, priority, f).await
    }

    /// The wallet this participant drives (name and password).
    pub fn wallet(&self) -> &WalletRef {
        &self.wallet
    }

    /// The worker of this participant's wallet-rpc.
    pub fn worker(&self) -> &WalletWorker {
        &self.worker
    }

    /// The balance of account 0 as the wallet last scanned it, without a refresh
    /// (`get_balance`): current only when something refreshed this wallet moments before.
    ///
    /// # Errors
    /// [`WorkerError`] when the wallet-rpc fails or cannot open the wallet.
    pub async fn scanned_balance(&self) -> Result<Balance, WorkerError> {
        self.call(Priority::Payout, OpenMode::Existing, |w| async move {
            w.get_balance(0).await
        })
        .await
    }

    /// What this wallet itself sent, after a refresh: its outgoing transfers, confirmed and
    /// pending (`refresh`, `get_transfers` with `out` and `pending`).
    ///
    /// # Errors
    /// [`WorkerError`] when the wallet-rpc fails or cannot open the wallet.
    pub async fn sent(&self) -> Result<Vec<TransferEntry>, WorkerError> {
        let filter = TransferFilter {
            incoming: false,
            outgoing: true,
            pending: true,
            failed: false,
            pool: false,
        };
        self.call(Priority::Payout, OpenMode::Existing, move |w| async move {
            w.refresh(None).await?;
            let transfers = w.get_transfers(filter).await?;
            Ok(transfers
                .outgoing
                .into_iter()
                .chain(transfers.pending)
                .collect())
        })
        .await
    }
}

impl Participant for HostedParticipant {
    fn role(&self) -> Actor {
        self.role
    }

    async fn prepare(&self) -> Result<MultisigInfo, WorkerError> {
        self.call(Priority::Setup, OpenMode::CreateIfMissing, |w| async move {
            w.prepare_multisig().await
        })
        .await
    }

    async fn make(&self, others: Vec<MultisigInfo>) -> Result<MultisigInfo, WorkerError> {
        let password = self.wallet.password.clone();
        self.call(Priority::Setup, OpenMode::Existing, move |w| async move {
            // The experimental-multisig flag set by prepare_multisig lives in memory until
            // make_multisig writes the .keys file; a wallet reopened in between (another escrow
            // used this wallet-rpc) would be made multisig with the flag off and then refuse every
            // multisig call (-48), unrecoverably over RPC. Re-arm it in the same open session.
            // The earlier prepare output stays valid for the other participants (measured).
            w.prepare_multisig().await?;
            w.make_multisig(&others, THRESHOLD, &password).await
        })
        .await
    }

    async fn exchange(&self, others: Vec<MultisigInfo>) -> Result<KeyExchangeRound, WorkerError> {
        let password = self.wallet.password.clone();
        self.call(Priority::Setup, OpenMode::Existing, move |w| async move {
            w.exchange_multisig_keys(&others, &password).await
        })
        .await
    }

    async fn status(&self) -> Result<(MultisigStatus, Address), WorkerError> {
        self.call(Priority::Setup, OpenMode::Existing, |w| async move {
            let status = w.is_multisig().await?;
            let address = w.get_address(0).await?;
            Ok((status, address))
        })
        .await
    }

    async fn incoming(&self) -> Result<Transfers, WorkerError> {
        let read = |w: monero_rpc::WalletClient| async move {
            w.refresh(None).await?;
            w.get_transfers(incoming_filter()).await
        };
        self.worker
            .run(&self.wallet, OpenMode::Existing, Priority::Watch, read)
            .await
    }

    async fn export_sync(&self) -> Result<MultisigSyncInfo, WorkerError> {
        self.call(Priority::Payout, OpenMode::Existing, |w| async move {
            w.refresh(None).await?;
            w.export_multisig_info().await
        })
        .await
    }

    async fn import_sync(&self, others: Vec<MultisigSyncInfo>) -> Result<u64, WorkerError> {
        self.call(Priority::Payout, OpenMode::Existing, move |w| async move {
            w.import_multisig_info(&others).await
        })
        .await
    }

    async fn balance(&self) -> Result<Balance, WorkerError> {
        self.call(Priority::Payout, OpenMode::Existing, |w| async move {
            w.refresh(None).await?;
            w.get_balance(0).await
        })
        .await
    }

    async fn build_sweep(&self, destination: Address) -> Result<SweepOutcome, WorkerError> {
        self.call(Priority::Payout, OpenMode::Existing, move |w| async move {
            w.sweep_all(&destination, TransferOptions::default()).await
        })
        .await
    }

    async fn describe(
        &self,
        txset: MultisigTxset,
    ) -> Result<Vec<TransferDescription>, WorkerError> {
        self.call(Priority::Payout, OpenMode::Existing, move |w| async move {
            w.describe_transfer(&txset).await
        })
        .await
    }

    async fn cosign(&self, txset: MultisigTxset) -> Result<SignOutcome, WorkerError> {
        self.call(Priority::Payout, OpenMode::Existing, move |w| async move {
            w.sign_multisig(&txset).await
        })
        .await
    }

    async fn submit(&self, txset: MultisigTxset) -> Result<Vec<TxHash>, WorkerError> {
        self.call(Priority::Payout, OpenMode::Existing, move |w| async move {
            w.submit_multisig(&txset).await
        })
        .await
    }

    async fn knows_tx(&self, hash: TxHash) -> Result<bool, WorkerError> {
        self.call(Priority::Payout, OpenMode::Existing, move |w| async move {
            w.refresh(None).await?;
            let found = w.find_transfer_by_txid(&hash).await?;
            Ok(found.is_some_and(|entries| !entries.is_empty()))
        })
        .await
    }
}
