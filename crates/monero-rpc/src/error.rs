//! [`RpcError`]: every way a monerod or monero-wallet-rpc call can fail, with named variants
//! for the error codes the escrow flow reacts to.

use std::time::Duration;

use monero_types::WalletName;

/// Why an HTTP exchange with monerod or monero-wallet-rpc failed: the source of
/// [`RpcError::Transport`]. Each names the endpoint URL (never credentials: URLs with
/// user-info are refused) and carries the socket, TLS or HTTP error underneath.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The TLS client configuration (rustls with the platform's certificate verifier) could
    /// not be built when the client was created.
    #[error("cannot set up TLS for RPC connections")]
    TlsSetup {
        /// The rustls or platform-verifier error.
        #[source]
        source: std::io::Error,
    },
    /// No TCP (or TLS) connection to `url` could be opened: refused, unreachable, DNS or TLS
    /// handshake failure.
    #[error("cannot connect to {url}")]
    Connect {
        /// The JSON-RPC endpoint.
        url: String,
        /// The connector's error (I/O, DNS or TLS).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The connection failed while the request was sent or the answer read (reset, closed
    /// mid-answer, malformed HTTP).
    #[error("HTTP exchange with {url} failed")]
    Exchange {
        /// The JSON-RPC endpoint.
        url: String,
        /// hyper's error.
        #[source]
        source: hyper::Error,
    },
    /// The server closed the connection right after its digest challenge, so the answer could
    /// not be sent on the connection the challenge belongs to (epee keeps it open; a proxy in
    /// between may not).
    #[error("{url} closed the connection after its digest challenge")]
    ClosedAfterChallenge {
        /// The JSON-RPC endpoint.
        url: String,
    },
}

