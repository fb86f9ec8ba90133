#!/usr/bin/env python3
"""Re-frame real captures into the pcapng layouts of Windows pktmon converters.

Reads captures/syn-dropped.eth.pcap (a real tcpdump capture, classic pcap,
Ethernet, microseconds) and writes the same packets -- same bytes, same
timestamps -- as a pktmon capture converted to pcapng would hold them:

  pktmon-blocked.etl2pcapng.pcapng     every packet at 3 stack components
  pktmon-local-drop.etl2pcapng.pcapng  the SYNs to 203.0.113.6:443 dropped by
                                       a WFP filter (drop verdict), never at
                                       the NIC
  pktmon-truncated.etl2pcapng.pcapng   as blocked, 128 captured bytes per packet
  pktmon-rawip.etl2pcapng.pcapng       as blocked, raw IP (LINKTYPE 101) above
                                       the NIC, Ethernet at the NIC
  pktmon-etl2pcap.pcapng               what `pktmon etl2pcap` writes: one
                                       interface, no packet ids, no drops

and a <file>.expected.json next to each, written from the re-framing done
here (never from an analyser's output). See captures/README.md, section
"Windows pktmon captures", for the layout, its sources and what is assumed.

Python 3 standard library only; deterministic; no network.

    python3 captures/pktmon_reframe.py            # (re)write the files
    python3 captures/pktmon_reframe.py --check    # re-read and check them
"""

import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = "syn-dropped.eth.pcap"

CLIENT_IP = "198.51.100.10"
CLIENT_MAC = bytes.fromhex("02cd00000010")
BLOCKED = ("203.0.113.6", 443)
DEST_NAME = "connector.servicebus.windows.net"

# Windows metadata values. The packets are real; these numbers are made up
# (there was no Windows host): the connector service process, the DNS client
# service (svchost) and System (PID 4) for everything received or not sent by
# a process.
PID_CONNECTOR, TIDS_CONNECTOR = 1234, (5678, 5682)  # one thread per attempt
PID_DNSCACHE, TID_DNSCACHE = 2468, 2472
PID_SYSTEM, TID_SYSTEM = 4, 92

# pktmon PktGroupId-like packet ids (u64), one per packet.
PACKET_ID_BASE = 0x0001_0000_0000_0100

# Microseconds between the appearances of one packet at successive components.
HOP_US = 2

PKT_SIZE = 128  # pktmon's default --pkt-size

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_NAMES = {LINKTYPE_ETHERNET: "ETHERNET", LINKTYPE_RAW: "RAW"}

# pktmon components, top of the stack first (the order an outbound packet
# visits them). Names/descriptions follow pktmon's component list style.
TCPIP = {
    "key": "tcpip",
    "name": "TCPIP",
    "description": "Microsoft Windows TCP/IP",
    "ipv4": ("198.51.100.10", "255.255.255.0"),
    "ipv6": ("2001:db8:1::10", 64),
}
WFP = {
    "key": "wfp",
    "name": "WFP Native MAC Layer LightWeight Filter-0000",
    "description": "WFP Native MAC Layer LightWeight Filter",
}
NIC = {
    "key": "nic",
    "name": "Ethernet",
    "description": "Microsoft Hyper-V Network Adapter",
    "mac": CLIENT_MAC,
}
STACK = [TCPIP, WFP, NIC]


# ---------------------------------------------------------------- reading ---


