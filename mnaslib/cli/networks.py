"""``mnas describe``, ``latency``, ``calibrate`` and ``export``: one network at a time."""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from mnaslib.spaces.buildable import MAX_INPUT_SIZE, BuildOptions, Buildable
from mnaslib.errors import UserError
from mnaslib.spaces.arch import Arch
from mnaslib.spaces.zoo import canonical_name, names, resolve
from mnaslib.spaces.netsize import check_network_size
from mnaslib.tabular.files import write_atomically

EXPORT_FORMATS = (".json", ".tflite", ".keras")


def add_commands(sub) -> None:
    describe = sub.add_parser("describe", help="per-layer params and mult-adds of a network")
    _model_args(describe)
    describe.set_defaults(func=cmd_describe)

    latency = sub.add_parser("latency", help="latency of a network from a provider (a cost model, this CPU, a phone)")
    _model_args(latency)
    latency.add_argument("--provider", default="pixel1-model",
                         help="pixel1-model (default: the Pixel-1 cost model) | host (LiteRT on this CPU) | "
                              "host-model (this CPU's layer table; run `mnas calibrate` first) | adb (a phone) | "
                              "device-model --name NAME (your phone's model, from `mnas calibrate --device adb`) | "
                              "flops (mult-adds, not a latency)")
    latency.add_argument("--clock", choices=("wall", "thread_cpu"), default="wall",
                         help="host provider: wall-clock time (what a user waits) or the measuring thread's CPU "
                              "time (steadier on a busy machine); default wall")
    latency.add_argument("--runs", type=int, default=100, help="host provider: timed runs per round (default 100)")
    latency.add_argument("--serial", help="adb provider: the device's serial, when several phones are attached")
    latency.add_argument("--taskset-mask", help="adb provider: hex CPU mask of the phone's big cores (Pixel 1: c)")
    latency.add_argument("--name", help="device-model provider: the name given to `mnas calibrate --name`")
    latency.set_defaults(func=cmd_latency)

    calibrate = sub.add_parser("calibrate", help="fit a latency model of your own device (--device adb | host, or "
                                                 "--from-csv), or calibrate this CPU's host-model layer table")
    calibrate.add_argument("--test", type=int, default=10, help="host layer table: held-out random architectures "
                                                                "to test on (default 10)")
    calibrate.add_argument("--seed", type=int, default=0, help="seed of the architectures drawn (default 0)")
    _device_model_args(calibrate)
    calibrate.set_defaults(func=cmd_calibrate)

    export = sub.add_parser("export", help="write a network as .tflite or .keras, or its architecture as .json")
    _model_args(export)
    export.add_argument("--output", "-o", required=True, help="the file to write: .json (architecture, readable "
                                                               "by every command), .tflite or .keras")
    export.add_argument("--force", action="store_true", help="replace the file if it exists")
    export.set_defaults(func=cmd_export)


def _device_model_args(parser: argparse.ArgumentParser) -> None:
    """``mnas calibrate``'s device-model options (the rest of the command calibrates the host layer table)."""
    parser.add_argument("--device", choices=("adb", "host"),
                        help="measure networks on the attached phone (adb) or with LiteRT on this CPU (host) and fit "
                             "a named device model from them")
    parser.add_argument("--from-csv", metavar="FILE", help="fit a named device model from a CSV of measurements made "
                        "elsewhere: columns architecture, ms (optional multiplier, input_size)")
    parser.add_argument("--name", help="the device model's name, e.g. my-pixel7; a profile selects it with "
                                       "latency: {provider: device-model, name: my-pixel7}")
    parser.add_argument("--count", type=int, default=30, help="networks to measure (default 30)")
    parser.add_argument("--sizes", default="96,128,160,192,224", help="input sizes to draw from (default "
                                                                       "96,128,160,192,224)")
    parser.add_argument("--widths", default="0.35,0.5,0.75,1.0,1.4", help="width multipliers to draw from")
    parser.add_argument("--models-dir", help="where device models live (default $MNAS_DEVICE_MODELS, else "
                                             "~/.config/mnaslib/device-models)")
    parser.add_argument("--serial", help="adb: the phone's serial, when several are attached")
    parser.add_argument("--taskset-mask", help="adb: hex CPU mask of the phone's big cores (Pixel 1: c)")


