#!/usr/bin/env python3
"""Tests of models/export.py, models/export_coco.py and models/stamp_metadata.py.

    models/.venv/bin/python models/tests/test_export.py [-v] [TestClass[.test_name] ...]
    make check-export

They need the models venv (torch, torchvision, onnx, onnxruntime: about 5 GB, made by
models/venv.sh), which is why they are NOT part of `make test`. Offline; a few minutes on 2
cores. Nothing in the repository is written: every export goes to a temporary folder.

The central proof (issue #14): models/shapes.pth exported through the generic path
(``--arch shapes``) gives the same detections as the committed models/shapes.onnx on the parity
fixtures: same labels, boxes within 1e-3 px, scores within 1e-4. It prints one RESULT line per
fixture.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

MODELS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(MODELS)
sys.path.insert(0, MODELS)
sys.path.insert(0, os.path.join(MODELS, "shapes"))
import export  # noqa: E402

PY = sys.executable
SHAPES_ONNX = os.path.join(MODELS, "shapes.onnx")
SHAPES_ZOO_ONNX = os.path.join(MODELS, "shapes-zoo.onnx")
SHAPES_PTH = os.path.join(MODELS, "shapes.pth")
FIXTURES = sorted(glob.glob(os.path.join(ROOT, "detector/tests/fixtures/parity/*.png")))
SHAPES_LABELS = ["__background__", "red_rectangle", "green_ellipse", "blue_triangle"]
NATIVE_CAP = {"rule": "native_cap", "max_long": 1333, "interpolation": "bilinear", "antialias": False}


def run(script: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PY, os.path.join(MODELS, script), *args], capture_output=True, text=True,
                          cwd=ROOT, env=env)


def metadata(path: str) -> dict:
    import onnx
    return {p.key: p.value for p in onnx.load(path).metadata_props}


def session(path: str):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def tricky_sizes(rule: dict, n: int = 12) -> list[tuple[int, int]]:
    """Sizes where a careless implementation of the rule picks another size than the graph:
    float64 arithmetic (torchvision's eager transform), or a float32 division instead of the
    traced reciprocal-then-multiply."""
    f = np.float32
    out64, outdiv = [], []
    for w in range(101, 2600, 7):
        for h in (219, 268, 310, 317, 394, 480, 517, 600, 751, 1000, 1500, 2001):
            got = export.predict_resize(rule, w, h)
            short, long = min(w, h), max(w, h)
            if rule["rule"] == "shortest_edge":
                s64 = min(rule["min_size"] / short, rule["max_size"] / long)
                s32 = min(f(rule["min_size"]) / f(short), f(rule["max_size"]) / f(long))
            else:
                s64 = min(1.0, rule["max_long"] / long)
                s32 = min(f(1.0), f(rule["max_long"]) / f(long))
            e64 = (math.floor(w * s64), math.floor(h * s64))
            ediv = (int(np.floor(f(w) * s32)), int(np.floor(f(h) * s32)))
            if e64 != got and len(out64) < n:
                out64.append((w, h))
            if ediv != got and len(outdiv) < n:
                outdiv.append((w, h))
    return out64 + outdiv


def check_rule_against_graph(test: unittest.TestCase, onnx_path: str, sizes) -> int:
    rule = json.loads(metadata(onnx_path)["resize"])
    probe = export.resize_probe(onnx_path)
    test.assertIsNotNone(probe, "the graph has a bilinear Resize")
    for w, h in sizes:
        got = probe(np.zeros((3, h, w), np.float32))
        test.assertEqual(got, export.predict_resize(rule, w, h), f"{os.path.basename(onnx_path)} at {w}x{h}")
    return len(sizes)


class ShapesThroughTheGenericExporter(unittest.TestCase):
    """models/shapes.pth -> export.py --arch shapes == the committed models/shapes.onnx."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lookout-export-")
        cls.labels = os.path.join(cls.tmp, "labels.json")
        with open(cls.labels, "w") as f:  # the {id: name} form; id 0 is filled in as background
            json.dump({"1": "red_rectangle", "2": "green_ellipse", "3": "blue_triangle"}, f)
        cls.out = os.path.join(cls.tmp, "shapes-generic.onnx")
        cls.proc = run("export.py", SHAPES_PTH, "--arch", "shapes", "--labels", cls.labels,
                       "--output", cls.out, "--name", "shapes-frcnn", "--box-rtol", "0")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_exports_and_verifies(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stdout + self.proc.stderr)
        out = self.proc.stdout
        self.assertIn("a state_dict (", out)
        self.assertIn("torch.load(weights_only=True)", out)
        self.assertIn("verification passed", out)
        self.assertIn(f"target/release/lookout --model shapes-frcnn={self.out}", out)
        self.assertIn(f"target/release/lookout --model {self.out}", out)
        self.assertEqual(out.count("  ok"), len(FIXTURES))

    def test_same_detections_as_the_committed_model(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)
        a, b = session(SHAPES_ONNX), session(self.out)
        for path in FIXTURES:
            x = export.load_image(path)
            ba, la, sa = a.run(["boxes", "labels", "scores"], {"images": x})
            bb, lb, sb = b.run(["boxes", "labels", "scores"], {"images": x})
            name = os.path.basename(path)
            self.assertEqual(la.tolist(), lb.tolist(), f"{name}: labels")
            box = float(np.abs(ba - bb).max()) if len(ba) else 0.0
            score = float(np.abs(sa - sb).max()) if len(sa) else 0.0
            print(f"RESULT {name}: committed {len(la)} detections, generic {len(lb)}, labels "
                  f"{'equal' if la.tolist() == lb.tolist() else 'DIFFER'}, max |box diff| {box:.3g} px, "
                  f"max |score diff| {score:.3g}", file=sys.stderr)
            self.assertLessEqual(box, 1e-3, name)
            self.assertLessEqual(score, 1e-4, name)

    def test_metadata(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)
        m = metadata(self.out)
        self.assertEqual(json.loads(m["labels"]), SHAPES_LABELS)
        self.assertEqual(m["name"], "shapes-frcnn")
        self.assertEqual(m["layout"], "torchvision")
        self.assertIn("shapes.pth", m["description"])
        self.assertEqual(json.loads(m["resize"]), NATIVE_CAP)
        committed = metadata(SHAPES_ONNX)
        self.assertEqual(committed["resize"], m["resize"], "the same rule as the stamped model")
        self.assertEqual(committed["labels"], m["labels"])


