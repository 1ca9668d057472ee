//! The Durable Object's SQLite storage: journal lines appended per batch of events, a snapshot
//! every `SNAPSHOT_EVERY_EVENTS` events (after which the journal rows it covers are deleted), and
//! the agents' bindings. A text longer than `ROW_BYTES_MAX` is split over several rows, so no row
//! comes near the platform's 2 MB cap. Writes per step are proportional to the change.

use serde::Deserialize;
use worker::{SqlStorage, SqlStorageValue};

/// The largest text one row holds; longer texts are chunked (`part` 0, 1, ...).
pub const ROW_BYTES_MAX: usize = 512 * 1024;
/// Events between two snapshots.
pub const SNAPSHOT_EVERY_EVENTS: u64 = 500;
/// Journal bytes between two snapshots: a restart parses the tail whole, and large payloads make
/// a few hundred events hundreds of MB (an object has 128 MB).
pub const SNAPSHOT_EVERY_JOURNAL_BYTES: usize = 16 << 20;

pub struct Store {
    sql: SqlStorage,
}

/// What the object finds on start: the latest snapshot and the journal lines after it.
pub struct Loaded {
    pub snapshot: Option<String>,
    pub journal: String,
    pub lines: u64,
}

#[derive(Deserialize)]
struct Part {
    seq: f64,
    text: String,
}

#[derive(Deserialize)]
struct Binding {
    id: String,
    binding: String,
}

fn int(v: u64) -> SqlStorageValue {
    SqlStorageValue::Integer(v as i64)
}

/// Splits at char boundaries into pieces of at most `ROW_BYTES_MAX` bytes.
fn chunks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > ROW_BYTES_MAX {
        let mut cut = ROW_BYTES_MAX;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out.push(rest);
    out
}

impl Store {
    pub fn open(sql: SqlStorage) -> worker::Result<Store> {
        for ddl in [
            "CREATE TABLE IF NOT EXISTS journal (seq INTEGER NOT NULL, part INTEGER NOT NULL, text TEXT NOT NULL, PRIMARY KEY (seq, part))",
            "CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER NOT NULL, part INTEGER NOT NULL, text TEXT NOT NULL, PRIMARY KEY (seq, part))",
            "CREATE TABLE IF NOT EXISTS bindings (id TEXT PRIMARY KEY, binding TEXT NOT NULL)",
        ] {
            sql.exec(ddl, None)?;
        }
        Ok(Store { sql })
    }

    pub fn load(&self) -> worker::Result<Loaded> {
        let snaps: Vec<Part> = self
            .sql
            .exec(
                "SELECT seq, text FROM snapshots WHERE seq = (SELECT MAX(seq) FROM snapshots) ORDER BY part",
                None,
            )?
            .to_array()?;
        let base = snaps.first().map_or(0, |p| p.seq as u64);
        let snapshot = (!snaps.is_empty()).then(|| snaps.iter().map(|p| p.text.as_str()).collect());
        let rows: Vec<Part> = self
            .sql
            .exec(
                "SELECT seq, text FROM journal WHERE seq > ? ORDER BY seq, part",
                vec![int(base)],
            )?
            .to_array()?;
        let mut journal = String::new();
        let mut lines = 0;
        let mut last = None;
        for row in rows {
            if last.is_some_and(|s| s != row.seq) {
                journal.push('\n');
            }
            if last != Some(row.seq) {
                lines += 1;
            }
            journal.push_str(&row.text);
            last = Some(row.seq);
        }
        Ok(Loaded {
            snapshot,
            journal,
            lines,
        })
    }

    /// Appends journal lines (JSON Lines, as the core writes them).
    pub fn append(&self, lines: &str) -> worker::Result<()> {
        for line in lines.lines().filter(|l| !l.is_empty()) {
            let seq =
                crate::core::replay_check::peek_seq(line).map_err(worker::Error::RustError)?;
            for (part, text) in chunks(line).into_iter().enumerate() {
                self.sql.exec(
                    "INSERT OR REPLACE INTO journal (seq, part, text) VALUES (?, ?, ?)",
                    vec![
                        int(seq),
                        int(part as u64),
                        SqlStorageValue::String(text.to_owned()),
                    ],
                )?;
            }
        }
        Ok(())
    }

    /// Writes a snapshot of the state at `seq`, then drops older snapshots and the journal rows
    /// the snapshot covers.
    pub fn save_snapshot(&self, seq: u64, snapshot: &str) -> worker::Result<()> {
        for (part, text) in chunks(snapshot).into_iter().enumerate() {
            self.sql.exec(
                "INSERT OR REPLACE INTO snapshots (seq, part, text) VALUES (?, ?, ?)",
                vec![
                    int(seq),
                    int(part as u64),
                    SqlStorageValue::String(text.to_owned()),
                ],
            )?;
        }
        self.sql
            .exec("DELETE FROM snapshots WHERE seq < ?", vec![int(seq)])?;
        self.sql
            .exec("DELETE FROM journal WHERE seq <= ?", vec![int(seq)])?;
        Ok(())
    }

    /// The latest snapshot stored, whole.
    pub fn latest_snapshot(&self) -> worker::Result<Option<String>> {
        let parts: Vec<Part> = self
            .sql
            .exec(
                "SELECT seq, text FROM snapshots WHERE seq = (SELECT MAX(seq) FROM snapshots) ORDER BY part",
                None,
            )?
            .to_array()?;
        Ok((!parts.is_empty()).then(|| parts.iter().map(|p| p.text.as_str()).collect()))
    }

    pub fn bindings(&self) -> worker::Result<Vec<(String, String)>> {
        let rows: Vec<Binding> = self
            .sql
            .exec("SELECT id, binding FROM bindings ORDER BY id", None)?
            .to_array()?;
        Ok(rows.into_iter().map(|b| (b.id, b.binding)).collect())
    }

    pub fn put_binding(&self, id: &str, binding: &str) -> worker::Result<()> {
        self.sql.exec(
            "INSERT OR REPLACE INTO bindings (id, binding) VALUES (?, ?)",
            vec![
                SqlStorageValue::String(id.into()),
                SqlStorageValue::String(binding.into()),
            ],
        )?;
        Ok(())
    }

    /// Rows in each table, for `/metrics`.
    pub fn rows(&self) -> worker::Result<(u64, u64)> {
        #[derive(Deserialize)]
        struct N {
            n: f64,
        }
        let j: N = self
            .sql
            .exec("SELECT COUNT(*) AS n FROM journal", None)?
            .one()?;
        let s: N = self
            .sql
            .exec("SELECT COUNT(*) AS n FROM snapshots", None)?
            .one()?;
        Ok((j.n as u64, s.n as u64))
    }
}
