#!/usr/bin/env python3
"""Lookout through NVIDIA's tritonclient, the Open Inference Protocol's everyday client.

Run against a running Lookout (server/tests/oip/interop.rs starts one and runs this):
  python interop.py --http HOST:PORT --grpc HOST:PORT --admin-key KEY --images DIR

Checks health, server and model metadata, inference over HTTP with binary tensors (the client's
default) and with JSON tensors, and over gRPC, all three answering the same detections, the
options as request parameters, an unknown model refused, and the repository: index, unload,
load, over HTTP and gRPC. Prints "interop: ok" when everything holds; exits 1 otherwise.
"""

import argparse
import base64
import pathlib
import sys

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

OUTPUTS = ["boxes", "scores", "labels", "class_ids"]


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def detections(result):
    boxes = result.as_numpy("boxes")
    scores = result.as_numpy("scores")
    labels = [bytes(x).decode() if not isinstance(x, str) else x for x in result.as_numpy("labels")]
    ids = result.as_numpy("class_ids")
    check(boxes.dtype == np.float32 and boxes.ndim == 2 and boxes.shape[1] == 4, f"boxes {boxes.dtype} {boxes.shape}")
    check(scores.dtype == np.float32 and ids.dtype == np.int64, f"{scores.dtype} {ids.dtype}")
    check(len(boxes) == len(scores) == len(labels) == len(ids), "one row per detection")
    return boxes, scores, labels, ids


def same(a, b, what):
    check(len(a[2]) == len(b[2]) and a[2] == b[2], f"{what}: labels {a[2]} vs {b[2]}")
    check(np.allclose(a[0], b[0], atol=1e-3) and np.allclose(a[1], b[1], atol=1e-5), f"{what}: boxes/scores")
    check((a[3] == b[3]).all(), f"{what}: class ids")


def http_checks(url, image, admin):
    client = httpclient.InferenceServerClient(url=url)
    check(client.is_server_live() and client.is_server_ready(), "http: live and ready")
    meta = client.get_server_metadata()
    check(meta["name"] == "lookout" and "binary_tensor_data" in meta["extensions"], f"server metadata {meta}")
    model = client.get_model_metadata("shapes")
    check(model["inputs"][0] == {"name": "image", "datatype": "BYTES", "shape": [1]}, f"inputs {model}")
    check([o["name"] for o in model["outputs"]] == OUTPUTS, f"outputs {model}")
    check(client.is_model_ready("shapes"), "http: model ready")

    # Binary tensors: the client's default for the input and (outputs not named) the answer.
    binary = httpclient.InferInput("image", [1], "BYTES")
    binary.set_data_from_numpy(np.array([image], dtype=np.object_))
    result = client.infer("shapes", [binary], parameters={"threshold": 0.5}, request_id="interop-1")
    check(result.get_response()["id"] == "interop-1", "the id comes back")
    via_binary = detections(result)
    check(len(via_binary[2]) > 0, "the shapes are found")

    # JSON tensors: the element is the base64 of the file, every output asked for in JSON.
    text = httpclient.InferInput("image", [1], "BYTES")
    text.set_data_from_numpy(np.array([base64.b64encode(image)], dtype=np.object_), binary_data=False)
    outputs = [httpclient.InferRequestedOutput(name, binary_data=False) for name in OUTPUTS]
    result = client.infer("shapes", [text], outputs=outputs, parameters={"threshold": 0.5})
    check(all("data" in o for o in result.get_response()["outputs"]), "JSON outputs carry data")
    same(via_binary, detections(result), "http json vs binary")

    # Only the labels, binary (a BYTES output in binary form).
    result = client.infer("shapes", [binary], outputs=[httpclient.InferRequestedOutput("labels", binary_data=True)])
    labels = [bytes(x).decode() for x in result.as_numpy("labels")]
    check(labels == via_binary[2], f"binary labels {labels}")

    try:
        client.infer("nope", [binary])
        check(False, "an unknown model is refused")
    except InferenceServerException as e:
        check("no model called `nope`" in str(e), f"unknown model words: {e}")

    headers = {"Authorization": f"Bearer {admin}"}
    index = client.get_model_repository_index(headers=headers)
    check({m["name"]: m["state"] for m in index} == {"shapes": "READY", "spare": "READY"}, f"index {index}")
    client.unload_model("spare", headers=headers)
    check(not client.is_model_ready("spare"), "http: unloaded")
    client.load_model("spare", headers=headers)
    check(client.is_model_ready("spare"), "http: loaded again")
    return via_binary


def grpc_checks(url, image, admin, expected):
    client = grpcclient.InferenceServerClient(url=url)
    check(client.is_server_live() and client.is_server_ready(), "grpc: live and ready")
    check(client.get_server_metadata().name == "lookout", "grpc: server metadata")
    model = client.get_model_metadata("shapes")
    check([o.name for o in model.outputs] == OUTPUTS, f"grpc outputs {model}")
    check(client.is_model_ready("shapes"), "grpc: model ready")
    inp = grpcclient.InferInput("image", [1], "BYTES")
    inp.set_data_from_numpy(np.array([image], dtype=np.object_))
    result = client.infer("shapes", [inp], parameters={"threshold": 0.5})
    same(expected, detections(result), "grpc vs http")
    result = client.infer("shapes", [inp], parameters={"max_detections": 1})
    check(len(result.as_numpy("scores")) == 1, "grpc: max_detections as a parameter")

    metadata = (("authorization", f"Bearer {admin}"),)
    index = client.get_model_repository_index(headers=dict(metadata))
    check(sorted(m.name for m in index.models) == ["shapes", "spare"], f"grpc index {index}")
    client.unload_model("spare", headers=dict(metadata))
    check(not _ready_or_false(client, "spare"), "grpc: unloaded")
    client.load_model("spare", headers=dict(metadata))
    check(client.is_model_ready("spare"), "grpc: loaded again")


def _ready_or_false(client, name):
    """tritonclient's gRPC is_model_ready raises for a model the server does not know."""
    try:
        return client.is_model_ready(name)
    except InferenceServerException:
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", required=True)
    parser.add_argument("--grpc", required=True)
    parser.add_argument("--admin-key", required=True)
    parser.add_argument("--images", required=True, type=pathlib.Path)
    args = parser.parse_args()
    image = sorted(args.images.glob("*.png"))[0].read_bytes()
    try:
        expected = http_checks(args.http, image, args.admin_key)
        grpc_checks(args.grpc, image, args.admin_key, expected)
    except (AssertionError, InferenceServerException) as e:
        print(f"interop: FAILED: {e}", file=sys.stderr)
        return 1
    print(f"interop: ok ({len(expected[2])} detections, HTTP binary and JSON, gRPC, repository)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