def random_checkpoint(arch: str, num_classes: int):
    """A seeded random-weight model of a torchvision architecture whose BatchNorm statistics are
    measured on the fixtures: untrained BatchNorm (mean 0, variance 1) makes every box score the
    same, and ties make the comparison meaningless."""
    import torch
    from torchvision.models import detection
    torch.manual_seed(0)
    model = getattr(detection, arch)(weights=None, weights_backbone=None, num_classes=num_classes)
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.momentum = None  # a plain average over the batch
    model.eval()
    model.backbone.train()
    with torch.no_grad():
        images, _ = model.transform([torch.from_numpy(export.load_image(p)) for p in FIXTURES])
        model.backbone(images.tensors)
    return model.eval()


class TorchvisionCheckpoint(unittest.TestCase):
    """SSDlite from a training-style checkpoint ({"model": state_dict with a "module." prefix,
    "args": Namespace}) and a labels file without the background. SSD returns its outputs as
    boxes, scores, labels: the export must still name them right."""

    ARCH = "ssdlite320_mobilenet_v3_large"

    @classmethod
    def setUpClass(cls):
        import torch
        cls.tmp = tempfile.mkdtemp(prefix="lookout-export-")
        model = random_checkpoint(cls.ARCH, 3)
        sd = {f"module.{k}": v for k, v in model.state_dict().items()}
        cls.ckpt = os.path.join(cls.tmp, "ckpt.pth")
        torch.save({"model": sd, "epoch": 3, "args": argparse.Namespace(lr=0.01)}, cls.ckpt)
        cls.labels = os.path.join(cls.tmp, "labels.txt")
        with open(cls.labels, "w") as f:
            f.write("cat\n\ndog\n")
        cls.out = os.path.join(cls.tmp, "ssdlite.onnx")
        cls.proc = run("export.py", cls.ckpt, "--arch", cls.ARCH, "--labels", cls.labels,
                       "--add-background", "--output", cls.out)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_exports_and_verifies(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stdout + self.proc.stderr)
        out = self.proc.stdout
        self.assertIn("state_dict under key 'model'", out)
        self.assertIn("key prefix 'module.' removed", out)
        self.assertIn("3 class slots", out)
        self.assertIn('"__background__" inserted as class 0', out)
        self.assertIn("exported through a wrapper that returns boxes, labels, scores", out)
        self.assertIn("verification passed", out)
        self.assertEqual(out.count("  ok"), len(FIXTURES))

    def test_outputs_are_named_right(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)
        s = session(self.out)
        boxes, labels, scores = s.run(["boxes", "labels", "scores"], {"images": export.load_image(FIXTURES[0])})
        self.assertEqual((boxes.dtype, labels.dtype, scores.dtype), (np.float32, np.int64, np.float32))
        self.assertGreater(len(scores), 0)
        self.assertTrue(set(labels.tolist()) <= {1, 2}, set(labels.tolist()))
        self.assertTrue(((scores >= 0) & (scores <= 1)).all())
        self.assertTrue((np.diff(scores) <= 0).all(), "sorted by score")

    def test_metadata(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)
        m = metadata(self.out)
        self.assertEqual(json.loads(m["labels"]), ["__background__", "cat", "dog"])
        self.assertEqual(json.loads(m["resize"]), {"rule": "fixed_size", "width": 320, "height": 320,
                                                   "interpolation": "bilinear", "antialias": False})
        self.assertEqual(m["layout"], "torchvision")
        n = check_rule_against_graph(self, self.out, [(640, 480), (333, 517), (2000, 90)])
        self.assertEqual(n, 3)


