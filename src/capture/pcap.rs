//! Classic libpcap files (tcpdump.org, "PCAP Capture File Format",
//! draft-ietf-opsawg-pcap): a 24-byte file header, then records of a 16-byte
//! header and the captured bytes. The magic gives byte order and whether the
//! sub-second field counts microseconds or nanoseconds.

use super::{ticks_to_nanos, ByteStream, CaptureError, CaptureInfo, Interface, Limits, LinkType, Record, Span, Step};
use pcap_parser::pcap::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header};

const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;
/// The "modified" format (magic 0xa1b2cd34) adds ifindex, protocol, pkt_type and padding.
const MODIFIED_RECORD_HEADER_LEN: usize = 24;

#[derive(Default)]
pub(crate) struct State {
    big_endian: bool,
    nanosecond: bool,
    modified: bool,
    link_type: LinkType,
}

pub(crate) fn read_header(stream: &mut ByteStream, info: &mut CaptureInfo) -> Result<State, CaptureError> {
    let head = stream.fill(FILE_HEADER_LEN)?;
    let bad = |reason: String| CaptureError::BadHeader { format: "pcap", reason };
    if head.len() < FILE_HEADER_LEN {
        return Err(bad(format!(
            "the file header needs 24 bytes, the file has {}",
            head.len()
        )));
    }
    let (_, header) = parse_pcap_header(head).map_err(|e| bad(format!("{e:?}")))?;
    // The upper bits of the field carry FCS information (draft-ietf-opsawg-pcap section 4).
    let link_type = LinkType(header.network.0 as u32 & 0xFFFF);
    let state = State {
        big_endian: header.is_bigendian(),
        nanosecond: header.is_nanosecond_precision(),
        modified: header.is_modified_format(),
        link_type,
    };
    info.interfaces.push(Interface {
        name: None,
        description: None,
        link_type,
        snaplen: header.snaplen,
        section: 0,
    });
    stream.consume(FILE_HEADER_LEN);
    Ok(state)
}

pub(crate) fn next_record(state: &mut State, stream: &mut ByteStream, info: &mut CaptureInfo, limits: &Limits) -> Step {
    let header_len = if state.modified {
        MODIFIED_RECORD_HEADER_LEN
    } else {
        RECORD_HEADER_LEN
    };
    let record_offset = stream.offset();
    let head = match stream.fill(header_len) {
        Ok(head) => head,
        Err(e) => {
            info.warn(format!("read error at offset {record_offset}: {e}"));
            return Step::End;
        }
    };
    if head.len() < header_len {
        let have = head.len();
        return end_of_records(stream, info, record_offset, header_len, have, Part::Header);
    }
    let caplen = [head[8], head[9], head[10], head[11]];
    let caplen = if state.big_endian {
        u32::from_be_bytes(caplen)
    } else {
        u32::from_le_bytes(caplen)
    } as usize;
    if caplen > limits.max_record {
        info.warn(format!(
            "record at offset {record_offset} claims {caplen} captured bytes, over the limit of {}; the rest of the file is not read",
            limits.max_record
        ));
        info.cut_at = Some(record_offset);
        return Step::End;
    }
    let total = header_len + caplen;
    let available = stream.fill(total).map_or(0, <[u8]>::len);
    if available < total {
        return end_of_records(stream, info, record_offset, total, available, Part::Record);
    }
    // After the fill, which may have moved the bytes.
    let base = stream.position();
    let bytes = &stream.fill(total).unwrap_or_default()[..total];
    let parsed = if state.modified {
        parse_pcap_frame_modified(bytes)
    } else if state.big_endian {
        parse_pcap_frame_be(bytes)
    } else {
        parse_pcap_frame(bytes)
    };
    let record = match parsed {
        Ok((_, frame)) => {
            let sub = if state.nanosecond { 1_000_000_000u64 } else { 1_000_000 };
            // Seconds and sub-seconds as two fields: add, do not trust sub < 1 s.
            let ticks = u64::from(frame.ts_sec) * sub + u64::from(frame.ts_usec);
            Record {
                ts_nanos: ticks_to_nanos(ticks, sub, 0, info),
                interface: 0,
                section: 0,
                link_type: state.link_type,
                orig_len: frame.origlen,
                data: Span::within(base, bytes, frame.data),
                comment: None,
                meta: Default::default(),
            }
        }
        Err(e) => {
            info.warn(format!(
                "record at offset {record_offset} cannot be parsed ({e:?}); the rest of the file is not read"
            ));
            info.cut_at = Some(record_offset);
            return Step::End;
        }
    };
    stream.consume(total);
    Step::Frame(Some(record))
}

/// Where the input ended.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Header,
    Record,
}

/// The input ends before `needed` bytes of a record at `record_offset`: the
/// normal end when it ends between records, else a cut (or a read error) to report.
#[cold]
fn end_of_records(
    stream: &mut ByteStream,
    info: &mut CaptureInfo,
    record_offset: u64,
    needed: usize,
    available: usize,
    part: Part,
) -> Step {
    let what = match part {
        Part::Header => "record header",
        Part::Record => "packet record",
    };
    if available == 0 && part == Part::Header {
        if let Some(e) = stream.read_error.take() {
            info.warn(format!(
                "read error at offset {record_offset}: {e}; results are up to that point"
            ));
        }
        return Step::End;
    }
    let warning = stream.end_warning(needed, available, what);
    info.cut_at = Some(record_offset);
    info.warn(warning);
    Step::End
}
