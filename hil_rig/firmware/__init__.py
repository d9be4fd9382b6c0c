"""The rig's MicroPython firmware. Only ``wire.py`` and ``main.py`` are copied to the Pico;
``wire`` is pure and also imported by CPython (emulator, parser tests), so the host and the
rig share one definition of the line format."""
