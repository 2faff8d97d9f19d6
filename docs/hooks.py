"""MkDocs hooks for the neuronmf documentation (see ``hooks:`` in mkdocs.yml).

- ``on_config``: nav entries whose Markdown file does not exist are dropped, so that
  the site still builds (with ``--strict``) while pages are being written.
- ``on_page_markdown``: the marker ``<!-- neuronmf-cli-help -->`` is replaced by the
  current ``neuronmf --help`` and ``neuronmf COMMAND --help`` texts, so that the
  command-line page can never fall behind the code.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path

log = logging.getLogger("mkdocs.hooks.neuronmf")

CLI_MARKER = "<!-- neuronmf-cli-help -->"


def _prune(items, docs_dir: Path):
    kept = []
    for item in items:
        if isinstance(item, str):
            if item.startswith(("http://", "https://")) or (docs_dir / item).is_file():
                kept.append(item)
            continue
        if isinstance(item, dict):
            new = {}
            for title, value in item.items():
                if isinstance(value, list):
                    value = _prune(value, docs_dir)
                    if value:
                        new[title] = value
                elif isinstance(value, str) and (
                    value.startswith(("http://", "https://"))
                    or (docs_dir / value).is_file()
                ):
                    new[title] = value
                else:
                    log.info("nav: skipping %r (%s does not exist yet)", title, value)
            if new:
                kept.append(new)
    return kept


def on_config(config, **kwargs):
    if config.nav:
        config.nav = _prune(config.nav, Path(config.docs_dir))
    return config


def _cli_help() -> str:
    from neuronmf.cli.main import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal width: fix it
    try:
        parser = build_parser()
        parser.prog = "neuronmf"
        blocks = [("neuronmf --help", parser.format_help())]
        sub = next(
            a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"
        )
        for name, subparser in sub.choices.items():
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                subparser.print_help()
            blocks.append((name, buf.getvalue()))
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    parts = []
    for name, text in blocks:
        if name == "neuronmf --help":
            parts.append(f"### `neuronmf --help`\n\n```text\n{text.rstrip()}\n```\n")
        else:
            parts.append(
                f"### `neuronmf {name}`\n\n"
                f"```text\n$ neuronmf {name} --help\n{text.rstrip()}\n```\n"
            )
    return "\n".join(parts)


def on_page_markdown(markdown, page, config, files, **kwargs):
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, _cli_help())
    return markdown
