//! Row counts of every table from the b-tree pages seen in a full backup's page stream, so a
//! chained full backup does not read the tables a second time with `count(*)`: each page's
//! type and cell count (and an interior page's children) are noted as it streams, then each
//! table's tree is walked from its root page (`sqlite_master.rootpage`). A rowid table has as
//! many rows as its leaf pages have cells; a `WITHOUT ROWID` table (an index b-tree) as many as
//! all its pages have cells. A virtual table (root page 0), or a tree that does not check out
//! (a page of the wrong type, a child beyond the database, a cycle), is counted with
//! `count(*)` instead.
//!
//! Source: <https://sqlite.org/fileformat2.html#b_tree_pages> (page header at offset 100 on
//! page 1, else 0: type byte 2/5/10/13 for interior index/interior table/leaf index/leaf
//! table, cell count at +3, right-most child at +8 on interior pages, then the 2-byte cell
//! pointers; an interior cell starts with its 4-byte left child).

use std::collections::BTreeMap;

use rusqlite::Connection;

use crate::error::BackupError;

const INTERIOR_INDEX: u8 = 2;
const INTERIOR_TABLE: u8 = 5;
const LEAF_INDEX: u8 = 10;
const LEAF_TABLE: u8 = 13;

#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    kind: u8,
    cells: u16,
    first_child: u32,
    children: u16,
}

/// What the b-tree pages of a stream look like (12 bytes per page plus 4 per child pointer).
#[derive(Debug, Default)]
pub(crate) struct Census {
    pages: Vec<Shape>,
    children: Vec<u32>,
}

fn be16(page: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(page.get(at..at + 2)?.try_into().ok()?))
}

fn be32(page: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(page.get(at..at + 4)?.try_into().ok()?))
}

impl Census {
    /// Notes page `pgno` (pages in order, page 1 first; a page out of order is ignored and
    /// makes the trees through it fall back to `count(*)`).
    pub(crate) fn observe(&mut self, pgno: u64, page: &[u8]) {
        if pgno != self.pages.len() as u64 + 1 {
            return;
        }
        let shape = self.shape(pgno, page).unwrap_or_default();
        self.pages.push(shape);
    }

    fn shape(&mut self, pgno: u64, page: &[u8]) -> Option<Shape> {
        let header = if pgno == 1 { 100 } else { 0 };
        let kind = *page.get(header)?;
        let cells = be16(page, header + 3)?;
        let mut shape = Shape {
            kind,
            cells,
            ..Shape::default()
        };
        match kind {
            LEAF_INDEX | LEAF_TABLE => Some(shape),
            INTERIOR_INDEX | INTERIOR_TABLE => {
                let first = self.children.len();
                for i in 0..usize::from(cells) {
                    let at = be16(page, header + 12 + 2 * i)?;
                    self.children.push(be32(page, usize::from(at))?);
                }
                self.children.push(be32(page, header + 8)?);
                shape.first_child = u32::try_from(first).ok()?;
                shape.children = cells.checked_add(1)?;
                Some(shape)
            }
            _ => None,
        }
    }

    /// Rows of the tree rooted at `root`, or `None` when it does not check out.
    fn rows(&self, root: u64) -> Option<u64> {
        let kind = self
            .pages
            .get(usize::try_from(root).ok()?.checked_sub(1)?)?
            .kind;
        let (interior, leaf, interior_rows) = match kind {
            INTERIOR_TABLE | LEAF_TABLE => (INTERIOR_TABLE, LEAF_TABLE, false),
            INTERIOR_INDEX | LEAF_INDEX => (INTERIOR_INDEX, LEAF_INDEX, true),
            _ => return None,
        };
        let (mut rows, mut stack, mut visited) = (0u64, vec![root], 0usize);
        while let Some(pgno) = stack.pop() {
            visited += 1;
            if visited > self.pages.len() {
                return None; // a cycle
            }
            let shape = self
                .pages
                .get(usize::try_from(pgno).ok()?.checked_sub(1)?)?;
            if shape.kind == leaf {
                rows += u64::from(shape.cells);
                continue;
            }
            if shape.kind != interior {
                return None;
            }
            if interior_rows {
                rows += u64::from(shape.cells);
            }
            let first = shape.first_child as usize;
            let children = self
                .children
                .get(first..first + usize::from(shape.children))?;
            stack.extend(children.iter().map(|&c| u64::from(c)));
        }
        Some(rows)
    }
}

