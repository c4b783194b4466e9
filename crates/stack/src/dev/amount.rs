//! The amount `mmctl dev pay` reads, into the one money type ([`Amount`], u64 piconero; never
//! a float): decimal XMR, bare or with an `xmr` suffix (`1.5`, `1.5xmr`, `2`), or whole
//! piconero with a `pico` suffix (`1500000000000pico`).

pub use monero_rpc::Amount;

use super::DevError;

/// The suffix of an amount in piconero (atomic units).
pub const PICONERO_SUFFIX: &str = "pico";

/// The optional suffix of an amount in XMR.
pub const XMR_SUFFIX: &str = "xmr";

/// Parses `text` (case-insensitive suffix): `1.5` / `1.5xmr` = 1.5 XMR, `1500000000000pico` =
/// 1 500 000 000 000 piconero. Zero is refused (a payment of nothing is a mistake).
///
/// # Errors
/// [`DevError::Invalid`] naming both accepted forms.
pub fn parse(text: &str) -> Result<Amount, DevError> {
    let lower = text.trim().to_ascii_lowercase();
    let invalid = |why: String| {
        DevError::Invalid(format!(
            "amount {text:?}: {why}; write XMR as 1.5 (or 1.5xmr), or piconero as 1500000000000pico"
        ))
    };
    let amount = match lower.strip_suffix(PICONERO_SUFFIX) {
        Some(digits) => {
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("piconero are whole digits".into()));
            }
            let atomic: u64 = digits
                .parse()
                .map_err(|_| invalid("more than 18446744073709551615 piconero".into()))?;
            Amount::from_atomic(atomic)
        }
        None => {
            let xmr = lower.strip_suffix(XMR_SUFFIX).unwrap_or(&lower);
            xmr.parse::<Amount>().map_err(|e| invalid(e.to_string()))?
        }
    };
    if amount.is_zero() {
        return Err(invalid("it is zero".into()));
    }
    Ok(amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xmr_and_piconero_forms_parse_exactly() {
        let one_and_half = Amount::from_atomic(1_500_000_000_000);
        for text in [
            "1.5",
            "1.5xmr",
            "1.5XMR",
            "1500000000000pico",
            "1500000000000PICO",
        ] {
            assert_eq!(parse(text).unwrap(), one_and_half, "{text}");
        }
        assert_eq!(parse("2").unwrap(), Amount::from_atomic(2_000_000_000_000));
        assert_eq!(parse("1pico").unwrap(), Amount::ONE_PICONERO);
        assert_eq!(parse("0.000000000001").unwrap(), Amount::ONE_PICONERO);
    }

    #[test]
    fn bad_amounts_name_both_forms() {
        for text in [
            "",
            "0",
            "0pico",
            "-1",
            "1.5e3",
            "1,5",
            "pico",
            "1.5pico",
            "abc",
            "1.0000000000001",
            "99999999999999999999pico",
            "99999999999",
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(
                err.contains("1.5xmr") && err.contains("1500000000000pico"),
                "{text}: {err}"
            );
        }
    }
}
