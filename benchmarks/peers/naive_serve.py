"""A peer written for the serving benchmark: the FastAPI server one writes first. Each request
runs the eager model on its own image (no batching), in FastAPI's thread pool; the image is
decoded and preprocessed as the project's `predict` does, so that only the serving differs.

    python benchmarks/peers/naive_serve.py PACKAGE RUN PORT
"""

from __future__ import annotations

import io
import sys
from importlib import import_module
from typing import Annotated

import torch
import uvicorn
from fastapi import FastAPI, File, UploadFile
from PIL import Image


def main(package: str, run: str, port: int) -> None:
    predict = import_module(f"{package}.predict")
    model, state = predict.load_model(run)
    classes, prep = state["classes"], state["preprocessing"]
    app = FastAPI()

    @app.post("/predict")
    def classify(image: Annotated[UploadFile, File()]) -> dict:
        with Image.open(io.BytesIO(image.file.read())) as file:
            decoded = file.convert("L" if prep["channels"] == 1 else "RGB")
        with torch.inference_mode():
            probabilities = model(predict.image_tensor(decoded, prep)[None]).softmax(dim=1)[0]
        index = int(probabilities.argmax())
        return {"class": classes[index], "index": index, "probabilities": probabilities.tolist()}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