def read_pcap(path):
    """Classic pcap, little- or big-endian, microsecond timestamps."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        e = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        e = ">"
    else:
        raise SystemExit(f"{path}: not a microsecond classic pcap")
    _, _, _, _, _, linktype = struct.unpack(e + "HHiIII", data[4:24])
    if linktype != LINKTYPE_ETHERNET:
        raise SystemExit(f"{path}: link type {linktype}, need Ethernet")
    packets, off = [], 24
    while off + 16 <= len(data):
        sec, usec, incl, orig = struct.unpack(e + "IIII", data[off : off + 16])
        body = data[off + 16 : off + 16 + incl]
        if len(body) != incl:
            raise SystemExit(f"{path}: cut record at offset {off}")
        packets.append({"ts": sec * 1_000_000 + usec, "data": body, "orig": orig})
        off += 16 + incl
    return packets


def ip4(b):
    return ".".join(str(x) for x in b)


def classify(pkt):
    """Direction, IPv4 5-tuple bits and the Windows process for one frame."""
    d = pkt["data"]
    ethertype = struct.unpack(">H", d[12:14])[0]
    info = {"ip": None, "syn": False, "tcp": False, "udp53": False}
    info["outbound"] = d[6:12] == CLIENT_MAC
    if ethertype == 0x0800:
        ihl = (d[14] & 0x0F) * 4
        proto = d[23]
        src, dst = ip4(d[26:30]), ip4(d[30:34])
        info["ip"] = (src, dst)
        info["outbound"] = src == CLIENT_IP
        l4 = 14 + ihl
        if proto == 6:
            sport, dport = struct.unpack(">HH", d[l4 : l4 + 4])
            flags = d[l4 + 13]
            info.update(tcp=True, sport=sport, dport=dport)
            info["syn"] = bool(flags & 0x02) and not flags & 0x10
        elif proto == 17:
            sport, dport = struct.unpack(">HH", d[l4 : l4 + 4])
            info["udp53"] = 53 in (sport, dport)
    info["arp"] = ethertype == 0x0806
    return info


# ---------------------------------------------------------------- writing ---


def pad4(b):
    return b + b"\0" * (-len(b) % 4)


def option(code, value):
    return struct.pack("<HH", code, len(value)) + pad4(value)


def block(btype, body):
    total = 12 + len(body)
    return struct.pack("<II", btype, total) + body + struct.pack("<I", total)


def shb():
    # etl2pcapng PcapNgWriteSectionHeader: no options, version 1.0, length -1.
    return block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(linktype, comp):
    # etl2pcapng PcapNgWriteInterfaceDesc: snaplen 65535 (MAX_PACKET_SIZE),
    # if_name (2), if_description (3), end of options; no if_tsresol (µs).
    body = struct.pack("<HHI", linktype, 0, 65535)
    if comp is not None:
        body += option(2, comp["name"].encode())
        body += option(3, comp["description"].encode())
        # pktmon support (PR #79): IPv4 (4), IPv6 (5), MAC (6) when known.
        if "ipv4" in comp:
            addr, mask = comp["ipv4"]
            body += option(4, _v4(addr) + _v4(mask))
        if "ipv6" in comp:
            addr, plen = comp["ipv6"]
            body += option(5, _v6(addr) + bytes([plen]))
        if "mac" in comp:
            body += option(6, comp["mac"])
        body += option(0, b"")
    return block(1, body)


def _v4(s):
    return bytes(int(x) for x in s.split("."))


def _v6(s):
    head, _, tail = s.partition("::")
    h = [int(x, 16) for x in head.split(":") if x]
    t = [int(x, 16) for x in tail.split(":") if x]
    return struct.pack(">8H", *(h + [0] * (8 - len(h) - len(t)) + t))


def epb(iface, ts, data, orig, flags=None, packet_id=None, drop=False, pidtid=None):
    body = struct.pack("<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(data), orig)
    body += pad4(data)
    opts = b""
    if flags is not None:
        opts += option(2, struct.pack("<I", flags))  # 1 inbound, 2 outbound
    if packet_id is not None:
        opts += option(5, struct.pack("<Q", packet_id))
    if drop:
        # epb_verdict, type 2 (Linux eBPF XDP) with value 1 (XDP_DROP).
        opts += option(7, bytes([2]) + struct.pack("<Q", 1))
    if pidtid is not None:
        opts += option(8, struct.pack("<II", *pidtid))  # epb_processid_threadid
    if opts:
        opts += option(0, b"")
    return block(6, body + opts)


def journal(ts, fields):
    text = "".join(f"{k}={v}\n" for k, v in fields)
    assert ("__REALTIME_TIMESTAMP", str(ts)) in fields
    return block(9, pad4(text.encode()))


# -------------------------------------------------------------- scenarios ---


def appearances(pkt, info, variant):
    """The components one packet appears at, in path order, with its verdict.

    Outbound packets go top-down (TCPIP, WFP filter, NIC); inbound bottom-up.
    Returns [(component, linktype, dropped)].
    """
    path = STACK if info["outbound"] else list(reversed(STACK))
    out = []
    for comp in path:
        lt = LINKTYPE_ETHERNET
        if variant == "rawip" and comp is not NIC:
            if info["ip"] is None:
                continue  # ARP has no IP header: only the NIC shows it
            lt = LINKTYPE_RAW
        dropped = False
        if variant == "local-drop" and info["syn"] and info["outbound"]:
            if info["ip"][1] == BLOCKED[0] and info["dport"] == BLOCKED[1]:
                if comp is NIC:
                    break  # never reached the adapter
                dropped = comp is WFP
        out.append((comp, lt, dropped))
        if dropped:
            break
    return out


def process_of(info, attempt_index):
    if info["outbound"] and info["tcp"]:
        return PID_CONNECTOR, TIDS_CONNECTOR[attempt_index]
    if info["outbound"] and info["udp53"]:
        return PID_DNSCACHE, TID_DNSCACHE
    return PID_SYSTEM, TID_SYSTEM


def build(packets, variant):
    """Returns (file bytes, facts for expected.json)."""
    etl2pcapng = variant != "etl2pcap"
    records = []  # (ts, source index, hop, kind, payload)
    attempt_ports = []
    for i, pkt in enumerate(packets):
        info = classify(pkt)
        if info["tcp"] and info["outbound"] and info["syn"]:
            if info["sport"] not in attempt_ports:
                attempt_ports.append(info["sport"])
        attempt = attempt_ports.index(info["sport"]) if info["tcp"] and info["outbound"] else 0
        if etl2pcapng:
            hops = appearances(pkt, info, variant)
        else:
            # pktmon etl2pcap: same bytes from every component, one interface.
            hops = [(None, LINKTYPE_ETHERNET, False) for _ in STACK]
        for hop, (comp, lt, dropped) in enumerate(hops):
            records.append(
                {
                    "ts": pkt["ts"] + hop * HOP_US,
                    "src": i,
                    "hop": hop,
                    "comp": comp,
                    "linktype": lt,
                    "dropped": dropped,
                    "info": info,
                    "pkt": pkt,
                    "pid": process_of(info, attempt),
                }
            )
    # Events come out of the trace in time order.
    records.sort(key=lambda r: (r["ts"], r["src"], r["hop"]))

    # Interfaces in order of first use (etl2pcapng with pktmon: "in the order
    # they appear in the pktmon etl file").
    ifaces = []
    for r in records:
        k = (r["comp"]["key"] if r["comp"] else None, r["linktype"])
        if k not in [x[0] for x in ifaces]:
            ifaces.append((k, r["comp"], r["linktype"]))
    index = {x[0]: n for n, x in enumerate(ifaces)}

    out = [shb()] + [idb(lt, comp) for _, comp, lt in ifaces]
    frames, dropped_frames, journal_frames = 0, [], []
    for r in records:
        pkt, info = r["pkt"], r["info"]
        data = pkt["data"]
        orig = pkt["orig"]
        if r["linktype"] == LINKTYPE_RAW:
            data, orig = data[14:], orig - 14
        if variant == "truncated":
            data = data[:PKT_SIZE]
        iface = index[(r["comp"]["key"] if r["comp"] else None, r["linktype"])]
        if etl2pcapng:
            out.append(
                epb(
                    iface,
                    r["ts"],
                    data,
                    orig,
                    flags=2 if info["outbound"] else 1,
                    packet_id=PACKET_ID_BASE + r["src"],
                    drop=r["dropped"],
                    pidtid=r["pid"],
                )
            )
        else:
            out.append(epb(iface, r["ts"], data, orig))
        frames += 1
        if r["dropped"]:
            dropped_frames.append(frames)
            if variant == "local-drop" and not journal_frames:
                # One non-packet event, as a systemd journal export block.
                out.append(
                    journal(
                        r["ts"],
                        [
                            ("__REALTIME_TIMESTAMP", str(r["ts"])),
                            ("_PID", str(r["pid"][0])),
                            ("SYSLOG_IDENTIFIER", "PktMon"),
                            ("PRIORITY", "4"),
                            (
                                "MESSAGE",
                                f"Packet {PACKET_ID_BASE + r['src']} dropped by "
                                f"component {r['comp']['name']} (synthetic event "
                                "written by captures/pktmon_reframe.py)",
                            ),
                        ],
                    )
                )
                frames += 1
                journal_frames.append(frames)

    syn_pids = sorted(
        {r["pid"][0] for r in records if r["info"]["syn"] and r["info"]["outbound"]}
    )
    facts = {
        "interfaces": [
            {
                "name": comp["name"] if comp else None,
                "description": comp["description"] if comp else None,
                "link_type": LINKTYPE_NAMES[lt],
            }
            for _, comp, lt in ifaces
        ],
        "frames": frames,
        "epbs": frames - len(journal_frames),
        "journal_frames": journal_frames,
        "unique_packets": len(packets),
        "dropped_frames": dropped_frames,
        "non_ip_records": sum(1 for r in records if r["info"]["ip"] is None),
        "non_ip_packets": sum(1 for p in packets if classify(p)["ip"] is None),
        "truncated_frames": sum(
            1
            for r in records
            if variant == "truncated" and len(r["pkt"]["data"]) > PKT_SIZE
        ),
        "syn_pids": syn_pids,
    }
    return b"".join(out), facts


SCENARIOS = [
    (
        "pktmon-blocked.etl2pcapng.pcapng",
        "blocked",
        "pktmon-blocked",
        "syn-dropped.eth.pcap re-framed as pktmon + etl2pcapng output: every packet appears at three "
        "components (TCPIP, a WFP MAC-layer filter, the network adapter), each appearance with the "
        "packet's epb_packetid, epb_flags direction and epb_processid_threadid. The server's firewall "
        "drops the SYNs to connector.servicebus.windows.net:443; curl gives up after 1 SYN + 2 "
        "retransmits, twice.",
    ),
    (
        "pktmon-local-drop.etl2pcapng.pcapng",
        "local-drop",
        "pktmon-local-drop",
        "syn-dropped.eth.pcap re-framed as pktmon + etl2pcapng output in which the capturing host "
        "itself drops the SYNs to 203.0.113.6:443: each SYN appears at TCPIP, then at the WFP "
        "Native MAC Layer LightWeight Filter with epb_verdict type 2 value 1 (drop), and never at "
        "the network adapter. Other packets appear at all three components. One systemd journal "
        "export block (a synthetic non-packet event) follows the first dropped appearance.",
    ),
    (
        "pktmon-truncated.etl2pcapng.pcapng",
        "truncated",
        "pktmon-truncated",
        "As pktmon-blocked, with pktmon's default --pkt-size 128: every appearance keeps at most 128 "
        "captured bytes and its original length. Only the 142-byte DNS response (contoso.msappproxy.net) "
        "is longer than that, so its three appearances are the truncated records.",
    ),
    (
        "pktmon-rawip.etl2pcapng.pcapng",
        "rawip",
        "pktmon-rawip",
        "As pktmon-blocked, but the two components above the network adapter (TCPIP and the WFP "
        "filter) have LINKTYPE_RAW (101) interfaces and hold the packets without their 14-byte "
        "Ethernet header; the adapter keeps Ethernet. ARP frames have no IP header and appear at "
        "the adapter only.",
    ),
    (
        "pktmon-etl2pcap.pcapng",
        "etl2pcap",
        "pktmon-etl2pcap",
        "syn-dropped.eth.pcap re-framed as `pktmon etl2pcap` output: one Ethernet interface without "
        "name, no packet ids, no direction flags, no drop records; every packet three times (one per "
        "component) with identical bytes, 2 us apart.",
    ),
]


def expected(fname, variant, scenario, description, facts):
    ifaces = facts["interfaces"]
    etl2pcapng = variant != "etl2pcap"
    outcome = "dropped_locally" if variant == "local-drop" else "syn_unanswered"
    attempt = {
        "destination": {"ip": BLOCKED[0], "port": BLOCKED[1], "name": DEST_NAME},
        "outcome": outcome,
        "syn_retransmits": 2,
        "conn_state": "S0",
        "pid": PID_CONNECTOR if etl2pcapng else None,
    }
    findings = ["dropped-locally"] if variant == "local-drop" else ["syn-unanswered"]
    # syn-dropped.eth.pcap never contacts *.msappproxy.net, hence required-not-seen.
    allowed = ["capture-duplicates", "required-not-seen"]
    if variant == "truncated":
        findings.append("capture-truncated")
    if variant == "local-drop":
        allowed.append("syn-unanswered")
    link_types = []
    for x in ifaces:
        if x["link_type"] not in link_types:
            link_types.append(x["link_type"])
    copies = 3
    windows = {
        "converter": "etl2pcapng" if etl2pcapng else "pktmon etl2pcap",
        "components": [x["name"] for x in ifaces] if etl2pcapng else [],
        "interfaces": [{"name": x["name"], "link_type": x["link_type"]} for x in ifaces],
        "copies_per_packet": copies,
        "frames": facts["frames"],
        "packet_records": facts["epbs"],
        "journal_frames": facts["journal_frames"],
        "unique_packets": facts["unique_packets"],
        "duplicates": facts["epbs"] - facts["unique_packets"],
        "duplicates_non_ip": facts["non_ip_records"] - facts["non_ip_packets"],
        "dropped_frames": facts["dropped_frames"],
        "truncated_records": facts["truncated_frames"],
        "pids": facts["syn_pids"] if etl2pcapng else [],
        "packet_ids": etl2pcapng,
    }
    if variant == "rawip":
        windows["copies_note"] = "ARP frames appear once (adapter only); IP packets three times"
    if variant == "local-drop":
        windows["copies_note"] = (
            "the 6 SYNs to 203.0.113.6:443 appear twice (TCPIP, then the WFP filter with the drop "
            "verdict); every other packet three times"
        )
    return {
        "scenario": scenario,
        "description": description,
        "link_type": link_types[0],
        "link_types": link_types,
        "format": "pcapng",
        "compressed": None,
        "client": CLIENT_IP,
        "source_capture": "captures/" + SOURCE,
        "attempts": [dict(attempt), dict(attempt)],
        "truncated_at_offset": None,
        "findings": findings,
        "findings_allowed": allowed,
        "windows": windows,
    }


# --------------------------------------------------------------- checking ---


def parse_pcapng(data):
    """Minimal little-endian pcapng walk for --check."""
    off, ifaces, frames = 0, [], []
    while off < len(data):
        btype, total = struct.unpack("<II", data[off : off + 8])
        assert total % 4 == 0 and total >= 12, (off, total)
        assert struct.unpack("<I", data[off + total - 4 : off + total])[0] == total
        body = data[off + 8 : off + total - 4]
        if btype == 1:
            ifaces.append(struct.unpack("<H", body[:2])[0])
        elif btype == 6:
            iface, _, _, cap, orig = struct.unpack("<IIIII", body[:20])
            opts, p = {}, 20 + cap + (-cap % 4)
            while p < len(body):
                code, ln = struct.unpack("<HH", body[p : p + 4])
                if code == 0:
                    break
                opts[code] = body[p + 4 : p + 4 + ln]
                p += 4 + ln + (-ln % 4)
            frames.append(("epb", iface, cap, orig, opts))
        elif btype == 9:
            frames.append(("journal", body))
        off += total
    return ifaces, frames


def check():
    ok = True
    for fname, variant, *_ in SCENARIOS:
        with open(os.path.join(HERE, fname), "rb") as f:
            ifaces, frames = parse_pcapng(f.read())
        with open(os.path.join(HERE, fname + ".expected.json")) as f:
            exp = json.load(f)["windows"]
        ids = {}
        for n, fr in enumerate(frames, 1):
            if fr[0] != "epb":
                continue
            _, _, _, _, opts = fr
            if 5 in opts:
                ids.setdefault(struct.unpack("<Q", opts[5])[0], []).append(n)
        drops = [n for n, fr in enumerate(frames, 1) if fr[0] == "epb" and 7 in fr[4]]
        pids = sorted({struct.unpack("<II", fr[4][8])[0] for fr in frames if fr[0] == "epb" and 8 in fr[4]})
        problems = []
        if len(frames) != exp["frames"]:
            problems.append(f"frames {len(frames)} != {exp['frames']}")
        if drops != exp["dropped_frames"]:
            problems.append(f"drops {drops} != {exp['dropped_frames']}")
        if exp["packet_ids"] and len(ids) != exp["unique_packets"]:
            problems.append(f"packet ids {len(ids)} != {exp['unique_packets']}")
        print(f"{fname}: {len(ifaces)} IDBs {ifaces}, {len(frames)} frames, "
              f"{len(ids)} packet ids, drops {drops}, option-8 PIDs {pids}"
              + (f"  PROBLEMS: {problems}" if problems else "  ok"))
        ok &= not problems
    return ok


def main():
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if check() else 1)
    if sys.argv[1:]:
        raise SystemExit(__doc__)
    packets = read_pcap(os.path.join(HERE, SOURCE))
    for fname, variant, scenario, description in SCENARIOS:
        data, facts = build(packets, variant)
        with open(os.path.join(HERE, fname), "wb") as f:
            f.write(data)
        exp = expected(fname, variant, scenario, description, facts)
        with open(os.path.join(HERE, fname + ".expected.json"), "w") as f:
            json.dump(exp, f, indent=2)
            f.write("\n")
        print(f"wrote {fname} ({len(data)} bytes, {facts['frames']} frames)")


if __name__ == "__main__":
    main()
