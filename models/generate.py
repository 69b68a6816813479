#!/usr/bin/python3
"""Deterministic generator for the small ONNX models and reference data used by Ferry's tests.

Run from the repository root:

    /usr/bin/python3 models/generate.py

Needs only Debian's python3-onnx (1.12) and python3-numpy (1.24). Everything is written next to
this script. Running it twice yields byte-identical files (fixed seeds, single-threaded BLAS,
fixed producer metadata, no timestamps).

House-price formula (the "ground truth" the house-price MLP is trained to imitate; see PRICE_FORMULA):

    price = 150000
          + 140    * sqft_living
          + 15000  * bathrooms
          + 35000  * (grade - 7)
          + 45000  * view
          + 350000 * waterfront
          + 600000 * (lat - 47.45)
          + 15     * (sqft_living - 2000) * (grade - 7)

Training rows use price * (1 + 0.02 * N(0, 1)) (2 % multiplicative noise); houses whose
noise-free price falls outside [100k, 2.5M] are dropped.
"""

import os

# Single-threaded BLAS so float sums are evaluated in the same order on every run.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import hashlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

PRICE_FORMULA = (
    "price = 150000 + 140*sqft_living + 15000*bathrooms + 35000*(grade - 7) + 45000*view"
    " + 350000*waterfront + 600000*(lat - 47.45) + 15*(sqft_living - 2000)*(grade - 7)"
)


def formula_price(X):
    """Noise-free price for rows of the 18 features (float64)."""
    X = np.asarray(X, dtype=np.float64)
    bathrooms, sqft_living, waterfront, view, grade, lat = X[:, 1], X[:, 2], X[:, 5], X[:, 6], X[:, 8], X[:, 11]
    return (150000.0 + 140.0 * sqft_living + 15000.0 * bathrooms + 35000.0 * (grade - 7.0) + 45000.0 * view
            + 350000.0 * waterfront + 600000.0 * (lat - 47.45) + 15.0 * (sqft_living - 2000.0) * (grade - 7.0))


HERE = os.path.dirname(os.path.abspath(__file__))

OPSET = 13
IR_VERSION = 7
PRODUCER = "ferry-models"
PRODUCER_VERSION = "1"

SEED_HOUSES = 20240611       # synthetic training set
SEED_INIT = 7                # MLP initial weights
SEED_REF_HOUSES = 424242     # the 15 generated reference rows
SEED_CNN = 1234              # image classifier weights
SEED_CALIB = 99              # calibration images for the classifier head
IMAGE_SEEDS = [1, 2]         # the two reference images
SEED_HEAVY = 4321            # compute-bound classifier weights
HEAVY_CHANNELS = 32
HEAVY_BLOCKS = 9             # 3x3 convs at full resolution sharing one weight tensor

N_TRAIN = 8192
HIDDEN = 16
TRAIN_STEPS = 6000

FEATURES = ["bedrooms", "bathrooms", "sqft_living", "sqft_lot", "floors", "waterfront", "view", "condition",
            "grade", "sqft_above", "sqft_basement", "lat", "long", "sqft_living15", "sqft_lot15", "house_age",
            "renovated", "yrs_since_reno"]

SPEC_ROWS = [
    [4.0, 2.5, 2900.0, 5505.0, 2.0, 0.0, 0.0, 3.0, 8.0, 2900.0, 0.0, 47.6063, -122.02, 2970.0, 5251.0, 12.0, 0.0, 0.0],
    [4.0, 2.75, 3010.0, 7215.0, 2.0, 0.0, 0.0, 3.0, 9.0, 3010.0, 0.0, 47.6952018738, -122.1780014038, 3010.0, 7215.0,
     0.0, 0.0, 0.0],
    [4.0, 1.75, 1400.0, 7920.0, 1.0, 0.0, 0.0, 3.0, 7.0, 1400.0, 0.0, 47.465801239, -122.1839981079, 1910.0, 7700.0,
     52.0, 0.0, 0.0],
    [4.0, 2.5, 3130.0, 13202.0, 2.0, 0.0, 0.0, 3.0, 10.0, 3130.0, 0.0, 47.5877990723, -121.9759979248, 2840.0, 10470.0,
     19.0, 0.0, 0.0],
    [3.0, 2.25, 1620.0, 997.0, 2.5, 0.0, 0.0, 3.0, 8.0, 1540.0, 80.0, 47.5400009155, -122.0260009766, 1620.0, 1068.0,
     4.0, 0.0, 0.0],
]