/// An error from a monerod or monero-wallet-rpc call.
///
/// Every variant names the JSON-RPC `method` that failed. Messages never contain passwords,
/// digest credentials, multisig data or transaction sets.
///
/// Named variants map the error codes of monero-wallet-rpc 0.18.0.0 (checked against the real
/// binary, see `wallet_rpc_server_error_codes.h` upstream); any other code is [`RpcError::Rpc`].
/// Use [`RpcError::is_resync_needed`] to decide whether to re-run the multisig export/import
/// round and retry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RpcError {
    /// The base URL given to a client constructor is unusable (not http/https, contains
    /// credentials, or cannot be a base).
    #[error("invalid RPC URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given, with any user-info removed.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The HTTP request could not be sent or its response not read: connection refused,
    /// reset, DNS failure, TLS error. The service is down or unreachable; check that it runs.
    #[error("{method}: cannot reach the RPC server (is it running?): {source}")]
    Transport {
        /// JSON-RPC method called.
        method: &'static str,
        /// What failed in the HTTP exchange (its URL never contains credentials).
        #[source]
        source: HttpError,
    },

    /// No complete answer within the client's per-call timeout (configurable with
    /// `with_timeout`). The call may still complete on the server.
    #[error("{method}: no answer within {} s; the server is overloaded or hung", timeout.as_secs_f64())]
    Timeout {
        /// JSON-RPC method called.
        method: &'static str,
        /// The timeout that elapsed.
        timeout: Duration,
    },

    /// HTTP 401: the server requires digest authentication (`--rpc-login`) and the client has
    /// no credentials, or they were rejected. Fix the configured RPC username/password.
    #[error("{method}: RPC login rejected (HTTP 401): check the wallet-rpc username and password")]
    Unauthorized {
        /// JSON-RPC method called.
        method: &'static str,
    },

    /// Any other non-2xx HTTP status (e.g. 404 for a wrong path, 5xx from a proxy).
    #[error("{method}: unexpected HTTP status {status}")]
    HttpStatus {
        /// JSON-RPC method called.
        method: &'static str,
        /// HTTP status code.
        status: u16,
    },

    /// The response body was not the JSON shape this client expects for `method`
    /// (wrong server, incompatible monero version, or a value out of range).
    #[error("{method}: cannot decode the response: {detail}")]
    Decode {
        /// JSON-RPC method called.
        method: &'static str,
        /// What did not match (no response content is included).
        detail: String,
    },

    /// Code -48: the wallet is multisig but the experimental multisig gate is off (Monero 0.18
    /// put multisig behind `enable_multisig_experimental`). This client always sends `enable_multisig_experimental` in
    /// `prepare_multisig`; the error means the wallet was made multisig without it.
    #[error(
        "{method}: multisig is disabled in this wallet (code -48): it was made multisig without enable_multisig_experimental; recreate the escrow wallets"
    )]
    MultisigDisabled {
        /// JSON-RPC method called.
        method: &'static str,
    },

    /// Code -16 "No transaction created": on a multisig wallet this almost always means the
    /// signers have not exchanged fresh multisig info since the last spend or deposit.
    /// Run export_multisig_info / import_multisig_info among the signers and retry.
    #[error(
        "{method}: no transaction created (code -16): re-sync multisig info (export/import) among the signers, then retry"
    )]
    NoTransactionCreated {
        /// JSON-RPC method called.
        method: &'static str,
    },

    /// Code -35 with "stale data" (or any message saying a multisig import is needed): the
    /// transaction set was built with multisig info that has since been replaced. Export fresh
    /// info, import it on every signer, rebuild the transaction and sign again.
    #[error(
        "{method}: multisig data is stale ({message}): re-sync multisig info, rebuild and re-sign"
    )]
    MultisigResyncNeeded {
        /// JSON-RPC method called.
        method: &'static str,
        /// The `error.code` field (-35 for stale signatures).
        code: i64,
        /// wallet-rpc's message.
        message: String,
    },

    /// Code -33 "Not enough signers signed this transaction": `submit_multisig` was given a
    /// transaction set that lacks co-signatures. Have another signer `sign_multisig` it first.
    #[error(
        "{method}: not enough signers signed this transaction (code -33): collect another signature first"
    )]
    NotEnoughSigners {
        /// JSON-RPC method called.
        method: &'static str,
    },

    /// Code -17 "not enough money": the unlocked balance does not cover amount plus fee.
    /// Wait for outputs to unlock (10 confirmations) or send less.
    #[error("{method}: not enough unlocked money for amount plus fee (code -17)")]
    NotEnoughMoney {
        /// JSON-RPC method called.
        method: &'static str,
    },

    /// Code -31: a multisig call on a wallet that is not multisig, or whose key exchange is not
    /// finished ("This wallet is multisig, but not yet finalized").
    #[error("{method}: wallet is not a finished multisig wallet (code -31): {message}")]
    NotMultisig {
        /// JSON-RPC method called.
        method: &'static str,
        /// wallet-rpc's message (says which of the two cases).
        message: String,
    },

    /// Code -28: `prepare_multisig`/`make_multisig` on a wallet that is already multisig, or
    /// `exchange_multisig_keys` after the exchange finished.
    #[error("{method}: wallet is already multisig (code -28): {message}")]
    AlreadyMultisig {
        /// JSON-RPC method called.
        method: &'static str,
        /// wallet-rpc's message.
        message: String,
    },

    /// Code -13 "No wallet file": the wallet-rpc process has no wallet open.
    /// Call `open_wallet` (or `create_wallet`) first.
    #[error("{method}: no wallet is open in this wallet-rpc (code -13): open one first")]
    WalletNotOpen {
        /// JSON-RPC method called.
        method: &'static str,
    },

    /// Code -21: `create_wallet` with a file name that already exists in `--wallet-dir`.
    #[error(
        "{method}: wallet file already exists (code -21): open it instead or pick another name"
    )]
    WalletAlreadyExists {
        /// JSON-RPC method called.
        method: &'static str,
    },

    /// `open_wallet` failed (code -1 "Failed to open wallet") and no wallet file of that name
    /// exists in `--wallet-dir`.
    #[error("{method}: wallet {wallet} does not exist in the wallet-rpc's --wallet-dir")]
    WalletNotFound {
        /// JSON-RPC method called.
        method: &'static str,
        /// The wallet file name asked for.
        wallet: WalletName,
    },

    /// `open_wallet` failed (code -1 "Failed to open wallet") although the wallet file exists:
    /// the password is wrong (or, rarely, the .keys file is unreadable).
    #[error("{method}: cannot open wallet {wallet}: wrong password (or unreadable .keys file)")]
    WrongPassword {
        /// JSON-RPC method called.
        method: &'static str,
        /// The wallet file name asked for.
        wallet: WalletName,
    },

    /// A transaction set wallet-rpc cannot decode: code -34 "cannot load multisig_txset" /
    /// "Failed to parse multisig tx data" (not a multisig set, or not this wallet's), and for
    /// the txset methods (`describe_transfer`, `sign_multisig`, `submit_multisig`) -26 (not
    /// hex) and -39 (the set claims change no output pays). The set must not be signed or
    /// submitted; whoever built it must build a new one.
    #[error(
        "{method}: the transaction set cannot be decoded (code {code}): {message}; do not sign it, rebuild it"
    )]
    InvalidTxset {
        /// JSON-RPC method called.
        method: &'static str,
        /// The `error.code` field (-34, -26 or -39).
        code: i64,
        /// wallet-rpc's message (never the set itself).
        message: String,
    },

    /// Code -8 "Transaction not found.": `get_transfer_by_txid` for a txid this wallet has
    /// not seen (yet: refresh, or wait for the daemon to see it).
    #[error("{method}: transaction not found in this wallet (code -8)")]
    TransactionNotFound {
        /// JSON-RPC method called.
        method: &'static str,
    },

    /// Any other JSON-RPC error object.
    #[error("{method}: RPC error {code}: {message}")]
    Rpc {
        /// JSON-RPC method called.
        method: &'static str,
        /// The `error.code` field (negative for wallet-rpc errors).
        code: i64,
        /// The `error.message` field.
        message: String,
    },
}

