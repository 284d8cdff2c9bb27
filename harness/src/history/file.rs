//! The compact history file: what a run writes as it goes.
//!
//! Layout: the 8 magic bytes [`MAGIC`], then blocks. A block is its compressed and its
//! uncompressed length (4 bytes each, little endian) and a zstd frame with a checksum whose
//! content is whole records, each a LEB128 length, a tag byte and the record: an operation
//! (nearly every record) in postcard, its fields in a fixed order and its times as deltas
//! (see `wire`), anything else in CBOR with the field names of the JSON export. A block is
//! written whole every [`BLOCK_BYTES`] of records and at every flush, so a reader can follow
//! the file while it is written, and a crash loses only the block being written. Compressed,
//! an operation takes about a twelfth of its JSON line.

use std::io::{Read, Write};

use super::{ReadError, Record, wire};

/// "sessionbench history", version 1 of this framing.
pub const MAGIC: &[u8; 8] = b"SBHIST\x00\x01";

/// Records gathered before a block is compressed and written: large enough for zstd to find
/// the repetition between records, small enough that a crash loses little.
pub const BLOCK_BYTES: usize = 256 * 1024;

/// zstd's default level: about 300 MB/s of records on one core, far above any run's rate.
const LEVEL: i32 = 3;

/// Whether `f` starts with the compact file's magic (rewinds it either way).
pub fn is_compact(f: &mut std::fs::File) -> std::io::Result<bool> {
    use std::io::Seek;
    let mut head = [0u8; 8];
    let n = read_full(f, &mut head)?;
    f.rewind()?;
    Ok(n == head.len() && &head == MAGIC)
}

/// Appends records to a compact history. Records are encoded and compressed by the caller;
/// a thread of the writer's own does the file's I/O, so a disk that stalls (writeback of a
/// long run's file) holds up neither the caller (the run's analysis shares the runtime with
/// the load) nor much memory: what waits is compressed.
pub struct Writer {
    block: Vec<u8>,
    record: Vec<u8>,
    zstd: zstd::bulk::Compressor<'static>,
    /// Whole blocks to append; an empty one asks for a flush to the OS.
    disk: Option<std::sync::mpsc::Sender<Vec<u8>>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("pending_bytes", &self.block.len())
            .finish_non_exhaustive()
    }
}

impl Writer {
    pub fn create(path: &std::path::Path) -> std::io::Result<Self> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        out.write_all(MAGIC)?;
        let mut zstd = zstd::bulk::Compressor::new(LEVEL)?;
        zstd.include_checksum(true)?;
        let (disk, blocks) = std::sync::mpsc::channel::<Vec<u8>>();
        let thread = std::thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || {
                for block in blocks {
                    if block.is_empty() {
                        out.flush()?;
                    } else {
                        out.write_all(&block)?;
                    }
                }
                out.flush()
            })?;
        Ok(Self {
            block: Vec::with_capacity(BLOCK_BYTES + 4096),
            record: Vec::new(),
            zstd,
            disk: Some(disk),
            thread: Some(thread),
        })
    }

    pub fn append(&mut self, record: &Record) -> std::io::Result<()> {
        self.record.clear();
        wire::encode(record, &mut self.record)?;
        leb128(self.record.len() as u64, &mut self.block);
        self.block.extend_from_slice(&self.record);
        if self.block.len() >= BLOCK_BYTES {
            self.write_block()?;
        }
        Ok(())
    }

    /// Hands what is gathered to the writer thread as a whole block, to reach the OS next.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.write_block()?;
        self.send(Vec::new())
    }

    /// Writes everything and waits until it is with the OS; the writer thread's error, if it
    /// had one.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.close()
    }

    fn close(&mut self) -> std::io::Result<()> {
        let flushed = self.write_block();
        self.disk = None;
        let written = match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(written)) => written,
            Some(Err(_)) => Err(std::io::Error::other("the history writer thread panicked")),
            None => Ok(()),
        };
        flushed.and(written)
    }

    fn send(&mut self, block: Vec<u8>) -> std::io::Result<()> {
        let sent = self.disk.as_ref().map(|d| d.send(block));
        match sent {
            Some(Ok(())) => Ok(()),
            // The thread ended: its error says why.
            _ => self
                .close()
                .and(Err(std::io::Error::other("the history writer stopped"))),
        }
    }

    fn write_block(&mut self) -> std::io::Result<()> {
        if self.block.is_empty() || self.disk.is_none() {
            return Ok(());
        }
        let frame = self.zstd.compress(&self.block)?;
        let len = u32::try_from(frame.len()).map_err(std::io::Error::other)?;
        let raw = u32::try_from(self.block.len()).map_err(std::io::Error::other)?;
        let mut whole = Vec::with_capacity(8 + frame.len());
        whole.extend_from_slice(&len.to_le_bytes());
        whole.extend_from_slice(&raw.to_le_bytes());
        whole.extend_from_slice(&frame);
        self.block.clear();
        self.send(whole)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Reads a compact history a record at a time. A last block cut short (a crash, or a writer
/// still at work) ends the records quietly: every block before it is whole.
pub struct Reader {
    input: std::io::BufReader<std::fs::File>,
    file: String,
    /// The records of the block being read, and where the next one starts in it.
    block: Vec<u8>,
    at: usize,
    /// Byte offset of the block being read, and its number of records read so far.
    block_offset: u64,
    next_offset: u64,
    index: usize,
    zstd: Option<zstd::bulk::Decompressor<'static>>,
    done: bool,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("file", &self.file)
            .field("block_offset", &self.block_offset)
            .finish_non_exhaustive()
    }
}

impl Reader {
    pub fn new(input: std::fs::File, file: String) -> Self {
        Self {
            input: std::io::BufReader::with_capacity(1 << 16, input),
            file,
            block: Vec::new(),
            at: 0,
            block_offset: 0,
            next_offset: MAGIC.len() as u64,
            index: 0,
            zstd: zstd::bulk::Decompressor::new().ok(),
            done: false,
        }
    }

    fn bad(&self, detail: String) -> ReadError {
        ReadError::Record {
            file: self.file.clone(),
            at: format!(
                "record {} of the block at byte {}",
                self.index + 1,
                self.block_offset
            ),
            detail,
        }
    }

    /// Loads the next whole block; `Ok(false)` at the end (or a block cut short).
    fn next_block(&mut self) -> Result<bool, ReadError> {
        let io = |source| ReadError::Io {
            file: self.file.clone(),
            source,
        };
        if self.next_offset == MAGIC.len() as u64 {
            let mut magic = [0u8; 8];
            read_full(&mut self.input, &mut magic).map_err(io)?;
        }
        let mut lens = [0u8; 8];
        if read_full(&mut self.input, &mut lens).map_err(io)? < lens.len() {
            return Ok(false);
        }
        let [a, b, c, d, e, f, g, h] = lens;
        let len = u32::from_le_bytes([a, b, c, d]) as usize;
        let size = u32::from_le_bytes([e, f, g, h]) as usize;
        let mut frame = vec![0u8; len];
        if read_full(&mut self.input, &mut frame).map_err(io)? < len {
            return Ok(false);
        }
        self.block_offset = self.next_offset;
        self.next_offset += 8 + len as u64;
        self.index = 0;
        let Some(zstd) = self.zstd.as_mut() else {
            return Err(self.bad("cannot start zstd".into()));
        };
        match zstd.decompress(&frame, size) {
            Ok(block) => self.block = block,
            Err(e) => {
                return Err(ReadError::Record {
                    file: self.file.clone(),
                    at: format!("the block at byte {}", self.block_offset),
                    detail: format!("corrupt block: {e}"),
                });
            }
        }
        self.at = 0;
        Ok(true)
    }

    fn next_record(&mut self) -> Result<Option<Record>, ReadError> {
        while self.at >= self.block.len() {
            if !self.next_block()? {
                return Ok(None);
            }
        }
        let (len, used) = read_leb128(&self.block[self.at..])
            .ok_or_else(|| self.bad("a record length is cut short".into()))?;
        let start = self.at + used;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| start.checked_add(len))
            .filter(|&end| end <= self.block.len())
            .ok_or_else(|| self.bad("a record runs past its block".into()))?;
        let record = wire::decode(&self.block[start..end]).map_err(|e| self.bad(e))?;
        self.at = end;
        self.index += 1;
        Ok(Some(record))
    }
}