class ShapesAtAnotherCap(unittest.TestCase):
    """--max-size on the shapes architecture, and an image on which the eager model and the graph
    pick sizes a pixel apart (eager: float64, graph: float32)."""

    def test_override_and_odd_size(self):
        from PIL import Image
        rule = dict(NATIVE_CAP, max_long=1000)
        w, h = next((w, h) for w, h in tricky_sizes(rule) if max(w, h) > 1000
                    and (math.floor(w * 1000 / max(w, h)), math.floor(h * 1000 / max(w, h)))
                    != export.predict_resize(rule, w, h))
        with tempfile.TemporaryDirectory() as tmp:
            odd = os.path.join(tmp, f"odd-{w}x{h}.png")
            Image.open(FIXTURES[2]).convert("RGB").resize((w, h)).save(odd)
            out = os.path.join(tmp, "shapes-1000.onnx")
            p = run("export.py", SHAPES_PTH, "--arch", "shapes", "--max-size", "1000", "--output", out,
                    "--check-images", FIXTURES[0], odd)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("eager rerun at the graph's size", p.stdout)
            self.assertEqual(json.loads(metadata(out)["resize"]), rule)
            gw, gh = export.predict_resize(rule, w, h)
            self.assertIn(f"odd-{w}x{h}.png {w}x{h} (resized {gw}x{gh})", p.stdout)


class ResizeRuleOfTheBundledModel(unittest.TestCase):
    def test_native_cap_predicts_the_graph(self):
        rule = json.loads(metadata(SHAPES_ONNX)["resize"])
        self.assertEqual(rule, NATIVE_CAP)
        sizes = [(640, 480), (1333, 1000), (1334, 1000), (1500, 900), (4000, 3000), (3000, 4000)]
        sizes += tricky_sizes(rule)
        n = check_rule_against_graph(self, SHAPES_ONNX, sizes)
        print(f"RESULT native_cap 1333: rule == graph on {n} sizes", file=sys.stderr)


