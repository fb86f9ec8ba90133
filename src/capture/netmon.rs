//! Microsoft Network Monitor 2.x capture files (`.cap`), what Network Monitor
//! and Message Analyzer saved. Layout as Wireshark's `wiretap/netmon.c` reads
//! it: a 128-byte little-endian header ("GMBU", version, media type, start
//! time as a SYSTEMTIME, the offset and length of a frame table), frames
//! anywhere in the file, and the table of their offsets. Because the table
//! comes last, the whole file is read into the buffer (bounded by
//! [`Limits::max_netmon_file`]).

use super::{ticks_to_nanos, ByteStream, CaptureError, CaptureInfo, Interface, Limits, LinkType, Record, Span, Step};

const HEADER_LEN: usize = 128;
const FRAME_HEADER_LEN: usize = 16;
/// Media types (netmon.c): 1 Ethernet; 0xE000 + n is pcap link type n; the
/// 0xFFxx values are event records that Wireshark lists as frames.
const NETMON_ETHERNET: u16 = 1;
const NETMON_PCAP_BASE: u16 = 0xE000;
const NETMON_EVENTS: u16 = 0xFF00;

pub(crate) struct State {
    offsets: Vec<u32>,
    next: usize,
    /// Buffer position of the file's first byte.
    base: usize,
    file_len: usize,
    start_nanos: i64,
    version_minor: u8,
    network: u16,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn link_type(network: u16) -> LinkType {
    match network {
        NETMON_ETHERNET => LinkType::ETHERNET,
        n if (NETMON_PCAP_BASE..NETMON_EVENTS).contains(&n) => LinkType(u32::from(n - NETMON_PCAP_BASE)),
        n => LinkType(0x1_0000 + u32::from(n)),
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

pub(crate) fn read_header(
    stream: &mut ByteStream,
    info: &mut CaptureInfo,
    limits: &Limits,
) -> Result<State, CaptureError> {
    let bad = |reason: String| CaptureError::BadHeader {
        format: "Network Monitor",
        reason,
    };
    let base = stream.position();
    let file = stream.fill_all(limits.max_netmon_file)?;
    if file.len() < HEADER_LEN {
        return Err(bad(format!(
            "the header needs {HEADER_LEN} bytes, the file has {}",
            file.len()
        )));
    }
    let (version_minor, version_major) = (file[4], file[5]);
    if version_major != 2 {
        return Err(bad(format!(
            "version {version_major}.{version_minor}; only Network Monitor 2.x files are read"
        )));
    }
    let network = u16_at(file, 6);
    let t: Vec<i64> = (0..8).map(|i| i64::from(u16_at(file, 8 + 2 * i))).collect();
    // SYSTEMTIME: year, month, day of week, day, hour, minute, second, milliseconds (UTC).
    let days = days_from_civil(t[0], t[1], t[3]);
    let millis = i128::from((days * 86_400 + t[4] * 3600 + t[5] * 60 + t[6]) * 1000 + t[7]);
    let start_nanos = (millis * 1_000_000).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    let (table_at, table_len) = (u32_at(file, 24) as usize, u32_at(file, 28) as usize);
    let table = table_at
        .checked_add(table_len)
        .and_then(|end| file.get(table_at..end))
        .ok_or_else(|| {
            bad(format!(
                "the frame table (offset {table_at}, {table_len} bytes) lies outside the file"
            ))
        })?;
    let offsets = table
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    info.interfaces.push(Interface {
        name: None,
        description: Some("Network Monitor".into()),
        link_type: link_type(network),
        snaplen: 0,
        section: 0,
    });
    Ok(State {
        offsets,
        next: 0,
        base,
        file_len: file.len(),
        start_nanos,
        version_minor,
        network,
    })
}

pub(crate) fn next_record(state: &mut State, stream: &mut ByteStream, info: &mut CaptureInfo) -> Step {
    let Some(&offset) = state.offsets.get(state.next) else {
        return Step::End;
    };
    state.next += 1;
    let offset = offset as usize;
    let file = stream.slice(Span {
        start: state.base,
        len: state.file_len,
    });
    let Some(header) = offset
        .checked_add(FRAME_HEADER_LEN)
        .and_then(|end| file.get(offset..end))
    else {
        info.warn(format!(
            "frame {} points outside the file (offset {offset}); skipped",
            state.next
        ));
        return Step::Frame(None);
    };
    let delta_micros = u64::from(u32_at(header, 0)) | (u64::from(u32_at(header, 4)) << 32);
    let (orig_len, caplen) = (u32_at(header, 8), u32_at(header, 12) as usize);
    let data_at = offset + FRAME_HEADER_LEN;
    let Some(data_end) = data_at.checked_add(caplen).filter(|&end| end <= file.len()) else {
        info.warn(format!(
            "frame {} at offset {offset} claims {caplen} bytes past the end of the file; skipped",
            state.next
        ));
        return Step::Frame(None);
    };
    // Version 2.1 and later end each frame with its own media type.
    let network = if state.version_minor >= 1 {
        file.get(data_end..data_end + 2)
            .map_or(state.network, |b| u16::from_le_bytes([b[0], b[1]]))
    } else {
        state.network
    };
    if network >= NETMON_EVENTS {
        // Network Monitor's own event and filter records: frames without a packet.
        return Step::Frame(None);
    }
    let ts_nanos = state
        .start_nanos
        .saturating_add(ticks_to_nanos(delta_micros, 1_000_000, 0, info));
    Step::Frame(Some(Record {
        ts_nanos,
        interface: 0,
        section: 0,
        link_type: link_type(network),
        orig_len,
        data: Span {
            start: state.base + data_at,
            len: caplen,
        },
        comment: None,
        meta: Default::default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        // Checked with Python: (date(2026, 11, 23) - date(1970, 1, 1)).days
        assert_eq!(days_from_civil(2026, 11, 23), 20_780);
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
    }

    #[test]
    fn media_types() {
        assert_eq!(link_type(1), LinkType::ETHERNET);
        assert_eq!(link_type(0xE000 + 101), LinkType::RAW);
    }
}