# Hard-coded (generated once with uuid.uuid4()).
UUIDS = {
    "edge-houseprice": "3a8f63bc-a91e-40bd-947f-da19ed849063",
    "edge-cv-demo": "b26864ce-79b3-4068-a137-4ce05691a4bc",
    "edge-houseprice-bucketed": "1b8251b6-f1e8-42ab-9b51-09b9a488ee44",
    "house-price-estimator": "04b24848-4945-46db-bcd3-b550fca655ca",
    "image-classifier": "1d6e7e2d-8b00-4c05-9956-cf28f21de0c9",
    "price-bucket": "0666d853-f27b-4c44-a251-5f74a18e3b08",
    "edge-cv-heavy": "e2f8ae7a-1c8a-419a-a740-2ec86824d434",
    "image-classifier-heavy": "e4a12239-98b0-474b-8768-1081dd738c63",
}

F32 = np.float32


# --------------------------------------------------------------------------------------------- helpers

def path(*parts):
    return os.path.join(HERE, *parts)


def write_bytes(rel, data):
    full = path(rel)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)


def _json(obj, level):
    """Pretty JSON with lists of scalars (and lists of such lists' rows) kept on one line."""
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(obj, dict):
        items = [f"{inner}{json.dumps(k)}: {_json(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}" if items else "{}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        return "[\n" + ",\n".join(inner + _json(v, level + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj, allow_nan=False)


def write_json(rel, obj):
    write_bytes(rel, (_json(obj, 0) + "\n").encode("utf-8"))


def save_model(rel, graph, doc):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name=PRODUCER, producer_version=PRODUCER_VERSION, doc_string=doc)
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    write_bytes(rel, model.SerializeToString())
    # Round-trip check.
    onnx.checker.check_model(onnx.load(path(rel)), full_check=True)


def init(name, arr):
    return numpy_helper.from_array(np.ascontiguousarray(arr), name)


def sha256(rel):
    with open(path(rel), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def floats(a):
    """float32 array -> nested Python floats (exact value of each float32)."""
    return np.asarray(a).astype(np.float64).tolist()


# --------------------------------------------------------------------------------------------- house prices

def generate_houses(rng, n):
    """Synthetic King-County-like houses, the 18 features in FEATURES order (float64)."""
    sqft = np.clip(np.round(rng.lognormal(np.log(1950), 0.38, n) / 10) * 10, 520, 6500)
    bedrooms = np.clip(np.round(1 + sqft / 800 + rng.normal(0, 0.7, n)), 1, 7)
    bathrooms = np.clip(np.round((0.5 + sqft / 1100 + rng.normal(0, 0.4, n)) * 4) / 4, 0.75, 5.0)
    sqft_lot = np.clip(np.round(rng.lognormal(np.log(7200), 0.7, n)), 600, 90000)
    floors = rng.choice([1.0, 1.5, 2.0, 2.5, 3.0], n, p=[0.48, 0.09, 0.38, 0.01, 0.04])
    waterfront = (rng.random(n) < 0.02).astype(np.float64)
    view = np.where(waterfront > 0, rng.choice([2.0, 3.0, 4.0], n),
                    rng.choice([0.0, 1.0, 2.0, 3.0, 4.0], n, p=[0.88, 0.03, 0.05, 0.025, 0.015]))
    condition = rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], n, p=[0.01, 0.02, 0.65, 0.25, 0.07])
    grade = np.clip(np.round(7 + (np.log(sqft) - np.log(1950)) * 2.6 + rng.normal(0, 0.6, n)), 4, 12)
    has_basement = rng.random(n) < 0.4
    basement = np.where(has_basement, np.round(sqft * rng.uniform(0.15, 0.45, n) / 10) * 10, 0.0)
    above = sqft - basement
    lat = np.round(rng.uniform(47.20, 47.78, n), 4)
    long = np.round(rng.uniform(-122.51, -121.32, n), 4)
    sqft15 = np.clip(np.round(sqft * rng.uniform(0.75, 1.2, n) / 10) * 10, 460, 6200)
    lot15 = np.clip(np.round(sqft_lot * rng.uniform(0.7, 1.3, n)), 650, 90000)
    age = np.round(rng.uniform(0, 115, n))
    renovated = ((rng.random(n) < 0.05) & (age > 20)).astype(np.float64)
    yrs_since_reno = np.where(renovated > 0, np.floor(rng.uniform(0, 1, n) * (age - 5)), 0.0)
    X = np.stack([bedrooms, bathrooms, sqft, sqft_lot, floors, waterfront, view, condition, grade, above, basement,
                  lat, long, sqft15, lot15, age, renovated, yrs_since_reno], axis=1)
    keep = (formula_price(X) >= 100000) & (formula_price(X) <= 2500000)
    return X[keep]


