"""Verification: the eager PyTorch model against the ONNX file (models/export.py)."""

from __future__ import annotations

import glob
import os

from export_common import BOX_RTOL, BOX_TOL, FIXTURES, SCORE_TOL, UserError, _shorten, log
from export_resize import predict_resize


# ----------------------------------------------------------------------------- verification

def load_image(path: str):
    """PIL decode -> RGB -> float32 / 255 (a division, like Lookout) -> CHW."""
    import numpy as np
    from PIL import Image
    try:
        with Image.open(path) as im:
            x = np.asarray(im.convert("RGB"), dtype=np.float32) / np.float32(255.0)
    except Exception as e:
        raise UserError(f"could not read the check image {path} ({type(e).__name__}: {e})") from None
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def resize_probe(onnx_model):
    """An onnxruntime session over the graph's first bilinear Resize (the transform's), which
    answers the size the graph resizes an image to; None when there is no such node."""
    import onnx
    import onnxruntime as ort
    from onnx import helper
    m = onnx.load(onnx_model) if isinstance(onnx_model, str) else onnx_model
    node = next((n for n in m.graph.node if n.op_type == "Resize" and any(
        a.name == "mode" and helper.get_attribute_value(a) == b"linear" for a in n.attribute)), None)
    if node is None:
        return None
    # the nodes the Resize output depends on (onnx.utils.Extractor needs shape information the
    # exported graphs do not carry for that tensor)
    producer = {o: n for n in m.graph.node for o in n.output}
    needed, stack, seen = [], [node.output[0]], set()
    while stack:
        t = stack.pop()
        if t in seen or t not in producer:
            continue
        seen.add(t)
        n = producer[t]
        if id(n) not in {id(k) for k in needed}:
            needed.append(n)
            stack.extend(i for i in n.input if i)
    keep = {id(n) for n in needed}
    nodes = [n for n in m.graph.node if id(n) in keep]  # original (topological) order
    used = {i for n in nodes for i in n.input}
    inits = [i for i in m.graph.initializer if i.name in used]
    in_name, out_name = m.graph.input[0].name, node.output[0]
    graph = helper.make_graph(nodes, "resize_probe", [m.graph.input[0]],
                              [helper.make_tensor_value_info(out_name, onnx.TensorProto.FLOAT, None)], inits)
    sub = helper.make_model(graph, opset_imports=m.opset_import, ir_version=m.ir_version)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(sub.SerializeToString(), so, providers=["CPUExecutionProvider"])

    def size_of(x) -> tuple[int, int]:
        shape = sess.run([out_name], {in_name: x})[0].shape
        return int(shape[-1]), int(shape[-2])
    return size_of


def cutoffs(model) -> tuple[float, int]:
    """(score threshold, detections per image) of the model's post-processing."""
    holder = model.roi_heads if hasattr(model, "roi_heads") else model
    return float(holder.score_thresh), int(holder.detections_per_img)


def match(eager: dict, onnx_out: dict, thresh: float, limit: int, score_tol: float = SCORE_TOL):
    """Pair each ONNX detection with the eager detection of the same label whose box is nearest
    (max abs coordinate difference), best first. Returns (pairs, unexplained): pairs are
    (i_onnx, j_eager, box_diff, score_diff); unexplained lists detections without a partner that
    are not at a cut-off (score within score_tol of the score threshold, or of the lowest kept
    score when a side holds ``limit`` detections). box_diff is the largest |a - b| over the
    four coordinates."""
    import numpy as np
    eb, el, es = eager["boxes"], eager["labels"], eager["scores"]
    ob, ol, os_ = onnx_out["boxes"], onnx_out["labels"], onnx_out["scores"]
    cand = []
    for i in range(len(os_)):
        for j in np.flatnonzero(el == ol[i]):
            d = float(np.abs(ob[i].astype(np.float64) - eb[j].astype(np.float64)).max())
            cand.append((d, abs(float(os_[i]) - float(es[j])), i, int(j)))
    cand.sort()
    used_i, used_j, pairs = set(), set(), []
    for d, sd, i, j in cand:
        if i in used_i or j in used_j:
            continue
        used_i.add(i)
        used_j.add(j)
        pairs.append((i, j, d, sd))

    def at_cutoff(score, scores_all):
        if abs(score - thresh) <= score_tol:
            return True
        return len(scores_all) >= limit and abs(score - float(np.min(scores_all))) <= score_tol
    unexplained = []
    for i in range(len(os_)):
        if i not in used_i and not at_cutoff(float(os_[i]), es):
            unexplained.append(("onnx", i, float(os_[i])))
    for j in range(len(es)):
        if j not in used_j and not at_cutoff(float(es[j]), os_):
            unexplained.append(("eager", j, float(es[j])))
    return pairs, unexplained


def _eager_at(model, x, size_wh: tuple[int, int] | None) -> dict:
    """Eager detections; with size_wh, the transform's resize is forced to that size (same
    bilinear interpolation, only the output size is given instead of computed)."""
    import torch
    import torch.nn.functional as F
    t = torch.from_numpy(x)
    if size_wh is None:
        with torch.no_grad():
            out = model([t])[0]
    else:
        tr = model.transform

        def forced(image, target=None):
            return F.interpolate(image[None], size=(size_wh[1], size_wh[0]), mode="bilinear",
                                 align_corners=False)[0], target
        tr.resize = forced
        try:
            with torch.no_grad():
                out = model([t])[0]
        finally:
            del tr.resize
    return {k: out[k].detach().numpy() for k in ("boxes", "labels", "scores")}


