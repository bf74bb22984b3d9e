"""Serving, side by side in one run (the extra `deploy`):

1. the project's `serve` against a naive FastAPI peer (peers/naive_serve.py: the eager model
   once per request, no batching) and against LitServe (peers/litserve_serve.py: the same model
   and batching settings), each a process of its own on the same port in turn, asked by 1 and
   by 8 concurrent clients (httpx, asyncio): requests per second, p50 and p99 latency;
2. the `onnx` runtime (ONNX Runtime on the checked model.onnx) against the `torch` one (the eager
   model `serve` runs from a run folder), in one process: latency at batch 1 and images per
   second at batch 64, for each model.

    .venv/bin/python benchmarks/serving.py [--json build/serving.json] [--quick]

Each side runs with one thread (torch's and ONNX Runtime's). Sides alternate in each round; the
figures are the medians of the per-round ratios, with their range.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import import_module
from pathlib import Path

import httpx
import torch
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from projects import render  # noqa: E402

MODELS = ("simplenet", "cnn", "resnet", "vit")
SERVED = ("cnn", "resnet")  # the models the server sides serve
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def project(folder: Path, model: str) -> tuple[str, Path]:
    """A deploy project of `model` on the digits, trained for one epoch and exported to ONNX."""
    package = f"bench{model}"
    root = render(folder, package, model=model, extras=["deploy"])
    env = {**ENV, "PYTHONPATH": str(root / "src")}
    for command in (
        ["train", "epochs=1", "device=cpu", "run_name=run"],
        ["export", "runs/run", "--format", "onnx"],
    ):
        subprocess.run(
            [sys.executable, "-m", package, *command], cwd=root, env=env, check=True, capture_output=True
        )
    return package, root


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(side: str, package: str, root: Path, port: int) -> subprocess.Popen:
    run = str(root / "runs" / "run")
    commands = {
        "ours": [sys.executable, "-m", package, "serve", run, "--port", str(port)],
        "naive": [sys.executable, str(HERE / "peers" / "naive_serve.py"), package, run, str(port)],
        "litserve": [sys.executable, str(HERE / "peers" / "litserve_serve.py"), package, run, str(port)],
    }
    env = {**ENV, "PYTHONPATH": str(root / "src")}
    process = subprocess.Popen(
        commands[side], cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    image = png()
    for _ in range(600):
        try:
            if (
                httpx.post(
                    f"http://127.0.0.1:{port}/predict", files={"image": ("x.png", image, "image/png")}
                ).status_code
                == 200
            ):
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{side} did not start")


def png() -> bytes:
    from sklearn.datasets import load_digits

    pixels = (load_digits().images[0] * 16).clip(0, 255).astype("uint8")
    file = io.BytesIO()
    Image.fromarray(pixels).save(file, format="PNG")
    return file.getvalue()


async def load(port: int, clients: int, requests: int) -> dict[str, float]:
    """`clients` clients asking one after the other, `requests` in all: req/s, p50, p99 (ms)."""
    image, latencies = png(), []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:

        async def ask(count: int) -> None:
            for _ in range(count):
                began = time.perf_counter()
                answer = await client.post("/predict", files={"image": ("x.png", image, "image/png")})
                answer.raise_for_status()
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(ask(requests // clients) for _ in range(clients)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests_per_second": len(latencies) / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def serving(package: str, root: Path, rounds: int, requests: int) -> dict:
    sides = ["ours", "naive", "litserve"]
    measured: dict[str, dict[int, list[dict]]] = {side: {1: [], 8: []} for side in sides}
    for index in range(rounds):
        for side in sides[index % 3 :] + sides[: index % 3]:  # the order turns each round
            port = free_port()
            process = start(side, package, root, port)
            try:
                for clients in (1, 8):
                    asyncio.run(load(port, clients, requests // 4))  # warm-up
                    measured[side][clients].append(asyncio.run(load(port, clients, requests)))
            finally:
                process.terminate()
                process.wait(timeout=60)
    return measured


def runtimes(packages: dict[str, tuple[str, Path]], rounds: int) -> dict:
    """Per model: the eager model against ONNX Runtime on model.onnx, in this process."""
    torch.set_num_threads(1)
    figures = {}
    for model, (package, root) in packages.items():
        sys.path.insert(0, str(root / "src"))
        run = root / "runs" / "run"
        eager, state = import_module(f"{package}.predict").load_model(run)
        onnx, _ = import_module(f"{package}.deploy_formats").load(run / "export" / "model.onnx")
        prep = state["preprocessing"]
        sides = {"torch": eager, "onnx": onnx}
        result: dict[str, list[float]] = {"latency_b1": [], "throughput_b64": []}
        for index in range(rounds):
            seconds = {}
            for name in sorted(sides, reverse=index % 2 == 1):
                run_side = sides[name]
                one, many = (
                    torch.randn(1, prep["channels"], *prep["image_size"]),
                    torch.randn(64, prep["channels"], *prep["image_size"]),
                )
                with torch.inference_mode():
                    for _ in range(20):
                        run_side(one)
                    times = []
                    for _ in range(200):
                        began = time.perf_counter()
                        run_side(one)
                        times.append(time.perf_counter() - began)
                    began = time.perf_counter()
                    for _ in range(20):
                        run_side(many)
                    seconds[name] = (statistics.median(times), (time.perf_counter() - began) / (20 * 64))
            result["latency_b1"].append(seconds["onnx"][0] / seconds["torch"][0])
            result["throughput_b64"].append(seconds["onnx"][1] / seconds["torch"][1])
            result.setdefault("torch_b1_ms", []).append(1000 * seconds["torch"][0])
            result.setdefault("onnx_b1_ms", []).append(1000 * seconds["onnx"][0])
        figures[model] = result
    return figures


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "range": [min(values), max(values)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=Path("build/serving.json"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, requests = (1, 80) if args.quick else (3, 400)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        packages = {model: project(Path(scratch), model) for model in MODELS}
        served = {model: serving(*packages[model], rounds, requests) for model in SERVED}
        runtime = runtimes(packages, rounds)
    ratios, table = {}, []
    for model, sides in served.items():
        for peer in ("naive", "litserve"):
            for clients in (1, 8):
                ours, theirs = sides["ours"][clients], sides[peer][clients]
                per_round = [
                    a["requests_per_second"] / b["requests_per_second"]
                    for a, b in zip(ours, theirs, strict=True)
                ]
                ratios[f"{model}_ours_vs_{peer}_req_per_s_{clients}_clients"] = summary(per_round)
        for side, by_clients in sides.items():
            for clients, rows in by_clients.items():
                medians = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
                table.append({"model": model, "side": side, "clients": clients, **medians})
    for model, result in runtime.items():
        ratios[f"onnx_vs_torch_latency_b1_{model}"] = summary(result["latency_b1"])
        ratios[f"onnx_vs_torch_time_per_image_b64_{model}"] = summary(result["throughput_b64"])
        table.append(
            {
                "model": model,
                "torch_b1_ms": statistics.median(result["torch_b1_ms"]),
                "onnx_b1_ms": statistics.median(result["onnx_b1_ms"]),
            }
        )
    report = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"Python {platform.python_version()}",
        "served_models": SERVED,
        "ratios": ratios,
        "table": table,
        "rounds": {"serving": served, "runtimes": runtime},
        "seconds": time.perf_counter() - began,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    for name, figure in ratios.items():
        print(f"{name:<45} {figure['median']:.2f}x  ({figure['range'][0]:.2f}x to {figure['range'][1]:.2f}x)")
    for row in table:
        print(row)


if __name__ == "__main__":
    main()