def train_house_mlp():
    rng = np.random.default_rng(SEED_HOUSES)
    X = generate_houses(rng, N_TRAIN + N_TRAIN // 4)[:N_TRAIN]
    assert X.shape[0] == N_TRAIN
    y = formula_price(X) * (1.0 + 0.02 * rng.normal(0, 1, N_TRAIN))

    # Normalisation constants, rounded to float32 because that is what the graph holds.
    x_mean = X.mean(0).astype(F32).astype(np.float64)
    x_std = X.std(0).astype(F32).astype(np.float64)
    y_mean = float(F32(y.mean()))
    y_std = float(F32(y.std()))
    Z = (X - x_mean) / x_std

    irng = np.random.default_rng(SEED_INIT)
    params = {
        "W1": irng.normal(0, np.sqrt(2.0 / 18), (18, HIDDEN)),
        "b1": np.zeros(HIDDEN),
        "W2": irng.normal(0, np.sqrt(1.0 / HIDDEN), (HIDDEN, 1)),
        "b2": np.zeros(1),
    }
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    # Loss = mean squared *relative* error, so cheap houses are fitted as well as expensive ones.
    w = (y_std / y) ** 2
    t_scaled = (y - y_mean) / y_std
    n = X.shape[0]
    t0 = time.time()
    for step in range(1, TRAIN_STEPS + 1):
        lr = 0.01 * (0.5 * (1 + np.cos(np.pi * step / TRAIN_STEPS))) + 1e-4  # cosine decay
        a1 = Z @ params["W1"] + params["b1"]
        h = np.maximum(a1, 0.0)
        out = (h @ params["W2"] + params["b2"])[:, 0]
        g_out = (2.0 / n) * w * (out - t_scaled)
        grads = {"W2": h.T @ g_out[:, None], "b2": np.array([g_out.sum()])}
        g_h = g_out[:, None] @ params["W2"].T
        g_a1 = g_h * (a1 > 0)
        grads["W1"] = Z.T @ g_a1
        grads["b1"] = g_a1.sum(0)
        for k in params:
            m[k] = beta1 * m[k] + (1 - beta1) * grads[k]
            v[k] = beta2 * v[k] + (1 - beta2) * grads[k] ** 2
            mh = m[k] / (1 - beta1 ** step)
            vh = v[k] / (1 - beta2 ** step)
            params[k] = params[k] - lr * mh / (np.sqrt(vh) + eps)
    train_seconds = time.time() - t0

    consts = {
        "x_mean": x_mean.astype(F32), "x_std": x_std.astype(F32),
        "W1": params["W1"].astype(F32), "b1": params["b1"].astype(F32),
        "W2": params["W2"].astype(F32), "b2": params["b2"].astype(F32),
        "y_std": np.array([y_std], dtype=F32), "y_mean": np.array([y_mean], dtype=F32),
    }
    pred = house_forward(consts, X)[:, 0].astype(np.float64)
    rel = np.abs(pred - y) / y
    rel_formula = np.abs(pred - formula_price(X)) / formula_price(X)
    stats = {
        "r2": float(1 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2)),
        "mean_rel_err": float(rel.mean()),
        "max_rel_err": float(rel.max()),
        "mean_rel_err_vs_formula": float(rel_formula.mean()),
        "price_min": float(y.min()), "price_max": float(y.max()),
        "train_seconds": train_seconds,
    }
    return consts, stats


def house_forward(c, rows):
    """float32 numpy evaluation of exactly the exported house-price graph."""
    x = np.asarray(rows, dtype=np.float64).astype(F32)
    z = (x - c["x_mean"]) / c["x_std"]
    h = np.maximum(z @ c["W1"] + c["b1"], F32(0))
    o = h @ c["W2"] + c["b2"]
    return o * c["y_std"] + c["y_mean"]


