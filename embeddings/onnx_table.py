"""The word-embedding table of an ONNX model stored as int8 with one scale per row.

Why: in the int8 e5-small the MatMuls are int8 but the 250,037 x 384 word-embedding table stays
fp32, which is 384 MB of the 407 MB file; reading and checking it is most of the time ONNX
Runtime takes to open the model (0.78 s of 0.78 s on 2 cores, docs/speed.md). Stored as int8 per
row the file is 120 MB and opens in 0.19 s. Per row (not one scale for the table, which cost
0.01 of NTREX EN->UK top-1): each token's vector keeps its own range, so the rounding error is at
most half a step of that row, about 0.4% of its largest value, below the MatMuls' own int8 error.

The graph change is local: `Gather(table, ids)` becomes
`Mul(Cast<float>(Gather(table_int8, ids)), Gather(row_scale, ids))`; only the rows a batch uses
are dequantized, so inference costs the same (measured 0.99x).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

TABLE = "bert.embeddings.word_embeddings.weight"


def quantize_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per row: (int8 table, float32 scales of shape (rows, 1))."""
    peak = np.abs(table).max(axis=1, keepdims=True)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(table / scale), -127, 127).astype(np.int8)
    return q, scale


def quantize_table(src: Path, dst: Path, table: str = TABLE) -> None:
    """Write `src` to `dst` with the initializer `table`, read by one Gather, as int8 per row."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    position = next((i for i, t in enumerate(graph.initializer) if t.name == table), None)
    if position is None:
        raise ValueError(f"{src.name} has no initializer {table!r}")
    weights = numpy_helper.to_array(graph.initializer[position])
    readers = [n for n in graph.node if table in n.input]
    if len(readers) != 1 or readers[0].op_type != "Gather" or readers[0].input[0] != table:
        raise ValueError(f"{table!r} must be read by exactly one Gather to be quantized by row")
    gather = readers[0]
    del graph.initializer[position]
    q, scale = quantize_rows(weights)
    graph.initializer.extend([
        numpy_helper.from_array(q, f"{table}.int8"),
        numpy_helper.from_array(scale, f"{table}.row_scale"),
    ])  # fmt: skip
    ids, out, name = gather.input[1], gather.output[0], gather.name or "word_embeddings"
    replacement = [
        helper.make_node("Gather", [f"{table}.int8", ids], [f"{name}/int8"], name=f"{name}/int8"),
        helper.make_node("Cast", [f"{name}/int8"], [f"{name}/float"], to=TensorProto.FLOAT,
                         name=f"{name}/cast"),
        helper.make_node("Gather", [f"{table}.row_scale", ids], [f"{name}/scale"],
                         name=f"{name}/scale"),
        helper.make_node("Mul", [f"{name}/float", f"{name}/scale"], [out], name=f"{name}/dequantize"),
    ]  # fmt: skip
    at = list(graph.node).index(gather)
    graph.node.remove(gather)
    for k, node in enumerate(replacement):
        graph.node.insert(at + k, node)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
