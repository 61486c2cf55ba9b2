"""Client latency through the tee with mirroring on vs off, side by side in one run (no Docker).

    python benchmarks/bench_tee.py                      # 30 s at 50 requests/s through each tee
    python benchmarks/bench_tee.py --candidate hang     # the candidate never answers in time
    python benchmarks/bench_tee.py --json

Three model servers (the real harness/serving/model_server.py handler in threads: stable, secondary,
candidate) and two tees in front of the same stable: one mirroring every request to the candidate and the
secondary, one with MIRROR_SHARE=0 (a plain proxy). Two clients on the same schedule, one per tee, each on
a kept-alive connection, send the same requests; the figure is the difference of their client-side
medians (and p99). Everything shares one process and its GIL with the copy workers, so the figure is a
pessimistic bound for the tee in its own container; on a shared machine it is approximate.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any

from harness.serving import model_server
from harness.serving.tee_proxy import Tee, TeeConfig

FEATURES = ("amount", "age", "score")


def model(version: str, hang: bool = False) -> dict[str, Any]:
    m: dict[str, Any] = {"version": version, "features": list(FEATURES), "weights": [0.8, -0.3, 1.1], "bias": -0.2}
    if hang:
        m["fault"] = {"kind": "latency", "ms": 60_000}
    return m


def serve(m: dict[str, Any], jitter_ms: float) -> ThreadingHTTPServer:
    noise = model_server.Noise(jitter_s=jitter_ms / 1000)
    handler = model_server.make_handler(m, model_server.Metrics(m["version"]), ("amount", 1e9), noise)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def address(server: ThreadingHTTPServer) -> tuple[str, int]:
    return "127.0.0.1", int(server.server_address[1])


def client(port: int, bodies: list[bytes], rate: float, start_at: float, out: list[float]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for i, body in enumerate(bodies):
        wait = start_at + i / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        started = time.perf_counter()
        conn.request("POST", "/v1/predict", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        out.append(time.perf_counter() - started if resp.status == 200 else float("inf"))
    conn.close()


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)


def run(seconds: float, rate: float, candidate: str, jitter_ms: float, seed: int) -> dict[str, Any]:
    servers = [serve(model("v1"), jitter_ms), serve(model("v1"), jitter_ms), serve(model("v2", candidate == "hang"), jitter_ms)]
    stable, secondary, cand = (address(s) for s in servers)
    on = Tee(TeeConfig(stable, cand, secondary, copy_timeout=30.0), port=0, records_port=0, host="127.0.0.1").start()
    off = Tee(TeeConfig(stable, cand, None, share=0.0), port=0, records_port=0, host="127.0.0.1").start()
    rng = random.Random(seed)
    bodies = [json.dumps({"features": {f: round(rng.uniform(-2, 2), 3) for f in FEATURES}}).encode()
              for _ in range(int(seconds * rate))]
    latencies: dict[str, list[float]] = {"on": [], "off": []}
    start_at = time.perf_counter() + 0.2
    threads = [threading.Thread(target=client, args=(tee.port, bodies, rate, start_at, latencies[name]))
               for name, tee in (("on", on), ("off", off))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(0.5)
    page = on.since(0)
    paired = sum(r["candidate"]["status"] is not None for r in page["records"])  # dropped copies are not pairs
    for tee in (on, off):
        tee.shutdown()
    for s in servers:
        s.shutdown()
    result = {name: {"median_ms": _ms(v, 0.5), "p99_ms": _ms(v, 0.99), "failed": sum(x == float("inf") for x in v),
                     "requests": len(v)} for name, v in latencies.items()}
    return {"client": result,
            "median_difference_ms": round(statistics.median(latencies["on"]) * 1000 - statistics.median(latencies["off"]) * 1000, 3),
            "mirrored": page["mirrored"], "paired": paired, "dropped": page["dropped"],
            "setup": {"seconds": seconds, "rate": rate, "candidate": candidate, "jitter_ms": jitter_ms, "seed": seed}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second through each tee")
    parser.add_argument("--candidate", choices=("good", "hang"), default="good")
    parser.add_argument("--jitter-ms", type=float, default=2.0, help="the model servers' exponential latency jitter")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = run(args.seconds, args.rate, args.candidate, args.jitter_ms, args.seed)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for name in ("off", "on"):
        c = out["client"][name]
        print(f"mirroring {name:3}: median {c['median_ms']:.2f} ms, p99 {c['p99_ms']:.2f} ms, "
              f"{c['failed']} failed of {c['requests']}")
    print(f"median difference (on - off): {out['median_difference_ms']:+.3f} ms; mirrored {out['mirrored']}, "
          f"paired {out['paired']}, dropped {out['dropped']} (candidate: {args.candidate})")


if __name__ == "__main__":
    main()
