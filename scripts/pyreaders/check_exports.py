#!/usr/bin/env python3
"""Reads Lookout's dataset exports with independent, well-known readers and checks every box.

    check_exports.py DIR

DIR holds `expected.json` (written by the Rust test app/tests/export_readers.rs) and the
exports it names under "files": a COCO JSON, a YOLO and a Pascal VOC archive (a .zip, or a
folder it was extracted to) and a CSV. expected.json:

    {"tolerance_px": 0.5,
     "files": {"coco": "...json", "yolo": "...zip", "voc": "...zip", "csv": "...csv"},
     "classes": [{"id": 1, "name": "person"}, ...],          # in YOLO's class order
     "images": [{"file_name": "photo.jpg", "width": 640, "height": 480,
                 "boxes": [{"class_id": 1, "score": 0.9, "x1": .., "y1": .., "x2": .., "y2": ..}]}]}

`images` are in export order with their exported (safe, unique) names, `boxes` are the
detections the threshold kept, in order. Readers: pycocotools (COCO, loadRes, COCOeval),
globox (YOLO with the image size to denormalise, Pascal VOC), PyYAML (data.yaml), Python's csv.
Prints what it checked; exits 1 on any mismatch.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import json
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml
from globox import Annotation, AnnotationSet
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

FAILURES: list[str] = []


def fail(msg: str) -> None:
    FAILURES.append(msg)
    print(f"  MISMATCH: {msg}")


def check(cond: bool, msg: str) -> bool:
    if not cond:
        fail(msg)
    return cond


class BoxCheck:
    """Compares boxes within the tolerance and remembers the largest error seen."""

    def __init__(self, fmt: str, tol: float):
        self.fmt, self.tol, self.worst, self.count = fmt, tol, 0.0, 0

    def __call__(self, where: str, got: tuple, want: dict) -> None:
        self.count += 1
        exp = (want["x1"], want["y1"], want["x2"], want["y2"])
        err = max(abs(g - w) for g, w in zip(got, exp))
        self.worst = max(self.worst, err)
        check(err <= self.tol, f"{self.fmt} {where}: box {got} vs expected {exp} (off by {err:.4f} px)")

    def report(self) -> None:
        print(f"  {self.count} boxes compared, tolerance {self.tol} px, largest error {self.worst:.4f} px")


def unpacked(path: Path, tmp: Path) -> Path:
    """A folder with the archive's files (the path itself when it is already a folder)."""
    if path.is_dir():
        return path
    out = tmp / path.stem
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            name = info.filename
            check(
                not name.startswith(("/", "\\")) and ".." not in Path(name).parts and "\\" not in name,
                f"{path.name}: unsafe entry name {name!r}",
            )
        z.extractall(out)
    return out


