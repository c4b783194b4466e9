//! Money reads for the escrow value metrics: the piconero total the database expects each escrow
//! state to hold (`escrows.amount_atomic` summed per state with checked arithmetic).

use escrow_core::{Amount, EscrowStateKind};
use rusqlite::{Connection, Row};

/// Reads column `index` (an `INTEGER` of piconero) as an [`Amount`].
///
/// # Errors
/// [`rusqlite::Error::FromSqlConversionFailure`] for a stored value below zero.
pub(crate) fn amount_column(r: &Row<'_>, index: usize) -> rusqlite::Result<Amount> {
    let stored: i64 = r.get(index)?;
    u64::try_from(stored).map(Amount::from_atomic).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Integer,
            Box::new(e),
        )
    })
}

/// The total escrow amount (piconero) per state, one entry for every [`EscrowStateKind`] in
/// [`EscrowStateKind::ALL`] order (zero for empty states). A total that would overflow a u64
/// saturates at [`Amount::MAX`].
///
/// # Errors
/// SQLite errors, a stored amount below zero, or an unknown state label.
pub fn value_by_state(conn: &Connection) -> rusqlite::Result<Vec<(EscrowStateKind, Amount)>> {
    let mut totals: Vec<(EscrowStateKind, Amount)> = EscrowStateKind::ALL
        .into_iter()
        .map(|k| (k, Amount::ZERO))
        .collect();
    let mut stmt = conn.prepare_cached("SELECT state, amount_atomic FROM escrows")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, amount_column(r, 1)?)))?;
    for row in rows {
        let (state, amount) = row?;
        let Some(slot) = totals.iter_mut().find(|(k, _)| k.as_str() == state) else {
            return Err(rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Text,
                format!("unknown escrow state label {state:?}").into(),
            ));
        };
        slot.1 = slot.1.checked_add(amount).unwrap_or(Amount::MAX);
    }
    Ok(totals)
}
