"""Hardware-in-the-loop rig: a Pico measures the car's PWM; the host checks it against the model.

``firmware/`` runs on the Pico (MicroPython); ``protocol``, ``client``, ``harness`` and
``emulator`` run on the host. The emulator speaks the firmware's protocol from the mock PWM
back-end so that CI exercises the same harness as a real rig.
"""