def build_house_graph(c):
    nodes = [
        helper.make_node("Sub", ["tensor", "x_mean"], ["x_centered"], name="standardize_sub"),
        helper.make_node("Div", ["x_centered", "x_std"], ["x_scaled"], name="standardize_div"),
        helper.make_node("MatMul", ["x_scaled", "W1"], ["h1_mm"], name="dense1_matmul"),
        helper.make_node("Add", ["h1_mm", "b1"], ["h1_pre"], name="dense1_bias"),
        helper.make_node("Relu", ["h1_pre"], ["h1"], name="dense1_relu"),
        helper.make_node("MatMul", ["h1", "W2"], ["out_mm"], name="dense2_matmul"),
        helper.make_node("Add", ["out_mm", "b2"], ["out_scaled"], name="dense2_bias"),
        helper.make_node("Mul", ["out_scaled", "y_std"], ["out_mul"], name="unscale_mul"),
        helper.make_node("Add", ["out_mul", "y_mean"], ["variable"], name="unscale_add"),
    ]
    inits = [init(k, c[k]) for k in ["x_mean", "x_std", "W1", "b1", "W2", "b2", "y_std", "y_mean"]]
    return helper.make_graph(
        nodes, "house_price_estimator",
        [helper.make_tensor_value_info("tensor", TensorProto.FLOAT, ["batch", 18])],
        [helper.make_tensor_value_info("variable", TensorProto.FLOAT, ["batch", 1])],
        initializer=inits)


def house_reference_rows():
    rng = np.random.default_rng(SEED_REF_HOUSES)
    extra = generate_houses(rng, 64)[:15]
    assert extra.shape[0] == 15
    rows = [list(r) for r in SPEC_ROWS] + [[float(v) for v in r] for r in extra]
    return rows


# --------------------------------------------------------------------------------------------- image classifier

def conv_patchify(x, w, b):
    """Conv with kernel == stride and no padding, float32. x [N,C,H,W], w [O,C,k,k] -> [N,O,H/k,W/k]."""
    n, ch, hgt, wid = x.shape
    o, _, k, _ = w.shape
    oh, ow = hgt // k, wid // k
    p = x.reshape(n, ch, oh, k, ow, k).transpose(0, 2, 4, 1, 3, 5).reshape(n * oh * ow, ch * k * k)
    y = p @ w.reshape(o, ch * k * k).T + b
    return y.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)


def cnn_features(c, x):
    h = np.maximum(conv_patchify(x, c["conv1_W"], c["conv1_B"]), F32(0))
    h = np.maximum(conv_patchify(h, c["conv2_W"], c["conv2_B"]), F32(0))
    return h.mean(axis=(2, 3), dtype=F32)  # GlobalAveragePool + Flatten


def cnn_forward(c, x):
    f = cnn_features(c, x)
    logits = f @ c["fc_W"] + c["fc_B"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    return np.argmax(probs, axis=1).astype(np.int64), probs, logits


def reference_image(seed):
    return np.random.default_rng(seed).random((1, 3, 224, 224), dtype=F32)


def build_cnn_weights():
    rng = np.random.default_rng(SEED_CNN)
    c = {
        "conv1_W": (rng.normal(0, 1, (8, 3, 8, 8)) / np.sqrt(3 * 64)).astype(F32),
        "conv1_B": (rng.normal(0, 0.1, 8)).astype(F32),
        "conv2_W": (rng.normal(0, 1, (16, 8, 4, 4)) / np.sqrt(8 * 16)).astype(F32),
        "conv2_B": (rng.normal(0, 0.1, 16)).astype(F32),
    }
    fc = rng.normal(0, 1, (16, 1001))
    fc_bias_noise = rng.normal(0, 0.5, 1001)
    # Uniform-noise images all have nearly the same pooled features, so the head whitens them
    # (mean/std measured on calibration images) before the random projection; otherwise every
    # image would land in the same class.
    calib = np.random.default_rng(SEED_CALIB).random((32, 3, 224, 224), dtype=F32)
    feats = cnn_features(c, calib).astype(np.float64)
    mu, sd = feats.mean(0), feats.std(0) + 1e-12
    temperature = 1.0
    W = fc / sd[:, None] * temperature
    c["fc_W"] = W.astype(F32)
    c["fc_B"] = (-(mu @ W) + fc_bias_noise).astype(F32)
    return c


def build_cnn_graph(c):
    nodes = [
        helper.make_node("Conv", ["tensor", "conv1_W", "conv1_B"], ["conv1"], name="conv1",
                         kernel_shape=[8, 8], strides=[8, 8]),
        helper.make_node("Relu", ["conv1"], ["relu1"], name="relu1"),
        helper.make_node("Conv", ["relu1", "conv2_W", "conv2_B"], ["conv2"], name="conv2",
                         kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Relu", ["conv2"], ["relu2"], name="relu2"),
        *classifier_head("relu2"),
    ]
    inits = [init(k, c[k]) for k in ["conv1_W", "conv1_B", "conv2_W", "conv2_B", "fc_W", "fc_B"]]
    return image_graph(nodes, "image_classifier", inits)


def classifier_head(features):
    """GlobalAveragePool -> Flatten -> Gemm(fc_W, fc_B) -> Softmax -> ArgMax, the two image classifiers' head."""
    return [
        helper.make_node("GlobalAveragePool", [features], ["pooled"], name="gap"),
        helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc_W", "fc_B"], ["logits"], name="fc"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["classification"], name="argmax", axis=1, keepdims=0),
    ]


def image_graph(nodes, name, inits):
    """A graph with the image classifiers' input (tensor [batch,3,224,224]) and outputs (classification, probabilities)."""
    return helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("tensor", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("classification", TensorProto.INT64, ["batch"]),
         helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 1001])],
        initializer=inits)


