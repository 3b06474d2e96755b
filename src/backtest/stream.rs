//! The backtest's streamed output files (`decisions.csv`, `equity.csv`): each is written by a
//! thread of its own, so the pipeline's thread neither waits on the kernel copying hundreds of
//! megabytes into the page cache nor spends its time formatting the equity curve.
//!
//! Owns the background writing and the text of `equity.csv` rows; what goes into a file is the
//! sink's ([`super::sink`]). A file is written to a hidden temporary name beside its final one
//! and renamed into place by [`StreamFile::finish`] after an `fsync`, so a failed run never
//! leaves a half-written file under a final name.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::isotime::IsoFormatter;

/// Bytes a streamed file hands to its writer thread at a time.
const CHUNK: usize = 1 << 20;
/// `equity.csv` rows handed to the writer thread at a time (formatted there).
const ROWS_PER_CHUNK: usize = 8192;
/// Chunks in flight to the writer; when they are all in flight the pipeline's thread waits
/// (back-pressure, nothing dropped).
const CHUNKS_IN_FLIGHT: usize = 4;

/// Appends `v` as the shortest text that reads back as the same `f64` (ryu); nothing for a
/// non-finite value (an empty CSV cell).
pub(super) fn push_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        let mut b = ryu::Buffer::new();
        out.extend_from_slice(b.format_finite(v).as_bytes());
    }
}

/// The text of the last value written to an `equity.csv` column. Cash and positions change
/// only on fills, and equity not at all while flat, so most rows repeat the previous row's
/// numbers: they are formatted once (as [`push_f64`] does) and copied.
#[derive(Debug, Default)]
struct LastText {
    bits: Option<u64>,
    text: Vec<u8>,
}

impl LastText {
    fn push(&mut self, v: f64, out: &mut Vec<u8>) {
        if self.bits != Some(v.to_bits()) {
            self.bits = Some(v.to_bits());
            self.text.clear();
            push_f64(&mut self.text, v);
        }
        out.extend_from_slice(&self.text);
    }
}

/// `equity.csv` rows not yet formatted: each a bar start time and `width` numbers (equity,
/// cash, then one position per symbol).
#[derive(Debug, Default)]
struct EquityRows {
    width: usize,
    times: Vec<i64>,
    values: Vec<f64>,
}

impl EquityRows {
    fn with_capacity(width: usize) -> Self {
        EquityRows {
            width,
            times: Vec::with_capacity(ROWS_PER_CHUNK),
            values: Vec::with_capacity(ROWS_PER_CHUNK * width),
        }
    }

    fn clear(&mut self) {
        self.times.clear();
        self.values.clear();
    }
}

/// Formats [`EquityRows`]: `time,equity,cash,position…` with the time as RFC 3339 UTC.
#[derive(Debug, Default)]
struct EquityText {
    iso: IsoFormatter,
    columns: Vec<LastText>,
}

impl EquityText {
    fn render(&mut self, rows: &EquityRows, out: &mut Vec<u8>) {
        if self.columns.len() < rows.width {
            self.columns.resize_with(rows.width, LastText::default);
        }
        let width = rows.width.max(1);
        for (&t, values) in rows.times.iter().zip(rows.values.chunks_exact(width)) {
            self.iso.push(t, out);
            for (&v, col) in values.iter().zip(self.columns.iter_mut()) {
                out.push(b',');
                col.push(v, out);
            }
            out.push(b'\n');
        }
    }
}

/// What travels to a writer thread: bytes to write as they are, or equity rows to format
/// first. Buffers come back on a return queue to be reused.
enum Chunk {
    Bytes(Vec<u8>),
    Equity(EquityRows),
}

/// A file written in the background. The sink appends bytes ([`write`](Self::write)) or
/// equity rows ([`push_equity_row`](Self::push_equity_row)); full buffers go to the writer
/// thread, which formats rows, does the `write` system calls and the final `fsync`. Bytes
/// written before a row reach the file before it.
pub(super) struct StreamFile {
    tmp: PathBuf,
    pub(super) dest: PathBuf,
    buf: Vec<u8>,
    rows: EquityRows,
    tx: Option<crossbeam_channel::Sender<Chunk>>,
    back: crossbeam_channel::Receiver<Chunk>,
    writer: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl StreamFile {
    /// Creates `dir/.name.tmp-PID` with `header` as its first line and starts its writer.
    ///
    /// # Errors
    /// The file cannot be created or the thread cannot start (both naming the file).
    pub(super) fn create(dir: &Path, name: &str, header: &str) -> Result<Self> {
        let dest = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let mut file = File::create(&tmp)
            .with_context(|| format!("cannot create output {}", dest.display()))?;
        let (tx, rx) = crossbeam_channel::bounded::<Chunk>(CHUNKS_IN_FLIGHT);
        let (back_tx, back) = crossbeam_channel::bounded::<Chunk>(CHUNKS_IN_FLIGHT + 1);
        let writer = std::thread::Builder::new()
            .name("hermes-csv-writer".into())
            .spawn(move || -> std::io::Result<()> {
                let mut text = EquityText::default();
                let mut out = Vec::new();
                for chunk in rx {
                    let back = match chunk {
                        Chunk::Bytes(mut bytes) => {
                            file.write_all(&bytes)?;
                            bytes.clear();
                            Chunk::Bytes(bytes)
                        }
                        Chunk::Equity(mut rows) => {
                            text.render(&rows, &mut out);
                            file.write_all(&out)?;
                            out.clear();
                            rows.clear();
                            Chunk::Equity(rows)
                        }
                    };
                    let _ = back_tx.try_send(back);
                }
                // Durable before it is renamed into place.
                file.sync_all()
            })
            .with_context(|| format!("cannot start the writer of {}", dest.display()))?;
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        buf.extend_from_slice(header.as_bytes());
        buf.push(b'\n');
        Ok(Self {
            tmp,
            dest,
            buf,
            rows: EquityRows::default(),
            tx: Some(tx),
            back,
            writer: Some(writer),
        })
    }

    /// Appends bytes.
    ///
    /// # Errors
    /// The writer thread failed (its error).
    pub(super) fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if !self.rows.times.is_empty() {
            self.hand_over()?;
        }
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= CHUNK {
            self.hand_over()?;
        }
        Ok(())
    }

