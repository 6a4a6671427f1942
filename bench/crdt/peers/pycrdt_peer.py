"""Yrs native (Rust) through pycrdt, pinned in ../requirements.txt, as a benchmark peer.

The same three modes and JSON line as the engine's crdt-bench and driver.js:
  python pycrdt_peer.py apply STREAM EXPECTED_TEXT REPEATS
  python pycrdt_peer.py memory STREAM EXPECTED_TEXT
  python pycrdt_peer.py docs STATE EXPECTED_TEXT COUNT
"""
import gc
import json
import os
import resource
import struct
import sys
import time

from pycrdt import Doc, Text


def read_stream(path):
    with open(path, "rb") as f:
        buf = f.read()
    updates, at = [], 0
    while at < len(buf):
        (length,) = struct.unpack_from("<I", buf, at)
        updates.append(buf[at + 4 : at + 4 + length])
        at += 4 + length
    return updates


def text_of(doc):
    return str(doc.get("text", type=Text))


def check(doc, expected):
    if text_of(doc) != expected:
        raise SystemExit("pycrdt: the final text differs from the expected text")


def ms(t0, t1):
    return (t1 - t0) * 1e3


def apply(stream, expected, repeats):
    updates = read_stream(stream)
    out = {"peer": "pycrdt", "apply_ms": [], "encode_ms": [], "load_ms": [], "state_bytes": 0}
    for _ in range(repeats):
        doc = Doc()
        t0 = time.perf_counter()
        for u in updates:
            doc.apply_update(u)
        t1 = time.perf_counter()
        state = doc.get_update()
        t2 = time.perf_counter()
        check(doc, expected)
        loaded = Doc()
        t3 = time.perf_counter()
        loaded.apply_update(state)
        t4 = time.perf_counter()
        check(loaded, expected)
        out["apply_ms"].append(ms(t0, t1))
        out["encode_ms"].append(ms(t1, t2))
        out["load_ms"].append(ms(t3, t4))
        out["state_bytes"] = len(state)
        del doc, loaded
    return out


def peak_rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def current_rss_kb():
    gc.collect()
    with open("/proc/self/statm") as f:
        resident = int(f.read().split()[1])
    return resident * os.sysconf("SC_PAGE_SIZE") // 1024


def memory(stream, expected):
    baseline = peak_rss_kb()
    doc = Doc()
    with open(stream, "rb") as f:
        while True:
            header = f.read(4)
            if len(header) < 4:
                break
            (length,) = struct.unpack("<I", header)
            update = f.read(length)
            if len(update) != length:
                raise SystemExit("pycrdt: truncated record")
            doc.apply_update(update)
    check(doc, expected)
    return {"peer": "pycrdt", "baseline_rss_kb": baseline, "peak_rss_kb": peak_rss_kb()}


def docs(state_file, expected, count):
    with open(state_file, "rb") as f:
        state = f.read()
    held = []
    before = current_rss_kb()
    t0 = time.perf_counter()
    for _ in range(count):
        doc = Doc()
        doc.apply_update(state)
        held.append(doc)
    t1 = time.perf_counter()
    after = current_rss_kb()
    check(held[0], expected)
    check(held[-1], expected)
    return {"peer": "pycrdt", "docs": count, "rss_before_kb": before, "rss_after_kb": after,
            "load_all_ms": ms(t0, t1)}


def main(argv):
    if len(argv) >= 3:
        with open(argv[2], encoding="utf-8", newline="") as f:
            expected = f.read()
    if len(argv) == 4 and argv[0] == "apply":
        out = apply(argv[1], expected, int(argv[3]))
    elif len(argv) == 3 and argv[0] == "memory":
        out = memory(argv[1], expected)
    elif len(argv) == 4 and argv[0] == "docs":
        out = docs(argv[1], expected, int(argv[3]))
    else:
        sys.exit(__doc__)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