def _model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="+", help="a network name (a1, b1, small, d1, mobilenetv2, a1-mbconv6-k5, "
                        "keras-mobilenet, keras-mobilenetv2, keras-mobilenetv2-1.4, keras-nasnetmobile), MnasNet "
                        "block strings, or an architecture JSON file (from `mnas export MODEL -o arch.json`)")
    parser.add_argument("--multiplier", type=float, default=1.0,
                        help="depth (width) multiplier, official rounding; Keras applications take it as alpha")
    parser.add_argument("--input-size", type=int, default=224,
                        help=f"input resolution in pixels (8 to {MAX_INPUT_SIZE}; default 224)")
    parser.add_argument("--classes", type=int, default=1000, help="number of classes of the classifier (default 1000)")


def resolve_model(args: argparse.Namespace) -> tuple[Buildable, BuildOptions]:
    """The network a command names, and the build options its flags give."""
    spec = args.model[0] if len(args.model) == 1 else args.model
    if not isinstance(spec, str):
        named = [m for m in spec if m.lower().endswith(".json") or canonical_name(m) in names()]
        if named:
            raise UserError(f"give one network at a time: {named[0]!r} is a network name or file, and several words "
                            "are read as the blocks of one network (run the command once per network)")
    if isinstance(spec, str) and spec.lower().endswith(".json"):
        network: Buildable = Arch.from_dict(_read_json(Path(spec)))
    else:
        network = resolve(spec)
    options = BuildOptions(depth_multiplier=args.multiplier, input_size=args.input_size, num_classes=args.classes)
    if isinstance(network, Arch):
        check_network_size(network, options)
    return network, options


def _read_json(path: Path) -> dict:
    if path.is_dir():
        raise UserError(f"{path} is a directory, not an architecture file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"no architecture file {path}") from None
    except UnicodeDecodeError as err:
        raise UserError(f"{path} is not a text (JSON) file: {err.reason} at byte {err.start}") from None
    if not text.strip():
        raise UserError(f"{path} is empty; an architecture file holds the JSON that `mnas export NAME -o FILE.json` "
                        "writes")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        raise UserError(f"{path} is not JSON: {err.msg} at line {err.lineno}, column {err.colno}") from None
    except RecursionError:
        raise UserError(f"{path} is nested too deeply to be an architecture file") from None
    except UserError as err:
        raise UserError(f"{path}: {err}") from None


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in pairs]
    repeated = next((key for key in keys if keys.count(key) > 1), None)
    if repeated is not None:
        raise UserError(f"key {repeated!r} is given twice (the second would silently win); keep one")
    return dict(pairs)


def _no_constant(name: str) -> float:
    raise UserError(f"{name} is not a number an architecture can hold")


def cmd_describe(args: argparse.Namespace) -> int:
    import pandas as pd

    from mnaslib.spaces.counting import profile_model  # lazy: keeps TensorFlow and pandas out of this module's import

    network, options = resolve_model(args)
    model = network.build(options)
    table = profile_model(model)
    with pd.option_context("display.max_rows", None, "display.width", 160):
        print(table.to_string(index=False))
    print(f"\n{model.name}: {table['trainable_params'].sum():,} trainable params "
          f"({table['total_params'].sum():,} with BN statistics), {table['mult_adds'].sum() / 1e6:.1f}M mult-adds "
          f"at {options.input_size}x{options.input_size} [computed]")
    print("block strings: " + " ".join(network.block_strings()) + f"  (id {network.arch_id})")
    return 0


