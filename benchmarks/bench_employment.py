"""Employment service 2.0 under load over loopback HTTP: registrations answered at once.

1. Synthesises a city (default 100 000 residents) unless ``--db`` exists, trains the model
   (``platform/employment_models.train_model``) into a temporary registry and promotes it.
2. Starts ``ennakoiva serve`` in its own process on 127.0.0.1 (uvicorn serving ``create_app``; store,
   keys and registry in the temporary folder) and logs in as the demo counsellor.
3. Load: a separate process (asyncio, 64 keep-alive connections, open loop: request *i* is due at
   t0 + i/rate and its latency counts from then, so a slow server cannot slow the load down) posts
   registrations drawn from the city's job seekers'
   backgrounds to ``POST /api/employment/registrations`` for ``--seconds`` at ``--rate`` per second.
   Every registration is decided and logged under ``employment-service-recommendations``, answered
   by the promoted model and stored. Target: 200 registrations/s for 60 s, p95 ≤ 100 ms,
   p99 ≤ 250 ms, no errors.
4. The first suggestion's time on the customer's page: ``POST /employment/register`` (the form) as a
   logged-in resident, wall time until the page with the suggestions has arrived (target < 1 s).

    .venv/bin/python benchmarks/bench_employment.py                       # the full run
    .venv/bin/python benchmarks/bench_employment.py --residents 30000 --seconds 10   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from serve_support import PASSWORD, login_token, server_env, start_server

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.ml.model_registry import ModelRegistry
from ennakoiva.platform.employment_models import TrainSettings, load_training_frame, train_model
from ennakoiva.platform.operational import open_operational
from ennakoiva.platform.settings import Settings
from ennakoiva.platform.synthesis import synthesise_city

URL = "/api/employment/registrations"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _env(folder: Path) -> dict[str, str]:
    return server_env(folder, ENNAKOIVA_EMPLOYMENT_MODELS=str(folder / "models"))


def _train(db: Path, folder: Path) -> dict[str, Any]:
    settings = Settings(**{k.removeprefix("ENNAKOIVA_").lower(): v for k, v in _env(folder).items()
                           if k != "ENNAKOIVA_DEMO_PASSWORD"})
    registry = ModelRegistry(folder / "models")
    started = time.perf_counter()
    with open_operational(settings) as ops, DuckDBEngine(db, read_only=True) as engine:
        frame, all_spells = load_training_frame(engine, ops.gate)
    version, card = train_model(frame, all_spells, registry, TrainSettings(n_boot=50, stability_retrains=5))
    registry.promote(version)
    return {"train_seconds": round(time.perf_counter() - started, 1), "spells": len(frame),
            "cluster_stability": card["metrics"]["cluster_stability"], "frame": all_spells}


def _registrations(frame: Any, n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = frame[["person_id", "age_at_start", "education_level", "finnish_skill", "swedish_skill",
                  "work_history_years", "months_unemployed_before", "postal_code"]].to_dict("records")
    out = []
    for _ in range(n):
        r = rng.choice(rows)
        age = min(max(int(r["age_at_start"]), 17), 64)
        out.append({"person_id": int(r["person_id"]), "language": rng.choice(["fi", "sv", "en"]), "age": age,
                    "education_level": r["education_level"], "finnish_skill": r["finnish_skill"],
                    "swedish_skill": r["swedish_skill"],
                    "work_history_years": min(float(r["work_history_years"]), age - 14),
                    "months_unemployed_before": min(int(r["months_unemployed_before"]), 36),
                    "postal_code": r["postal_code"]})
    return out


async def _load(base: str, token: str, bodies: list[dict[str, Any]], rate: float,
                connections: int = 64) -> dict[str, Any]:
    """Open loop over ``connections`` persistent HTTP/1.1 connections (plain asyncio streams).

    Request *i* is due at t0 + i/rate; its latency runs from that moment to the last byte of the
    answer, so time spent waiting for a free connection counts too. (httpx's own pool spent more
    CPU than the server once thousands of requests waited for a connection.)
    """
    host, port = base.removeprefix("http://").split(":")
    encoded = [json.dumps(b).encode() for b in bodies]
    head = (f"POST {URL} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: ").encode()
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    latencies: list[float] = []
    errors: dict[str, int] = {}

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while (job := await queue.get()) is not None:
            i, due = job
            try:
                writer.write(head + str(len(encoded[i])).encode() + b"\r\n\r\n" + encoded[i])
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                status = status_line.split(b" ")[1].decode() if status_line else "closed"
                if status != "201":
                    errors[status] = errors.get(status, 0) + 1
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, int(port))
            latencies.append((time.perf_counter() - due) * 1000)
        writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    await asyncio.sleep(0.2)                     # connections open before the clock starts
    t0 = time.perf_counter()
    for i in range(len(bodies)):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((i, due))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - t0
    return {"requests": len(bodies), "connections": connections, "seconds": round(elapsed, 1),
            "achieved_rate": round(len(latencies) / elapsed, 1),
            "p50_ms": round(statistics.median(latencies), 2), "p95_ms": round(_percentile(latencies, 95), 2),
            "p99_ms": round(_percentile(latencies, 99), 2), "max_ms": round(max(latencies), 2), "errors": errors}


def _load_worker(base: str, token: str, bodies: list[dict[str, Any]], rate: float, out: Any) -> None:
    out.put(asyncio.run(_load(base, token, bodies, rate)))


def _page_time(base: str, n: int) -> dict[str, Any]:
    """Wall time of the customer's registration form post until the page with the suggestions is in."""
    times = []
    with httpx.Client(base_url=base, timeout=30) as client:
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        client.post("/login", data={"username": "resident", "password": PASSWORD, "csrf_token": token.group(1)})
        page = client.get("/employment/register")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        for i in range(n):
            started = time.perf_counter()
            response = client.post("/employment/register", data={
                "csrf_token": csrf.group(1), "age": str(20 + i % 40), "education_level": "upper_secondary",
                "finnish_skill": "B1", "work_history_years": "3", "months_unemployed_before": str(i % 30)})
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200 or 'data-rank="1"' not in response.text:
                raise RuntimeError(f"the registration page failed: {response.status_code}")
    return {"pages": n, "p50_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=None, help="an existing city (else synthesised into a temp dir)")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before the measured run")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="ennakoiva-bench-employment-"))
    report: dict[str, Any] = {"cpus": os.cpu_count(), "rate": args.rate, "seconds": args.seconds}
    try:
        db = args.db
        if db is None or not db.exists():
            db = db or folder / "city.duckdb"
            started = time.perf_counter()
            synthesise_city(db, folder / "truth.duckdb", residents=args.residents, seed=1)
            report["synth_seconds"] = round(time.perf_counter() - started, 1)
        trained = _train(db, folder)
        frame = trained.pop("frame")
        report["model"] = trained
        server = start_server(db, folder, args.port, _env(folder))
        base = f"http://127.0.0.1:{args.port}"
        try:
            token = login_token(base, "counsellor")
            ctx = mp.get_context("spawn")
            if args.warmup > 0:
                queue: Any = ctx.Queue()
                warm = ctx.Process(target=_load_worker, args=(
                    base, token, _registrations(frame, int(args.rate * args.warmup), 0), args.rate, queue))
                warm.start()
                report["warmup"] = queue.get()
                warm.join()
                print(json.dumps(report["warmup"]), file=sys.stderr, flush=True)
            queue = ctx.Queue()
            bodies = _registrations(frame, int(args.rate * args.seconds), 1)
            worker = ctx.Process(target=_load_worker, args=(base, token, bodies, args.rate, queue))
            worker.start()
            report["registrations"] = queue.get()
            worker.join()
            print(json.dumps(report["registrations"]), file=sys.stderr, flush=True)
            report["customer_page"] = _page_time(base, 20)
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    load = report["registrations"]
    report["verdict"] = {
        "p95_le_100ms": load["p95_ms"] <= 100, "p99_le_250ms": load["p99_ms"] <= 250,
        "no_errors": not load["errors"], "rate_reached": load["achieved_rate"] >= 0.98 * args.rate,
        "page_under_1s": report["customer_page"]["max_ms"] < 1000}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