/// Row counts of every user table (as [`crate::pages::row_counts`] lists them), from `census`
/// where its tree checks out, else from `count(*)`; inside the caller's read transaction.
///
/// # Errors
/// [`BackupError::Sqlite`] when listing the tables or a fallback count fails.
pub(crate) fn row_counts(
    conn: &Connection,
    census: &Census,
) -> Result<BTreeMap<String, u64>, BackupError> {
    let mut stmt = conn
        .prepare(
            "SELECT name, rootpage FROM sqlite_master
             WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .map_err(BackupError::sqlite("list tables"))?;
    let tables: Vec<(String, i64)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?.unwrap_or(0)))
        })
        .map_err(BackupError::sqlite("list tables"))?
        .collect::<Result<_, _>>()
        .map_err(BackupError::sqlite("list tables"))?;
    let mut counts = BTreeMap::new();
    for (name, root) in tables {
        let counted = u64::try_from(root)
            .ok()
            .filter(|&r| r > 0)
            .and_then(|r| census.rows(r));
        let n = match counted {
            Some(n) => n,
            None => crate::pages::count_rows(conn, &name)?,
        };
        counts.insert(name, n);
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_the_pages_equal_count_star_for_every_kind_of_table() {
        let tmp = tempfile::tempdir().unwrap();
        let key = mmkt_sqlcipher::DbKey::generate();
        let options = mmkt_sqlcipher::OpenOptions {
            access: mmkt_sqlcipher::Access::Create,
            busy_timeout: std::time::Duration::from_secs(5),
            page_size: None,
        };
        let conn = mmkt_sqlcipher::open(&tmp.path().join("db"), &key, &options).unwrap();
        conn.execute_batch(
            "CREATE TABLE big (x TEXT); CREATE INDEX big_x ON big (x);
             CREATE TABLE keyed (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;
             CREATE TABLE empty (x);
             CREATE VIRTUAL TABLE words USING fts5 (body);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
             INSERT INTO big SELECT hex(randomblob(30)) FROM n;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 7000)
             INSERT INTO keyed SELECT hex(randomblob(20)), 'v' || i FROM n;
             INSERT INTO words SELECT 'w' || x FROM big LIMIT 300;
             DELETE FROM big WHERE rowid % 7 = 0;",
        )
        .unwrap();
        let mut census = Census::default();
        let mut stmt = conn
            .prepare("SELECT pgno, data FROM sqlite_dbpage ORDER BY pgno")
            .unwrap();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let data: Vec<u8> = row.get(1).unwrap();
            census.observe(row.get::<_, i64>(0).unwrap() as u64, &data);
        }
        let from_pages = row_counts(&conn, &census).unwrap();
        let counted = crate::pages::row_counts(&conn).unwrap();
        assert_eq!(from_pages, counted);
        assert_eq!(counted["big"], 20000 - 20000 / 7);
        assert_eq!(counted["keyed"], 7000);
        // Multi-level trees were walked, not counted by the fallback.
        let root = |name: &str| -> u64 {
            conn.query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = ?1",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .unwrap() as u64
        };
        assert_eq!(census.rows(root("big")), Some(counted["big"]));
        assert_eq!(census.rows(root("keyed")), Some(7000));
        assert_eq!(census.pages[root("big") as usize - 1].kind, INTERIOR_TABLE);
        // A tree that does not check out is not guessed at.
        assert_eq!(census.rows(root("big_x") + 100_000), None);
        let mut broken = Census::default();
        broken.observe(1, &[0u8; 4096]);
        assert_eq!(broken.rows(1), None);
    }
}
