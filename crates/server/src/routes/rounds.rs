//! `/api/escrows/{id}/rounds*`: a non-custodial escrow's round protocol as its buyer and vendor
//! see it (whose turn, what to submit, the inputs for it) and their submissions.
//!
//! Handlers check and store one submission and return; the arbiter wallet's share runs in the
//! orchestrator ([`crate::escrow::noncustodial`]), which they wake. A refused submission writes
//! nothing: 409 with the protocol's refusal, 422 `malformed_payload` for a payload of the wrong
//! shape.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use escrow_core::{
    Accepted, Actor, Escrow, EscrowMode, NextStep, PayoutRound, Round, Rounds, RoundsStatus, UserId,
};
use monero_rpc::MultisigTxset;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::db::{ApiTime, escrows, now_unix};
use crate::error::{ApiError, ErrorBody};
use crate::escrow::Target;
use crate::escrow::noncustodial_payout;
use crate::escrow::rounds::{self, Offer, RoundBook, SubmitRefusal, Write};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::views::api_time;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/escrows/{id}/rounds", get(show))
        .route("/api/escrows/{id}/rounds/{round}", post(submit))
}

/// A non-custodial escrow's rounds as one party sees them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoundsView {
    /// Escrow id.
    pub escrow_id: i64,
    /// Order id.
    pub order_id: i64,
    /// Always `non_custodial`.
    #[schema(value_type = String, example = "non_custodial")]
    pub escrow_mode: EscrowMode,
    /// The caller's role: `buyer` or `vendor`.
    #[schema(value_type = String, example = "buyer")]
    pub your_role: Actor,
    /// `setup` or `payout`; null when no phase is open.
    pub phase: Option<&'static str>,
    /// The round being collected (`prepare`, `make`, `exchange_round_1`, `exchange_round_2`,
    /// `export_sync`, `build_txset`, `sign_txset`); null once closed.
    pub round: Option<&'static str>,
    /// `open`, `address_ready`, `addresses_disagree`, `fully_signed` or `timed_out`.
    pub status: &'static str,
    /// The current round's deadline (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub deadline: ApiTime,
    /// Who still owes the current round (buyer, vendor, arbiter order).
    #[schema(value_type = Vec<String>)]
    pub waiting_for: Vec<Actor>,
    /// Whether the caller owes the current round.
    pub your_turn: bool,
    /// What the caller submits now (`multisig_info`, `address`, `multisig_sync_info`,
    /// `partial_txset`, `signed_txset`); null when it is not its turn.
    pub expected: Option<&'static str>,
    /// What the caller needs for its turn: the other two parties' outputs of the previous round
    /// (buyer, vendor, arbiter order); empty for `prepare`.
    pub inputs: Vec<String>,
    /// The payout being signed (payout phase), else null.
    pub payout: Option<PayoutView>,
    /// `sign_txset`: the first signer's txset (hex), for the second signer only; else null.
    pub partial_txset: Option<String>,
    /// After a timeout: what the escrow can do now; else null.
    pub next_step: Option<NextStepView>,
}

/// The payout the payout rounds sign.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PayoutView {
    /// `release` or `refund`.
    pub kind: &'static str,
    /// `undisputed` or `disputed`.
    pub dispute: &'static str,
    /// Builds the set (`sweep_all` to `destination`).
    #[schema(value_type = String)]
    pub first: Actor,
    /// Checks and signs it second.
    #[schema(value_type = String)]
    pub second: Actor,
    /// The only address the set may pay.
    pub destination: String,
    /// The absolute fee cap, atomic units (the relative cap may be lower).
    pub max_fee_xmr: u64,
}

/// What a timed-out escrow can do.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NextStepView {
    /// Before funding: the escrow is cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel: Option<bool>,
    /// After funding: the signings that need none of the missing parties.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pay_out_with: Option<Vec<SigningView>>,
}

/// One allowed signing of a payout.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SigningView {
    /// `release` or `refund`.
    pub kind: &'static str,
    /// Builds the set.
    #[schema(value_type = String)]
    pub first: Actor,
    /// Checks and signs it second.
    #[schema(value_type = String)]
    pub second: Actor,
}

/// `POST /api/escrows/{id}/rounds/{round}` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The round output: a multisig_info (`prepare`, `make`, `exchange_round_1`), the multisig
    /// address (`exchange_round_2`), or hex (sync info, txsets).
    pub payload: String,
}

/// `POST /api/escrows/{id}/rounds/{round}` answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubmitResponse {
    /// `recorded`, `round_complete`, `address_ready`, `addresses_disagree` or `fully_signed`.
    pub accepted: &'static str,
    /// The rounds after the submission.
    pub rounds: RoundsView,
}

