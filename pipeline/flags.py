"""Command-line errors from invoke's parser, reported in the pipeline's style.

Invoke rejects an unknown task, an unknown flag or a flag without its value with its own text
("No idea what '--image_tag' is!") and exit code 1. `install` wraps the two Program steps that
raise those errors, so they end with one ERROR line that names the task, the flag and the valid
choices, and with exit code 2 like every other invalid input.

The wrappers sit on `Program.parse_tasks` and `Program.parse_cleanup`, not on `Parser.parse_argv`:
invoke's tab completion calls `Parser.parse_argv` on partial command lines and relies on catching
ParseError there. Both steps run after invoke imports tasks.py, which calls `install`.

Checked against invoke 2.2.1. ParseError carries no structured token, so `describe` reads it back
from the message texts of invoke/parser/parser.py and program.py. Any other text falls back to
invoke's own message, still as one line with exit code 2.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable, Sequence

from invoke.exceptions import Exit, ParseError
from invoke.parser import Argument, ParserContext
from invoke.program import Program

from pipeline.validate import choices

UNKNOWN_TOKEN = re.compile(r"No idea what (?P<token>.+) is!")
MISSING_VALUE = re.compile(r"Flag <Argument: (?P<name>\w+)")
INSTALLED_MARK = "_agent_dk_reports_parse_errors"


def install() -> None:
    """Make invoke report command-line errors as one ERROR line with exit code 2. Safe to call twice.

    NOTE: invoke raises no ParseError for a repeatable flag without a value, such as a trailing
    `push --also-tag`: the task gets an empty list and pushes no extra tag.
    """
    for step in ("parse_tasks", "parse_cleanup"):
        original = getattr(Program, step)
        if not getattr(original, INSTALLED_MARK, False):
            setattr(Program, step, _reporting_parse_errors(original))


def _reporting_parse_errors(step: Callable[[Program], None]) -> Callable[[Program], None]:
    @functools.wraps(step)
    def wrapper(program: Program) -> None:
        try:
            step(program)
        except ParseError as error:
            # parse_tasks sets program.parser before it parses, so both steps can list the tasks.
            tasks = sorted(program.parser.contexts)
            argv = list(program.core.unparsed) if program.core is not None else []
            raise Exit(f"ERROR: {describe(error, tasks, argv)}", code=2) from None

    setattr(wrapper, INSTALLED_MARK, True)
    return wrapper


def describe(error: ParseError, tasks: Sequence[str], argv: Sequence[str]) -> str:
    """Turn an invoke ParseError into the text of one ERROR line.

    tasks are the valid task names. argv is the command line after invoke's own options, and
    shows how an unknown token was written (`--dry-run=yes` reaches the parser as two tokens).
    """
    text = str(error)
    context = error.context
    task = context.name if context is not None else None
    unknown = UNKNOWN_TOKEN.fullmatch(text)
    if unknown:
        token = _literal(unknown["token"])
        if context is None or task is None:
            return _unknown_before_task(token, tasks)
        if token.startswith("-"):
            return _unknown_flag(token, context)
        return _unexpected_value(token, context, argv)
    missing = MISSING_VALUE.match(text)
    if missing and context is not None and task is not None and missing["name"] in context.args:
        return _missing_value(context.args[missing["name"]], task)
    return f"invalid command line: {text}"


def _literal(quoted: str) -> str:
    # Invoke quotes the token with !r, so a token that contains a quote comes back intact.
    try:
        value = ast.literal_eval(quoted)
    except (ValueError, SyntaxError):
        return quoted
    return value if isinstance(value, str) else quoted


def _unknown_before_task(token: str, tasks: Sequence[str]) -> str:
    if token.startswith("-"):
        return (
            f"unknown option {token!r} before the task name: task flags go after the task, "
            f"such as invoke deploy --env=uat. Valid tasks are {', '.join(tasks)}"
        )
    return f"unknown task {token!r}: {choices(token, tasks, 'tasks')}"


def _unknown_flag(token: str, context: ParserContext) -> str:
    valid = choices(token, _long_flags(context), "flags", normalise=_flag_words)
    return f"unknown flag {token!r} for task {context.name}: {valid}"


def _unexpected_value(token: str, context: ParserContext, argv: Sequence[str]) -> str:
    """Explain a bare word after a task: a value given to a switch, a flag given twice, or a stray value."""
    flags = context.flags
    given: set[str] = set()
    # The flag written just before, without "=", and whether it was given before that.
    pending: tuple[Argument, bool] | None = None
    for written in argv:
        name, equals, value = written.partition("=")
        if name in flags:
            argument = flags[name]
            repeated = _long_name(argument) in given
            given.add(_long_name(argument))
            pending = None if equals else (argument, repeated)
            if equals and value == token and (repeated or not argument.takes_value):
                return _misplaced(token, argument, context.name)
            continue
        if pending is not None:
            argument, repeated = pending
            pending = None
            if written == token and (repeated or not argument.takes_value):
                return _misplaced(token, argument, context.name)
    return (
        f"unexpected argument {token!r} for task {context.name}: give each value with its flag, "
        f"such as --flag=VALUE. Valid flags are {', '.join(_long_flags(context))}"
    )


def _misplaced(token: str, argument: Argument, task: str) -> str:
    long_name = _long_name(argument)
    if not argument.takes_value:
        return f"{long_name} of task {task} takes no value, got {token!r}: give {long_name} on its own"
    return f"{long_name} of task {task} is given more than once (again with {token!r}): give it once"


def _missing_value(argument: Argument, task: str) -> str:
    long_name = _long_name(argument)
    described = f" ({argument.help})" if argument.help else ""
    return f"missing value for {long_name} of task {task}: give {long_name}=VALUE{described}"


def _long_name(argument: Argument) -> str:
    # names[0] is the dashed form, such as dry-run, and later names are short aliases such as d.
    return f"--{argument.names[0]}"


def _long_flags(context: ParserContext) -> list[str]:
    return sorted(_long_name(argument) for argument in context.args.values())


def _flag_words(flag: str) -> str:
    # --dry_run, --Dry-Run and dry-run all mean the flag --dry-run.
    return flag.lstrip("-").replace("_", "-").lower()