class UserMistakes(unittest.TestCase):
    """One line on stderr, exit status 2, no traceback."""

    @classmethod
    def setUpClass(cls):
        import torch
        cls.tmp = tempfile.mkdtemp(prefix="lookout-export-")
        sd = torch.load(SHAPES_PTH, map_location="cpu", weights_only=True)
        cls.partial = os.path.join(cls.tmp, "partial.pth")
        keys = sorted(sd)
        torch.save({k: v for k, v in sd.items() if k not in keys[:2]}, cls.partial)
        cls.missing_names = keys[:2]
        from model import build_model
        m = build_model()
        m.load_state_dict(sd)
        cls.pickled = os.path.join(cls.tmp, "full-model.pt")
        torch.save(m, cls.pickled)
        cls.text = os.path.join(cls.tmp, "not-a-checkpoint.pth")
        with open(cls.text, "w") as f:
            f.write("hello\n")
        cls.labels2 = os.path.join(cls.tmp, "two.txt")
        with open(cls.labels2, "w") as f:
            f.write("a\nb\n")
        cls.labels3 = os.path.join(cls.tmp, "three.txt")
        with open(cls.labels3, "w") as f:
            f.write("red_rectangle\ngreen_ellipse\nblue_triangle\n")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def refused(self, *args, says: str):
        p = run("export.py", *args, "--output", os.path.join(self.tmp, "never.onnx"))
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertNotIn("Traceback", p.stderr)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith("export: error: "), lines[0])
        self.assertIn(says, lines[0])
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "never.onnx")))
        return lines[0]

    def test_unknown_arch(self):
        self.refused(SHAPES_PTH, "--arch", "yolov8", says="unknown --arch 'yolov8'")

    def test_checkpoint_not_found(self):
        self.refused("nope.pth", "--arch", "shapes", says="checkpoint not found: nope.pth")

    def test_labels_required(self):
        self.refused(SHAPES_PTH, "--arch", "fasterrcnn_resnet50_fpn", says="--labels FILE is required")

    def test_wrong_class_count(self):
        self.refused(SHAPES_PTH, "--arch", "shapes", "--num-classes", "5",
                     says="--num-classes 5 but the checkpoint's predictor has 4 class slots")

    def test_labels_disagree(self):
        self.refused(SHAPES_PTH, "--arch", "shapes", "--labels", self.labels2,
                     says="has 2 names but the model has 4 class slots")

    def test_labels_without_background(self):
        self.refused(SHAPES_PTH, "--arch", "shapes", "--labels", self.labels3, says="pass --add-background")

    def test_missing_keys(self):
        line = self.refused(self.partial, "--arch", "shapes", says="2 missing")
        for k in self.missing_names:
            self.assertIn(k, line)

    def test_wrong_arch(self):
        self.refused(SHAPES_PTH, "--arch", "fasterrcnn_mobilenet_v3_large_320_fpn", "--labels", self.labels3,
                     says="the keys look like --arch shapes")

    def test_full_model_needs_trust(self):
        self.refused(self.pickled, "--arch", "shapes", says="pass --trust-pickle")

    def test_not_a_checkpoint(self):
        self.refused(self.text, "--arch", "shapes", says="could not read")

    def test_full_model_with_trust(self):
        out = os.path.join(self.tmp, "from-pickle.onnx")
        p = run("export.py", self.pickled, "--arch", "shapes", "--trust-pickle", "--output", out)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("a full pickled model (FasterRCNN; torch.load(weights_only=False)", p.stdout)
        self.assertIn("verification passed", p.stdout)