def check_coco(path: Path, exp: dict, tol: float) -> None:
    print(f"COCO {path.name} with pycocotools")
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(path))
    cats = {c["id"]: c["name"] for c in gt.loadCats(gt.getCatIds())}
    want_cats = {c["id"]: c["name"] for c in exp["classes"]}
    check(cats == want_cats, f"COCO categories {cats} vs expected {want_cats}")
    names = {c["id"]: c["name"] for c in exp["classes"]}

    imgs = gt.loadImgs(gt.getImgIds())
    check(len(imgs) == len(exp["images"]), f"COCO has {len(imgs)} images, expected {len(exp['images'])}")
    by_name = {im["file_name"]: im for im in imgs}
    boxes = BoxCheck("COCO", tol)
    for want in exp["images"]:
        im = by_name.get(want["file_name"])
        if not check(im is not None, f"COCO lacks image {want['file_name']!r}"):
            continue
        check(
            (im["width"], im["height"]) == (want["width"], want["height"]),
            f"COCO {want['file_name']}: size {im['width']}x{im['height']}",
        )
        anns = gt.loadAnns(gt.getAnnIds(imgIds=[im["id"]]))
        if not check(len(anns) == len(want["boxes"]), f"COCO {want['file_name']}: {len(anns)} annotations, expected {len(want['boxes'])}"):
            continue
        for i, (a, b) in enumerate(zip(anns, want["boxes"])):
            x, y, w, h = a["bbox"]
            where = f"{want['file_name']}[{i}]"
            boxes(where, (x, y, x + w, y + h), b)
            check(a["category_id"] == b["class_id"], f"COCO {where}: category {a['category_id']}")
            check(a["category_id"] in names, f"COCO {where}: category {a['category_id']} not in categories")
            check(abs(a["score"] - b["score"]) <= 1e-6, f"COCO {where}: score {a['score']} vs {b['score']}")
            check(abs(a["area"] - w * h) <= 1e-2, f"COCO {where}: area {a['area']} vs {w * h}")
            check(a["iscrowd"] == 0, f"COCO {where}: iscrowd {a['iscrowd']}")
    boxes.report()

    # The annotations as detection results against the dataset itself: loadRes must take them,
    # and COCOeval must find every box (AP 1.0).
    results = copy.deepcopy(gt.dataset["annotations"])
    if not results:
        print("  no annotations: loadRes skipped (pycocotools cannot load an empty list)")
        return
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    check(len(dt.getAnnIds()) == len(results), "COCO loadRes lost annotations")
    check(abs(ev.stats[0] - 1.0) < 1e-9, f"COCOeval of the annotations against themselves: AP {ev.stats[0]}, expected 1.0")
    print(f"  loadRes took {len(results)} results; COCOeval against the dataset: AP={ev.stats[0]:.3f}")


def check_yolo(path: Path, exp: dict, tol: float, tmp: Path) -> None:
    print(f"YOLO {path.name} with globox (from_yolo_darknet) and PyYAML")
    root = unpacked(path, tmp)
    want_names = [c["name"] for c in exp["classes"]]
    classes = (root / "classes.txt").read_text(encoding="utf-8").splitlines()
    check(classes == want_names, f"YOLO classes.txt {classes} vs expected {want_names}")
    data = yaml.safe_load((root / "data.yaml").read_text(encoding="utf-8"))
    names = data.get("names")
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    check(names == want_names, f"YOLO data.yaml names {names} vs expected {want_names}")
    check(data.get("nc") == len(want_names), f"YOLO data.yaml nc {data.get('nc')}")
    check("train" in data and "val" in data, "YOLO data.yaml lacks train/val")

    files = sorted(p.name for p in (root / "labels").glob("*.txt"))
    want_files = sorted(Path(im["file_name"]).stem + ".txt" for im in exp["images"])
    check(files == want_files, f"YOLO label files {files} vs expected {want_files}")
    boxes = BoxCheck("YOLO", tol)
    for want in exp["images"]:
        stem = Path(want["file_name"]).stem
        p = root / "labels" / f"{stem}.txt"
        if not p.is_file():
            continue
        ann = Annotation.from_yolo_darknet(p, image_size=(want["width"], want["height"]))
        got = ann.boxes
        if not check(len(got) == len(want["boxes"]), f"YOLO {p.name}: {len(got)} boxes, expected {len(want['boxes'])}"):
            continue
        for i, (g, b) in enumerate(zip(got, want["boxes"])):
            where = f"{p.name}[{i}]"
            boxes(where, g.ltrb, b)
            idx = int(g.label)
            name = want_names[idx] if 0 <= idx < len(want_names) else None
            check(name == b["class"], f"YOLO {where}: class {g.label} = {name!r}, expected {b['class']!r}")
            check(g.confidence is None, f"YOLO {where}: unexpected confidence column")
    boxes.report()