impl Iterator for Reader {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_record().transpose();
        self.done = !matches!(next, Some(Ok(_)));
        next
    }
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn leb128(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The value and how many bytes it took, or `None` if it is cut short.
fn read_leb128(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut n = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        n |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((n, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;

    fn records(n: usize) -> Vec<Record> {
        let mut out = vec![Record::Header {
            format_version: crate::history::FORMAT_VERSION,
            suite: "s".into(),
            seed: 1,
        }];
        out.extend((0..n).map(|i| {
            let t = i as u64 * 1000;
            Record::Op(crate::history::test_read(
                &format!("v{i}"),
                (t, t, t + 300),
                Outcome::Ok,
            ))
        }));
        out
    }

    fn dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("sessionbench-history-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    #[test]
    fn records_come_back_as_written_across_blocks_and_flushes() {
        let path = dir().join("round-trip.bin");
        let written = records(20_000);
        let mut w = Writer::create(&path).expect("create");
        for (i, r) in written.iter().enumerate() {
            w.append(r).expect("append");
            if i == 10 {
                w.flush().expect("flush"); // a small block in the middle
            }
        }
        drop(w);
        let read: Vec<Record> = super::super::open(&path)
            .expect("open")
            .collect::<Result<_, _>>()
            .expect("read");
        assert_eq!(read, written);
        let per_op = std::fs::metadata(&path).expect("size").len() as f64 / 20_000.0;
        assert!(per_op < 20.0, "{per_op:.1} bytes per operation");
    }

    #[test]
    fn a_block_cut_short_ends_the_records_without_an_error() {
        let path = dir().join("cut.bin");
        let written = records(100);
        let mut w = Writer::create(&path).expect("create");
        for r in &written[..60] {
            w.append(r).expect("append");
        }
        w.flush().expect("flush");
        for r in &written[60..] {
            w.append(r).expect("append");
        }
        w.finish().expect("finish");
        // A crash in the middle of the second block.
        let bytes = std::fs::read(&path).expect("read");
        let first = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
        let whole = 8 + 8 + first;
        assert!(bytes.len() > whole + 16, "two blocks");
        std::fs::write(&path, &bytes[..(whole + bytes.len()) / 2]).expect("cut");
        let read: Vec<Record> = super::super::open(&path)
            .expect("open")
            .collect::<Result<_, _>>()
            .expect("the whole block reads");
        assert_eq!(read, written[..60]);
    }

    #[test]
    fn a_corrupt_block_is_an_error_naming_where() {
        let path = dir().join("corrupt.bin");
        let mut w = Writer::create(&path).expect("create");
        for r in records(50) {
            w.append(&r).expect("append");
        }
        drop(w);
        let mut bytes = std::fs::read(&path).expect("read");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&path, &bytes).expect("write");
        let err = match super::super::open(&path) {
            Err(e) => e.to_string(),
            Ok(mut records) => records.find_map(Result::err).expect("an error").to_string(),
        };
        assert!(
            err.contains("corrupt.bin") && err.contains("byte 8"),
            "{err}"
        );
    }
}
