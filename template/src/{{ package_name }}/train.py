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

import json
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .config import Config, ModelConfig, config_from_dict, to_dict, to_yaml
from .data import DataBundle, TensorLoader, load_data
from .device import pick_device
from .errors import UserError
from .model import build_model, count_parameters, replace_head, set_backbone_trainable
from .plots import plot_curves
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

    start_epoch, step, best_val_accuracy, train_seconds = 0, 0, -1.0, 0.0
    if resume_state is not None:
        run_dir = Path(resume_state["run_dir"])
        model.load_state_dict(resume_state["model"])
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
        set_rng_state(resume_state["rng"])
        start_epoch, step = resume_state["epoch"], resume_state["step"]
        best_val_accuracy = resume_state["best_val_accuracy"]
        train_seconds = resume_state["train_seconds"]
        print(f"resuming {run_dir} after epoch {start_epoch} (step {step})")
    else:
        run_dir = make_run_dir(cfg)
    (run_dir / "config.yaml").write_text(to_yaml(cfg))
    tracker = CSVTracker(run_dir / "metrics.csv", resume_epoch=start_epoch if resume_state else None)

    trainable, total = count_parameters(model)
    print(f"model {cfg.model.name}: {total:,} parameters ({trainable:,} trainable) on {device}")

    for epoch in range(start_epoch, cfg.epochs):
        if cfg.finetune.freeze_epochs:
            frozen = epoch < cfg.finetune.freeze_epochs
            set_backbone_trainable(model, not frozen)
            if epoch in (0, cfg.finetune.freeze_epochs):
                trainable, _ = count_parameters(model)
                state = "frozen" if frozen else "unfrozen"
                print(f"epoch {epoch + 1}: backbone {state}, {trainable:,} trainable parameters")

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
            "train_seconds": train_seconds,
            "run_dir": str(run_dir),
            "config": to_dict(cfg),
            "classes": data.classes,
            "preprocessing": data.preprocessing,
        }
        if val_accuracy > best_val_accuracy:
            best_val_accuracy = val_accuracy
            save_checkpoint(state, run_dir / "checkpoints" / "best.pt")
        save_checkpoint(state, run_dir / "checkpoints" / "last.pt")

    return finish(run_dir, cfg, data, tracker, step, best_val_accuracy, train_seconds)


def finish(
    run_dir: Path,
    cfg: Config,
    data: DataBundle,
    tracker: CSVTracker,
    step: int,
    best_val_accuracy: float,
    train_seconds: float,
) -> dict[str, Any]:
    """Test the best checkpoint, plot the curves and write summary.json."""
    best = load_checkpoint(run_dir, prefer="best")
    device = data.test.x.device
    model = build_model(cfg.model, data.input_shape, len(data.classes)).to(device)
    model.load_state_dict(best["model"])
    test_loss, test_accuracy = evaluate(model, TensorLoader(data.test, 512), nn.CrossEntropyLoss())

    history = {key: tracker.history(key) for key in tracker.rows[0]} if tracker.rows else {}
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    if history:
        plot_curves(history, plots / "curves.png", title=f"{run_dir.name}: {cfg.model.name}")

    samples = len(data.train) * cfg.epochs
    summary = {
        "run": run_dir.name,
        "test_accuracy": round(test_accuracy, 6),
        "test_loss": round(test_loss, 6),
        "best_val_accuracy": round(best_val_accuracy, 6),
        "best_epoch": best["epoch"],
        "epochs": cfg.epochs,
        "steps": step,
        "train_seconds": round(train_seconds, 3),
        "samples_per_second": round(samples / train_seconds, 1) if train_seconds else None,
        "model": cfg.model.name,
        "dataset": cfg.data.name,
        "classes": data.classes,
        "device": str(device),
        "torch": torch.__version__,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"test accuracy {test_accuracy:.4f} (best epoch {best['epoch']}); run files in {run_dir}")
    return summary


