"""The car's web console: login, drive, models, calibration, system, DeepRacer's API.

The package itself imports nothing: ``vehicle password set`` reads ``webconsole.credentials``
and must start without loading Flask. The app is ``webconsole.app.create_app``, the server
``webconsole.server.start_console``.
"""
