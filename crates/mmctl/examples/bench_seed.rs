//! Benchmark fixture: fills a SQLCipher database (raw key from a key file, WAL) with realistic
//! marketplace rows — listings with descriptions, orders with addresses and amounts in
//! piconero, messages — until the file reaches the requested size; or, with `--touch ROWS`,
//! updates ROWS orders picked at random (status and tx hash, one transaction), which changes
//! about one page per row. Used by scripts/bench-backup.sh (docs/BENCHMARKS.md).
//!
//! Usage: bench_seed DB_PATH KEY_FILE SIZE_MIB | bench_seed DB_PATH KEY_FILE --touch ROWS

use std::path::PathBuf;
use std::time::Duration;

use mmkt_sqlcipher::{Access, OpenOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(db), Some(key_file), Some(size)) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: bench_seed DB_PATH KEY_FILE SIZE_MIB");
        std::process::exit(2);
    };
    let touch = match size.as_str() {
        "--touch" => Some(
            args.next()
                .ok_or("--touch needs a row count")?
                .parse::<u64>()?,
        ),
        _ => None,
    };
    let target: u64 = match touch {
        Some(_) => 0,
        None => size.parse::<u64>()? * 1024 * 1024,
    };
    let key = mmkt_sqlcipher::read_key_file(&PathBuf::from(&key_file))?;
    let options = OpenOptions {
        access: Access::Create,
        busy_timeout: Duration::from_secs(5),
        page_size: None,
    };
    let conn = mmkt_sqlcipher::open(PathBuf::from(&db).as_path(), &key, &options)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         CREATE TABLE IF NOT EXISTS listings (id INTEGER PRIMARY KEY, vendor_id INTEGER NOT NULL, title TEXT NOT NULL,
            description TEXT NOT NULL, price_atomic INTEGER NOT NULL, category TEXT NOT NULL, created_at TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, listing_id INTEGER NOT NULL, buyer_id INTEGER NOT NULL,
            status TEXT NOT NULL, amount_atomic INTEGER NOT NULL, escrow_address TEXT NOT NULL, tx_hash TEXT, created_at TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, sender_id INTEGER NOT NULL,
            body TEXT NOT NULL, created_at TEXT NOT NULL);
         CREATE INDEX IF NOT EXISTS orders_listing ON orders(listing_id);
         CREATE INDEX IF NOT EXISTS messages_order ON messages(order_id);
         PRAGMA user_version = 12;",
    )?;
    let words = [
        "hand-made",
        "leather",
        "wallet",
        "vintage",
        "camera",
        "lens",
        "ceramic",
        "mug",
        "wool",
        "scarf",
        "book",
        "signed",
        "first",
        "edition",
        "shipping",
        "worldwide",
        "tracked",
        "escrow",
        "accepted",
        "condition",
        "new",
        "used",
        "mint",
        "boxed",
        "original",
        "spare",
        "parts",
        "garden",
        "tools",
        "coffee",
        "beans",
        "roasted",
        "fresh",
        "organic",
    ];
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let hex = |n: &mut dyn FnMut() -> u64, len: usize| -> String {
        (0..len).map(|_| format!("{:x}", n() % 16)).collect()
    };
    if let Some(rows) = touch {
        let max: i64 = conn.query_row("SELECT max(id) FROM orders", [], |r| r.get(0))?;
        // A different stream from the seeding one, so the same run touches other rows.
        let mut pick: u64 = 0x9E37_79B9_7F4A_7C15 ^ rows;
        conn.execute_batch("BEGIN")?;
        for _ in 0..rows {
            pick ^= pick << 13;
            pick ^= pick >> 7;
            pick ^= pick << 17;
            conn.execute(
                "UPDATE orders SET status = 'completed', tx_hash = ?1 WHERE id = ?2",
                rusqlite::params![hex(&mut next, 64), 1 + (pick % max as u64) as i64],
            )?;
        }
        conn.execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE)")?;
        println!("touched {rows} orders");
        return Ok(());
    }
    let mut id: i64 = 0;
    loop {
        conn.execute_batch("BEGIN")?;
        {
            let mut listing = conn.prepare_cached("INSERT INTO listings (vendor_id, title, description, price_atomic, category, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
            let mut order = conn.prepare_cached("INSERT INTO orders (listing_id, buyer_id, status, amount_atomic, escrow_address, tx_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?;
            let mut message = conn.prepare_cached("INSERT INTO messages (order_id, sender_id, body, created_at) VALUES (?1, ?2, ?3, ?4)")?;
            for _ in 0..5000 {
                id += 1;
                let text = |n: &mut dyn FnMut() -> u64, count: usize| -> String {
                    (0..count)
                        .map(|_| words[(n() % words.len() as u64) as usize])
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                let when = format!(
                    "2026-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                    1 + next() % 12,
                    1 + next() % 28,
                    next() % 24,
                    next() % 60,
                    next() % 60
                );
                listing.execute(rusqlite::params![
                    (next() % 5000) as i64,
                    text(&mut next, 6),
                    text(&mut next, 40),
                    (next() % 50_000_000_000_000) as i64,
                    words[(next() % 8) as usize],
                    when
                ])?;
                order.execute(rusqlite::params![
                    id,
                    (next() % 100_000) as i64,
                    ["created", "funded", "shipped", "completed", "disputed"]
                        [(next() % 5) as usize],
                    (next() % 50_000_000_000_000) as i64,
                    format!("4{}", hex(&mut next, 94)),
                    hex(&mut next, 64),
                    when
                ])?;
                message.execute(rusqlite::params![
                    id,
                    (next() % 100_000) as i64,
                    text(&mut next, 25),
                    when
                ])?;
            }
        }
        conn.execute_batch("COMMIT")?;
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        if pages as u64 * 4096 >= target {
            break;
        }
    }
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    println!(
        "{id} listings/orders/messages, {} MiB",
        std::fs::metadata(&db)?.len() / 1024 / 1024
    );
    Ok(())
}
