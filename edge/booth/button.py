"""A physical push button on a Raspberry Pi GPIO pin, through gpiozero (the Pi's own library, apt's
python3-gpiozero).

Wire the button between the pin and ground: the pin's internal pull-up keeps it high, a press pulls
it low. On a workstation there is no gpiozero or no GPIO; that is not an error, the mirror says
once that the button is off and the key still works. gpiozero calls `on_press` on its own thread:
the callback must only set a flag.
"""
from __future__ import annotations

import logging
import warnings
from typing import Callable

log = logging.getLogger(__name__)

BOUNCE_S = 0.05


class ButtonUnavailable(Exception):
    """No GPIO button here; the message says why in one line."""


class GpioButton:
    def __init__(self, pin: int, on_press: Callable[[], None], pin_factory=None):
        try:
            from gpiozero import Button
        except ImportError:
            raise ButtonUnavailable("gpiozero is not installed (on a Pi: sudo apt install python3-gpiozero)") from None
        try:
            with warnings.catch_warnings():  # gpiozero warns once per pin library it cannot load
                warnings.simplefilter("ignore")
                self._button = Button(pin, pull_up=True, bounce_time=BOUNCE_S, pin_factory=pin_factory)
        except Exception as e:  # gpiozero raises its own errors, OSError or RuntimeError by pin library
            raise ButtonUnavailable(f"GPIO{pin}: {type(e).__name__}: {e}") from None
        self._button.when_pressed = lambda *_: on_press()
        self.pin = pin

    def close(self) -> None:
        self._button.close()


def open_button(pin: int, on_press: Callable[[], None], pin_factory=None) -> GpioButton | None:
    """The button on `pin`, or None (logged once) where there is none; pin 0 = no button."""
    if pin == 0:
        return None
    try:
        button = GpioButton(pin, on_press, pin_factory)
    except ButtonUnavailable as e:
        log.info("snapshot button off: %s; the space and s keys still work", e)
        return None
    log.info("snapshot button on GPIO%d", pin)
    return button
