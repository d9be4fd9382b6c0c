"""Track files: loading, validation, projection, the road polygon."""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from vehicle.cli import main
from vehicle.sim.track import Track, TrackError, load_track, track_names

REFERENCE = {"reinvent_base": (17.71, 0.762), "reInvent2019_track": (23.12, 1.067)}


def test_bundled_tracks_are_the_reference_tracks() -> None:
    assert {"reinvent_base", "reInvent2019_track", "Oval_track", "Bowtie_track"} <= set(
        track_names()
    )


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_track_length_and_width(name: str) -> None:
    track = load_track(name)
    length, width = REFERENCE[name]
    assert track.loop
    assert track.length == pytest.approx(length, abs=0.01)
    assert track.width == pytest.approx(width, abs=0.005)


def test_load_by_path_equals_load_by_name(tmp_path) -> None:
    path = tmp_path / "mine.npy"
    np.save(path, np.load(str(resources.files("vehicle.sim") / "tracks" / "Oval_track.npy")))
    track = load_track(str(path))
    assert track.name == "mine"
    assert track.length == pytest.approx(load_track("Oval_track").length)


def test_straight_track_is_not_a_loop() -> None:
    assert not load_track("Straight_track").loop


def test_extended_continues_a_route_past_its_end_and_keeps_a_loop(strip, reinvent) -> None:
    longer = strip.extended(3.0)
    assert not longer.loop and longer.length == pytest.approx(strip.length + 3.0)
    x, y, heading = longer.pose_at(longer.length)
    assert (x, y, heading) == pytest.approx((strip.length + 3.0, 0.0, 0.0))
    assert longer.width == pytest.approx(strip.width)
    assert longer.on_road(np.array([[strip.length + 2.9, 0.3]])).all()
    assert not strip.on_road(np.array([[strip.length + 0.5, 0.0]])).any()
    assert reinvent.extended(3.0) is reinvent


def _save(tmp_path, array) -> str:
    path = tmp_path / "bad.npy"
    np.save(path, array)
    return str(path)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((10, 5)), "N x 6"),
        (np.zeros((2, 10, 6)), "N x 6"),
        (np.array([["a"] * 6] * 5), "numbers"),
    ],
)
def test_malformed_arrays_are_rejected(tmp_path, array, message) -> None:
    with pytest.raises(TrackError, match=message):
        load_track(_save(tmp_path, array))


def test_non_finite_coordinates_are_rejected(tmp_path, strip_array) -> None:
    array = strip_array()
    array[3, 4] = np.nan
    with pytest.raises(TrackError, match="non-finite"):
        load_track(_save(tmp_path, array))


def test_too_few_points_are_rejected(strip_array) -> None:
    with pytest.raises(TrackError, match="too few"):
        Track.from_array(strip_array()[:1])


def test_duplicate_points_do_not_count_as_points(strip_array) -> None:
    array = np.repeat(strip_array()[:1], 5, axis=0)
    with pytest.raises(TrackError, match="too few"):
        Track.from_array(array)


def test_road_narrower_than_its_lines_is_rejected(strip_array) -> None:
    with pytest.raises(TrackError, match="narrower"):
        Track.from_array(strip_array(width=0.1))


def test_missing_file_is_a_track_error(tmp_path) -> None:
    with pytest.raises(TrackError, match="does not exist"):
        load_track(str(tmp_path / "nothing.npy"))


NOT_A_TRACK = r"is not a DeepRacer track \.npy \(an N x 6 array of numbers\)"
UNSAFE_ADVICE = ("pickle", "unsafe", "trust")


@pytest.mark.parametrize("name", ["text.npy", "some.txt"])
def test_a_text_file_is_not_a_track(tmp_path, name: str) -> None:
    path = tmp_path / name
    path.write_text("x,y\n1,2\n")
    with pytest.raises(TrackError, match=NOT_A_TRACK + ": it has no numpy array header") as err:
        load_track(str(path))
    assert not any(word in str(err.value).lower() for word in UNSAFE_ADVICE)