def verify(model, onnx_path: str, images: list[str], rule: dict | None, threads: int = 2,
           box_tol: float = BOX_TOL, score_tol: float = SCORE_TOL, box_rtol: float = BOX_RTOL) -> bool:
    """Eager PyTorch vs the ONNX file on each image; prints a line per image; True when all agree."""
    import numpy as np
    import onnxruntime as ort
    import torch
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    probe = resize_probe(onnx_path)
    thresh, limit = cutoffs(model)
    log(f"verifying: eager PyTorch vs onnxruntime {ort.__version__} on {len(images)} image(s). Every "
        f"detection (score >= {thresh:g}) is paired with the other side's detection of the same label "
        f"and nearest box; pass when every box coordinate agrees within {box_tol:g} px + {box_rtol:g} x "
        f"the image's longer side, every score within {score_tol:g}, and no detection lacks a partner "
        f"(except one at the score or count cut-off).")
    ok = True
    for path in images:
        x = load_image(path)
        h, w = x.shape[1:]
        name = os.path.basename(path)
        notes = []
        eager_size = None
        with torch.no_grad():
            il, _ = model.transform([torch.from_numpy(x)])
        eh, ew = il.image_sizes[0]
        eager_size = (int(ew), int(eh))
        graph_size = probe(x) if probe is not None else None
        if rule is not None and graph_size is not None:
            want = predict_resize(rule, w, h)
            if want != graph_size:
                ok = False
                notes.append(f"FAIL: the metadata resize rule predicts {want[0]}x{want[1]} but the graph "
                             f"resizes to {graph_size[0]}x{graph_size[1]}")
        onnx_out = dict(zip(["boxes", "labels", "scores"],
                            sess.run(["boxes", "labels", "scores"], {"images": x})))
        forced = None
        if graph_size is not None and graph_size != eager_size:
            # torchvision's eager transform computes the size in float64, the traced graph in
            # float32: on some sizes they differ by a pixel. Compare like with like.
            plain = _eager_at(model, x, None)
            p_pairs, _ = match(plain, onnx_out, thresh, limit, score_tol)
            p_diff = max((p[2] for p in p_pairs), default=0.0)
            notes.append(f"eager resizes to {eager_size[0]}x{eager_size[1]} (float64 arithmetic), the graph "
                         f"to {graph_size[0]}x{graph_size[1]} (float32): eager rerun at the graph's size "
                         f"(at its own size it differed by up to {p_diff:.4f} px)")
            forced = graph_size
        eager = _eager_at(model, x, forced)
        pairs, unexplained = match(eager, onnx_out, thresh, limit, score_tol)
        box_diff = max((p[2] for p in pairs), default=0.0)
        score_diff = max((p[3] for p in pairs), default=0.0)
        allowed = box_tol + box_rtol * max(w, h)
        bad = bool(box_diff > allowed or score_diff > score_tol or unexplained)
        ok = ok and not bad
        size_txt = f"resized {graph_size[0]}x{graph_size[1]}" if graph_size else "no resize node found"
        log(f"  {name} {w}x{h} ({size_txt}): eager {len(eager['scores'])} detections, onnx "
            f"{len(onnx_out['scores'])}, paired {len(pairs)}; max |box diff| {box_diff:.6f} px "
            f"(allowed {allowed:.4f}), "
            f"max |score diff| {score_diff:.2e}" + ("  FAIL" if bad else "  ok"))
        if unexplained:
            notes.append("without a partner: " + _shorten(f"{side} #{k} score {s:.4f}" for side, k, s in unexplained))
        if bad and len(onnx_out["scores"]) >= 4 and len(np.unique(onnx_out["scores"])) <= len(onnx_out["scores"]) // 2:
            notes.append(f"the {len(onnx_out['scores'])} detections share only {len(np.unique(onnx_out['scores']))} "
                         "distinct scores: which of tied boxes survive top-k and NMS is arbitrary, so the two "
                         "runtimes may keep different ones (typical of untrained weights)")
        if bad:
            # for scale: how much does the eager model itself move under float-rounding-sized noise?
            nb, ns, nu = 0.0, 0.0, 0
            for seed in range(3):
                noisy = (x + np.random.default_rng(seed).normal(0, 1e-6, x.shape)).clip(0, 1).astype(np.float32)
                n_pairs, n_un = match(eager, _eager_at(model, noisy, forced), thresh, limit, score_tol)
                nb = max([nb] + [p[2] for p in n_pairs])
                ns = max([ns] + [p[3] for p in n_pairs])
                nu = max(nu, len(n_un))
            notes.append(
                f"for scale, eager against itself with 1e-6 noise on the input (3 draws): max |box diff| "
                f"{nb:.6f} px, max |score diff| {ns:.2e}, up to {nu} without a partner. If that is as "
                "large, the model amplifies rounding noise (untrained weights can; so can a borderline "
                "decision, which a few draws may miss) and the export is not at fault")
        if not len(onnx_out["scores"]):
            notes.append(f"no detections on either side: nothing scored >= {thresh:g} on this image")
        for n in notes:
            log(f"      {n}")
    return ok


def default_images() -> list[str]:
    return sorted(glob.glob(os.path.join(FIXTURES, "*.png")))
