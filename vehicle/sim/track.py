"""DeepRacer track layouts: loading, centre-line projection and the road polygon.

A route file is an ``N x 6`` array in metres: centre x,y, inner border x,y, outer border x,y
(border points are the outer edges of the white lines). It is a loop when the first row
equals the last. The road is the union of the quads between consecutive border points, split
into triangles, so the same shapes serve the judge (exact tests) and the renderer (filled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

LINE_WIDTH_M = 0.0762  # 3-inch border lines, inside the border points
CENTRE_LINE_WIDTH_M = 0.0254  # 1-inch dashed centre line
_SAME_POINT_M = 1e-6


class TrackError(ValueError):
    """A track file that is missing, malformed or not a usable route."""


def track_names() -> list[str]:
    """Names of the bundled reference tracks (``--track NAME``)."""
    folder = resources.files("vehicle.sim").joinpath("tracks")
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".npy"))


def _resolve(spec: str | Path) -> Path:
    path = Path(spec)
    if path.suffix == ".npy" or path.exists() or "/" in str(spec):
        return path
    folder = resources.files("vehicle.sim").joinpath("tracks")
    candidate = Path(str(folder.joinpath(f"{spec}.npy")))
    if not candidate.is_file():
        raise TrackError(f"unknown track {spec!r}; bundled tracks: {', '.join(track_names())}")
    return candidate


def _read_route(path: Path) -> np.ndarray:
    """The array of a ``.npy`` file. Never unpickled: a route is numbers, and numpy's own
    message for anything else suggests loading it unsafely, which we must not pass on."""
    not_a_track = f"track file {path} is not a DeepRacer track .npy (an N x 6 array of numbers)"
    try:
        with path.open("rb") as file:
            if file.read(len(npy_format.MAGIC_PREFIX)) == npy_format.MAGIC_PREFIX:
                file.seek(0)
                return np.load(file, allow_pickle=False)
    except FileNotFoundError:
        raise TrackError(f"track file {path} does not exist") from None
    except IsADirectoryError:
        raise TrackError(f"{not_a_track}: it is a directory") from None
    except (OSError, ValueError, EOFError) as exc:
        raise TrackError(f"{not_a_track}: its array holds objects or is damaged") from exc
    raise TrackError(f"{not_a_track}: it has no numpy array header")


def load_track(spec: str | Path) -> Track:
    """A bundled track by name (``reinvent_base``) or a DeepRacer ``.npy`` file by path."""
    path = _resolve(spec)
    return Track.from_array(_read_route(path), name=path.stem)


@dataclass(frozen=True, eq=False)
class Track:
    """A validated route. Build with ``Track.from_array`` or ``load_track``."""

    name: str
    centre: np.ndarray  # (N, 2), duplicate consecutive points removed
    inner: np.ndarray
    outer: np.ndarray
    loop: bool
    _seg_start: np.ndarray = field(repr=False)
    _seg_vec: np.ndarray = field(repr=False)
    _seg_len: np.ndarray = field(repr=False)
    _seg_s: np.ndarray = field(repr=False)  # distance along the centre line at each start
    triangles: np.ndarray = field(repr=False)  # (T, 3, 2) the road polygon

    @classmethod
    def from_array(cls, data: object, name: str = "track") -> Track:
        array = np.asarray(data)
        if array.ndim != 2 or array.shape[1] != 6:
            raise TrackError(f"track {name!r} must be an N x 6 array, got shape {array.shape}")
        if not np.issubdtype(array.dtype, np.number):
            raise TrackError(f"track {name!r} must hold numbers, got {array.dtype}")
        array = array.astype(np.float64)
        if not np.all(np.isfinite(array)):
            raise TrackError(f"track {name!r} has non-finite coordinates")
        loop = bool(np.allclose(array[0], array[-1], atol=_SAME_POINT_M))
        step = np.linalg.norm(np.diff(array[:, :2], axis=0), axis=1)
        rows = array[np.concatenate(([True], step > _SAME_POINT_M))]
        if loop and not np.allclose(rows[0], rows[-1], atol=_SAME_POINT_M):
            rows = np.vstack([rows, rows[:1]])
        if len(rows) < (4 if loop else 2):
            raise TrackError(f"track {name!r} has too few distinct points ({len(rows)})")
        centre, inner, outer = rows[:, 0:2], rows[:, 2:4], rows[:, 4:6]
        width = np.linalg.norm(inner - outer, axis=1)
        if np.any(width < 2 * LINE_WIDTH_M):
            raise TrackError(f"track {name!r} is narrower than its two border lines somewhere")
        seg_vec = np.diff(centre, axis=0)
        seg_len = np.linalg.norm(seg_vec, axis=1)
        seg_s = np.concatenate(([0.0], np.cumsum(seg_len)[:-1]))
        i0, i1, o0, o1 = inner[:-1], inner[1:], outer[:-1], outer[1:]
        triangles = np.concatenate([np.stack([i0, i1, o1], 1), np.stack([i0, o1, o0], 1)])
        e1, e2 = triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]
        triangles = triangles[np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]) > 1e-12]
        return cls(
            name, centre, inner, outer, loop, centre[:-1], seg_vec, seg_len, seg_s, triangles
        )

    @property
    def length(self) -> float:
        """Centre-line length in metres (one lap on a loop)."""
        return float(self._seg_s[-1] + self._seg_len[-1])

    @property
    def width(self) -> float:
        """Median distance between the border points, metres."""
        return float(np.median(np.linalg.norm(self.inner - self.outer, axis=1)))

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance along the centre line and signed lateral offset (left +) of each point."""
        p = np.atleast_2d(np.asarray(points, dtype=np.float64))
        rel = p[:, None, :] - self._seg_start[None, :, :]
        t = np.clip(np.einsum("msk,sk->ms", rel, self._seg_vec) / self._seg_len**2, 0.0, 1.0)
        nearest = self._seg_start[None] + t[..., None] * self._seg_vec[None]
        dist2 = np.sum((p[:, None, :] - nearest) ** 2, axis=2)
        k = np.argmin(dist2, axis=1)
        rows = np.arange(len(p))
        s = self._seg_s[k] + t[rows, k] * self._seg_len[k]
        vec = self._seg_vec[k]
        cross = vec[:, 0] * rel[rows, k, 1] - vec[:, 1] * rel[rows, k, 0]
        lateral = np.sign(cross) * np.sqrt(dist2[rows, k])
        return s, lateral

    def pose_at(self, s: float, offset: float = 0.0) -> tuple[float, float, float]:
        """(x, y, heading) on the centre line at distance ``s`` (wrapped on a loop), shifted
        ``offset`` metres to the left."""
        s = s % self.length if self.loop else min(max(s, 0.0), self.length)
        k = int(np.clip(np.searchsorted(self._seg_s, s, side="right") - 1, 0, len(self._seg_s) - 1))
        t = (s - self._seg_s[k]) / self._seg_len[k]
        x, y = self._seg_start[k] + t * self._seg_vec[k]
        heading = float(np.arctan2(self._seg_vec[k, 1], self._seg_vec[k, 0]))
        return float(x - offset * np.sin(heading)), float(y + offset * np.cos(heading)), heading

    def on_road(self, points: np.ndarray) -> np.ndarray:
        """Whether each point lies on the road polygon (lines included)."""
        p = np.atleast_2d(np.asarray(points, dtype=np.float64))
        a, b, c = (self.triangles[None, :, i, :] for i in range(3))
        q = p[:, None, :]

        def side(u: np.ndarray, v: np.ndarray) -> np.ndarray:
            return (v[..., 0] - u[..., 0]) * (q[..., 1] - u[..., 1]) - (v[..., 1] - u[..., 1]) * (
                q[..., 0] - u[..., 0]
            )

        d1, d2, d3 = side(a, b), side(b, c), side(c, a)
        neg = (d1 < 0) | (d2 < 0) | (d3 < 0)
        pos = (d1 > 0) | (d2 > 0) | (d3 > 0)
        return np.any(~(neg & pos), axis=1)

    def extended(self, metres: float) -> Track:
        """This route with its last segment continued ``metres`` past the finish line (a
        loop is returned as it is): the run-off a camera sees beyond the end of a run."""
        if self.loop or metres <= 0:
            return self
        last = self.centre[-1] - self.centre[-2]
        shift = np.tile(last / np.linalg.norm(last) * metres, 3)
        end = np.concatenate([self.centre[-1], self.inner[-1], self.outer[-1]])
        rows = np.hstack([self.centre, self.inner, self.outer])
        return Track.from_array(np.vstack([rows, end + shift]), name=self.name)

    def bounds(self, margin: float) -> tuple[float, float, float, float]:
        """(x_min, y_min, x_max, y_max) of the borders, grown by ``margin`` metres."""
        pts = np.vstack([self.inner, self.outer])
        lo, hi = pts.min(axis=0) - margin, pts.max(axis=0) + margin
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])
