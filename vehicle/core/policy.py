"""The network, behind one small interface, and how the drive process opens a prepared bundle.

A ``Policy`` is ``run(tensor) -> outputs`` plus the input ``layout`` its tensor must have.
Two engines implement it: onnxruntime for ONNX bundles (``vehicle.core.onnxruntime_policy``)
and OpenVINO's runtime for everything converted from DeepRacer's exports
(``vehicle.core.openvino_policy``). Each engine is imported only when a bundle needs it, so a
drive process loads one inference library, not both.

``open_prepared`` is the drive process's only way in: it reads the stamp the service wrote
(``vehicle.core.prepared``), the metadata, and the network file the stamp names, then
cross-checks them cheaply (input shape and layout, output count and names, finite outputs
on a test frame). It parses no archive, detects no format and converts nothing: a model
that needs any of that has not been prepared, and is refused.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from vehicle.core.metadata import METADATA_FILE, ModelError, ModelMetadata, load_metadata
from vehicle.core.prepared import PreparedStamp, read_stamp
from vehicle.core.preprocess import INPUT_HEIGHT, INPUT_WIDTH, LAYOUT_SHAPES, Layout

_LAYOUTS: dict[tuple[object, ...], Layout] = {
    (INPUT_HEIGHT, INPUT_WIDTH, 1): "NHWC",
    (1, INPUT_HEIGHT, INPUT_WIDTH): "NCHW",
}
WANTED_SHAPE = "[N,120,160,1] (NHWC) or [N,1,120,160] (NCHW)"
# Engine name (as in prepared.json) -> module and class, imported on first use.
ENGINE_CLASSES = {
    "onnxruntime": ("vehicle.core.onnxruntime_policy", "OnnxRuntimePolicy"),
    "openvino": ("vehicle.core.openvino_policy", "OpenVinoPolicy"),
}


def check_threads(threads: int) -> int:
    """One inference thread by default; two for the bench (see the engines' docstrings)."""
    if threads not in (1, 2):
        raise ValueError(f"inference threads must be 1 or 2, got {threads!r}")
    return threads


def layout_of(shape: list[object]) -> Layout:
    """The layout of a DeepRacer image input; ``ModelError`` for anything else.

    ``shape`` has ints for fixed dimensions and anything else (a name, None, -1) for
    dynamic ones.
    """
    if len(shape) != 4:
        raise ModelError(f"the model input has shape {shape}; expected {WANTED_SHAPE}")
    batch, rest = shape[0], tuple(shape[1:])
    if isinstance(batch, int) and batch not in (1, -1):
        raise ModelError(f"the model input has batch size {batch}; expected 1 or dynamic")
    if rest not in _LAYOUTS:
        if 3 in rest:
            raise ModelError(
                f"the model input has shape {shape} (3 colour channels); DeepRacer models "
                f"take one grayscale frame, {WANTED_SHAPE}"
            )
        raise ModelError(f"the model input has shape {shape}; expected {WANTED_SHAPE}")
    return _LAYOUTS[rest]


def check_test_outputs(outputs: np.ndarray, n_outputs: int) -> None:
    """The outputs on a mid-grey frame must match the metadata and be finite float32."""
    if outputs.size != n_outputs:
        raise ModelError(
            f"the model has {outputs.size} outputs but the metadata describes {n_outputs} "
            f"({'actions' if n_outputs != 2 else 'continuous values or actions'})"
        )
    if outputs.dtype != np.float32:
        raise ModelError(f"the model's outputs must be float32, they are {outputs.dtype}")
    if not np.isfinite(outputs).all():
        raise ModelError("the model's outputs on a test frame are not finite (NaN or inf)")


def grey_frame(layout: Layout) -> np.ndarray:
    """A mid-grey frame: any finite network gives finite outputs for it."""
    return np.full(LAYOUT_SHAPES[layout], 128.0, dtype=np.float32)


def check_tensor(tensor: np.ndarray, layout: Layout) -> None:
    """A tensor an engine may bind its input to: the preprocessor's shape and type."""
    if tensor.shape != LAYOUT_SHAPES[layout] or tensor.dtype != np.float32:
        raise ModelError(
            f"input tensor must be float32 {LAYOUT_SHAPES[layout]}, "
            f"got {tensor.dtype} {tensor.shape}"
        )
    if not tensor.flags.c_contiguous:
        raise ModelError("input tensor must be C-contiguous")


class Policy(ABC):
    """An open network: ``run(tensor)`` -> its 1-D float32 outputs.

    Subclasses check at construction what guards the outputs (one DeepRacer-shaped image
    input, the metadata's output count, finite outputs on a test frame), allocate the output
    buffer ``_out`` and implement binding and inference; ``run`` then only infers.
    """

    engine: str
    layout: Layout
    n_outputs: int
    input_name: str
    output_name: str
    _out: np.ndarray
    _bound: np.ndarray | None = None

    @abstractmethod
    def _bind(self, tensor: np.ndarray) -> None:
        """Make ``tensor`` (checked) the engine's input, without copying it."""

    @abstractmethod
    def _infer(self) -> None:
        """Run the network on the bound input into ``_out``."""

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """Infer on a preprocessed tensor; returns a fresh 1-D float32 array.

        The drive loop passes the same preprocessor buffer every time, so it is bound once.
        The copy returned is deliberate: telemetry threads keep it.
        """
        if tensor is not self._bound:
            check_tensor(tensor, self.layout)
            self._bind(tensor)
            self._bound = tensor
        self._infer()
        return self._out.reshape(-1).copy()


def open_engine(stamp: PreparedStamp, directory: Path, *, threads: int = 1) -> Policy:
    """The engine the stamp names, opened on the bundle's network file."""
    module_name, class_name = ENGINE_CLASSES[stamp.engine]
    engine = getattr(importlib.import_module(module_name), class_name)
    policy: Policy = engine(
        Path(directory) / stamp.model_file,
        stamp.n_outputs,
        threads=threads,
        output_name=stamp.output_name,
    )
    return policy


def open_prepared(directory: Path, *, threads: int = 1) -> tuple[ModelMetadata, Policy]:
    """Open a bundle the service prepared; ``ModelError`` says why it cannot drive.

    Cheap by design (a stamp, a metadata file, one engine session and one test frame), so
    the drive process can switch models without parsing anything a client sent.
    """
    directory = Path(directory)
    stamp = read_stamp(directory)
    if METADATA_FILE not in stamp.file_sizes:
        raise ModelError(f"the prepared model does not list {METADATA_FILE}")
    metadata = load_metadata(directory / METADATA_FILE)
    if metadata.action_space.n_outputs != stamp.n_outputs:
        raise ModelError(
            f"the prepared model has {stamp.n_outputs} outputs but its metadata describes "
            f"{metadata.action_space.n_outputs}"
        )
    policy = open_engine(stamp, directory, threads=threads)
    if (policy.layout, policy.input_name) != (stamp.layout, stamp.input_name):
        raise ModelError(
            f"the network's input is {policy.input_name!r} ({policy.layout}), but the "
            f"prepared model says {stamp.input_name!r} ({stamp.layout})"
        )
    return metadata, policy