def check_voc(path: Path, exp: dict, tol: float, tmp: Path) -> None:
    print(f"Pascal VOC {path.name} with globox (AnnotationSet.from_pascal_voc)")
    root = unpacked(path, tmp)
    files = sorted(p.name for p in (root / "Annotations").glob("*.xml"))
    want_files = sorted(Path(im["file_name"]).stem + ".xml" for im in exp["images"])
    check(files == want_files, f"VOC files {files} vs expected {want_files}")
    # The whole folder at once, as a user would load it: globox keys it by <filename>.
    dataset = AnnotationSet.from_pascal_voc(root / "Annotations")
    check(len(dataset) == len(exp["images"]), f"VOC: globox read {len(dataset)} annotations")
    boxes = BoxCheck("VOC", tol)
    for want in exp["images"]:
        name = want["file_name"]
        ann = dataset.get(name)
        if not check(ann is not None, f"VOC: no annotation with filename {name!r}"):
            continue
        check(ann.image_size == (want["width"], want["height"]), f"VOC {name}: size {ann.image_size}")
        if not check(len(ann.boxes) == len(want["boxes"]), f"VOC {name}: {len(ann.boxes)} objects, expected {len(want['boxes'])}"):
            continue
        for i, (g, b) in enumerate(zip(ann.boxes, want["boxes"])):
            where = f"{name}[{i}]"
            boxes(where, g.ltrb, b)
            check(g.label == b["class"], f"VOC {where}: name {g.label!r}, expected {b['class']!r}")
    boxes.report()


def csv_guarded(s: str) -> str:
    """What the CSV export writes for a text cell (OWASP's guard against formulas)."""
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


def check_csv(path: Path, exp: dict, tol: float) -> None:
    print(f"CSV {path.name} with Python's csv module")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = "file,label,class_id,score,x1,y1,x2,y2,image_width,image_height".split(",")
    check(rows[:1] == [header], f"CSV header {rows[:1]}")
    want_rows = [(im, b) for im in exp["images"] for b in im["boxes"]]
    rows = rows[1:]
    check(len(rows) == len(want_rows), f"CSV has {len(rows)} rows, expected {len(want_rows)}")
    boxes = BoxCheck("CSV", tol)
    for i, (row, (im, b)) in enumerate(zip(rows, want_rows)):
        where = f"row {i + 2}"
        if not check(len(row) == len(header), f"CSV {where}: {len(row)} fields"):
            continue
        check(row[0] == csv_guarded(im["file_name"]), f"CSV {where}: file {row[0]!r}, expected {csv_guarded(im['file_name'])!r}")
        check(row[1] == csv_guarded(b["class"]), f"CSV {where}: label {row[1]!r}, expected {csv_guarded(b['class'])!r}")
        check(int(row[2]) == b["class_id"], f"CSV {where}: class_id {row[2]}")
        check(abs(float(row[3]) - b["score"]) <= 1e-6, f"CSV {where}: score {row[3]}")
        boxes(where, tuple(float(v) for v in row[4:8]), b)
        check((int(row[8]), int(row[9])) == (im["width"], im["height"]), f"CSV {where}: image size {row[8]}x{row[9]}")
    boxes.report()


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    d = Path(sys.argv[1])
    exp = json.loads((d / "expected.json").read_text(encoding="utf-8"))
    tol = float(exp.get("tolerance_px", 0.5))
    names = {c["id"]: c["name"] for c in exp["classes"]}
    for im in exp["images"]:
        for b in im["boxes"]:
            b["class"] = names[b["class_id"]]
    n_boxes = sum(len(im["boxes"]) for im in exp["images"])
    print(f"expected: {len(exp['images'])} images, {n_boxes} boxes, {len(exp['classes'])} classes")
    files = exp["files"]
    with tempfile.TemporaryDirectory() as tmp:
        check_coco(d / files["coco"], exp, tol)
        check_yolo(d / files["yolo"], exp, tol, Path(tmp))
        check_voc(d / files["voc"], exp, tol, Path(tmp))
        check_csv(d / files["csv"], exp, tol)
    if FAILURES:
        print(f"FAILED: {len(FAILURES)} mismatches")
        return 1
    print("all exports read back by the independent readers match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
