"""The car's sensor status: its one camera, and the stereo camera and LiDAR it lacks."""

from __future__ import annotations

from vehicle.service.client import DriveUnavailable
from webconsole.context import console

NOT_CONNECTED = "not_connected"


def sensor_status() -> dict[str, str]:
    """``connected`` while frames arrive; ``error`` for all when the drive cannot tell."""
    try:
        camera = "connected" if console().service.camera_connected() else NOT_CONNECTED
    except DriveUnavailable:
        return {"camera_status": "error", "stereo_status": "error", "lidar_status": "error"}
    return {"camera_status": camera, "stereo_status": NOT_CONNECTED, "lidar_status": NOT_CONNECTED}
