"""The ``actuator`` command line.

``actuator build-info``   write build and git metadata for the info endpoint
``actuator hash-token``   make a bearer token (or a password) hash for security settings
``actuator serve``        run a standalone actuator (a sidecar) from a TOML file
``actuator settings``     check the ACTUATOR_* environment and print the settings it makes
``actuator fleet ...``    the fleet console: serve it, list groups and instances
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from actuator.__about__ import __version__


def _build_info(args: argparse.Namespace) -> int:
    from actuator.info.buildinfo import generate_build_info, write_build_info

    options: dict[str, Any] = {
        "name": args.name,
        "version": args.version,
        "group": args.group,
        "artifact": args.artifact,
        "cwd": args.cwd,
    }
    if args.output == "-":
        print(json.dumps(generate_build_info(**options), indent=2, sort_keys=True))
        return 0
    data = write_build_info(args.output, **options)
    if not args.quiet:
        print(f"wrote {args.output}:")
        print(json.dumps(data, indent=2, sort_keys=True))
    return 0


def _hash_token(args: argparse.Namespace) -> int:
    from actuator.security.credentials import generate_token, hash_password, hash_token

    if args.generate:
        token = generate_token()
        print(f"token: {token}")
        print(f"hash:  {hash_token(token)}")
        return 0
    what = "password" if args.password else "token"
    if sys.stdin.isatty():
        secret = getpass.getpass(f"{what.capitalize()}: ")
        if args.password and getpass.getpass("Again: ") != secret:
            raise ValueError("the passwords differ")
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        raise ValueError(f"no {what} given on standard input")
    print(hash_password(secret) if args.password else hash_token(secret))
    return 0


def _settings(args: argparse.Namespace) -> int:
    from actuator.settings import load_settings, settings_markdown

    if args.reference:
        print(settings_markdown())
        return 0
    # Validates like an app's start-up would; errors name the setting and its variable.
    print(load_settings(None).model_dump_json(indent=2))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from actuator.servers.sidecar import build_actuator, load_config, serve

    config = load_config(args.config)
    if args.check:
        build_actuator(config, args.config)
        config.server.check_files("server")
        print(f"{args.config}: OK")
        return 0
    logging.basicConfig(
        level=args.log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s"
    )
    serve(config, host=args.host, port=args.port, log_level=args.log_level, source=args.config)
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
    build.add_argument(
        "--output",
        "-o",
        default="build-info.json",
        help="file to write, '-' for standard output (default: %(default)s)",
    )
    build.add_argument("--name", help="application name")
    build.add_argument("--version", dest="version", help="application version")
    build.add_argument("--group", help="group or organisation")
    build.add_argument("--artifact", help="artifact name (default: --name)")
    build.add_argument("--cwd", default=".", help="git checkout to describe (default: .)")
    build.add_argument("--quiet", "-q", action="store_true", help="print nothing")
    build.set_defaults(run=_build_info)

    hashing = commands.add_parser(
        "hash-token",
        help="hash a bearer token or a password for the security settings",
        description="Print the hash to put in security.tokens (bearer tokens, sha256) or, with "
        "--password, in security.users (HTTP basic, scrypt). The secret is read from standard "
        "input (or asked for on a terminal), never from the command line, where other users "
        "could see it.",
        epilog="examples:\n"
        "  actuator hash-token --generate           # new random token and its hash\n"
        '  printf %s "$TOKEN" | actuator hash-token  # hash an existing token\n'
        "  actuator hash-token --password           # asks for a password, prints its hash",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = hashing.add_mutually_exclusive_group()
    mode.add_argument(
        "--generate", action="store_true", help="make a new random token and print it with its hash"
    )
    mode.add_argument(
        "--password",
        action="store_true",
        help="hash a password for HTTP basic (scrypt) instead of a token",
    )
    hashing.set_defaults(run=_hash_token)

    serve = commands.add_parser(
        "serve",
        help="run a standalone actuator (a sidecar) configured by a TOML file",
        description="Serve the actuator endpoints beside any process, with health indicators "
        "(http, tcp, disk, command, file), info sections, security and TLS declared in a TOML "
        "file. See docs/deployment.md (Sidecar) for the file format.",
    )
    serve.add_argument(
        "--config", "-c", required=True, metavar="FILE", help="the TOML configuration file"
    )
    serve.add_argument("--host", help="listen address (overrides [server] host)")
    serve.add_argument(
        "--port", type=int, help="listen port (overrides [server] port; 0 picks a free one)"
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level (default: %(default)s)",
    )
    serve.add_argument("--check", action="store_true", help="validate the configuration and exit")
    serve.set_defaults(run=_serve)

    settings = commands.add_parser(
        "settings",
        help="check the ACTUATOR_* environment and print the effective settings",
        description="Validate the ACTUATOR_* environment variables as an app's start-up "
        "would and print the settings they make, as JSON (exit status 2 naming the setting "
        "when one is invalid). --reference prints every setting with its variable, default "
        "and meaning, as a Markdown table.",
    )
    settings.add_argument(
        "--reference", action="store_true", help="print the table of every setting instead"
    )
    settings.set_defaults(run=_settings)

    from actuator.fleet.cli import add_commands

    add_commands(commands)
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
