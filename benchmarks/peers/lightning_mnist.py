"""Peer: a Lightning project laid out as lightning-hydra-template lays out its MNIST example.

A LightningDataModule over torchvision.datasets.MNIST (per-sample ToTensor and Normalize, the
training images split 55:5 into train and validation like its 55,000/5,000), DataLoaders, and
a LightningModule that updates torchmetrics metrics and calls `self.log` for them on every
training, validation and test step. The model is the same SimpleNet as ours, so that what is
compared is the pipeline around it. Its last line of output is JSON: training images,
training seconds (the epochs, validation excluded) and test accuracy.

    python benchmarks/peers/lightning_mnist.py --root DIR [--epochs 2] [--batch-size 32]
"""

import argparse
import json
import logging
import time

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, random_split
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy
from torchvision import datasets, transforms


class MNISTDataModule(L.LightningDataModule):
    def __init__(self, root: str, batch_size: int):
        super().__init__()
        self.root, self.batch_size = root, batch_size
        normalize = transforms.Normalize((0.1307,), (0.3081,))  # MNIST's mean and std
        self.transform = transforms.Compose([transforms.ToTensor(), normalize])

    def setup(self, stage: str) -> None:
        full = datasets.MNIST(self.root, train=True, download=False, transform=self.transform)
        n_val = len(full) // 12  # 5,000 of 60,000
        self.train_set, self.val_set = random_split(
            full, [len(full) - n_val, n_val], generator=torch.Generator().manual_seed(42)
        )
        self.test_set = datasets.MNIST(self.root, train=False, download=False, transform=self.transform)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.batch_size)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_set, batch_size=self.batch_size)


class MNISTModule(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
        )
        self.criterion = nn.CrossEntropyLoss()
        # One pair of metrics per stage, as lightning-hydra-template keeps them (train_acc, ...).
        for stage in ("train", "val", "test"):
            setattr(self, f"{stage}_acc", MulticlassAccuracy(num_classes=10))
            setattr(self, f"{stage}_loss", MeanMetric())

    def step(self, batch, stage: str) -> torch.Tensor:
        images, labels = batch
        logits = self.net(images)
        loss = self.criterion(logits, labels)
        mean_loss, accuracy = getattr(self, f"{stage}_loss"), getattr(self, f"{stage}_acc")
        mean_loss(loss)
        accuracy(logits.argmax(dim=1), labels)
        self.log(f"{stage}/loss", mean_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log(f"{stage}/acc", accuracy, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self.step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self.step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self.step(batch, "test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)


class TrainClock(L.Callback):
    """Seconds of the training epochs, up to the validation that ends each one."""

    def __init__(self):
        self.seconds, self.started = 0.0, None

    def on_train_epoch_start(self, trainer, module) -> None:
        self.started = time.perf_counter()

    def on_validation_epoch_start(self, trainer, module) -> None:
        self.stop_clock()

    def on_train_epoch_end(self, trainer, module) -> None:
        self.stop_clock()

    def stop_clock(self) -> None:
        if self.started is not None:
            self.seconds += time.perf_counter() - self.started
            self.started = None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default="lightning-peer-logs")
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)

    L.seed_everything(0, verbose=False)
    data, module, clock = MNISTDataModule(args.root, args.batch_size), MNISTModule(), TrainClock()
    trainer = L.Trainer(
        max_epochs=args.epochs,
        accelerator="cpu",
        devices=1,
        default_root_dir=args.out,
        callbacks=[clock],
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, datamodule=data)
    test = trainer.test(module, datamodule=data, verbose=False)[0]
    print(
        json.dumps(
            {
                "train_images": len(data.train_set),
                "train_seconds": clock.seconds,
                "test_accuracy": test["test/acc"],
            }
        )
    )


if __name__ == "__main__":
    main()
