"""``python -m bol_emulator``: serve the emulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import UTC, datetime
from types import FrameType

from bol_emulator import urls
from bol_emulator.config import EmulatorConfig, load_accounts
from bol_emulator.server import start_emulator


def anchor(raw: str) -> datetime:
    """An ISO 8601 instant (``Z``, an offset, or none = UTC), for ``--anchor``."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {raw!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def public_url(raw: str) -> str:
    try:
        return urls.public_url(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv: list[str] | None = None) -> EmulatorConfig:
    """The EmulatorConfig described by the command line."""
    parser = argparse.ArgumentParser(prog="bol-emulator", description="bol.com Retailer API emulator")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (0 = any free port)")
    parser.add_argument(
        "--public-url",
        type=public_url,
        default=None,
        help="base URL to print and to put in responses (default: from each request's Host header)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--anchor",
        type=anchor,
        default=None,
        help="ISO 8601 instant the world is generated at and its clock starts from (default: now)",
    )
    parser.add_argument("--accounts", default="demo", help="'demo' or a JSON file with a list of accounts")
    parser.add_argument("--orders-per-day", type=int, default=40)
    parser.add_argument("--history-days", type=int, default=30)
    parser.add_argument("--token-lifetime", type=int, default=300, help="seconds")
    parser.add_argument("--code-flow-token-lifetime", type=int, default=600, help="seconds (code-flow tokens)")
    parser.add_argument("--rate-scale", type=float, default=1.0, help="multiplies every rate limit")
    parser.add_argument(
        "--credential-rate", type=float, default=None, help="requests/second shared by all API calls of a client id"
    )
    parser.add_argument("--no-retry-after", action="store_true", help="429 answers without Retry-After")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    if args.rate_scale <= 0 or min(args.token_lifetime, args.code_flow_token_lifetime) < 1:
        parser.error("--rate-scale must be > 0, token lifetimes >= 1")
    if args.orders_per_day < 0 or args.history_days < 0:
        parser.error("volumes must be >= 0")
    if args.credential_rate is not None and args.credential_rate <= 0:
        parser.error("--credential-rate must be > 0")
    try:
        accounts = load_accounts(args.accounts)
    except (OSError, ValueError) as exc:
        parser.error(f"--accounts: {exc}")
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        seed=args.seed,
        anchor=args.anchor,
        accounts=accounts,
        orders_per_day=args.orders_per_day,
        history_days=args.history_days,
        token_lifetime=args.token_lifetime,
        code_flow_token_lifetime=args.code_flow_token_lifetime,
        rate_scale=args.rate_scale,
        retry_after=not args.no_retry_after,
        credential_rate_per_second=args.credential_rate,
        verbose=args.verbose,
    )


def main(argv: list[str] | None = None) -> int:
    """Start, print the two URL lines, serve until a signal arrives, stop cleanly."""
    config = parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        handle = start_emulator(config)
    except OSError as exc:
        print(f"bol emulator: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    print(f"bol emulator auth: {handle.token_url}", flush=True)
    print(f"bol emulator api:  {handle.base_url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
