#!/usr/bin/env python3
"""Write an INT8 dynamically quantised copy of an ONNX model (weights int8, activations
quantised at run time) with onnxruntime.quantization.quantize_dynamic, keeping its metadata.

    python models/quantize.py --model models/shapes.onnx --out models/shapes.int8.onnx
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile


def quantize(model_path: str, out_path: str) -> str:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src = onnx.load(model_path)
    meta = {p.key: p.value for p in src.metadata_props}
    with tempfile.TemporaryDirectory() as tmp:
        pre = os.path.join(tmp, "pre.onnx")
        try:
            # symbolic shape inference + graph optimisation make more ops quantisable
            quant_pre_process(model_path, pre, skip_symbolic_shape=False)
        except Exception as e:  # pre-processing is an optimisation only
            print(f"note: quant_pre_process failed ({type(e).__name__}: {e}); quantising as is",
                  file=sys.stderr)
            pre = model_path
        quantize_dynamic(pre, out_path, weight_type=QuantType.QInt8)
    q = onnx.load(out_path)
    del q.metadata_props[:]
    for k, v in meta.items():
        if k == "name":
            v = v + "-int8"
        if k == "description":
            v = v + " INT8 dynamic quantisation (onnxruntime.quantization.quantize_dynamic)."
        q.metadata_props.add(key=k, value=v)
    onnx.save(q, out_path)
    return out_path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    quantize(a.model, a.out)
    print(f"wrote {a.out} ({os.path.getsize(a.out)} bytes; fp32 {os.path.getsize(a.model)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
