# SPDX-License-Identifier: GPL-2.0-or-later
"""``python -m terminals.simulator``: the same as ``rollcall simulate``."""

from terminals.simulator.cli import main

main()
