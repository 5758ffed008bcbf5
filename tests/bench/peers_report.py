#!/usr/bin/env python3
"""The report of the `peers` suite of scripts/bench: reads the result lines
the suite collected, prints the table (ratios to libmosquitto), writes the
JSON (bench-results/peers.json, to compare run to run), a Markdown copy of
the table with the date and the machine, and with --readme puts that copy
into README.md between the <!-- bench:peers --> markers.

Lines read (one per process and run; see scripts/bench, bench_peers):
  result peer=P run=R rss_kb=K lib=... role=pub|sub ...   throughput
  result peer=P run=R lib=... role=rtt ... p50_us= p99_us=  round trips
  conns peer=P n=N rss_kb=K clients= connected= failed=     idle connections
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import sys

PEERS = ("lunamq", "libmosquitto", "paho-c", "paho-py")
BASE = "libmosquitto"


def parse(path):
    results, conns = [], []
    for line in open(path):
        words = line.split()
        if not words or words[0] not in ("result", "conns"):
            continue
        kv = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        (results if words[0] == "result" else conns).append(kv)
    return results, conns


def median(vals):
    return round(statistics.median(vals), 3) if vals else None


def throughput(results, qos):
    out = {}
    for peer in PEERS:
        sel = [r for r in results if r["peer"] == peer and r.get("qos") == str(qos)]
        pubs = [r for r in sel if r["role"] == "pub"]
        subs = [r for r in sel if r["role"] == "sub"]
        if not pubs:
            continue
        e2e = []
        for p in pubs:
            for s in subs:
                span = int(s["t_last_ns"]) - int(p["t_first_ns"])
                if s["run"] == p["run"] and span > 0:
                    e2e.append(int(s["received"]) * 1e9 / span)
        out[peer] = {
            "libver": pubs[0].get("libver"),
            "count": int(pubs[0]["count"]),
            "runs": len(pubs),
            "pub_msgs_per_s": median([float(r["msgs_per_s"]) for r in pubs]),
            "e2e_msgs_per_s": median(e2e),
            "sub_msgs_per_s": median([float(r["msgs_per_s"]) for r in subs]),
            "pub_cpu_us_per_msg": median([float(r["cpu_us_per_msg"]) for r in pubs]),
            "sub_cpu_us_per_msg": median([float(r["cpu_us_per_msg"]) for r in subs]),
            "pub_peak_rss_kb": median([int(r["rss_kb"]) for r in pubs]),
            "sub_peak_rss_kb": median([int(r["rss_kb"]) for r in subs]),
            "lost": sum(int(r["lost"]) for r in subs),
            "dups": sum(int(r["dups"]) for r in subs),
            "pub_msgs_per_s_all": [float(r["msgs_per_s"]) for r in pubs],
            "pub_cpu_us_per_msg_all": [float(r["cpu_us_per_msg"]) for r in pubs],
            "sub_cpu_us_per_msg_all": [float(r["cpu_us_per_msg"]) for r in subs],
        }
    return out


def rtt(results, qos):
    out = {}
    for peer in PEERS:
        sel = [r for r in results if r["peer"] == peer and r["role"] == "rtt"
               and r.get("qos") == str(qos)]
        if sel:
            out[peer] = {"p50_us": median([float(r["p50_us"]) for r in sel]),
                         "p99_us": median([float(r["p99_us"]) for r in sel]),
                         "p50_us_all": [float(r["p50_us"]) for r in sel],
                         "p99_us_all": [float(r["p99_us"]) for r in sel],
                         "runs": len(sel)}
    return out


def idle(conns):
    out = {}
    base = {c["peer"]: int(c["rss_kb"]) for c in conns if c["n"] == "1"}
    for c in conns:
        n = int(c["n"])
        if n == 1:
            continue
        d = {"rss_kb": int(c["rss_kb"]), "rss_kb_one_connection": base.get(c["peer"]),
             "connected": int(c.get("connected", 0)), "failed": int(c.get("failed", n))}
        if base.get(c["peer"]) is not None and d["connected"] > 1:
            d["bytes_per_connection"] = round((d["rss_kb"] - base[c["peer"]]) * 1024
                                              / (d["connected"] - 1))
        out.setdefault(str(n), {})[c["peer"]] = d
    return out


def machine():
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = re.sub(r"\s+", " ", line.split(":", 1)[1]).strip()
                break
    except OSError:
        pass
    return "%s, %d cores, Linux %s" % (model, os.cpu_count() or 0, platform.release())


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, int):
        return str(v)
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def cell(row, peer, key):
    d = row.get(peer)
    if d is None or d.get(key) is None:
        return "-"
    v, b = d[key], (row.get(BASE) or {}).get(key)
    if peer != BASE and isinstance(v, (int, float)) and b:
        return f"{fmt(v)} ({v / b:.2f})"
    return fmt(v)


def table(doc, short=False):
    """Rows of (qos/scenario, figure, cells...); short: the README's."""
    rows = []
    figs = [("pub_msgs_per_s", "publish msgs/s"), ("e2e_msgs_per_s", "end-to-end msgs/s"),
            ("pub_cpu_us_per_msg", "pub CPU us/msg"), ("sub_cpu_us_per_msg", "sub CPU us/msg"),
            ("pub_peak_rss_kb", "pub peak RSS kB"), ("sub_peak_rss_kb", "sub peak RSS kB")]
    if short:
        figs = figs[1:4]
    for qos in ("0", "1", "2"):
        row = doc["throughput"].get(qos, {})
        for key, label in figs:
            rows.append((f"QoS {qos}", label, [cell(row, p, key) for p in PEERS]))
        if short and qos == "1":
            rows.append((f"QoS {qos}", "pub peak RSS kB",
                         [cell(row, p, "pub_peak_rss_kb") for p in PEERS]))
        rows.append((f"QoS {qos}", "lost / dup (all runs)",
                     [f"{row[p]['lost']} / {row[p]['dups']}" if p in row else
                      ("not measured" if qos == "2" else "-") for p in PEERS]))
    for qos in ("0", "1"):
        row = doc["round_trip"].get(qos, {})
        rows.append((f"QoS {qos}", "round trip p50 us", [cell(row, p, "p50_us") for p in PEERS]))
        rows.append((f"QoS {qos}", "round trip p99 us", [cell(row, p, "p99_us") for p in PEERS]))
    for n, row in sorted(doc["idle_connections"].items(), key=lambda kv: int(kv[0])):
        cells = []
        for p in PEERS:
            d = row.get(p)
            if d is None:
                cells.append("-")
            else:
                c = fmt(d.get("bytes_per_connection"))
                if d["connected"] != int(n):
                    c += f" ({d['connected']} up)"
                cells.append(c)
        rows.append((f"{int(n):,} idle", "bytes/connection", cells))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results", nargs="?", help="the collected result lines")
    ap.add_argument("json_out", nargs="?")
    ap.add_argument("--from-json", help="render a peers.json written before instead")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", default="0")
    ap.add_argument("--qos2", default="")
    ap.add_argument("--broker", default="")
    ap.add_argument("--markdown")
    ap.add_argument("--readme")
    a = ap.parse_args()
    if a.from_json:
        doc = json.load(open(a.from_json))
        render(doc, a.markdown, a.readme)
        return
    if not a.results or not a.json_out:
        ap.error("results and json_out, or --from-json")
    results, conns = parse(a.results)
    versions = {}
    for r in results:
        versions.setdefault(r["peer"], r.get("libver"))
    doc = {
        "suite": "peers",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load_average": round(os.getloadavg()[0], 1),
        "broker": a.broker,
        "quick": a.quick == "1",
        "runs": a.runs,
        "protocol": "3.1.1",
        "payload_bytes": 64,
        "window": 1000,
        "versions": versions,
        "qos2_supported_by": a.qos2.split(),
        "unit_note": "medians over the runs (*_all: every run); ratios in the table are "
                     "to libmosquitto (msgs/s: > 1 faster; CPU, RSS, latency: < 1 "
                     "better); pub msgs/s: first publish to last completion; e2e: first "
                     "publish to last message received; CPU: getrusage user+sys of the "
                     "client process over its span / count (every thread: Paho C runs "
                     "three); peak RSS: ru_maxrss of the process; lost/dups: summed "
                     "over the runs; round trip: publish to own delivery, p50/p99 of "
                     "1000; idle connections: (peak RSS with N - peak RSS with 1) / "
                     "(connections up - 1), one run",
        "throughput": {str(q): throughput(results, q) for q in (0, 1, 2)},
        "round_trip": {str(q): rtt(results, q) for q in (0, 1)},
        "idle_connections": idle(conns),
    }
    rows = table(doc)
    head = (f"peers through {a.broker}; MQTT 3.1.1, 64-byte payloads, window 1000;"
            f" median of {a.runs} run(s); (ratio to libmosquitto)")
    names = peer_names(doc)
    w = max(18, max(len(c) for r in rows for c in r[2]) + 1, max(len(n) for n in names) + 1)
    print(head)
    print(f"{'':<10} {'figure':<22}" + "".join(f"{n:>{w}}" for n in names))
    for scen, label, cells in rows:
        print(f"{scen:<10} {label:<22}" + "".join(f"{c:>{w}}" for c in cells))
    bad = [(q, p, d["lost"], d["dups"]) for q, row in doc["throughput"].items()
           for p, d in row.items() if d["lost"] or d["dups"]]
    for q, p, lost, dups in bad:
        print(f"note: {p} QoS {q}: {lost} lost, {dups} duplicated over the runs")
    with open(a.json_out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    render(doc, a.markdown, a.readme)


def peer_names(doc):
    return [f"{p} {doc['versions'].get(p) or ''}".strip() for p in PEERS]


def render(doc, markdown, readme):
    """The short table in Markdown, to a file and/or into the README."""
    names = peer_names(doc)
    rows = table(doc, short=True)
    md = [f"Measured {doc['date']} on {doc['machine']}, through {doc['broker']}"
          f"{' (BENCH_QUICK: plumbing only)' if doc['quick'] else ''}; MQTT 3.1.1, "
          f"64-byte payloads, window 1000, median of {doc['runs']}"
          f"{'; load average %s at the end' % doc['load_average'] if doc.get('load_average', 0) >= 1 else ''}"
          f"; in brackets the ratio "
          f"to libmosquitto.  CPU: user + sys of the client process per message; "
          f"round trip: publish to own delivery; idle: RSS per connection.", "",
          "| | figure | " + " | ".join(names) + " |",
          "|---|---|" + "---:|" * len(names)]
    md += ["| " + scen + " | " + label + " | " + " | ".join(cells) + " |"
           for scen, label, cells in rows]
    md_text = "\n".join(md) + "\n"
    if markdown:
        with open(markdown, "w") as f:
            f.write(md_text)
    if readme:
        text = open(readme).read()
        start, end = "<!-- bench:peers -->", "<!-- /bench:peers -->"
        i, j = text.find(start), text.find(end)
        if i < 0 or j < i:
            sys.exit(f"peers_report: no {start} ... {end} in {readme}")
        text = text[:i + len(start)] + "\n" + md_text + text[j:]
        with open(readme, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
