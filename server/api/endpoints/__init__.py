# SPDX-License-Identifier: GPL-2.0-or-later
"""The endpoints of ``/api/v1``, one module per area; each declares itself in the registry."""
