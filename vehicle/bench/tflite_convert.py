"""Make the community car's .tflite files from a DeepRacer frozen graph, with TensorFlow.

Bench only, and run as a script by an interpreter that has TensorFlow (the ``bench-tflite``
extra, or any other Python given with ``--tf-python``); it imports nothing of ``vehicle``,
so that interpreter needs TensorFlow alone. TensorFlow Lite's own converter, as the
community car converts a racer's graph:

    python tflite_convert.py GRAPH.pb INPUT_NAME OUTPUT_NAME OUT_DIR

writes ``fp32.tflite``, ``fp16.tflite`` (weights stored in fp16, the community car's
default) and ``dynamic-int8.tflite`` (TFLite's dynamic-range quantization).
"""

from __future__ import annotations

import sys
from pathlib import Path


def convert(graph: str, input_name: str, output_name: str, out_dir: Path) -> None:
    import tensorflow as tf

    shapes = {input_name: [1, 120, 160, 1]}
    for kind in ("fp32", "fp16", "dynamic-int8"):
        converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
            graph, [input_name], [output_name], shapes
        )
        if kind != "fp32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if kind == "fp16":
            converter.target_spec.supported_types = [tf.float16]
        (out_dir / f"{kind}.tflite").write_bytes(converter.convert())


if __name__ == "__main__":
    convert(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]))