fn accepted_label(accepted: &Accepted) -> &'static str {
    match accepted {
        Accepted::Recorded { .. } => "recorded",
        Accepted::RoundComplete { .. } => "round_complete",
        Accepted::AddressReady { .. } => "address_ready",
        Accepted::AddressesDisagree => "addresses_disagree",
        Accepted::FullySigned => "fully_signed",
    }
}

/// The payout of `book`'s payout phase, if it is one.
fn payout_view(book: &RoundBook, max_fee: u64) -> Option<PayoutView> {
    let signing = rounds::parse_signing(book.phase.signing.as_deref()?)?;
    let plan = book.escrow.state().payout_plan()?;
    Some(PayoutView {
        kind: signing.kind().as_str(),
        dispute: signing.disputed().as_str(),
        first: signing.pair().first,
        second: signing.pair().second,
        destination: plan.destination.as_str().to_owned(),
        max_fee_xmr: max_fee,
    })
}

/// The view of `book` for `party` at `now` (Unix s).
fn view(book: &RoundBook, party: Actor, now: i64, max_fee: u64) -> RoundsView {
    let rounds: Rounds = book.at(now);
    let current = rounds.current_round();
    let expected = rounds.expected_from(party);
    let next_step = match rounds.status() {
        RoundsStatus::TimedOut(t) => Some(match &t.next_step {
            NextStep::Cancel => NextStepView {
                cancel: Some(true),
                pay_out_with: None,
            },
            NextStep::PayOutWith(options) => NextStepView {
                cancel: None,
                pay_out_with: Some(
                    options
                        .iter()
                        .map(|s| SigningView {
                            kind: s.kind().as_str(),
                            first: s.pair().first,
                            second: s.pair().second,
                        })
                        .collect(),
                ),
            },
        }),
        _ => None,
    };
    let escrow = &book.escrow;
    RoundsView {
        escrow_id: escrow.id().get(),
        order_id: escrow.order_id().get(),
        escrow_mode: escrow.mode(),
        your_role: party,
        phase: Some(book.phase.phase.as_str()),
        round: current.map(Round::as_str),
        status: rounds.status().as_str(),
        deadline: api_time(rounds.deadline()),
        waiting_for: rounds.waiting_for(),
        your_turn: expected.is_some(),
        expected: expected.map(|(_, kind)| kind.as_str()),
        inputs: expected
            .map(|(round, _)| book.inputs_for(party, round))
            .unwrap_or_default(),
        payout: payout_view(book, max_fee),
        partial_txset: match expected {
            Some((Round::Payout(PayoutRound::SignTxset), _)) => book
                .rows
                .iter()
                .find(|r| r.round == PayoutRound::BuildTxset.as_str())
                .map(|r| r.payload.expose().to_owned()),
            _ => None,
        },
        next_step,
    }
}

/// The non-custodial escrow `id` and the caller's role on it: buyer or vendor; anyone else 404
/// (existence is not revealed); a hosted escrow 409 `not_non_custodial`.
async fn load_as_party(
    state: &AppState,
    id: i64,
    current: &CurrentUser,
) -> Result<(Escrow, Actor), ApiError> {
    let escrow = state
        .db()
        .run("select", "escrows", move |conn| {
            escrows::load(conn, Target::Escrow(id))
        })
        .await?
        .ok_or(ApiError::NotFound("escrow"))?;
    let party = match escrow.actor_for(UserId::new(current.user.id), current.user.role) {
        Some(party @ (Actor::Buyer | Actor::Vendor)) => party,
        _ => return Err(ApiError::NotFound("escrow")),
    };
    if escrow.mode() != EscrowMode::NonCustodial {
        return Err(ApiError::NotNonCustodial);
    }
    Ok((escrow, party))
}

/// The API error of a refused submission.
fn refused(id: i64, refusal: SubmitRefusal) -> ApiError {
    match refusal {
        SubmitRefusal::Round(refusal) => ApiError::Round(refusal),
        SubmitRefusal::Malformed(message) => ApiError::MalformedPayload(message),
        SubmitRefusal::NoRounds => {
            ApiError::Internal(format!("non-custodial escrow {id} has no rounds"))
        }
    }
}