/// wallet-rpc error code -1 (`WALLET_RPC_ERROR_CODE_UNKNOWN_ERROR`).
pub(crate) const CODE_UNKNOWN: i64 = -1;
const CODE_WRONG_TXID: i64 = -8;
const CODE_NOT_OPEN: i64 = -13;
const CODE_NO_TX_CREATED: i64 = -16;
const CODE_NOT_ENOUGH_MONEY: i64 = -17;
const CODE_ALREADY_EXISTS: i64 = -21;
const CODE_ALREADY_MULTISIG: i64 = -28;
const CODE_NOT_MULTISIG: i64 = -31;
const CODE_THRESHOLD_NOT_REACHED: i64 = -33;
const CODE_BAD_HEX: i64 = -26;
const CODE_BAD_MULTISIG_TX_DATA: i64 = -34;
const CODE_BAD_UNSIGNED_TX_DATA: i64 = -39;
/// Methods whose -26/-39 errors are about the transaction set they were given (elsewhere -26
/// is malformed multisig info, for example).
const TXSET_METHODS: &[&str] = &["describe_transfer", "sign_multisig", "submit_multisig"];
const CODE_MULTISIG_DISABLED: i64 = -48;

impl RpcError {
    /// Maps a JSON-RPC error object to a named variant when its code (and, for shared codes,
    /// its message) identifies one; otherwise [`RpcError::Rpc`].
    pub(crate) fn from_rpc(method: &'static str, code: i64, message: String) -> RpcError {
        let lower = message.to_ascii_lowercase();
        if lower.contains("stale data") || lower.contains("import is needed") {
            return RpcError::MultisigResyncNeeded {
                method,
                code,
                message,
            };
        }
        match code {
            CODE_MULTISIG_DISABLED => RpcError::MultisigDisabled { method },
            CODE_NO_TX_CREATED => RpcError::NoTransactionCreated { method },
            CODE_THRESHOLD_NOT_REACHED => RpcError::NotEnoughSigners { method },
            CODE_NOT_ENOUGH_MONEY => RpcError::NotEnoughMoney { method },
            CODE_NOT_MULTISIG => RpcError::NotMultisig { method, message },
            CODE_ALREADY_MULTISIG => RpcError::AlreadyMultisig { method, message },
            CODE_NOT_OPEN => RpcError::WalletNotOpen { method },
            CODE_ALREADY_EXISTS => RpcError::WalletAlreadyExists { method },
            CODE_BAD_MULTISIG_TX_DATA => RpcError::InvalidTxset {
                method,
                code,
                message,
            },
            CODE_BAD_HEX | CODE_BAD_UNSIGNED_TX_DATA if TXSET_METHODS.contains(&method) => {
                RpcError::InvalidTxset {
                    method,
                    code,
                    message,
                }
            }
            CODE_WRONG_TXID if lower.starts_with("transaction not found") => {
                RpcError::TransactionNotFound { method }
            }
            _ => RpcError::Rpc {
                method,
                code,
                message,
            },
        }
    }

