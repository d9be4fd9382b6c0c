"""The car's web console: login, drive, models, calibration, system, DeepRacer's API."""

from webconsole.app import create_app
from webconsole.server import ConsoleHandle, start_console

__all__ = ["ConsoleHandle", "create_app", "start_console"]