/// A payout txset's protocol check without storing it, then the server's own check of the set
/// through the arbiter wallet: 422 `txset_refused` when it fails.
async fn check_txset(
    state: &AppState,
    offer: Offer,
    settings: (escrow_core::RoundTimeout, monero_types::MoneroNetwork),
    now: i64,
) -> Result<(), ApiError> {
    let id = offer.escrow_id;
    let txset = MultisigTxset::new(offer.payload.expose().to_owned())
        .map_err(|e| ApiError::MalformedPayload(e.to_string()))?;
    let (_, book) = state
        .db()
        .run("select", "escrow_round_submissions", move |conn| {
            rounds::submit(conn, offer, settings, (now, Write::CheckOnly))
        })
        .await?
        .map_err(|refusal| refused(id, refusal))?;
    match noncustodial_payout::check_txset(state.escrow(), &book, txset).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(refusal)) => {
            tracing::warn!(
                escrow_id = id,
                reason = refusal.reason().as_str(),
                "a party's payout set was refused"
            );
            Err(ApiError::TxsetRefused(refusal))
        }
        Err(e) => {
            tracing::warn!(escrow_id = id, error = %e, "cannot check a payout set now");
            Err(ApiError::Unavailable)
        }
    }
}

/// A non-custodial escrow's rounds as the caller (its buyer or vendor) sees them: the current
/// round, who it waits for, whether it is the caller's turn, what to submit and the inputs for
/// it, and after a missed deadline what the escrow can still do.
#[utoipa::path(get, path = "/api/escrows/{id}/rounds", tag = "escrows", operation_id = "show_escrow_rounds",
    params(("id" = i64, Path, description = "escrow id")),
    security(("session_cookie" = [])),
    responses((status = 200, body = RoundsView), (status = 401, body = ErrorBody),
        (status = 404, description = "not the escrow's buyer or vendor, or no such escrow", body = ErrorBody),
        (status = 409, description = "`not_non_custodial`: a hosted escrow", body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<RoundsView>, ApiError> {
    let (_, party) = load_as_party(&state, id, &current).await?;
    let timeout = state.config().escrow.modes.round_timeout;
    let book = state
        .db()
        .run("select", "escrow_round_submissions", move |conn| {
            rounds::load(conn, id, timeout)
        })
        .await?
        .ok_or_else(|| ApiError::Internal(format!("non-custodial escrow {id} has no rounds")))?;
    let max_fee = state.config().escrow.payout_fee.max_fee().as_atomic();
    Ok(ApiJson(view(&book, party, now_unix(), max_fee)))
}

/// The caller (buyer or vendor) submits its output of `round`. Accepted only when the round is
/// the current one, the caller owes it and has not submitted it yet, and the payload has the
/// round's shape; the escrow shows its address only once all three reported the same one.
#[utoipa::path(post, path = "/api/escrows/{id}/rounds/{round}", tag = "escrows", operation_id = "submit_escrow_round",
    params(("id" = i64, Path, description = "escrow id"), ("round" = String, Path, description = "round label, e.g. `make`")),
    security(("session_cookie" = [])),
    request_body = SubmitRequest,
    responses((status = 200, body = SubmitResponse), (status = 401, body = ErrorBody),
        (status = 404, description = "not the escrow's buyer or vendor, no such escrow or round", body = ErrorBody),
        (status = 409, description = "`not_your_turn`, `wrong_round`, `already_submitted`, `rounds_closed`, `deadline_passed`, `not_non_custodial`; nothing changed", body = ErrorBody),
        (status = 422, description = "`malformed_payload`: empty, not the round's shape, or an address of another network; nothing changed", body = ErrorBody)))]
pub async fn submit(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath((id, round)): ApiPath<(i64, String)>,
    ApiJson(request): ApiJson<SubmitRequest>,
) -> Result<ApiJson<SubmitResponse>, ApiError> {
    let (_, party) = load_as_party(&state, id, &current).await?;
    let round: Round = round.parse().map_err(|_| ApiError::NotFound("round"))?;
    let escrow = &state.config().escrow;
    let settings = (escrow.modes.round_timeout, escrow.network);
    let offer = Offer {
        escrow_id: id,
        actor: party,
        round,
        payload: crate::db::escrows::steps::StepOutput::new(request.payload),
    };
    let now = now_unix();
    if matches!(
        round,
        Round::Payout(PayoutRound::BuildTxset | PayoutRound::SignTxset)
    ) {
        check_txset(&state, offer.clone(), settings, now).await?;
    }
    let result = state
        .db()
        .run("insert", "escrow_round_submissions", move |conn| {
            rounds::submit(conn, offer, settings, (now, Write::Store))
        })
        .await?;
    let (accepted, book) = result.map_err(|refusal| refused(id, refusal))?;
    tracing::info!(
        escrow_id = id,
        round = round.as_str(),
        actor = party.as_str(),
        accepted = accepted_label(&accepted),
        "round output accepted"
    );
    rounds::announce(state.escrow(), &accepted, &book);
    Ok(ApiJson(SubmitResponse {
        accepted: accepted_label(&accepted),
        rounds: view(&book, party, now, escrow.payout_fee.max_fee().as_atomic()),
    }))
}