# --------------------------------------------------------------------------------------------- compute-bound classifier

def conv3x3(x, w, b):
    """Conv 3x3, stride 1, padding 1, float32, as nine shifted matrix products. x [C,H,W], w [O,C,3,3]."""
    ch, hgt, wid = x.shape
    p = np.zeros((ch, hgt + 2, wid + 2), dtype=F32)
    p[:, 1:-1, 1:-1] = x
    y = np.zeros((w.shape[0], hgt * wid), dtype=F32)
    for dy in range(3):
        for dx in range(3):
            y += w[:, :, dy, dx] @ p[:, dy:dy + hgt, dx:dx + wid].reshape(ch, hgt * wid)
    return (y + b[:, None]).reshape(w.shape[0], hgt, wid)


def heavy_features(c, images):
    out = []
    for x in images:
        h = np.maximum(conv3x3(x, c["stem_W"], c["stem_B"]), F32(0))
        for _ in range(HEAVY_BLOCKS):
            h = np.maximum(conv3x3(h, c["block_W"], c["block_B"]), F32(0))
        out.append(h.mean(axis=(1, 2), dtype=F32))
    return np.stack(out)


def build_heavy_weights():
    rng = np.random.default_rng(SEED_HEAVY)
    ch = HEAVY_CHANNELS
    c = {  # He initialisation keeps activations in range through the stack of ReLU convs
        "stem_W": (rng.normal(0, 1, (ch, 3, 3, 3)) * np.sqrt(2 / 27)).astype(F32),
        "stem_B": np.zeros(ch, dtype=F32),
        "block_W": (rng.normal(0, 1, (ch, ch, 3, 3)) * np.sqrt(2 / (ch * 9))).astype(F32),
        "block_B": (rng.normal(0, 0.01, ch)).astype(F32),
    }
    calib = np.random.default_rng(SEED_CALIB).random((8, 3, 224, 224), dtype=F32)
    feats = heavy_features(c, calib).astype(np.float64)
    mu, sd = feats.mean(0), feats.std(0) + 1e-12
    # A tenth of the tiny model's scale: ten layers deep, float32 rounding differs more between numpy and
    # ONNX Runtime, and a sharper head would amplify it past the tests' tolerance.
    W = rng.normal(0, 1, (ch, 1001)) / sd[:, None] * 0.1
    c["fc_W"] = W.astype(F32)
    c["fc_B"] = (-(mu @ W) + rng.normal(0, 0.5, 1001)).astype(F32)
    return c


