"""The training loop, in plain PyTorch. Read it top to bottom: `fit` is the whole story.

One call of `fit(cfg)` makes a run folder, trains for `cfg.epochs` epochs, keeps the best
checkpoint by validation accuracy, tests it, and writes:

    runs/<run>/config.yaml          the resolved config
    runs/<run>/metrics.csv          one row per epoch
    runs/<run>/summary.json         final figures (test_accuracy, samples_per_second, ...)
    runs/<run>/checkpoints/last.pt  the state after the latest epoch (for resume)
    runs/<run>/checkpoints/best.pt  the weights with the best validation accuracy
    runs/<run>/plots/curves.png     loss and accuracy per epoch
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .config import Config, config_from_dict, to_dict, to_yaml
from .data import TensorLoader, load_data
from .device import pick_device
from .evaluate import evaluate
from .finetune import freeze_for_epoch, load_pretrained
from .model import build_model, count_parameters
from .optim import make_optimizer, make_scheduler
from .runs import check_run_dir, finish, make_run_dir
from .tracking import CSVTracker


def fit(cfg: Config, overrides: list[str] | None = None) -> dict[str, Any]:
    """Train as `cfg` says (or continue the run `cfg.resume` names); return the summary."""
    resume_state = None
    if cfg.resume:
        # A resumed run keeps its own config; overrides (such as more epochs) apply on top.
        resume_state = load_checkpoint(cfg.resume, prefer="last")
        cfg = config_from_dict(resume_state["config"], overrides)
        cfg.resume = None
    else:
        check_run_dir(cfg)  # refuse an existing run_name before any work

    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    data = load_data(cfg.data, device)
    if cfg.finetune.checkpoint and resume_state is None:
        model = load_pretrained(cfg, data).to(device)
    else:
        model = build_model(cfg.model, data.input_shape, len(data.classes)).to(device)

    optimizer = make_optimizer(model, cfg)
    scheduler = make_scheduler(optimizer, cfg)
    loss_fn = nn.CrossEntropyLoss()
    train_loader = TensorLoader(data.train, cfg.data.batch_size, shuffle=True, seed=cfg.seed)
    val_loader = TensorLoader(data.val, cfg.data.batch_size)

    start_epoch, step, best_val_accuracy, best_epoch, train_seconds = 0, 0, -1.0, 0, 0.0
    if resume_state is not None:
        run_dir = Path(resume_state["run_dir"])
        model.load_state_dict(resume_state["model"])
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
        set_rng_state(resume_state["rng"])
        start_epoch, step = resume_state["epoch"], resume_state["step"]
        best_val_accuracy = resume_state["best_val_accuracy"]
        best_epoch = resume_state["best_epoch"]
        train_seconds = resume_state["train_seconds"]
        print(f"resuming {run_dir} after epoch {start_epoch} (step {step})")
    else:
        run_dir = make_run_dir(cfg)
    (run_dir / "config.yaml").write_text(to_yaml(cfg))
    tracker = CSVTracker(run_dir / "metrics.csv", resume_epoch=start_epoch if resume_state else None)

    trainable, total = count_parameters(model)
    print(f"model {cfg.model.name}: {total:,} parameters ({trainable:,} trainable) on {device}")

    for epoch in range(start_epoch, cfg.epochs):
        freeze_for_epoch(model, cfg, epoch)

        # --- train one epoch
        model.train()
        train_loader.set_epoch(epoch)
        started = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.int64)
        for images, labels in train_loader:
            optimizer.zero_grad(set_to_none=True)
            logits = model(images)
            loss = loss_fn(logits, labels)
            loss.backward()
            optimizer.step()
            step += 1
            loss_sum += loss.detach() * len(labels)
            correct += (logits.argmax(dim=1) == labels).sum()
        lr = optimizer.param_groups[-1]["lr"]
        scheduler.step()
        train_loss = loss_sum.item() / len(data.train)  # .item() waits for the device
        train_accuracy = correct.item() / len(data.train)
        epoch_seconds = time.perf_counter() - started
        train_seconds += epoch_seconds

        # --- validate, log, checkpoint
        val_loss, val_accuracy = evaluate(model, val_loader, loss_fn)
        tracker.log(
            {
                "epoch": epoch + 1,
                "step": step,
                "train_loss": round(train_loss, 6),
                "train_accuracy": round(train_accuracy, 6),
                "val_loss": round(val_loss, 6),
                "val_accuracy": round(val_accuracy, 6),
                "lr": lr,
                "epoch_seconds": round(epoch_seconds, 4),
                "samples_per_second": round(len(data.train) / epoch_seconds, 1),
            }
        )
        print(
            f"epoch {epoch + 1}/{cfg.epochs}  train loss {train_loss:.4f} acc {train_accuracy:.3f}"
            f"  val loss {val_loss:.4f} acc {val_accuracy:.3f}"
            f"  {len(data.train) / epoch_seconds:,.0f} samples/s"
        )
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": rng_state(),
            "epoch": epoch + 1,
            "step": step,
            "best_val_accuracy": max(best_val_accuracy, val_accuracy),
            "best_epoch": epoch + 1 if val_accuracy > best_val_accuracy else best_epoch,
            "train_seconds": train_seconds,
            "run_dir": str(run_dir),
            "config": to_dict(cfg),
            "classes": data.classes,
            "preprocessing": data.preprocessing,
        }
        if val_accuracy > best_val_accuracy:
            best_val_accuracy, best_epoch = val_accuracy, epoch + 1
            save_checkpoint(state, run_dir / "checkpoints" / "best.pt")
        save_checkpoint(state, run_dir / "checkpoints" / "last.pt")
        if cfg.early_stopping and epoch + 1 - best_epoch >= cfg.early_stopping:
            print(f"early stop: no better validation accuracy for {cfg.early_stopping} epochs")
            break

    return finish(run_dir, cfg, data, tracker, step, best_val_accuracy, train_seconds)
