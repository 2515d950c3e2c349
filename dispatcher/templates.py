"""Loading message templates at start-up.

The canonical texts ship inside the package (`dispatcher/templates_data/{sv,en}.toml`), so
an installed service always has complete, tested templates. An operator changes texts by
putting a file of the same name in the override directory (`config/templates/` by
default, relative to the working directory like `config/dispatcher.toml`): every key in
it replaces the packaged one, keys it leaves out keep the packaged text. The result is
validated as a whole; any problem stops start-up with a message naming file, key and
problem.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from dispatcher.domain.messages import Templates, validate_templates

DEFAULT_DIRECTORY = Path("config/templates")
PACKAGED_DIRECTORY = "dispatcher/templates_data"


class TemplateError(ValueError):
    """A template problem, naming the file and key in the message."""


def _parse(text: str, source: str) -> dict[str, str]:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise TemplateError(f"{source}: not valid TOML: {error}") from None
    for key, value in raw.items():
        if not isinstance(value, str):
            raise TemplateError(f"{source}: {key}: must be a string, got {type(value).__name__}")
    return raw


def _packaged(language: str) -> tuple[dict[str, str], str]:
    source = f"{PACKAGED_DIRECTORY}/{language}.toml"
    folder = resources.files("dispatcher") / "templates_data"
    file = folder / f"{language}.toml"
    if not language.isalpha() or not file.is_file():
        available = sorted(
            p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
        )
        raise TemplateError(
            f"no templates for language {language!r} (available: {', '.join(available)})"
        )
    return _parse(file.read_text(encoding="utf-8"), source), source


def load_templates(language: str, directory: Path | None = None) -> Templates:
    """The templates for `language`: packaged texts with the override file's keys on top.

    `directory` is the override directory (default `config/templates`); an explicitly
    given directory must exist, a missing `{language}.toml` in it just means no overrides.
    Raises TemplateError.
    """
    texts, packaged_source = _packaged(language)
    sources = dict.fromkeys(texts, packaged_source)
    if directory is not None and not directory.is_dir():
        raise TemplateError(f"{directory}: template directory not found")
    override = (directory or DEFAULT_DIRECTORY) / f"{language}.toml"
    used = [packaged_source]
    if override.is_file():
        try:
            content = override.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise TemplateError(f"{override}: cannot read: {error}") from None
        overrides = _parse(content, str(override))
        texts.update(overrides)
        sources.update(dict.fromkeys(overrides, str(override)))
        used.append(str(override))
    templates = Templates(language=language, texts=texts, source=" + ".join(used))
    problems = validate_templates(templates)
    if problems:
        raise TemplateError(
            "; ".join(f"{sources.get(p.kind, packaged_source)}: {p}" for p in problems)
        )
    return templates