class StampedModels(unittest.TestCase):
    def test_bundled_models_carry_the_rule(self):
        p = run("stamp_metadata.py", "--check")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        zoo = metadata(SHAPES_ZOO_ONNX)
        self.assertEqual(json.loads(zoo["resize"]), {
            "rule": "shortest_edge", "min_size": 800, "max_size": 1333, "size_divisible": 32,
            "rounding": "half_up", "interpolation": "bilinear", "antialias": True})
        for path in (SHAPES_ONNX, SHAPES_ZOO_ONNX):
            self.assertEqual(list(metadata(path))[:4], ["labels", "name", "layout", "description"])

    def test_stamping_an_unstamped_copy_gives_the_committed_bytes(self):
        import onnx
        with tempfile.TemporaryDirectory() as tmp:
            for path in (SHAPES_ONNX, SHAPES_ZOO_ONNX):
                m = onnx.load(path)
                value = [p.value for p in m.metadata_props if p.key == "resize"][0]
                keep = [(p.key, p.value) for p in m.metadata_props if p.key != "resize"]
                del m.metadata_props[:]
                for k, v in keep:
                    m.metadata_props.add(key=k, value=v)
                copy = os.path.join(tmp, os.path.basename(path))
                onnx.save(m, copy)
                p = run("stamp_metadata.py", copy, "--set", f"resize={value}")
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertEqual(p.stdout.count("outputs bit-identical before and after"), len(FIXTURES))
                self.assertEqual(sha256(copy), sha256(path), os.path.basename(path))
                again = run("stamp_metadata.py", copy, "--set", f"resize={value}")
                self.assertIn("unchanged", again.stdout)

    def test_the_export_scripts_reproduce_the_stamped_models(self):
        """train.py --export-only and export_zoo_layout.py write the same files (metadata included)."""
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "shapes.onnx")
            p = run("shapes/train.py", "--export-only", "--out", out, "--report", os.path.join(tmp, "report"),
                    "--eval-count", "3")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(metadata(out), metadata(SHAPES_ONNX))
            fx = os.path.join(tmp, "fixtures")
            shutil.copytree(os.path.dirname(FIXTURES[0]), fx)
            zoo = os.path.join(tmp, "shapes-zoo.onnx")
            p = run("shapes/export_zoo_layout.py", "--out", zoo, "--fixtures", fx)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(metadata(zoo), metadata(SHAPES_ZOO_ONNX))
            same = (sha256(out) == sha256(SHAPES_ONNX), sha256(zoo) == sha256(SHAPES_ZOO_ONNX))
            print(f"RESULT re-exported files byte-identical to the committed ones: shapes.onnx {same[0]}, "
                  f"shapes-zoo.onnx {same[1]}", file=sys.stderr)
            for a, b, name in ((out, SHAPES_ONNX, "images"), (zoo, SHAPES_ZOO_ONNX, "image")):
                sa, sb = session(a), session(b)
                for path in FIXTURES:
                    if name == "image":
                        import export_zoo_layout
                        x = export_zoo_layout.prepare(path)[0]
                    else:
                        x = export.load_image(path)
                    for u, v in zip(sa.run(None, {name: x}), sb.run(None, {name: x})):
                        self.assertTrue(np.array_equal(u, v), f"{os.path.basename(a)} on {path}")


class ExportCoco(unittest.TestCase):
    def test_random_weights_through_the_shared_path(self):
        """The benchmark's command (R50-FPN, seeded random weights, about a minute), and the
        shortest_edge rule of its metadata against its graph."""
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "coco.onnx")
            p = run("export_coco.py", "--random-weights", "--seed", "0", "--output", out)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("verification passed", p.stdout)
            m = metadata(out)
            self.assertEqual(len(json.loads(m["labels"])), 91)
            self.assertEqual(m["name"], "coco-fasterrcnn_resnet50_fpn-random")
            self.assertEqual(m["random_weights_seed"], "0")
            rule = {"rule": "shortest_edge", "min_size": 800, "max_size": 1333, "interpolation": "bilinear",
                    "antialias": False}
            self.assertEqual(json.loads(m["resize"]), rule)
            sizes = [(640, 480), (480, 640), (333, 517), (800, 600), (4000, 3000), (1333, 800), (100, 219)]
            n = check_rule_against_graph(self, out, sizes + tricky_sizes(rule))
            print(f"RESULT shortest_edge 800/1333: rule == graph on {n} sizes", file=sys.stderr)

    def test_pretrained_offline_is_one_clear_line(self):
        import export_coco
        if export_coco.reachable(export_coco.DOWNLOAD_HOST) is None:
            self.skipTest(f"{export_coco.DOWNLOAD_HOST} is reachable here: this would download the weights")
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, TORCH_HOME=tmp)  # an empty hub cache
            p = run("export_coco.py", "--arch", "ssdlite320_mobilenet_v3_large", "--output",
                    os.path.join(tmp, "x.onnx"), env=env)
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            lines = p.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, p.stderr)
            self.assertIn("is unreachable", lines[0])
            self.assertIn("placed at", lines[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
