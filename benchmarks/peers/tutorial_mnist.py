"""Peer: the tutorial's pipeline, as a user would write it from the PyTorch tutorials.

torchvision.datasets.MNIST with per-sample transforms (ToTensor, Normalize), a DataLoader that
shuffles and collates one image at a time, and the classic SimpleNet (784-128-64-10, ReLU,
CrossEntropyLoss, SGD lr=0.01 with momentum 0.9), then the test accuracy. Its last line of
output is JSON: training images, training seconds (the epochs alone) and test accuracy.

    python benchmarks/peers/tutorial_mnist.py --root DIR [--epochs 2] [--batch-size 32]
"""

import argparse
import json
import time

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    torch.manual_seed(0)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train_set = datasets.MNIST(args.root, train=True, download=False, transform=transform)
    test_set = datasets.MNIST(args.root, train=False, download=False, transform=transform)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=1000)

    model = nn.Sequential(
        nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    started = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        for images, labels in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}")
    train_seconds = time.perf_counter() - started

    model.eval()
    correct = 0
    with torch.no_grad():
        for images, labels in test_loader:
            correct += (model(images).argmax(dim=1) == labels).sum().item()
    result = {
        "train_images": len(train_set),
        "train_seconds": train_seconds,
        "test_accuracy": correct / len(test_set),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
