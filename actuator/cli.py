"""The ``actuator`` command line.

``actuator build-info``   write build and git metadata for the info endpoint
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from actuator.__about__ import __version__


def _build_info(args: argparse.Namespace) -> int:
    from actuator.buildinfo import generate_build_info, write_build_info

    options: dict[str, Any] = {"name": args.name, "version": args.version, "group": args.group,
               "artifact": args.artifact, "cwd": args.cwd}
    if args.output == "-":
        print(json.dumps(generate_build_info(**options), indent=2, sort_keys=True))
        return 0
    data = write_build_info(args.output, **options)
    if not args.quiet:
        print(f"wrote {args.output}:")
        print(json.dumps(data, indent=2, sort_keys=True))
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="actuator",
        description="asgi-actuator: operational endpoints for ASGI applications.",
    )
    root.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = root.add_subparsers(dest="command", metavar="COMMAND", required=True)

    build = commands.add_parser(
        "build-info",
        help="write build and git metadata (run at image build time)",
        description="Write build-info.json for the info endpoint's build and git sections. "
        "Git data comes from the checkout at --cwd, or from CI variables "
        "(GIT_COMMIT, GITHUB_SHA, CI_COMMIT_SHA, ...; GIT_BRANCH, GITHUB_REF_NAME, ...) "
        "when git or the checkout is not available. SOURCE_DATE_EPOCH, when set, "
        "fixes the build time.",
    )
    build.add_argument("--output", "-o", default="build-info.json",
                       help="file to write, '-' for standard output (default: %(default)s)")
    build.add_argument("--name", help="application name")
    build.add_argument("--version", dest="version", help="application version")
    build.add_argument("--group", help="group or organisation")
    build.add_argument("--artifact", help="artifact name (default: --name)")
    build.add_argument("--cwd", default=".", help="git checkout to describe (default: .)")
    build.add_argument("--quiet", "-q", action="store_true", help="print nothing")
    build.set_defaults(run=_build_info)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (OSError, ValueError) as exc:
        print(f"actuator {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
