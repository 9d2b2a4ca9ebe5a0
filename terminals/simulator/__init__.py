# SPDX-License-Identifier: GPL-2.0-or-later
"""Clean-room ZK terminal simulator on the binary protocol, TCP and UDP port 4370 (issue #3)."""
