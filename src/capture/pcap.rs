//! Classic libpcap files (tcpdump.org, "PCAP Capture File Format",
//! draft-ietf-opsawg-pcap): a 24-byte file header, then records of a 16-byte
//! header and the captured bytes. The magic gives byte order and whether the
//! sub-second field counts microseconds or nanoseconds.

use super::{
    ticks_to_nanos, u32_at, ByteStream, CaptureError, CaptureInfo, Interface, Limits, LinkType, Record, Span, Step,
};
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

impl State {
    /// A record's time: seconds and sub-seconds (micro- or nanoseconds) added,
    /// the sub-seconds not trusted to stay under a second.
    fn ts_nanos(&self, secs: u32, sub_secs: u32, info: &mut CaptureInfo) -> i64 {
        let units = if self.nanosecond { 1_000_000_000 } else { 1_000_000 };
        ticks_to_nanos(u64::from(secs) * units + u64::from(sub_secs), units, 0, info)
    }
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

/// The next record when its header and bytes are already in the buffer, as
/// nearly every one is, read in place: the four header fields are all a
/// record has, and the general framing step with its result to move cost a
/// packet about 150 instructions. `None` leaves the record to [`next_record`]
/// (a record across a refill, one over the size limit, the modified format),
/// which also reports where the file ends or is damaged.
#[inline(always)]
pub(crate) fn buffered_record(
    state: &State,
    stream: &mut ByteStream,
    info: &mut CaptureInfo,
    limits: &Limits,
) -> Option<Record> {
    if state.modified {
        return None;
    }
    let buffered = stream.buffered();
    let head = buffered.get(..RECORD_HEADER_LEN)?;
    let word = |at: usize| u32_at(head, at, state.big_endian);
    let caplen = word(8) as usize;
    if caplen > limits.max_record || buffered.len() - RECORD_HEADER_LEN < caplen {
        return None;
    }
    let record = Record {
        ts_nanos: state.ts_nanos(word(0), word(4), info),
        interface: 0,
        section: 0,
        link_type: state.link_type,
        orig_len: word(12),
        data: Span {
            start: stream.position() + RECORD_HEADER_LEN,
            len: caplen,
        },
        comment: None,
        meta: Default::default(),
    };
    stream.consume(RECORD_HEADER_LEN + caplen);
    Some(record)
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
    let caplen = u32_at(head, 8, state.big_endian) as usize;
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
        Ok((_, frame)) => Record {
            ts_nanos: state.ts_nanos(frame.ts_sec, frame.ts_usec, info),
            interface: 0,
            section: 0,
            link_type: state.link_type,
            orig_len: frame.origlen,
            data: Span::within(base, bytes, frame.data),
            comment: None,
            meta: Default::default(),
        },
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

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_parser::pcap::LegacyPcapBlock;

    /// A record: seconds, sub-seconds, captured bytes, original length.
    type Written<'a> = (u32, u32, &'a [u8], u32);

    /// A pcap file of `records` in either byte order and resolution.
    fn file(big_endian: bool, nanosecond: bool, records: &[Written<'_>]) -> Vec<u8> {
        let word = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        let half = |v: u16| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut out = Vec::new();
        out.extend(word(if nanosecond { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
        out.extend(half(2));
        out.extend(half(4));
        out.extend([0; 8]);
        out.extend(word(65_535));
        out.extend(word(1));
        for &(sec, sub, data, orig_len) in records {
            for field in [sec, sub, data.len() as u32, orig_len] {
                out.extend(word(field));
            }
            out.extend(data);
        }
        out
    }

    fn stream_after_header(bytes: Vec<u8>) -> (ByteStream, State) {
        let mut stream = ByteStream::new(Box::new(std::io::Cursor::new(bytes)));
        let state = read_header(&mut stream, &mut CaptureInfo::default()).expect("a pcap header");
        (stream, state)
    }

    const RECORDS: [Written<'static>; 5] = [
        (1_700_000_000, 999_999, b"abc", 3),
        (0, 0, b"", 60),
        // Sub-seconds over a second are added, not rejected, on either path.
        (u32::MAX, u32::MAX, &[0x45; 54], 1514),
        (1, 2, &[7; 5], 5),
        (1_700_000_001, 17, &[0; 1514], 1514),
    ];

    /// The records as pcap-parser reads them (its whole-file reader takes every
    /// file for little-endian).
    fn oracle(file: &[u8], big_endian: bool) -> Vec<LegacyPcapBlock<'_>> {
        let mut rest = &file[FILE_HEADER_LEN..];
        let mut blocks = Vec::new();
        while !rest.is_empty() {
            let parsed = if big_endian {
                parse_pcap_frame_be(rest)
            } else {
                parse_pcap_frame(rest)
            };
            let (after, block) = parsed.expect("pcap-parser reads the record");
            blocks.push(block);
            rest = after;
        }
        blocks
    }

    /// Every record is read in place, and as pcap-parser reads it, in both byte
    /// orders and resolutions.
    #[test]
    fn records_read_in_place_as_pcap_parser_reads_them() {
        for big_endian in [false, true] {
            for nanosecond in [false, true] {
                let bytes = file(big_endian, nanosecond, &RECORDS);
                let oracle = oracle(&bytes, big_endian);
                assert_eq!(oracle.len(), RECORDS.len());
                let (mut stream, state) = stream_after_header(bytes.clone());
                stream.fill(bytes.len()).expect("all of it in the buffer");
                let nanos_per_tick = if nanosecond { 1 } else { 1_000 };
                let units = if nanosecond { 1_000_000_000 } else { 1_000_000 };
                for (i, block) in oracle.iter().enumerate() {
                    let at = format!("big endian {big_endian}, nanoseconds {nanosecond}, record {i}");
                    let record = buffered_record(&state, &mut stream, &mut CaptureInfo::default(), &Limits::default())
                        .expect(&at);
                    let ticks = u64::from(block.ts_sec) * units + u64::from(block.ts_usec);
                    assert_eq!(
                        record.ts_nanos,
                        i64::try_from(ticks * nanos_per_tick).expect("fits"),
                        "{at}"
                    );
                    assert_eq!(record.orig_len, block.origlen, "{at}");
                    assert_eq!(stream.slice(record.data), block.data, "{at}");
                    assert_eq!(record.link_type, state.link_type, "{at}");
                }
                assert!(
                    buffered_record(&state, &mut stream, &mut CaptureInfo::default(), &Limits::default()).is_none(),
                    "the end"
                );
            }
        }
    }

    /// A record cut short or over the size limit is left to `next_record`,
    /// which reports it, and nothing of it is consumed.
    #[test]
    fn records_cut_or_too_large_are_left_to_the_framing_step() {
        let whole = file(false, false, &RECORDS[3..4]);
        for cut in FILE_HEADER_LEN..whole.len() {
            let (mut stream, state) = stream_after_header(whole[..cut].to_vec());
            stream.fill(cut).expect("in the buffer");
            assert!(
                buffered_record(&state, &mut stream, &mut CaptureInfo::default(), &Limits::default()).is_none(),
                "cut at {cut}"
            );
            assert_eq!(stream.offset(), FILE_HEADER_LEN as u64, "cut at {cut}");
        }
        let (mut stream, state) = stream_after_header(whole.clone());
        stream.fill(whole.len()).expect("in the buffer");
        let four_bytes = Limits {
            max_record: 4,
            ..Limits::default()
        };
        assert!(buffered_record(&state, &mut stream, &mut CaptureInfo::default(), &four_bytes).is_none());
        assert!(buffered_record(&state, &mut stream, &mut CaptureInfo::default(), &Limits::default()).is_some());
    }
}