def evaluate_checkpoint(checkpoint: str, overrides: list[str] | None = None) -> dict[str, Any]:
    """Test a run's best checkpoint (or any checkpoint file) on its dataset's test split."""
    state = load_checkpoint(checkpoint, prefer="best")
    cfg = config_from_dict(state["config"], overrides)
    device = pick_device(cfg.device)
    data = load_data(cfg.data, device, preprocessing=state["preprocessing"])
    if data.classes != state["classes"]:
        raise UserError(f"the checkpoint knows classes {state['classes']}, the data has {data.classes}")
    model = build_model(cfg.model, data.input_shape, len(data.classes)).to(device)
    model.load_state_dict(state["model"])
    test_loss, test_accuracy = evaluate(model, TensorLoader(data.test, 512), nn.CrossEntropyLoss())
    print(f"test accuracy {test_accuracy:.4f}, loss {test_loss:.4f} on {len(data.test)} images")
    return {"test_accuracy": test_accuracy, "test_loss": test_loss, "epoch": state["epoch"]}


@torch.inference_mode()
def evaluate(model: nn.Module, loader: TensorLoader, loss_fn: nn.Module) -> tuple[float, float]:
    """Mean loss and accuracy over a loader."""
    model.eval()
    loss_sum, correct, seen = 0.0, 0, 0
    for images, labels in loader:
        logits = model(images)
        loss_sum += loss_fn(logits, labels).item() * len(labels)
        correct += (logits.argmax(dim=1) == labels).sum().item()
        seen += len(labels)
    return loss_sum / seen, correct / seen


def make_optimizer(model: nn.Module, cfg: Config) -> torch.optim.Optimizer:
    """Two parameter groups: the backbone at lr * backbone_lr_scale, the head at lr."""
    groups = [
        {"params": list(model.backbone.parameters()), "lr": cfg.optim.lr * cfg.finetune.backbone_lr_scale},
        {"params": list(model.head.parameters()), "lr": cfg.optim.lr},
    ]
    if cfg.optim.name == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    return torch.optim.SGD(
        groups, lr=cfg.optim.lr, momentum=cfg.optim.momentum, weight_decay=cfg.optim.weight_decay
    )


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: Config) -> torch.optim.lr_scheduler.LRScheduler:
    if cfg.optim.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(cfg.epochs, 1))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


def load_pretrained(cfg: Config, data: DataBundle) -> nn.Module:
    """The model of `cfg.finetune.checkpoint`, with a new head when the classes differ.

    The architecture (`model.*`) comes from the checkpoint, since the weights must fit it.
    Keys that do not match are reported; a shape that does not match is an error.
    """
    state = load_checkpoint(cfg.finetune.checkpoint, prefer="best")
    cfg.model = ModelConfig(**state["config"]["model"])
    model = build_model(cfg.model, data.input_shape, len(state["classes"]))
    own = model.state_dict()
    mismatched = [
        f"{key} {tuple(value.shape)} in the checkpoint, {tuple(own[key].shape)} here"
        for key, value in state["model"].items()
        if key in own and value.shape != own[key].shape
    ]
    if mismatched:
        raise UserError(f"{cfg.finetune.checkpoint} does not fit this data: {'; '.join(mismatched)}")
    result = model.load_state_dict(state["model"], strict=False)
    if result.missing_keys or result.unexpected_keys:
        print(f"partial load: missing keys {result.missing_keys}, unexpected keys {result.unexpected_keys}")
    if state["classes"] != data.classes:
        replace_head(model, len(data.classes))
        print(f"new head: {len(state['classes'])} classes in the checkpoint, {len(data.classes)} here")
    return model


def check_run_dir(cfg: Config) -> None:
    if cfg.run_name and (Path(cfg.runs_dir) / cfg.run_name).exists():
        run_dir = Path(cfg.runs_dir) / cfg.run_name
        raise UserError(f"{run_dir} exists already: pick another run_name, or resume={run_dir}")


def make_run_dir(cfg: Config) -> Path:
    """runs/<run_name>, or runs/<time>-<model> (with -2, -3... if that exists already)."""
    root = Path(cfg.runs_dir)
    if cfg.run_name:
        check_run_dir(cfg)
        run_dir = root / cfg.run_name
    else:
        base = f"{time.strftime('%Y%m%d-%H%M%S')}-{cfg.model.name}"
        run_dir, n = root / base, 2
        while run_dir.exists():
            run_dir, n = root / f"{base}-{n}", n + 1
    (run_dir / "checkpoints").mkdir(parents=True)
    return run_dir