    /// The JSON-RPC method whose call failed (e.g. `"transfer"`), or `"-"` for
    /// [`RpcError::InvalidUrl`].
    pub fn method(&self) -> &'static str {
        match self {
            RpcError::InvalidUrl { .. } => "-",
            RpcError::Transport { method, .. }
            | RpcError::Timeout { method, .. }
            | RpcError::Unauthorized { method, .. }
            | RpcError::HttpStatus { method, .. }
            | RpcError::Decode { method, .. }
            | RpcError::MultisigDisabled { method, .. }
            | RpcError::NoTransactionCreated { method, .. }
            | RpcError::MultisigResyncNeeded { method, .. }
            | RpcError::NotEnoughSigners { method, .. }
            | RpcError::NotEnoughMoney { method, .. }
            | RpcError::NotMultisig { method, .. }
            | RpcError::AlreadyMultisig { method, .. }
            | RpcError::WalletNotOpen { method, .. }
            | RpcError::WalletAlreadyExists { method, .. }
            | RpcError::WalletNotFound { method, .. }
            | RpcError::WrongPassword { method, .. }
            | RpcError::TransactionNotFound { method, .. }
            | RpcError::InvalidTxset { method, .. }
            | RpcError::Rpc { method, .. } => method,
        }
    }

    /// A short stable snake_case name of the variant, used as the `error_type` label of the
    /// `monero_rpc_errors_total` counter (e.g. `"timeout"`, `"not_enough_signers"`).
    pub fn error_type(&self) -> &'static str {
        match self {
            RpcError::InvalidUrl { .. } => "invalid_url",
            RpcError::Transport { .. } => "transport",
            RpcError::Timeout { .. } => "timeout",
            RpcError::Unauthorized { .. } => "unauthorized",
            RpcError::HttpStatus { .. } => "http_status",
            RpcError::Decode { .. } => "decode",
            RpcError::MultisigDisabled { .. } => "multisig_disabled",
            RpcError::NoTransactionCreated { .. } => "no_transaction_created",
            RpcError::MultisigResyncNeeded { .. } => "multisig_resync_needed",
            RpcError::NotEnoughSigners { .. } => "not_enough_signers",
            RpcError::NotEnoughMoney { .. } => "not_enough_money",
            RpcError::NotMultisig { .. } => "not_multisig",
            RpcError::AlreadyMultisig { .. } => "already_multisig",
            RpcError::WalletNotOpen { .. } => "wallet_not_open",
            RpcError::WalletAlreadyExists { .. } => "wallet_already_exists",
            RpcError::WalletNotFound { .. } => "wallet_not_found",
            RpcError::WrongPassword { .. } => "wrong_password",
            RpcError::TransactionNotFound { .. } => "transaction_not_found",
            RpcError::InvalidTxset { .. } => "invalid_txset",
            RpcError::Rpc { .. } => "rpc",
        }
    }

    /// `true` when the multisig signers must re-sync (each runs `export_multisig_info`, then
    /// `import_multisig_info` with the others' data) and the spend be rebuilt and retried:
    /// [`RpcError::NoTransactionCreated`] and [`RpcError::MultisigResyncNeeded`].
    pub fn is_resync_needed(&self) -> bool {
        matches!(
            self,
            RpcError::NoTransactionCreated { .. } | RpcError::MultisigResyncNeeded { .. }
        )
    }

    /// `true` when the service could not be reached or did not answer in time
    /// ([`RpcError::Transport`], [`RpcError::Timeout`]): retrying later may succeed, and for
    /// a non-idempotent call (transfer, submit) the outcome must be checked before retrying.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, RpcError::Transport { .. } | RpcError::Timeout { .. })
    }

    /// The wallet-rpc/monerod JSON-RPC error code behind this error, if it came from an RPC
    /// error object (named variants included).
    pub fn rpc_code(&self) -> Option<i64> {
        Some(match self {
            RpcError::MultisigDisabled { .. } => CODE_MULTISIG_DISABLED,
            RpcError::NoTransactionCreated { .. } => CODE_NO_TX_CREATED,
            RpcError::MultisigResyncNeeded { code, .. } => *code,
            RpcError::NotEnoughSigners { .. } => CODE_THRESHOLD_NOT_REACHED,
            RpcError::NotEnoughMoney { .. } => CODE_NOT_ENOUGH_MONEY,
            RpcError::NotMultisig { .. } => CODE_NOT_MULTISIG,
            RpcError::AlreadyMultisig { .. } => CODE_ALREADY_MULTISIG,
            RpcError::WalletNotOpen { .. } => CODE_NOT_OPEN,
            RpcError::WalletAlreadyExists { .. } => CODE_ALREADY_EXISTS,
            RpcError::WalletNotFound { .. } | RpcError::WrongPassword { .. } => CODE_UNKNOWN,
            RpcError::TransactionNotFound { .. } => CODE_WRONG_TXID,
            RpcError::InvalidTxset { code, .. } | RpcError::Rpc { code, .. } => *code,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_named_variants() {
        let m = |code, msg: &str| RpcError::from_rpc("x", code, msg.to_owned());
        // `error_type` names the variant one to one.
        let named: &[(i64, &str, &str)] = &[
            (
                -48,
                "This wallet is multisig, and multisig is disabled.",
                "multisig_disabled",
            ),
            (-16, "No transaction created", "no_transaction_created"),
            (
                -33,
                "Not enough signers signed this transaction.",
                "not_enough_signers",
            ),
            (-13, "No wallet file", "wallet_not_open"),
            (
                -21,
                "Cannot create wallet. Already exists.",
                "wallet_already_exists",
            ),
            (-17, "not enough money", "not_enough_money"),
            (-8, "Transaction not found.", "transaction_not_found"),
        ];
        for &(code, message, variant) in named {
            assert_eq!(m(code, message).error_type(), variant, "{code} {message}");
        }
        assert!(matches!(
            m(-8, "Transaction ID has invalid format"),
            RpcError::Rpc { code: -8, .. }
        ));
        // Undecodable transaction sets: -34 from any method, -26/-39 only from txset methods.
        let txset = |method, code| RpcError::from_rpc(method, code, "cannot load".to_owned());
        for (method, code) in [
            ("describe_transfer", -34),
            ("sign_multisig", -34),
            ("submit_multisig", -34),
            ("describe_transfer", -26),
            ("describe_transfer", -39),
            ("sign_multisig", -26),
        ] {
            let err = txset(method, code);
            assert_eq!(err.error_type(), "invalid_txset", "{method} {code}");
            assert_eq!(err.rpc_code(), Some(code));
            assert_eq!(err.method(), method);
        }
        assert!(matches!(
            txset("import_multisig_info", -26),
            RpcError::Rpc { code: -26, .. }
        ));
        assert!(!txset("describe_transfer", -34).is_resync_needed());
        let stale = m(
            -35,
            "Failed to sign multisig tx: This signature was made with stale data: export fresh multisig data, which other participants must then use",
        );
        assert!(matches!(stale, RpcError::MultisigResyncNeeded { .. }));
        assert!(stale.is_resync_needed());
        assert!(m(-16, "No transaction created").is_resync_needed());
        assert!(m(-4, "multisig import is needed").is_resync_needed());
        assert!(!m(-33, "x").is_resync_needed());
        assert_eq!(m(-33, "x").rpc_code(), Some(-33));
        assert_eq!(m(-99, "x").error_type(), "rpc");
        assert_eq!(m(-33, "x").method(), "x");
    }
}
