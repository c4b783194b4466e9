//! Custody reads: the amounts of the open escrows (for the custody cap on new orders) and the
//! wallet of each terminal escrow that the terminal-wallet check reads.

use escrow_core::{Amount, EscrowStateKind};
use rusqlite::Connection;

use super::wallets::{self, WalletRow};
use super::{Target, load};
use crate::config::custody::counts_toward_cap;

/// The `amount_atomic` (piconero) of every escrow whose state counts toward the custody cap
/// ([`counts_toward_cap`]). Run it in the order's transaction so that the check and the insert
/// see the same escrows.
///
/// # Errors
/// SQLite errors, or a stored amount below zero.
pub fn open_amounts(conn: &Connection) -> rusqlite::Result<Vec<Amount>> {
    let states: Vec<String> = EscrowStateKind::ALL
        .into_iter()
        .filter(|k| counts_toward_cap(*k))
        .map(|k| format!("'{}'", k.as_str()))
        .collect();
    let sql = format!(
        "SELECT amount_atomic FROM escrows WHERE state IN ({})",
        states.join(", ")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    stmt.query_map([], |r| super::money::amount_column(r, 0))?
        .collect()
}

/// A terminal escrow's wallet that the terminal-wallet check reads.
#[derive(Debug, Clone)]
pub struct TerminalWallet {
    /// The escrow.
    pub escrow_id: i64,
    /// The payout's co-signer wallet: it submitted the payout, so it knows the spent outputs
    /// and its balance is what is left at the escrow address.
    pub wallet: WalletRow,
}

/// Every `released` or `refunded` escrow with its payout co-signer's wallet, oldest first.
/// Escrows without that wallet (none in practice: a payout needs it) are left out.
///
/// # Errors
/// SQLite errors, or a record that fails escrow-core's invariant checks.
pub fn terminal_wallets(conn: &Connection) -> rusqlite::Result<Vec<TerminalWallet>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM escrows WHERE state IN ('released', 'refunded') ORDER BY id",
    )?;
    let ids = stmt
        .query_map([], |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut found = Vec::with_capacity(ids.len());
    for escrow_id in ids {
        let Some(escrow) = load(conn, Target::Escrow(escrow_id))? else {
            continue;
        };
        let Some(plan) = escrow.state().payout_plan() else {
            continue;
        };
        let cosigner = plan.cosigner;
        let wallet = wallets::latest(conn, escrow_id)?
            .into_iter()
            .find(|w| w.role == cosigner);
        if let Some(wallet) = wallet {
            found.push(TerminalWallet { escrow_id, wallet });
        }
    }
    Ok(found)
}

/// An open escrow whose address may hold money, with the wallets the wallet collector reads.
#[derive(Debug, Clone)]
pub struct OpenEscrowWallets {
    /// The escrow.
    pub escrow_id: i64,
    /// Its state (one where [`EscrowStateKind::may_hold_funds`]).
    pub state: EscrowStateKind,
    /// The amount the record expects, piconero (`amount_atomic`).
    pub amount: Amount,
    /// The wallets of its latest setup attempt, one per role.
    pub wallets: Vec<WalletRow>,
}

/// Every escrow in a state whose address may hold money (`awaiting_funding`, `funded`,
/// `disputed`, `releasing`, `refunding`) that has wallets, oldest first.
///
/// # Errors
/// SQLite errors, a stored amount below zero, or an unknown state label.
pub fn open_wallets(conn: &Connection) -> rusqlite::Result<Vec<OpenEscrowWallets>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, state, amount_atomic FROM escrows ORDER BY id")?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                super::money::amount_column(r, 2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut found = Vec::new();
    for (escrow_id, label, amount) in rows {
        let state = label.parse::<EscrowStateKind>().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into())
        })?;
        if !state.may_hold_funds() {
            continue;
        }
        let wallets = wallets::latest(conn, escrow_id)?;
        if wallets.is_empty() {
            continue;
        }
        found.push(OpenEscrowWallets {
            escrow_id,
            state,
            amount,
            wallets,
        });
    }
    Ok(found)
}
