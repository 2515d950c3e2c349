"""The service's parts as the benchmarks build them, independent of local configuration."""

from __future__ import annotations

import tempfile
from pathlib import Path

from dispatcher.callup_messages import CallUpMessages
from dispatcher.settings import Settings
from dispatcher.templates import load_templates


def callup_messages(settings: Settings) -> CallUpMessages:
    """Call-up rendering with the packaged templates only: an operator's overrides in
    `config/templates/` would make runs on different checkouts incomparable."""
    with tempfile.TemporaryDirectory(prefix="bench-templates-") as empty:
        templates = load_templates(settings.service.language, Path(empty))
    return CallUpMessages(templates, settings.service.municipality)
