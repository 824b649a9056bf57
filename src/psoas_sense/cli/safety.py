"""``psoas-sense safety``: the questions to answer before deep abdominal work, and what they mean."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    sc = sub.add_parser(
        "safety",
        help="the safety check: questions to answer before deep abdominal work",
        description="Show the safety check. On a terminal it asks each question; otherwise it prints them. "
                    "Answer it for a headless session with --confirm-safety (none apply) or --condition NAME.",
    )
    sc.add_argument("--json", action="store_true", help="print the check as JSON")
    sc.set_defaults(func=cmd_safety)


def cmd_safety(args: argparse.Namespace) -> int:
    from psoas_sense.coach.safety import CONDITIONS, SafetyCheck
    from psoas_sense.coach.texts import NOT_MEDICAL_ADVICE

    if args.json:
        print(json.dumps({"conditions": dict(CONDITIONS), "notice": NOT_MEDICAL_ADVICE}))
        return 0
    print("Safety check before deep abdominal work.")
    print(NOT_MEDICAL_ADVICE)
    interactive = sys.stdin is not None and not sys.stdin.closed and sys.stdin.isatty()
    applies: list[str] = []
    for key, question in CONDITIONS.items():
        if not interactive:
            print(f"  - {question}  (--condition {key})")
            continue
        answer = input(f"  {question} [y/N] ").strip().lower()
        if answer in ("y", "yes"):
            applies.append(key)
    if not interactive:
        print("If none of these apply, start a session with --confirm-safety. If any applies, "
              "practise breathing only (--protocol breathing) and ask a healthcare professional first.")
        return 0
    check = SafetyCheck.answered(applies)
    if check.cleared:
        print("Nothing applies: you can start a session with --confirm-safety.")
    else:
        print(check.blocked_text())
        print("Start a session with " + " ".join(f"--condition {c}" for c in applies) + " (breathing practice).")
    return 0
