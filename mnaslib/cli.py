"""The ``mnas`` command: describe, latency, search, export, reproduce.

Each subcommand is a thin wrapper over the library, so what a notebook does and what the command does are the same.
Errors of the user's making (a bad block string, an unknown provider, a missing phone) print one clear line and exit
with status 2 instead of a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="+", help="a reference name (a1, b1, small, d1, mobilenetv2, a1-mbconv6-k5, "
                        "keras-mobilenet ...), block strings, or an architecture JSON file (from "
                        "`mnas export MODEL -o arch.json`)")
    parser.add_argument("--multiplier", type=float, default=1.0, help="depth multiplier (official rounding)")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=1000)


def _resolve_model(args: argparse.Namespace):
    from mnaslib.models import KERAS_BASELINES, as_arch, build_any
    from mnaslib.space import Arch

    spec: str | list[str] | Arch = args.model[0] if len(args.model) == 1 else args.model
    if isinstance(spec, str) and spec.endswith(".json"):
        try:
            spec = Arch.from_dict(json.loads(Path(spec).read_text()))
        except json.JSONDecodeError as err:
            raise ValueError(f"{spec} is not JSON ({err})") from None
    options = {"input_size": args.input_size, "num_classes": args.classes}
    if isinstance(spec, str) and spec.lower() in KERAS_BASELINES:
        return None, build_any(spec, **options)
    arch = as_arch(spec)
    return arch, build_any(arch, depth_multiplier=args.multiplier, **options)


def cmd_describe(args: argparse.Namespace) -> int:
    import pandas as pd

    from mnaslib.counting import profile_model

    arch, model = _resolve_model(args)
    table = profile_model(model)
    with pd.option_context("display.max_rows", None, "display.width", 160):
        print(table.to_string(index=False))
    print(f"\n{model.name}: {table['trainable_params'].sum():,} trainable params "
          f"({table['total_params'].sum():,} with BN statistics), {table['mult_adds'].sum() / 1e6:.1f}M mult-adds "
          f"at {args.input_size}x{args.input_size} [computed]")
    if arch is not None:
        print("block strings: " + " ".join(arch.block_strings()) + f"  (id {arch.arch_id})")
    return 0


ARCH_PROVIDERS = ("pixel1-model", "host-model", "flops")  # cost models: they take the build options themselves


def cmd_latency(args: argparse.Namespace) -> int:
    from mnaslib.latency import get_provider

    options: dict = {}
    if args.provider in ("adb", "pixel-adb"):
        options = {k: v for k, v in {"serial": args.serial, "taskset_mask": args.taskset_mask}.items() if v}
    arch, model = _resolve_model(args)
    wants_arch = args.provider in ARCH_PROVIDERS and arch is not None
    if wants_arch:
        options.update(depth_multiplier=args.multiplier, input_size=args.input_size, num_classes=args.classes)
    provider = get_provider(args.provider, **options)
    result = provider.latency(arch if wants_arch else model)
    print(f"{model.name}: {result.median_ms:.2f} [{result.provenance}]")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from mnaslib.search import load_config, search_from_config

    overrides = {}
    for item in args.set or []:
        key, _, value = item.partition("=")
        node = overrides
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = json.loads(value) if value[:1] in "[{0123456789-tfn" else value
    config = load_config(args.config or args.profile, overrides)
    result = search_from_config(config, args.run_dir)
    print(f"search finished: {result.trials} trials ({result.failed} failed) in {result.seconds:.0f} s; "
          f"store: {Path(args.run_dir) / 'trials.sqlite'}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from mnaslib.latency.tflite import to_tflite

    arch, model = _resolve_model(args)
    out = Path(args.output)
    if out.suffix == ".json":
        if arch is None:
            raise ValueError(f"{model.name} is a Keras baseline, not a point of the MnasNet space: export it as "
                             ".tflite or .keras")
        out.write_text(json.dumps(arch.to_dict(), indent=1) + "\n")
    elif out.suffix == ".tflite":
        out.write_bytes(to_tflite(model))
    elif out.suffix == ".keras":
        model.save(out)
    else:
        raise ValueError(f"unknown export format {out.suffix!r}: use a .json (architecture), .tflite or .keras "
                         "file name")
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from mnaslib.reproduce import reproduce

    report = reproduce(profile=args.profile, output_dir=args.output_dir, notebooks=args.notebooks)
    print(f"report: {report}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mnas", description="MnasNet reproduction toolkit")
    sub = parser.add_subparsers(dest="command", required=True)

    describe = sub.add_parser("describe", help="per-layer params and mult-adds of a model")
    _model_args(describe)
    describe.set_defaults(func=cmd_describe)

    latency = sub.add_parser("latency", help="latency of a model from a provider")
    _model_args(latency)
    latency.add_argument("--provider", default="pixel1-model",
                         help="host | adb | pixel1-model | host-model | flops (default pixel1-model); host "
                         "measures with LiteRT on this CPU, adb on a phone")
    latency.add_argument("--serial", help="adb device serial, when several phones are attached")
    latency.add_argument("--taskset-mask", help="CPU mask for the phone's big cores (adb provider)")
    latency.set_defaults(func=cmd_latency)

    search = sub.add_parser("search", help="run or resume a search in a run directory")
    search.add_argument("--config", help="a YAML config file (overrides --profile)")
    search.add_argument("--profile", default="laptop", choices=["ci", "laptop", "paper"])
    search.add_argument("--run-dir", required=True, help="where trials.sqlite lives; an existing one is resumed")
    search.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override a setting, e.g. --set steps=4 --set reward.name=mnas_hard")
    search.set_defaults(func=cmd_search)

    export = sub.add_parser("export", help="write a model as .tflite or .keras, or its architecture as .json")
    _model_args(export)
    export.add_argument("--output", "-o", required=True)
    export.set_defaults(func=cmd_export)

    reproduce = sub.add_parser("reproduce", help="run the notebooks headless and write the reproduction report")
    reproduce.add_argument("--profile", default="laptop", choices=["ci", "laptop", "paper"])
    reproduce.add_argument("--output-dir", default="outputs")
    reproduce.add_argument("--notebooks", nargs="*", help="only these notebooks (file names)")
    reproduce.set_defaults(func=cmd_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"mnas {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
