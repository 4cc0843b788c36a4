"""Web service benchmark over loopback HTTP: the overview's server time and a consent-decision load.

1. Synthesises a city (default 650 000 residents) unless ``--db`` exists, and times the first
   computation of the overview figures (and a second, incremental refresh).
2. Starts ``ennakoiva serve`` in its own process on 127.0.0.1 (store, keys and overview file in a
   temporary folder) and logs in as demo users.
3. Overview: sequential GETs of ``/api/overview`` and the ``/overview`` page; server time from the
   ``Server-Timing`` header, wall time as seen by the client. Target: ≤ 300 ms server time.
4. Load: a separate process (asyncio streams over keep-alive connections, open loop: request *i*
   is due at t0 + i/rate and its latency counts from then, so a slow server cannot slow the load
   down) posts access decisions to ``/api/decisions`` — half under the nurses' statutory purpose,
   half under the daycare-fee consent (residents without one, and one in ten the demo family's) — for
   ``--seconds`` at ``--rate`` per second. Target: 200 req/s for 60 s, p99 ≤ 50 ms, no errors.

Every decision is a real one: decided against the consent store and appended to the audit chain.

    .venv/bin/python benchmarks/bench_web.py                       # the full run
    .venv/bin/python benchmarks/bench_web.py --residents 30000 --seconds 10   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from serve_support import login_token, server_env, start_server

from ennakoiva.platform.overview import refresh_overview
from ennakoiva.platform.synthesis import synthesise_city


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _overview(base: str, token: str, n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        for path in ("/api/overview", "/overview", "/charts/overview-trend.svg"):
            server, wall = [], []
            for _ in range(n):
                started = time.perf_counter()
                response = client.get(path)
                wall.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                server.append(float(response.headers["server-timing"].split("dur=")[1]))
            out[path] = {"server_p50_ms": round(statistics.median(server), 2),
                         "server_p99_ms": round(_percentile(server, 99), 2), "server_max_ms": round(max(server), 2),
                         "wall_p50_ms": round(statistics.median(wall), 2),
                         "wall_p99_ms": round(_percentile(wall, 99), 2)}
    return out


async def _load(base: str, requests: list[tuple[str, dict[str, Any]]], rate: float) -> dict[str, Any]:
    """Open-loop load over persistent HTTP/1.1 connections (asyncio streams, requests pre-serialised).

    httpx's pool degrades badly with thousands of pending requests, so the generator speaks HTTP
    itself: request *i* is due at t0 + i/rate and goes out on a free keep-alive connection (a new
    one when none is free, up to 256). Latency is measured from the due time, so queueing in the
    generator or the server counts against the server (no coordinated omission).
    """
    host, port = base.removeprefix("http://").split(":")
    payloads = []
    for token, body in requests:
        data = json.dumps(body).encode()
        payloads.append(f"POST /api/decisions HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
    free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    opened = 0
    latencies: list[float] = []
    errors: dict[str, int] = {}

    async def one(payload: bytes, due: float) -> None:
        nonlocal opened
        try:
            if free.empty() and opened < 256:
                opened += 1
                conn = await asyncio.open_connection(host, int(port))
            else:
                conn = await free.get()
            reader, writer = conn
            writer.write(payload)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            status = int(status_line.split()[1])
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1
            free.put_nowait(conn)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        latencies.append((time.perf_counter() - due) * 1000)

    t0 = time.perf_counter()
    tasks = []
    for i, payload in enumerate(payloads):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(payload, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    while not free.empty():
        free.get_nowait()[1].close()
    return {"requests": len(requests), "seconds": round(elapsed, 1), "achieved_rate": round(len(requests) / elapsed, 1),
            "connections": opened, "p50_ms": round(statistics.median(latencies), 2),
            "p95_ms": round(_percentile(latencies, 95), 2), "p99_ms": round(_percentile(latencies, 99), 2),
            "max_ms": round(max(latencies), 2), "errors": errors}


def _load_worker(base: str, requests: list[tuple[str, dict[str, Any]]], rate: float, out: Any) -> None:
    out.put(asyncio.run(_load(base, requests, rate)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--residents", type=int, default=650_000)
    parser.add_argument("--db", type=Path, default=None, help="an existing city (else synthesised into a temp dir)")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--overview-requests", type=int, default=200)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="ennakoiva-bench-web-"))
    report: dict[str, Any] = {"cpus": os.cpu_count()}
    try:
        db = args.db
        if db is None or not db.exists():
            db = db or folder / "city.duckdb"
            started = time.perf_counter()
            synthesise_city(db, folder / "truth.duckdb", residents=args.residents, seed=1)
            report["synth_seconds"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        first = refresh_overview(db, folder / "overview.json")
        report["overview_first_compute_s"] = round(time.perf_counter() - started, 2)
        report["overview_residents"] = first.figures.get("residents", {}).get(first.as_of.isoformat() if first.as_of
                                                                               else "", None)
        started = time.perf_counter()
        refresh_overview(db, folder / "overview.json")
        report["overview_refresh_unchanged_ms"] = round((time.perf_counter() - started) * 1000, 2)

        server = start_server(db, folder, args.port, server_env(folder))
        base = f"http://127.0.0.1:{args.port}"
        try:
            report["overview"] = _overview(base, login_token(base, "analyst"), args.overview_requests)
            nurse, owner = login_token(base, "nurse"), login_token(base, "owner")
            family = httpx.get(f"{base}/api/me", headers={"Authorization": f"Bearer {login_token(base, 'resident')}"},
                               timeout=10).json()
            rows = httpx.get(f"{base}/api/tables/person/rows", params={"limit": 1000},
                             headers={"Authorization": f"Bearer {nurse}"}, timeout=30).json()["rows"]
            people = [r["person_id"] for r in rows]
            rng = random.Random(1)
            total = int(args.rate * args.seconds)
            requests = []
            for i in range(total):
                if i % 2:
                    requests.append((nurse, {"purpose_id": "care-gap-identification",
                                             "subject_id": rng.choice(people), "categories": ["health"]}))
                else:   # consent-based: mostly residents without a consent, one in ten the demo family's
                    subject = family["person_id"] if i % 20 == 0 else rng.choice(people)
                    requests.append((owner, {"purpose_id": "daycare-fee-income-check",
                                             "subject_id": subject, "categories": ["income"]}))
            queue: Any = mp.get_context("spawn").Queue()
            worker = mp.get_context("spawn").Process(target=_load_worker, args=(base, requests, args.rate, queue))
            worker.start()
            report["load_average_before"] = os.getloadavg()
            report["decisions"] = queue.get()
            report["load_average_after"] = os.getloadavg()
            worker.join()
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    over = report["overview"]["/overview"]["server_p99_ms"]
    load = report["decisions"]
    report["verdict"] = {
        "overview_page_server_p99_le_300ms": over <= 300,
        "decisions_p99_le_50ms": load["p99_ms"] <= 50, "decisions_no_errors": not load["errors"],
        "decisions_rate_reached": load["achieved_rate"] >= 0.98 * args.rate}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
