//! Classic pcap and pcapng output, streamed.

use std::io::{self, Write};

const LINKTYPE_ETHERNET: u16 = 1;
const SNAPLEN: u32 = 262_144;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pcap,
    Pcapng,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::Pcapng => "pcapng",
        }
    }
}

/// Writes packets and keeps count of the bytes written, so the caller can stop at a target size.
pub struct CapWriter<W: Write> {
    out: W,
    format: Format,
    written: u64,
}

impl<W: Write> CapWriter<W> {
    pub fn new(mut out: W, format: Format) -> io::Result<Self> {
        let header = match format {
            Format::Pcap => pcap_header(),
            Format::Pcapng => pcapng_header(),
        };
        out.write_all(&header)?;
        Ok(CapWriter {
            out,
            format,
            written: header.len() as u64,
        })
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes a packet of `frame_len` bytes takes in the file, headers included.
    pub fn record_len(&self, frame_len: usize) -> u64 {
        match self.format {
            Format::Pcap => 16 + frame_len as u64,
            Format::Pcapng => 32 + pad4(frame_len) as u64,
        }
    }

    /// `ts_us`: microseconds since the Unix epoch.
    pub fn write_packet(&mut self, ts_us: u64, frame: &[u8]) -> io::Result<()> {
        let len = frame.len() as u32;
        match self.format {
            Format::Pcap => {
                let mut rec = [0u8; 16];
                rec[0..4].copy_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
                rec[4..8].copy_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
                rec[8..12].copy_from_slice(&len.to_le_bytes());
                rec[12..16].copy_from_slice(&len.to_le_bytes());
                self.out.write_all(&rec)?;
                self.out.write_all(frame)?;
            }
            Format::Pcapng => {
                // Enhanced Packet Block; the interface's default resolution is microseconds.
                let total = self.record_len(frame.len()) as u32;
                let mut hdr = [0u8; 28];
                hdr[0..4].copy_from_slice(&6u32.to_le_bytes());
                hdr[4..8].copy_from_slice(&total.to_le_bytes());
                hdr[8..12].copy_from_slice(&0u32.to_le_bytes());
                hdr[12..16].copy_from_slice(&((ts_us >> 32) as u32).to_le_bytes());
                hdr[16..20].copy_from_slice(&(ts_us as u32).to_le_bytes());
                hdr[20..24].copy_from_slice(&len.to_le_bytes());
                hdr[24..28].copy_from_slice(&len.to_le_bytes());
                self.out.write_all(&hdr)?;
                self.out.write_all(frame)?;
                self.out.write_all(&[0u8; 3][..pad4(frame.len()) - frame.len()])?;
                self.out.write_all(&total.to_le_bytes())?;
            }
        }
        self.written += self.record_len(frame.len());
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

fn pcap_header() -> Vec<u8> {
    let mut h = Vec::with_capacity(24);
    h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes()); // microsecond timestamps
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    h.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    h.extend_from_slice(&SNAPLEN.to_le_bytes());
    h.extend_from_slice(&u32::from(LINKTYPE_ETHERNET).to_le_bytes());
    h
}

/// One pcapng option (code, value padded to 4 bytes).
fn option(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
    out.resize(pad4(out.len()), 0);
}

/// Wraps a block body with its type and the leading and trailing total length.
fn block(block_type: u32, body: &[u8]) -> Vec<u8> {
    let total = (12 + body.len()) as u32;
    let mut b = Vec::with_capacity(total as usize);
    b.extend_from_slice(&block_type.to_le_bytes());
    b.extend_from_slice(&total.to_le_bytes());
    b.extend_from_slice(body);
    b.extend_from_slice(&total.to_le_bytes());
    b
}

fn pcapng_header() -> Vec<u8> {
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&u64::MAX.to_le_bytes()); // section length not known while streaming
    option(&mut shb, 4, b"capgen"); // shb_userappl
    option(&mut shb, 0, b"");

    let mut idb = Vec::new();
    idb.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&SNAPLEN.to_le_bytes());
    option(&mut idb, 2, b"eth0"); // if_name
    option(&mut idb, 0, b"");

    let mut out = block(0x0a0d_0d0a, &shb);
    out.extend(block(1, &idb));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_len_matches_bytes_written() {
        for format in [Format::Pcap, Format::Pcapng] {
            let mut w = CapWriter::new(Vec::new(), format).unwrap();
            let before = w.written();
            for len in [54usize, 60, 61, 1514] {
                let expect = w.written() + w.record_len(len);
                w.write_packet(1_700_000_000_123_456, &vec![0xab; len]).unwrap();
                assert_eq!(w.written(), expect);
            }
            let n = w.written();
            let bytes = w.finish().unwrap();
            assert_eq!(bytes.len() as u64, n);
            assert!(n > before);
        }
    }
}