def cmd_latency(args: argparse.Namespace) -> int:
    from mnaslib.latency import get_provider  # lazy: keeps pandas out of this module's import
    from mnaslib.latency.base import ALIASES  # lazy: keeps pandas out of this module's import

    name = ALIASES.get(args.provider, args.provider)
    options: dict = {}
    if name == "pixel-adb":
        options = {k: v for k, v in {"serial": args.serial, "taskset_mask": args.taskset_mask}.items() if v}
    elif name == "host-tflite":
        options = {"clock": args.clock, "runs": args.runs}
    elif name == "host-model":
        options = {"measure_missing": True}
    elif name == "device-model":
        if not args.name:
            raise ValueError("the device-model provider needs the model's name: --name my-pixel7")
        options = {"name": args.name}
    provider = get_provider(name, **options)
    if hasattr(provider, "check"):  # a phone: is it there at all, before tens of seconds of conversion
        provider.check()
    network, build = resolve_model(args)
    result = provider.latency_of(network, build)
    print(f"{network.name or network.arch_id}: {result.median_ms:.2f} {result.unit} [{result.provenance}]")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    if args.device or args.from_csv or args.name:
        # lazy: keeps TensorFlow, SciPy, pandas and scikit-learn out of this module's import
        from mnaslib.latency.device_calibration import calibrate_device_command  # lazy (see above)

        return calibrate_device_command(args)
    from mnaslib.latency.calibration import host_model_check  # lazy: keeps TensorFlow and pandas off import
    from mnaslib.latency.layer_table import HostLayerTable  # lazy: keeps TensorFlow and pandas off import

    if args.test < 1:
        raise UserError(f"--test must be at least 1 held-out architecture, got {args.test}")
    table = HostLayerTable()
    calibration, rows = host_model_check(args.test, args.seed, table)
    errors = [abs(r["error"]) for r in rows]
    print(f"calibrated {table.path}: measured = {calibration.a:.3f} * layer sum + {calibration.b:.3f} ms on "
          f"{calibration.calibration_networks} reference networks")
    print(f"held out ({len(rows)} random architectures): mean error {100 * sum(errors) / len(errors):.1f}%, "
          f"{sum(e <= 0.10 for e in errors)} of {len(rows)} within 10% [computed from measured and predicted]")
    print("the host-model provider now uses it: mnas latency --provider host-model a1")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from mnaslib.latency.tflite import to_tflite  # lazy: keeps pandas out of this module's import
    out = Path(args.output)
    if out.suffix.lower() not in EXPORT_FORMATS:
        raise UserError(f"unknown export format {out.suffix!r}: use a .json (architecture), .tflite or .keras file "
                        "name")
    if out.is_symlink():
        raise UserError(f"{out} is a symbolic link (to {os.readlink(out)}); export writes only a plain file: give "
                        "another name, or remove the link")
    if out.is_dir():
        raise UserError(f"{out} is a directory; give a file name ending in {', '.join(EXPORT_FORMATS)}")
    if out.exists() and not args.force:
        raise UserError(f"{out} exists; pass --force to replace it, or give another name")
    if not out.parent.is_dir():
        raise UserError(f"cannot write {out}: folder {out.parent} does not exist; create it first")
    network, options = resolve_model(args)
    if out.suffix.lower() == ".json":
        if not isinstance(network, Arch):
            raise UserError(f"{network.name} is a Keras baseline, not a point of the MnasNet space: export it as "
                            ".tflite or .keras")
        data = (json.dumps(network.to_dict(), indent=1) + "\n").encode()
    elif out.suffix.lower() == ".tflite":
        data = to_tflite(network.build(options))
    else:
        data = _keras_file(network.build(options))
    existed = out.exists()
    try:  # through a temporary file beside it, renamed into place: a full disk leaves the old file whole
        write_atomically(out, lambda handle: (os.fchmod(handle.fileno(), 0o644), handle.write(data)), binary=True)
    except OSError as err:
        raise UserError(f"cannot write {out}: {err.strerror or err}; "
                        f"{'the existing file is unchanged' if existed else 'nothing was written'}") from None
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    return 0


def _keras_file(model) -> bytes:
    """The ``.keras`` file of ``model`` with Keras' own BatchNormalization (it loads in Keras without mnaslib)."""
    from mnaslib.spaces.batchnorm import with_keras_batch_norm  # lazy: keeps TensorFlow out of this module's import

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        with_keras_batch_norm(model).save(path)
        return path.read_bytes()
