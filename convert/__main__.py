"""python -m convert {expression,attributes,mediapipe,verify} ...: build shipped TFLite models and check the manifest."""
from __future__ import annotations

import os

# The converter's C++ side logs every pass at INFO; keep the table readable (set before it loads).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GLOG_minloglevel", "2")

import warnings  # noqa: E402

# torch/torchao deprecation chatter from inside the converter, not actionable here
warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m convert", description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the Pi-side runtime always uses 1)")
    ap.add_argument("-v", "--verbose", action="store_true")
    sub = ap.add_subparsers(dest="cmd", required=True)
    from convert import attributes, expression, mediapipe

    expression.add_arguments(sub.add_parser("expression", help="ExpressionNet -> expression_int8.tflite"))
    attributes.add_arguments(sub.add_parser("attributes", help="AttributeNet -> attributes_int8.tflite"))
    mediapipe.add_arguments(sub.add_parser("mediapipe", help="face_landmarker.task -> the 478-point mesh and blendshapes"))
    v = sub.add_parser("verify", help="check every manifest entry's file and sha256")
    v.add_argument("--out", type=Path, default=Path("models_tflite"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("convert").setLevel(logging.DEBUG if args.verbose else logging.INFO)

    if args.cmd == "mediapipe":
        try:
            return mediapipe.run(args)
        except (OSError, KeyError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    if args.cmd == "verify":
        from convert.manifest import verify

        problems = verify(args.out / "manifest.json")
        for p in problems:
            print(p)
        print("manifest ok" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0

    import torch

    torch.set_num_threads(args.threads)
    try:
        return {"expression": expression.run, "attributes": attributes.run}[args.cmd](args)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