class _LeavesAMark:
    """Unpickling this creates a file: the test can see whether anything was unpickled."""

    def __init__(self, mark: Path) -> None:
        self.mark = mark

    def __reduce__(self):
        return (Path.touch, (self.mark,))


def test_an_array_of_objects_is_never_unpickled(tmp_path) -> None:
    mark = tmp_path / "unpickled"
    path = tmp_path / "objects.npy"
    np.save(path, np.array([_LeavesAMark(mark)], dtype=object), allow_pickle=True)
    with pytest.raises(TrackError, match=NOT_A_TRACK + ": its array holds objects") as err:
        load_track(str(path))
    assert not mark.exists()
    assert not any(word in str(err.value).lower() for word in UNSAFE_ADVICE)


def test_a_truncated_track_is_a_track_error(tmp_path) -> None:
    path = tmp_path / "cut.npy"
    bundled = resources.files("vehicle.sim").joinpath("tracks", "reinvent_base.npy")
    path.write_bytes(bundled.read_bytes()[:300])
    with pytest.raises(TrackError, match=NOT_A_TRACK + ": its array holds objects or is damaged"):
        load_track(str(path))


def test_sim_names_a_text_track_in_one_line(tmp_path, capsys) -> None:
    track = tmp_path / "some.txt"
    track.write_text("not a track\n")
    assert main(["--data-dir", str(tmp_path), "sim", "--track", str(track), "--headless"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"vehicle: track file {track} is not a DeepRacer track .npy")


def test_unknown_name_lists_the_bundled_tracks() -> None:
    with pytest.raises(TrackError, match="reinvent_base"):
        load_track("no_such_track")


def test_centre_points_project_to_their_distance_with_no_offset(reinvent) -> None:
    s, lateral = reinvent.project(reinvent.centre[:-1])
    expected = np.concatenate(
        ([0.0], np.cumsum(np.linalg.norm(np.diff(reinvent.centre, axis=0), axis=1)))
    )[:-1]
    assert np.allclose(s, expected, atol=1e-9)
    assert np.allclose(lateral, 0.0, atol=1e-9)


@pytest.mark.parametrize("s", [0.5, 4.2, 9.9, 17.0])
@pytest.mark.parametrize("offset", [-0.2, 0.0, 0.25])
def test_pose_at_and_project_agree(reinvent, s: float, offset: float) -> None:
    x, y, _ = reinvent.pose_at(s, offset)
    got_s, got_lateral = reinvent.project((x, y))
    # off the centre line on a curve the nearest centre point shifts: a looser tolerance
    assert got_s[0] == pytest.approx(s, abs=0.01 if offset == 0 else 0.12)
    assert got_lateral[0] == pytest.approx(offset, abs=0.03)


def test_pose_at_wraps_on_a_loop(reinvent) -> None:
    assert reinvent.pose_at(1.0) == pytest.approx(reinvent.pose_at(1.0 + reinvent.length))


def test_left_offset_is_left_of_the_heading(strip) -> None:
    x, y, heading = strip.pose_at(5.0, 0.3)
    assert heading == pytest.approx(0.0)
    assert (x, y) == pytest.approx((5.0, 0.3))


def test_road_polygon_includes_the_lines_and_nothing_outside(strip) -> None:
    inside = [(5.0, 0.0), (5.0, 0.37), (5.0, -0.37), (0.01, 0.0)]
    outside = [(5.0, 0.39), (5.0, -0.39), (-0.01, 0.0), (20.01, 0.0)]
    assert strip.on_road(inside).all()
    assert not strip.on_road(outside).any()


def test_road_polygon_on_a_real_track(reinvent) -> None:
    x, y, heading = reinvent.pose_at(3.0)
    normal = np.array([-math.sin(heading), math.cos(heading)])
    half = 0.381
    points = [np.array([x, y]) + k * half * normal for k in (0.0, 0.9, -0.9, 1.2, -1.2)]
    assert reinvent.on_road(points).tolist() == [True, True, True, False, False]
