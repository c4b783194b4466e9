//! Output helpers of the binary: reports as JSON (`--json`) or lines on stdout, amounts in XMR
//! for people, and the confirmation prompt before a second signature.

use std::io::{BufRead, IsTerminal, Write};

use mmkt_party::ops::turns::{Approve, SignReview};
use monero_types::Amount;
use serde::Serialize;

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Lines for people.
    Text,
    /// One JSON document (`--json`).
    Json,
}

impl Format {
    /// Prints `report` as JSON, or `text` for people.
    pub fn print<T: Serialize>(self, report: &T, text: impl FnOnce() -> String) {
        match self {
            Format::Json => match serde_json::to_string(report) {
                Ok(json) => println!("{json}"),
                Err(e) => eprintln!("error: cannot print the report as JSON: {e}"),
            },
            Format::Text => println!("{}", text()),
        }
    }
}

/// Piconero as exact XMR text, e.g. `1.5 XMR`.
pub fn xmr(piconero: u64) -> String {
    format!("{} XMR", Amount::from_atomic(piconero))
}

/// Whether to ask before a second signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// `--yes`: sign what passed the check.
    Given,
    /// Show the set on stderr and ask on the terminal.
    Ask,
}

impl Approve for Confirm {
    fn approve(&self, review: &SignReview) -> bool {
        eprintln!(
            "escrow {}: the {} set passed the check; it pays {} to {} with a fee of {}",
            review.escrow_id,
            review.kind,
            xmr(review.amount_piconero),
            review.destination,
            xmr(review.fee_piconero)
        );
        for output in &review.outputs {
            eprintln!(
                "  output: {} to {}",
                xmr(output.amount_piconero),
                output.address
            );
        }
        if *self == Confirm::Given {
            return true;
        }
        if !std::io::stdin().is_terminal() {
            eprintln!("not a terminal: pass --yes to sign without asking");
            return false;
        }
        eprint!("sign it? type yes: ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let read = std::io::stdin().lock().read_line(&mut answer);
        read.is_ok() && answer.trim() == "yes"
    }
}
