"""The FastAPI + scikit-learn peer of the week-8 wine-quality service.

`cargo xtask bench serve` loads it beside the Rust reference to show what the
stack most MLOps material teaches costs, doing the same job under the same
contract:

    POST /predict  {"inputs": [{"fixed_acidity": 7.4, ..., "alcohol": 9.4}]}
                -> {"predictions": [5], "model_version": "sklearn-tree-d10-..."}
    GET  /health  -> {"status": "ok"}

Inputs are validated by pydantic (unknown fields refused, every value a finite
number within the reference's bounds, 1 to 1000 wines) and failures answer 422
with the reference's error shape, {"error": ..., "field": "inputs[0].ph"}.

The model is a decision tree of depth 10, like the reference's (the course's tree),
trained at start-up on the red-wine CSV that the linfa-datasets crate ships
(WINE_CSV; run.sh finds it in the cargo registry).
"""

import gzip
import hashlib
import os

import numpy as np
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sklearn.tree import DecisionTreeClassifier

MAX_DEPTH = 10
MAX_BATCH = 1000


def bounded(low, high):
    return Field(ge=low, le=high)


class Wine(BaseModel):
    """One wine; the field order is the CSV's column order, which the tree relies on."""

    # strict: a number must be a JSON number, not a string holding one, as in the reference.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    fixed_acidity: float = bounded(0, 100)
    volatile_acidity: float = bounded(0, 100)
    citric_acid: float = bounded(0, 100)
    residual_sugar: float = bounded(0, 100)
    chlorides: float = bounded(0, 100)
    free_sulfur_dioxide: float = bounded(0, 1000)
    total_sulfur_dioxide: float = bounded(0, 1000)
    density: float = bounded(0, 10)
    ph: float = bounded(0, 14)
    sulphates: float = bounded(0, 100)
    alcohol: float = bounded(0, 100)


FEATURES = tuple(Wine.model_fields)


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    inputs: list[Wine] = Field(min_length=1, max_length=MAX_BATCH)


def train(csv_path):
    """Fits the tree on the whole data set, as the reference does; returns it and its version."""
    with gzip.open(csv_path, "rt") if csv_path.endswith(".gz") else open(csv_path) as f:
        table = np.loadtxt(f, delimiter=",", skiprows=1)
    features, quality = table[:, : len(FEATURES)], table[:, len(FEATURES)].astype(int)
    tree = DecisionTreeClassifier(max_depth=MAX_DEPTH, random_state=0).fit(features, quality)
    # Named after the tree actually fitted, like the reference's model_version.
    digest = hashlib.sha256()
    for part in (tree.tree_.feature, tree.tree_.threshold, tree.tree_.value):
        digest.update(np.ascontiguousarray(part).tobytes())
    return tree, f"sklearn-tree-d{MAX_DEPTH}-{digest.hexdigest()[:12]}"


MODEL, MODEL_VERSION = train(os.environ["WINE_CSV"])

app = FastAPI(title="wine-quality FastAPI peer")


def field_path(loc):
    """pydantic's ("body", "inputs", 0, "ph") as the reference's "inputs[0].ph"."""
    path = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or None


@app.exception_handler(RequestValidationError)
async def validation_error(_request, exc):
    first = exc.errors()[0]
    # For malformed JSON, pydantic's location ends in a character offset, not a field.
    field = None if first["type"] == "json_invalid" else field_path(first["loc"])
    return JSONResponse(status_code=422, content={"error": first["msg"], "field": field})


@app.get("/health")
async def health():
    return {"status": "ok"}


# `async def` although the model call blocks: one wine takes the tree well under
# a millisecond, and skipping the thread-pool hop that a plain `def` costs made
# this peer about 1.5 times faster here. The choice favours the peer; large
# batches would want a plain `def`.
@app.post("/predict")
async def predict(request: PredictRequest):
    rows = np.array([[getattr(wine, name) for name in FEATURES] for wine in request.inputs])
    return {
        "predictions": [int(q) for q in MODEL.predict(rows)],
        "model_version": MODEL_VERSION,
    }
