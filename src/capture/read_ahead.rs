//! Reading on a second thread: the read (and any decompression) of the next
//! chunks overlaps the analysis of the current one. Chunks arrive with free
//! room in front ([`HEADROOM`]), so the few bytes of a record that straddles
//! two chunks are copied in front of the next chunk instead of the chunk being
//! copied behind them: the file's bytes are copied once, by the kernel.

use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread;

/// Bytes read per chunk.
pub(crate) const CHUNK: usize = 1 << 20;
/// Free room in front of each chunk for the unread tail of the previous one.
pub(crate) const HEADROOM: usize = 64 * 1024;
/// Chunks read ahead of the analysis (bounded memory: about 5 MiB in flight).
const DEPTH: usize = 4;
/// Chunks in circulation: those queued, the one being filled and the one being analysed.
const POOL: usize = DEPTH + 2;

/// The consuming end: chunks in file order, `None` at the end.
pub(crate) struct ReadAhead {
    chunks: Receiver<io::Result<Vec<u8>>>,
    recycle: SyncSender<Vec<u8>>,
}

impl ReadAhead {
    pub(crate) fn spawn(mut src: Box<dyn Read + Send>) -> Self {
        let (chunk_tx, chunks) = mpsc::sync_channel(DEPTH);
        // Every chunk comes back once used, so the recycling channel never fills.
        let (recycle, recycled) = mpsc::sync_channel::<Vec<u8>>(POOL + 1);
        let mut allocated = 0;
        let reader = move || loop {
            // Reuse a used chunk; allocate only while the pool is not complete. A
            // fresh chunk costs a page fault per 4 KiB, as much as reading it.
            let mut chunk: Vec<u8> = match recycled.try_recv() {
                Ok(chunk) => chunk,
                Err(_) if allocated < POOL => {
                    allocated += 1;
                    Vec::new()
                }
                Err(_) => match recycled.recv() {
                    Ok(chunk) => chunk,
                    Err(_) => return, // The analysis stopped early.
                },
            };
            // A recycled chunk is reused as it is: only the part never written is zeroed.
            chunk.resize(HEADROOM + CHUNK, 0);
            let mut filled = HEADROOM;
            let result = loop {
                match src.read(&mut chunk[filled..]) {
                    Ok(0) => break Ok(()),
                    Ok(k) => {
                        filled += k;
                        if filled == chunk.len() {
                            break Ok(());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            // The loop above stops short of a full chunk only at the end of input or on an error.
            let full = filled == chunk.len();
            chunk.truncate(filled);
            if filled > HEADROOM && chunk_tx.send(Ok(chunk)).is_err() {
                return; // The analysis stopped early.
            }
            if let Err(e) = result {
                let _ = chunk_tx.send(Err(e));
                return;
            }
            if !full {
                return;
            }
        };
        // If the thread cannot be started, the channel closes at once and the
        // capture reads as empty; spawning only fails when the system is out of threads.
        let _ = thread::Builder::new().name("capdoc-read".into()).spawn(reader);
        ReadAhead { chunks, recycle }
    }

    /// The next chunk: its bytes start at [`HEADROOM`].
    pub(crate) fn next_chunk(&mut self) -> Option<io::Result<Vec<u8>>> {
        self.chunks.recv().ok()
    }

    /// Hands a used chunk back to the reader thread for reuse.
    pub(crate) fn give_back(&self, chunk: Vec<u8>) {
        let _ = self.recycle.try_send(chunk);
    }
}
