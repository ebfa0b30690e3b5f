"""Run the fake OpenAI server as a process.

    python -m tests.fakeopenai --host 127.0.0.1 --port 8765 --latency 1.0 \\
        --fault-rate 429=0.1 --fault-rate hang=0.05 --seed 42

Prints the base URL (for ``OPENAI_BASE_URL``) on stdout, then serves until
SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .server import FAULTS, FakeOpenAI, FakeOpenAIConfigError


def _fault_rate(text: str) -> tuple[str, float]:
    name, sep, rate = text.partition("=")
    if not sep or name not in FAULTS:
        raise argparse.ArgumentTypeError(f"expected NAME=RATE with NAME one of {', '.join(FAULTS)}")
    try:
        return name, float(rate)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid rate {rate!r}") from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.fakeopenai", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (default: 8765)")
    parser.add_argument("--latency", type=float, help="seconds added to every /v1 request")
    parser.add_argument("--seed", type=int, help="seed for the random fault draws")
    parser.add_argument("--retry-after", type=float, help="Retry-After seconds sent with 429s")
    parser.add_argument(
        "--hang-seconds",
        type=float,
        help="how long a 'hang' fault holds the connection",
    )
    parser.add_argument(
        "--calls-per-minute", type=int, help="answer 429 past this many calls in a clock minute (default: no cap)"
    )
    parser.add_argument(
        "--fault-rate",
        type=_fault_rate,
        action="append",
        default=[],
        metavar="NAME=RATE",
        help=f"probability of a fault per request (repeatable); NAME is one of {', '.join(FAULTS)}",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    fake = FakeOpenAI(host=args.host, port=args.port)
    try:
        fake.configure(
            latency=args.latency,
            seed=args.seed,
            retry_after=args.retry_after,
            hang_seconds=args.hang_seconds,
            fault_rates=dict(args.fault_rate) if args.fault_rate else None,
            calls_per_minute=args.calls_per_minute,
        )
    except FakeOpenAIConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with fake:
        print(fake.base_url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
