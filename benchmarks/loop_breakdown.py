"""Where the plain loop's time goes beyond a naive loop's: the naive loop with our extras added
one at a time, interleaved, on the digits at batch 32 (steps of well under a millisecond).

1. naive: the tutorial's loop over shuffled slices of the tensors (run.py's naive_loop);
2. + the project's SimpleNet (a backbone Sequential and a head, one more module call);
3. + the epoch's metrics kept (the loss detached, argmax of the logits, appended per step);
4. + batches from the project's TensorLoader (a generator) instead of slices;
5. the project's fit() itself, its training epochs (run.py's comparison).

    .venv/bin/python benchmarks/loop_breakdown.py [--rounds 7]

Prints the median over rounds of each variant's time divided by the naive loop's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from importlib import import_module
from pathlib import Path

import torch
from projects import render, run_fit  # benchmarks/, on sys.path when this runs as a script

PACKAGE = "breakdown"
EPOCHS, BATCH = 10, 32


def variant(data, model_kind: str, keep: bool, loader: bool) -> float:
    x, y = data.train.x, data.train.y
    torch.manual_seed(0)
    if model_kind == "flat":
        model = torch.nn.Sequential(
            torch.nn.Flatten(), torch.nn.Linear(x[0].numel(), 128), torch.nn.ReLU(),
            torch.nn.Linear(128, 64), torch.nn.ReLU(), torch.nn.Linear(64, len(data.classes)),
        )  # fmt: skip
    else:
        config, models = (import_module(f"{PACKAGE}.{m}") for m in ("config", "model"))
        model = models.build_model(config.load_config().model, data.input_shape, len(data.classes))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    tensor_loader = data.loader("train", BATCH, seed=0)
    started = time.perf_counter()
    for epoch in range(EPOCHS):
        losses, predictions = [], []
        if loader:
            tensor_loader.set_epoch(epoch)
            batches = iter(tensor_loader)
        else:
            order = torch.randperm(len(y), generator=torch.Generator().manual_seed(epoch))
            batches = ((x[order[s : s + BATCH]], y[order[s : s + BATCH]]) for s in range(0, len(y), BATCH))
        for images, labels in batches:
            optimizer.zero_grad()
            logits = model(images)
            loss = torch.nn.functional.cross_entropy(logits, labels)
            loss.backward()
            optimizer.step()
            if keep:
                losses.append(loss.detach())
                predictions.append(logits.argmax(dim=1))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        render(Path(folder), PACKAGE)
        config, dataset = (import_module(f"{PACKAGE}.{m}") for m in ("config", "dataset"))
        data = dataset.load_data(config.load_config().data)
        sides = {
            "naive": lambda: variant(data, "flat", False, False),
            "+ SimpleNet module": lambda: variant(data, "project", False, False),
            "+ metrics kept": lambda: variant(data, "project", True, False),
            "+ TensorLoader": lambda: variant(data, "project", True, True),
            "fit()": lambda: run_fit(PACKAGE, Path(folder) / "runs", [f"epochs={EPOCHS}"])["train_seconds"],
        }
        rows = []
        for r in range(args.rounds + 1):  # the first round warms up
            names = list(sides)[r % len(sides) :] + list(sides)[: r % len(sides)]
            row = {name: sides[name]() for name in names}
            if r:
                rows.append(row)
    result = {name: statistics.median(row[name] / row["naive"] for row in rows) for name in sides}
    print(
        json.dumps({"median_ratio_to_naive": result, "naive_s": statistics.median(r["naive"] for r in rows)})
    )


if __name__ == "__main__":
    main()
