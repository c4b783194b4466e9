//! Benchmark of the page-stream compressors (gzip through flate2, zstd through the `zstd`
//! crate) on the decrypted pages of a database seeded by `crates/mmctl/examples/bench_seed.rs`,
//! for docs/BACKUP.md ("Compression"). Compresses the first LIMIT_MIB of the page stream held
//! in memory, so only the compressor is timed. Not a test.
//!
//! Usage: compress_bench DB_PATH KEY_FILE LIMIT_MIB

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use mmkt_backup::pages::{self, IntegrityCheck};
use mmkt_sqlcipher::Access;

/// Keeps the first `limit` bytes written to it.
struct Head {
    kept: Vec<u8>,
    limit: usize,
}

impl Write for Head {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = self.limit.saturating_sub(self.kept.len()).min(data.len());
        self.kept.extend_from_slice(&data[..room]);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Counts the bytes written to it.
#[derive(Default)]
struct Count(u64);

impl Write for Count {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0 += data.len() as u64;
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [db, key_file, limit] = args.as_slice() else {
        eprintln!("usage: compress_bench DB_PATH KEY_FILE LIMIT_MIB");
        std::process::exit(2);
    };
    let key = mmkt_sqlcipher::read_key_file(&PathBuf::from(key_file))?;
    let conn = pages::open_keyed(&PathBuf::from(db), &key, Access::ReadOnly)?;
    let mut head = Head {
        kept: Vec::new(),
        limit: limit.parse::<usize>()? << 20,
    };
    pages::stream_snapshot(&conn, &mut head, IntegrityCheck::ByCaller, &|_| {})?;
    let data = head.kept;
    let mib = data.len() as f64 / 1048576.0;
    println!("| codec | compress (s) | MiB/s | output (MiB) | ratio | decompress (s) |");
    println!("|---|---:|---:|---:|---:|---:|");
    let report = |name: &str, secs: f64, out: &[u8], unpack: f64| {
        println!(
            "| {name} | {secs:.2} | {:.0} | {:.1} | {:.3} | {unpack:.2} |",
            mib / secs,
            out.len() as f64 / 1048576.0,
            out.len() as f64 / data.len() as f64
        );
    };
    for level in [1, 6] {
        let started = Instant::now();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        gz.write_all(&data)?;
        let out = gz.finish()?;
        let secs = started.elapsed().as_secs_f64();
        let started = Instant::now();
        std::io::copy(
            &mut flate2::read::GzDecoder::new(&out[..]),
            &mut Count::default(),
        )?;
        report(
            &format!("gzip -{level}"),
            secs,
            &out,
            started.elapsed().as_secs_f64(),
        );
    }
    for (level, workers) in [(1, 0), (3, 0), (9, 0), (1, 2), (3, 2)] {
        let started = Instant::now();
        let mut z = zstd::stream::write::Encoder::new(Vec::new(), level)?;
        if workers > 0 {
            z.multithread(workers)?;
        }
        z.write_all(&data)?;
        let out = z.finish()?;
        let secs = started.elapsed().as_secs_f64();
        let started = Instant::now();
        std::io::copy(
            &mut zstd::stream::read::Decoder::new(&out[..])?,
            &mut Count::default(),
        )?;
        let name = match workers {
            0 => format!("zstd -{level}"),
            n => format!("zstd -{level} -T{n}"),
        };
        report(&name, secs, &out, started.elapsed().as_secs_f64());
    }
    Ok(())
}
