//! `login`, `orders`, `escrow status` and the order actions (`release`, `refund`, `dispute`).

use std::path::Path;

use serde::Serialize;

use super::Party;
use crate::error::PartyError;
use crate::market::types::{Account, OrderSummary, RoundsView};
use crate::state::read_secret;

/// Environment variable holding the login password when no `--password-file` is given.
pub const PASSWORD_ENV: &str = "MMKT_PARTY_PASSWORD";

/// Where the login password comes from (never the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource<'a> {
    /// A file of mode 0600 or stricter; its first line is the password.
    File(&'a Path),
    /// The value of [`PASSWORD_ENV`].
    Env(Option<String>),
}

/// What `login` needs.
#[derive(Debug, Clone)]
pub struct LoginRequest<'a> {
    /// The market username.
    pub username: &'a str,
    /// Where the password is.
    pub password: PasswordSource<'a>,
}

/// What `login` did.
#[derive(Debug, Clone, Serialize)]
pub struct LoginReport {
    /// The account.
    pub account: Account,
    /// Where the session was saved (mode 0600).
    pub session_file: String,
}

/// The password from its source, checked before any request.
///
/// # Errors
/// [`PartyError::InsecureFile`] for a file others may read; [`PartyError::Input`] for an empty
/// password or an unset variable; [`PartyError::State`].
pub fn read_password(source: &PasswordSource<'_>) -> Result<String, PartyError> {
    let text = match source {
        PasswordSource::File(path) => read_secret(path)?,
        PasswordSource::Env(value) => value.clone().unwrap_or_default(),
    };
    let password = text.lines().next().unwrap_or_default().to_owned();
    if password.is_empty() {
        let origin = match source {
            PasswordSource::File(path) => format!("{} is empty", path.display()),
            PasswordSource::Env(_) => format!("{PASSWORD_ENV} is not set"),
        };
        return Err(PartyError::Input(format!(
            "no password: {origin}; give --password-file FILE (mode 0600) or set {PASSWORD_ENV}"
        )));
    }
    Ok(password)
}

/// Logs in and saves the session cookie to `DIR/session` (0600).
///
/// # Errors
/// [`read_password`]'s errors (before anything is sent); market errors.
pub async fn login(party: &Party, request: &LoginRequest<'_>) -> Result<LoginReport, PartyError> {
    if request.username.is_empty() {
        return Err(PartyError::Input("USERNAME is empty".into()));
    }
    let password = read_password(&request.password)?;
    let (session, account) = party.market.login(request.username, &password).await?;
    party.state.save_session(&session)?;
    Ok(LoginReport {
        account,
        session_file: party.state.session_path().display().to_string(),
    })
}

/// The caller's orders, newest first.
///
/// # Errors
/// Market errors.
pub async fn orders(party: &Party) -> Result<Vec<OrderSummary>, PartyError> {
    party.market.orders().await
}

/// An order with its rounds (non-custodial only).
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// The order and its escrow.
    pub order: OrderSummary,
    /// The rounds view (its secret inputs left out), for a non-custodial escrow.
    pub rounds: Option<RoundsView>,
    /// This party's wallet for the escrow.
    pub wallet: String,
}

/// `escrow status ORDER`.
///
/// # Errors
/// Market errors.
pub async fn status(party: &Party, order_id: i64) -> Result<StatusReport, PartyError> {
    let order = party.market.order(order_id).await?;
    let wallet = crate::wallet::wallet_name(&party.wallet_prefix, order.escrow.escrow_id)?;
    let rounds = match order.escrow_mode.as_str() {
        "non_custodial" => Some(party.market.rounds(order.escrow.escrow_id).await?),
        _ => None,
    };
    Ok(StatusReport {
        order,
        rounds,
        wallet: wallet.as_str().to_owned(),
    })
}

/// An order action of a buyer or vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderAction<'a> {
    /// Buyer: `POST /api/orders/{id}/confirm-receipt` (starts the release).
    Release,
    /// Vendor: `POST /api/orders/{id}/refund` (gives the money back undisputed).
    Refund,
    /// Buyer or vendor: `POST /api/orders/{id}/dispute` with a reason.
    Dispute(&'a str),
}

/// What an order action did.
#[derive(Debug, Clone, Serialize)]
pub struct ActionReport {
    /// The order.
    pub order_id: i64,
    /// `confirm-receipt`, `refund` or `dispute`.
    pub action: &'static str,
    /// The market's answer.
    pub answer: serde_json::Value,
}

/// Runs an order action.
///
/// # Errors
/// [`PartyError::Input`] for an empty dispute reason; market errors (e.g. 403 when the role
/// may not, 409 in the wrong state).
pub async fn order_action(
    party: &Party,
    order_id: i64,
    action: OrderAction<'_>,
) -> Result<ActionReport, PartyError> {
    let (path, reason) = match action {
        OrderAction::Release => ("confirm-receipt", None),
        OrderAction::Refund => ("refund", None),
        OrderAction::Dispute(reason) if reason.trim().is_empty() => {
            return Err(PartyError::Input(
                "--reason is empty; say what went wrong".into(),
            ));
        }
        OrderAction::Dispute(reason) => ("dispute", Some(reason)),
    };
    let answer = party.market.order_action(order_id, path, reason).await?;
    Ok(ActionReport {
        order_id,
        action: path,
        answer,
    })
}
