"""PWM back-ends: one small interface, several ways to reach a servo and an ESC."""

from vehicle.core.pwm.base import PwmBackend, PwmError

__all__ = ["PwmBackend", "PwmError"]