def heavy_forward(c, images):
    logits = heavy_features(c, images) @ c["fc_W"] + c["fc_B"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    return np.argmax(probs, axis=1).astype(np.int64), probs


def heavy_macs():
    return 224 * 224 * HEAVY_CHANNELS * 27 + HEAVY_BLOCKS * 224 * 224 * HEAVY_CHANNELS * HEAVY_CHANNELS * 9


def build_heavy_graph(c):
    nodes = [
        helper.make_node("Conv", ["tensor", "stem_W", "stem_B"], ["stem"], name="stem", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["stem"], ["h0"], name="stem_relu"),
    ]
    for i in range(HEAVY_BLOCKS):
        nodes += [
            helper.make_node("Conv", [f"h{i}", "block_W", "block_B"], [f"conv{i}"], name=f"block{i}",
                             kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", [f"conv{i}"], [f"h{i + 1}"], name=f"block{i}_relu"),
        ]
    nodes += classifier_head(f"h{HEAVY_BLOCKS}")
    inits = [init(k, c[k]) for k in ["stem_W", "stem_B", "block_W", "block_B", "fc_W", "fc_B"]]
    return image_graph(nodes, "image_classifier_heavy", inits)


# --------------------------------------------------------------------------------------------- price bucket

def build_bucket_graph():
    nodes = [
        helper.make_node("Div", ["variable", "bucket_size"], ["scaled"], name="div"),
        helper.make_node("Floor", ["scaled"], ["floored"], name="floor"),
        helper.make_node("Cast", ["floored"], ["bucket"], name="cast", to=TensorProto.INT64),
    ]
    return helper.make_graph(
        nodes, "price_bucket",
        [helper.make_tensor_value_info("variable", TensorProto.FLOAT, ["batch", 1])],
        [helper.make_tensor_value_info("bucket", TensorProto.INT64, ["batch", 1])],
        initializer=[init("bucket_size", np.array(100000.0, dtype=F32))])


def bucket_forward(prices):
    return np.floor(np.asarray(prices, dtype=F32) / F32(100000.0)).astype(np.int64)


# --------------------------------------------------------------------------------------------- README

def readme(hashes, sizes, stats, img_classes):
    table = "\n".join(f"| `{f}` | {sizes[f]} | `{hashes[f]}` |" for f in sorted(hashes))
    feats = ", ".join(f"{i}: {n}" for i, n in enumerate(FEATURES))
    return f"""# Ferry test models

Everything in this folder except `generate.py` is produced by `generate.py`
(this README included; edit the generator, not this file).

Regenerate (Debian/Ubuntu; needs only python3-onnx and python3-numpy, no network):

```sh
apt-get install -y python3-onnx python3-numpy
/usr/bin/python3 models/generate.py      # from the repository root; writes next to the script
```

Output is deterministic: fixed `numpy.random.default_rng` seeds, single-threaded BLAS,
opset 13, `ir_version` 7, `producer_name` "{PRODUCER}", no timestamps. Running the generator
twice gives byte-identical files (checked with Debian's onnx 1.12 / numpy 1.24; other
numpy/BLAS builds could round training differently, so compare hashes after regenerating).

## Models

### `house-price-estimator.onnx`

| | name | dtype | shape |
|---|---|---|---|
| input | `tensor` | float32 | `["batch", 18]` |
| output | `variable` | float32 | `["batch", 1]` (price in dollars) |

An MLP 18 -> 16 (Relu) -> 1 trained (full-batch Adam, numpy) on {N_TRAIN} synthetic houses.
Feature standardisation (`Sub`/`Div` constants) and target un-scaling (`Mul`/`Add`) are inside
the graph: it takes raw features and returns dollars. Feature order (Wallaroo's house-price example):
{feats}.

Ground-truth formula the training data follows (plus 2 % multiplicative Gaussian noise):

```
{PRICE_FORMULA}
```

Training fit: R^2 = {stats['r2']:.4f}, mean relative error = {100 * stats['mean_rel_err']:.2f} %
(vs noisy targets; {100 * stats['mean_rel_err_vs_formula']:.2f} % vs the noise-free formula).

### `price-bucket.onnx`

| | name | dtype | shape |
|---|---|---|---|
| input | `variable` | float32 | `["batch", 1]` |
| output | `bucket` | int64 | `["batch", 1]` |

`bucket = Cast<int64>(Floor(variable / 100000))`: a post-processing step; its input name matches
the house-price model's output so the two chain into a 2-step pipeline.

### `image-classifier.onnx`

| | name | dtype | shape |
|---|---|---|---|
| input | `tensor` | float32 | `["batch", 3, 224, 224]` |
| output 0 | `classification` | int64 | `["batch"]` (ArgMax of probabilities, axis 1) |
| output 1 | `probabilities` | float32 | `["batch", 1001]` (Softmax) |

Tiny CNN with seeded random weights: Conv(3->8, k8, s8) -> Relu -> Conv(8->16, k4, s4) -> Relu ->
GlobalAveragePool -> Flatten -> Gemm(16->1001) -> Softmax -> ArgMax. The Gemm head is whitened on
uniform-noise calibration images so different noise images get different classes.

### `image-classifier-heavy.onnx` (benchmarks)

Same input and outputs as `image-classifier.onnx`, but compute-bound like a real image classifier:
Conv(3->{HEAVY_CHANNELS}, k3, pad 1) -> Relu, then {HEAVY_BLOCKS} x [Conv({HEAVY_CHANNELS}->{HEAVY_CHANNELS}, k3, pad 1) -> Relu], all at
224x224, -> GlobalAveragePool -> Gemm(->1001) -> Softmax -> ArgMax: {heavy_macs() / 1e9:.2f} G multiply-adds per image,
about ResNet-50's 4.1 G. The {HEAVY_BLOCKS} block convs share one weight tensor, so the file stays small; the
cost is the same as with separate weights. Random seeded weights, whitened head as above. `bench/scale`
uses it (pipeline `edge-cv-heavy`, `manifests/cv-heavy.json`) to measure inferer workers on a model whose
run, not moving its input, is the work.

## Reference data

- `house-price-reference.json`: 20 input rows (the first 5 from the Ferry spec, 15 generated),
  the expected `outputs` (numpy float32 evaluation of exactly the exported graph; ONNX Runtime
  agrees to ~2e-7 relative, so compare with a relative tolerance of ~1e-5) and `formula_prices`
  (noise-free formula, float64; the model is within a few % of it).
- `houseprice-bucketed-reference.json`: the same 20 rows through the 2-step pipeline
  (house-price-estimator then price-bucket): expected int64 `buckets`.
- `image-reference.json`: for 2 images, the expected class, the first 10 probabilities and the
  probability sum (ONNX Runtime matches the probabilities to ~1e-5 relative: the whitened head
  amplifies float32 rounding, so compare with a relative tolerance of ~1e-3). The images are `numpy.random.default_rng(seed).random((1, 3, 224, 224),
  dtype=numpy.float32)` (uniform [0, 1)), seeds {IMAGE_SEEDS}; expected classes {img_classes}.
- `image-heavy-reference.json`: the same 2 images through `image-classifier-heavy.onnx`: class and
  first 10 probabilities (numpy float32; compare with a relative tolerance of ~1e-3).
- `data/image_224x224_<i>.f32` (i = 0, 1): those images as raw little-endian float32, NCHW order,
  1x3x224x224 = 150528 values (602112 bytes), no header.

## Deployment manifests (`manifests/`)

Paths are relative to the manifest file.

- `houseprice.json`: pipeline `edge-houseprice`, one step `house-price-estimator`.
- `cv-demo.json`: pipeline `edge-cv-demo`, one step `image-classifier`.
- `cv-heavy.json`: pipeline `edge-cv-heavy`, one step `image-classifier-heavy` (benchmarks; not
  served by `npm start`).
- `houseprice-bucketed.json`: pipeline `edge-houseprice-bucketed`, steps `house-price-estimator`
  then `price-bucket`.

## SHA-256

| file | bytes | sha256 |
|---|---|---|
{table}
"""


# --------------------------------------------------------------------------------------------- main

def main():
    # 1. House price estimator.
    consts, stats = train_house_mlp()
    print(f"house-price: R2={stats['r2']:.5f} mean_rel_err={100 * stats['mean_rel_err']:.3f}% "
          f"max_rel_err={100 * stats['max_rel_err']:.2f}% vs_formula={100 * stats['mean_rel_err_vs_formula']:.3f}% "
          f"prices=[{stats['price_min']:.0f}, {stats['price_max']:.0f}] train={stats['train_seconds']:.1f}s",
          file=sys.stderr)
    save_model("house-price-estimator.onnx", build_house_graph(consts),
               "Ferry test model: house price MLP (18 raw features -> price in dollars).")
    rows = house_reference_rows()
    outputs = house_forward(consts, rows)
    write_json("house-price-reference.json", {
        "model": "house-price-estimator.onnx",
        "input": "tensor",
        "output": "variable",
        "features": FEATURES,
        "formula": PRICE_FORMULA,
        "rows": rows,
        "outputs": floats(outputs),
        "formula_prices": [round(float(p), 4) for p in formula_price(rows)],
    })

    # 2. Price bucket + 2-step pipeline reference.
    save_model("price-bucket.onnx", build_bucket_graph(),
               "Ferry test model: bucket = floor(price / 100000) as int64.")
    buckets = bucket_forward(outputs)
    margin = np.abs(outputs / 100000.0 - np.round(outputs / 100000.0)).min()
    assert margin > 1e-4, "a reference price lies too close to a bucket boundary"
    write_json("houseprice-bucketed-reference.json", {
        "models": ["house-price-estimator.onnx", "price-bucket.onnx"],
        "input": "tensor",
        "output": "bucket",
        "rows_from": "house-price-reference.json",
        "buckets": buckets.tolist(),
    })

    # 3. Image classifier.
    c = build_cnn_weights()
    save_model("image-classifier.onnx", build_cnn_graph(c),
               "Ferry test model: tiny random-weight CNN, 1001 classes.")
    images = []
    for i, seed in enumerate(IMAGE_SEEDS):
        img = reference_image(seed)
        write_bytes(f"data/image_224x224_{i}.f32", img.astype("<f4").tobytes())
        cls, probs, logits = cnn_forward(c, img)
        top2 = np.sort(probs[0])[-2:]
        images.append({
            "file": f"data/image_224x224_{i}.f32",
            "seed": seed,
            "class": int(cls[0]),
            "max_probability": float(probs[0].max()),
            "second_probability": float(top2[0]),
            "first10_probabilities": floats(probs[0, :10]),
            "probability_sum": float(probs[0].astype(np.float64).sum()),
        })
        print(f"image {i}: class={int(cls[0])} p_max={probs[0].max():.4f} p_2nd={top2[0]:.4f}", file=sys.stderr)
    noise = np.random.default_rng(555).random((16, 3, 224, 224), dtype=F32)
    distinct = len(set(cnn_forward(c, noise)[0].tolist()))
    print(f"image-classifier: {distinct} distinct classes over 16 extra noise images", file=sys.stderr)
    assert images[0]["class"] != images[1]["class"]
    write_json("image-reference.json", {
        "model": "image-classifier.onnx",
        "input": "tensor",
        "outputs": ["classification", "probabilities"],
        "shape": [1, 3, 224, 224],
        "dtype": "float32",
        "layout": "NCHW, raw little-endian float32, no header",
        "distribution": "uniform [0, 1): numpy.random.default_rng(seed).random((1, 3, 224, 224), dtype=numpy.float32)",
        "images": images,
    })

    # 3b. Compute-bound classifier (bench/scale): same input and outputs, ResNet-50-like cost.
    h = build_heavy_weights()
    save_model("image-classifier-heavy.onnx", build_heavy_graph(h),
               "Ferry bench model: compute-bound random-weight CNN (3x3 convs at 224x224), 1001 classes.")
    heavy_cls, heavy_probs = heavy_forward(h, [reference_image(seed)[0] for seed in IMAGE_SEEDS])
    print(f"image-classifier-heavy: {heavy_macs() / 1e9:.2f} GMACs, classes={heavy_cls.tolist()} "
          f"p_max={heavy_probs.max(axis=1).round(4).tolist()}", file=sys.stderr)
    write_json("image-heavy-reference.json", {
        "model": "image-classifier-heavy.onnx",
        "macs": heavy_macs(),
        "images": [{"file": im["file"], "class": int(heavy_cls[i]), "first10_probabilities": floats(heavy_probs[i, :10])}
                   for i, im in enumerate(images)],
    })

    # 4. Manifests.
    def step(model, file):
        return {"model": model, "version": UUIDS[model], "file": file}

    write_json("manifests/houseprice.json", {
        "pipeline": "edge-houseprice", "pipeline_version": UUIDS["edge-houseprice"],
        "steps": [step("house-price-estimator", "../house-price-estimator.onnx")]})
    write_json("manifests/cv-demo.json", {
        "pipeline": "edge-cv-demo", "pipeline_version": UUIDS["edge-cv-demo"],
        "steps": [step("image-classifier", "../image-classifier.onnx")]})
    write_json("manifests/cv-heavy.json", {
        "pipeline": "edge-cv-heavy", "pipeline_version": UUIDS["edge-cv-heavy"],
        "steps": [step("image-classifier-heavy", "../image-classifier-heavy.onnx")]})
    write_json("manifests/houseprice-bucketed.json", {
        "pipeline": "edge-houseprice-bucketed", "pipeline_version": UUIDS["edge-houseprice-bucketed"],
        "steps": [step("house-price-estimator", "../house-price-estimator.onnx"),
                  step("price-bucket", "../price-bucket.onnx")]})

    # 5. README with hashes.
    listed = ["house-price-estimator.onnx", "image-classifier.onnx", "price-bucket.onnx",
              "house-price-reference.json", "houseprice-bucketed-reference.json", "image-reference.json",
              "data/image_224x224_0.f32", "data/image_224x224_1.f32",
              "manifests/houseprice.json", "manifests/cv-demo.json", "manifests/houseprice-bucketed.json",
              "image-classifier-heavy.onnx", "image-heavy-reference.json", "manifests/cv-heavy.json"]
    hashes = {f: sha256(f) for f in listed}
    sizes = {f: os.path.getsize(path(f)) for f in listed}
    write_bytes("README.md", readme(hashes, sizes, stats, [im["class"] for im in images]).encode("utf-8"))
    for f in listed:
        print(f"{hashes[f]}  {sizes[f]:>7}  {f}", file=sys.stderr)


if __name__ == "__main__":
    main()
