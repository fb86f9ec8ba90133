//! Where capture bytes come from: a file or stdin, possibly gzip- or
//! zstd-compressed. Compression is recognised by its magic bytes, as Wireshark
//! does, never by the file name.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// Compression wrapped around a capture file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// RFC 1952 section 2.3.1: ID1 ID2.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// RFC 8878 section 3.1.1: little-endian 0xFD2FB528.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// A byte stream with its compression already peeled off.
pub struct Source {
    pub reader: Box<dyn Read + Send>,
    pub compression: Option<Compression>,
}

/// Opens `path` (`-` is stdin) and undoes any compression.
pub fn open(path: &Path) -> io::Result<Source> {
    if path.as_os_str() == "-" {
        return from_reader(Box::new(io::stdin()));
    }
    let file = File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "is a directory"));
    }
    from_reader(Box::new(file))
}

/// Undoes any compression on `reader`, recognised by its first bytes.
pub fn from_reader(mut reader: Box<dyn Read + Send>) -> io::Result<Source> {
    let mut head = [0u8; 4];
    let mut have = 0;
    // A pipe may hand over fewer bytes than asked; loop until 4 or end of input.
    while have < head.len() {
        match reader.read(&mut head[have..]) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let head = &head[..have];
    let compression = if head.starts_with(&GZIP_MAGIC) {
        Some(Compression::Gzip)
    } else if head.starts_with(&ZSTD_MAGIC) {
        Some(Compression::Zstd)
    } else {
        None
    };
    let whole: Box<dyn Read + Send> = Box::new(io::Cursor::new(head.to_vec()).chain(reader));
    let reader: Box<dyn Read + Send> = match compression {
        // Multi-member: `cat a.gz b.gz` is a valid gzip file, and zcat reads it whole.
        Some(Compression::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            256 * 1024,
            whole,
        ))),
        Some(Compression::Zstd) => Box::new(ZstdFrames::new(Box::new(BufReader::with_capacity(256 * 1024, whole)))),
        None => whole,
    };
    Ok(Source { reader, compression })
}

type ZstdDecoder = ruzstd::streaming_decoder::StreamingDecoder<Box<dyn Read + Send>, ruzstd::FrameDecoder>;

/// A zstd stream may hold several frames back to back (`zstd -c a b`); read
/// them all, as the `zstd` tool does.
struct ZstdFrames {
    inner: Option<ZstdDecoder>,
    error: Option<String>,
}

impl ZstdFrames {
    fn new(reader: Box<dyn Read + Send>) -> Self {
        match ZstdDecoder::new(reader) {
            Ok(d) => ZstdFrames {
                inner: Some(d),
                error: None,
            },
            Err(e) => ZstdFrames {
                inner: None,
                error: Some(e.to_string()),
            },
        }
    }
}

impl Read for ZstdFrames {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(e) = &self.error {
                return Err(io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}")));
            }
            let Some(decoder) = self.inner.as_mut() else {
                return Ok(0);
            };
            let n = decoder.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // End of one frame: start the next one if more input follows.
            let Some(done) = self.inner.take() else {
                return Ok(0);
            };
            let mut rest = done.into_inner();
            let mut probe = [0u8; 1];
            if rest.read(&mut probe)? == 0 {
                return Ok(0);
            }
            *self = ZstdFrames::new(Box::new(io::Cursor::new(probe).chain(rest)));
        }
    }
}
