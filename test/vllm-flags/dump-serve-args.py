"""Prints, as JSON, every option of `vllm serve` from vLLM's own argument parser, and checks
argument lists against it with vLLM's own parser and validate_parsed_serve_args.

  python dump-serve-args.py                      the option table
  python dump-serve-args.py --check ARGS_JSON    exit 0 when `vllm serve ARGS...` parses and
                                                 validates (ARGS_JSON: a JSON list)
"""

import argparse
import json
import sys

import vllm
from vllm.entrypoints.cli.serve import ServeSubcommand
from vllm.entrypoints.common.cli_args import validate_parsed_serve_args
from vllm.utils.argparse_utils import FlexibleArgumentParser


def parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """vLLM's root parser (which rewrites `serve --model X` before parsing) and its serve parser."""
    root = FlexibleArgumentParser(prog="vllm")
    subparsers = root.add_subparsers(dest="subparser")
    return root, ServeSubcommand().subparser_init(subparsers)


def type_name(fn) -> str:
    """`int`, `loads`, or a wrapper with what it wraps: `_optional_type(int)`, `_parse_type(loads)`."""
    if fn is None:
        return "str"
    name = getattr(fn, "__name__", None) or type(fn).__name__
    inner = [
        type_name(cell.cell_contents)
        for cell in (getattr(fn, "__closure__", None) or [])
        if callable(cell.cell_contents)
    ]
    return f"{name}({', '.join(inner)})" if inner else name


def describe(action: argparse.Action) -> dict:
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        kind = "flag"
    elif isinstance(action, argparse.BooleanOptionalAction):
        kind = "boolean-optional"
    elif action.nargs == 0:
        kind = "flag"
    else:
        kind = "value"
    entry = {"options": sorted(action.option_strings), "kind": kind}
    if kind == "value":
        entry["type"] = type_name(action.type)
        if action.nargs is not None:
            entry["nargs"] = str(action.nargs)
        if action.choices is not None:
            entry["choices"] = sorted(str(c) for c in action.choices)
    return entry


def main() -> None:
    root, parser = parsers()
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        args = root.parse_args(["serve", *json.loads(sys.argv[2])])
        validate_parsed_serve_args(args)
        print("accepted")
        return
    options = [describe(a) for a in parser._actions if a.option_strings and a.dest != "help"]
    options.sort(key=lambda e: e["options"][0])
    json.dump({"vllm": vllm.__version__, "command": ["vllm", "serve"], "options": options}, sys.stdout, indent=1)
    sys.stdout.write("\n")


main()