    /// Appends an `equity.csv` row: the bar start time, equity, cash, then `positions`
    /// (formatted on the writer thread as [`push_f64`] formats, each after a comma).
    ///
    /// # Errors
    /// The writer thread failed (its error).
    pub(super) fn push_equity_row(
        &mut self,
        bar_start: i64,
        equity: f64,
        cash: f64,
        positions: &[f64],
    ) -> std::io::Result<()> {
        let width = 2 + positions.len();
        if width != self.rows.width {
            self.hand_over()?;
            self.rows.width = width;
        }
        self.rows.times.push(bar_start);
        self.rows.values.push(equity);
        self.rows.values.push(cash);
        self.rows.values.extend_from_slice(positions);
        if self.rows.times.len() >= ROWS_PER_CHUNK {
            self.hand_over()?;
        }
        Ok(())
    }

    /// Hands the buffered bytes, then the buffered rows, to the writer thread.
    ///
    /// # Errors
    /// The writer thread failed (its error).
    pub(super) fn hand_over(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let next = match self.back.try_recv() {
                Ok(Chunk::Bytes(b)) => b,
                _ => Vec::with_capacity(CHUNK + 4096),
            };
            let full = std::mem::replace(&mut self.buf, next);
            self.send(Chunk::Bytes(full))?;
        }
        if !self.rows.times.is_empty() {
            let width = self.rows.width;
            let next = match self.back.try_recv() {
                Ok(Chunk::Equity(r)) if r.width == width => r,
                _ => EquityRows::with_capacity(width),
            };
            let full = std::mem::replace(&mut self.rows, next);
            self.send(Chunk::Equity(full))?;
        }
        Ok(())
    }

    fn send(&mut self, chunk: Chunk) -> std::io::Result<()> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(chunk).is_ok());
        if sent {
            Ok(())
        } else {
            // The writer stopped: its error says why.
            Err(self
                .stop_writer()
                .err()
                .unwrap_or_else(|| std::io::Error::other("the writer thread stopped")))
        }
    }

    /// Closes the writer's queue and waits for it to write, sync and stop.
    fn stop_writer(&mut self) -> std::io::Result<()> {
        self.tx = None;
        match self.writer.take().map(std::thread::JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(std::io::Error::other("the writer thread panicked")),
            None => Ok(()),
        }
    }

    /// Writes what is buffered, syncs and renames into place (after the writer is done).
    ///
    /// # Errors
    /// An IO failure, naming the file.
    pub(super) fn finish(mut self) -> Result<()> {
        self.hand_over()
            .and_then(|()| self.stop_writer())
            .with_context(|| format!("writing {}", self.dest.display()))?;
        std::fs::rename(&self.tmp, &self.dest)
            .with_context(|| format!("cannot move output into place at {}", self.dest.display()))
    }
}

impl Drop for StreamFile {
    fn drop(&mut self) {
        let _ = self.stop_writer();
        // After a successful `finish` the temporary name no longer exists.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows as the sink formatted them before they moved to the writer thread.
    fn inline_text(rows: &[(i64, Vec<f64>)]) -> Vec<u8> {
        let mut iso = IsoFormatter::default();
        let mut out = Vec::new();
        for (t, values) in rows {
            iso.push(*t, &mut out);
            for &v in values {
                out.push(b',');
                push_f64(&mut out, v);
            }
            out.push(b'\n');
        }
        out
    }

    #[test]
    fn rows_formatted_on_the_writer_equal_inline_formatting_across_chunks() {
        // More rows than one chunk, repeated and changing values, a NaN (empty cell), a
        // width change, and bytes after rows: the file is the header, then every row in
        // order, then the bytes.
        let dir = tempfile::tempdir().unwrap();
        let mut f = StreamFile::create(dir.path(), "e.csv", "time,equity,cash,position").unwrap();
        let mut rows = Vec::new();
        let t0 = 1_577_836_800_000_000_000_i64;
        for i in 0..(2 * ROWS_PER_CHUNK as i64 + 17) {
            let equity = 10_000.0 + (i / 7) as f64 * 0.125;
            let pos = if i % 1000 == 3 {
                f64::NAN
            } else {
                (i / 500) as f64
            };
            let mut values = vec![equity, 500.0, pos];
            if i >= 2 * ROWS_PER_CHUNK as i64 {
                values.push(-0.5);
            }
            f.push_equity_row(t0 + i * 60_000_000_000, values[0], values[1], &values[2..])
                .unwrap();
            rows.push((t0 + i * 60_000_000_000, values));
        }
        f.write(b"tail\n").unwrap();
        f.finish().unwrap();
        let mut want = b"time,equity,cash,position\n".to_vec();
        want.extend(inline_text(&rows));
        want.extend_from_slice(b"tail\n");
        let got = std::fs::read(dir.path().join("e.csv")).unwrap();
        assert!(got == want, "equity text differs");
        assert!(
            !dir.path()
                .join(format!(".e.csv.tmp-{}", std::process::id()))
                .exists()
        );
    }
}
