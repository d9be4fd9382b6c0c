"""Render the example camera frames: what the simulated car's camera sees from points spread
round reinvent_base, on the centre line, facing along the track (straights and both turns).

Run from the repository root: ``python models/examples/render_frames.py``. The frames are
160x120 grayscale PNGs, DeepRacer's input size; the car reads them with ``--source FOLDER``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

from vehicle.sim.render import Renderer
from vehicle.sim.track import load_track

HERE = Path(__file__).resolve().parent


def render_frames(out: Path, track_name: str = "reinvent_base", count: int = 24) -> list[Path]:
    track = load_track(track_name)
    renderer = Renderer(track)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        x, y, heading = track.pose_at(track.length * i / count)
        path = out / f"{track_name}_{i:02d}.png"
        if not cv2.imwrite(str(path), renderer.render(x, y, heading)):
            raise OSError(f"cannot write {path}")
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "frames", help="output folder")
    parser.add_argument("--track", default="reinvent_base", help="track name or .npy file")
    parser.add_argument("--count", type=int, default=24, help="frames, evenly spaced")
    args = parser.parse_args()
    for path in render_frames(args.out, args.track, args.count):
        print(path)


if __name__ == "__main__":
    main()
