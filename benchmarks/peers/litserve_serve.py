"""LitServe, measured against FastAPI + uvicorn to choose what `serve` is built on: the same
model, preprocessing and batching settings (max batch 32, 2 ms), LitServe's own process layout
(an API server process and an inference worker).

    python benchmarks/peers/litserve_serve.py PACKAGE RUN PORT
"""

from __future__ import annotations

import io
import sys
from importlib import import_module

import litserve as ls
import torch
from PIL import Image


class Classifier(ls.LitAPI):
    def __init__(self, package: str, run: str):
        super().__init__(max_batch_size=32, batch_timeout=0.002)
        self.package, self.run = package, run

    def setup(self, device: str) -> None:
        torch.set_num_threads(1)
        self.predict_module = import_module(f"{self.package}.predict")
        self.model, state = self.predict_module.load_model(self.run)
        self.classes, self.prep = state["classes"], state["preprocessing"]

    def decode_request(self, request):
        with Image.open(io.BytesIO(request["image"].file.read())) as file:
            decoded = file.convert("L" if self.prep["channels"] == 1 else "RGB")
        return self.predict_module.image_tensor(decoded, self.prep)

    def batch(self, inputs):
        return torch.stack(inputs)

    def predict(self, images):
        with torch.inference_mode():
            return self.model(images).softmax(dim=1)

    def unbatch(self, output):
        return list(output)

    def encode_response(self, probabilities):
        index = int(probabilities.argmax())
        return {"class": self.classes[index], "index": index, "probabilities": probabilities.tolist()}


if __name__ == "__main__":
    server = ls.LitServer(Classifier(sys.argv[1], sys.argv[2]), accelerator="cpu", workers_per_device=1)
    server.run(host="127.0.0.1", port=int(sys.argv[3]), log_level="warning", generate_client_file=False)
