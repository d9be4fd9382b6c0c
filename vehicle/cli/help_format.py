"""Help that shows each option's default, so ``vehicle drive --help`` says what it will do."""

from __future__ import annotations

import argparse


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to an option's help unless the help already names its default.

    Options whose default is None or False have no value to show: where None means something
    (the config file's value, the saved setting), their help says so in words.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        default = action.default
        if (
            not text
            or text is argparse.SUPPRESS
            or not action.option_strings
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or "default" in text
        ):
            return text
        return f"{text} (default: %(default)s)"


class VehicleArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose subcommand parsers (the same class) all show defaults."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)
