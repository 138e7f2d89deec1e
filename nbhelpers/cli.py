"""Command line: `python -m nbhelpers COMMAND`, the same functions the notebooks call.

    validate FILE
    train --data TRAIN [--eval-data EVAL | --test-fraction 0.1] --out DIR [--profile NAME] [--epochs N] [--resume]
    score --model DIR --data FILE [--out OUT.jsonl]
    evaluate --model DIR --data FILE [--json]
    memory [--profile qwen3-4b-thinking] [--batch 2 --seq 1024]   (an ESTIMATE, no GPU needed)
    body [--rebuild]      the tiny profile's pretrained body: ready it in the cache, or rebuild the shipped file
    datagen [--out data/thinking_prefs] [--seed 1234] [--n-train 500] [--n-test 40]   regenerate the shipped pairs

FILE is your data as .jsonl, .json, .csv/.tsv, .parquet (optionally .gz) or a `save_to_disk` folder; map your
columns with --prompt-field/--chosen-field/--rejected-field (--response-field for score), sample with --max-pairs.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from .data import DataError, load_pairs, sample_pairs, split_pairs, validate
from .profiles import Profile, get_profile


FIELDS = ("prompt", "chosen", "rejected", "response")   # fields a --FIELD-field option can map
HELD_OUT = "heldout.jsonl"   # the pairs --test-fraction held out, saved in the model folder


def _fields(args) -> dict:
    """The column mapping given by --prompt-field etc."""
    return {f: getattr(args, f"{f}_field") for f in FIELDS if getattr(args, f"{f}_field", None)}


def _pairs(args, source):
    """The pairs of `source` (columns mapped, --max-pairs sampled with --seed); DataError on bad data."""
    return sample_pairs(load_pairs(source, _fields(args), args.skip_invalid), args.max_pairs, args.seed)


def _validated(source, responses=False, fields=None):
    """validate(), with warnings on stderr and one `FILE:LINE: FIELD: message` line per error on stdout;
    the rows, or None if there were errors."""
    rows, errors, warnings = validate(source, responses, fields)
    for problem in warnings:
        print(f"warning: {problem}", file=sys.stderr)
    for problem in errors:
        print(problem)
    return None if errors else rows


def cmd_validate(args) -> int:
    pairs = _validated(args.file, fields=_fields(args))
    if pairs is None:
        return 1
    cats = {}
    for p in pairs:
        cats[p.get("category", "-")] = cats.get(p.get("category", "-"), 0) + 1
    print(f"{args.file}: {len(pairs)} valid pairs" + (f"; categories: {cats}" if len(cats) > 1 else ""))
    return 0


def cmd_train(args) -> int:
    from .setup import setup
    from .training import train_reward_model

    ctx = setup(args.profile, seed=args.seed)
    if os.environ.get("ACCELERATE_USE_CPU", "").lower() == "true" and "MASTER_ADDR" in os.environ \
            and "WORLD_SIZE" not in os.environ:
        print("warning: `accelerate launch --cpu --num_processes N` starts ONE process (accelerate needs mpirun "
              "for multi-CPU). For N gloo processes on one CPU machine use `accelerate launch --config_file "
              "configs/cpu_2proc.yaml ...` or `accelerate launch --multi_gpu --num_processes N ...`.", file=sys.stderr)
    train = _pairs(args, args.data)
    evals = _pairs(args, args.eval_data) if args.eval_data else None
    if args.test_fraction and evals is None:
        train, evals = split_pairs(train, args.test_fraction, args.seed)
        print(f"{args.data}: {len(train)} pairs to train on, {len(evals)} held out (--test-fraction {args.test_fraction})")
    elif args.test_fraction:
        raise ValueError("--test-fraction splits --data when there is no --eval-data; give one of the two")
    settings = dict(parse_setting(s) for s in args.set)
    if args.warm_up_on_data:
        settings["warmup_own_steps"] = args.warm_up_on_data
    if args.epochs:
        settings["epochs"] = args.epochs
    if args.quantize_4bit:
        settings["quantize_4bit"] = True
    profile = get_profile(ctx.profile, **settings)
    result = train_reward_model(train, evals, profile=profile, out=args.out, max_steps=args.max_steps,
                                resume=args.resume, truncate=args.truncate, overwrite=args.overwrite, seed=args.seed)
    if result.out:
        print(f"saved reward model to {result.out} ({result.seconds:.1f} s of training)")
        if args.test_fraction and evals:
            from .files import atomic_write_text

            atomic_write_text(result.out / HELD_OUT, "".join(json.dumps(dict(p)) + "\n" for p in evals))
            print(f"held-out pairs: {result.out / HELD_OUT} (python -m nbhelpers evaluate --model {result.out} "
                  f"--data {result.out / HELD_OUT})")
    return 0


def parse_setting(text: str):
    """`key=value` (value as JSON if it parses, else a string) for a profile override."""
    key, sep, value = text.partition("=")
    if not sep or key not in Profile.__dataclass_fields__:
        raise ValueError(f"--set {text!r}: expected KEY=VALUE with KEY one of {', '.join(Profile.__dataclass_fields__)}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def _scorer(folder):
    from .scoring import RewardScorer
    return RewardScorer.from_folder(folder)


def cmd_score(args) -> int:
    rows = _validated(args.data, responses=True, fields=_fields(args))
    if rows is None:
        return 1
    if args.out and os.path.realpath(args.out) == os.path.realpath(args.data):
        raise ValueError(f"--out {args.out} is the input file; write the scores to another file")
    scorer = _scorer(args.model)
    pairs = [r for r in rows if "chosen" in r]
    singles = [r for r in rows if "chosen" not in r]
    pair_rewards = iter(scorer.score_pairs(pairs) if pairs else [])
    single_rewards = iter(scorer.score_batch([r["prompt"] for r in singles], [r["response"] for r in singles])
                          if singles else [])
    lines = []
    for row in rows:
        if "chosen" in row:
            c, r = next(pair_rewards)
            result = {"chosen_reward": c, "rejected_reward": r}
        else:
            result = {"reward": next(single_rewards)}
        lines.append(json.dumps({"id": row["id"], **result} if "id" in row else result) + "\n")
    if not args.out:
        sys.stdout.writelines(lines)
        return 0
    from .files import atomic_write_text

    atomic_write_text(args.out, "".join(lines))
    print(f"wrote {len(lines)} rows to {args.out}", file=sys.stderr)
    return 0


def cmd_evaluate(args) -> int:
    from .evaluation import evaluate_pairs

    pairs = _pairs(args, args.data)
    scorer = _scorer(args.model)
    report = evaluate_pairs(scorer, pairs)
    if scorer.last_stats.get("cut"):
        print(f"note: {scorer.last_stats['cut']} texts longer than max_length {scorer.max_length} were cut (oldest "
              "turns first, then the start of the text)", file=sys.stderr)
    summary = {k: v for k, v in report.items() if k not in ("margins", "rewards")}
    if args.json:
        print(json.dumps(summary))
    else:
        from .evaluation import category_table

        print(f"n={summary['n']} accuracy={summary['accuracy']:.3f} mean_margin={summary['mean_margin']:.3f}")
        print(category_table({"accuracy": summary, **({"head only": summary["head_only"]} if "head_only" in summary else {})}))
    return 0


def cmd_memory(args) -> int:
    from .memory import report

    print(report(get_profile(args.profile), args.batch, args.seq))
    return 0


def cmd_body(args) -> int:
    from .body import SHIPPED_BODY, rebuild, shipped_key, tiny_body

    profile = get_profile("tiny")
    if args.rebuild:
        report = rebuild(profile)
        print(f"wrote {report['file']} ({report['megabytes']} MB, recipe {report['recipe_key']}): {report['steps']:,} "
              f"steps on {report['texts']:,} texts in {report['build_seconds'] / 60:.1f} min; the body materialised "
              f"from it equals the built one (max |diff| {report['max_abs_diff']})")
        return 0
    print(f"tiny body ready: {tiny_body(profile)} (shipped file {SHIPPED_BODY.name}, recipe {shipped_key()})")
    return 0


def cmd_datagen(args) -> int:
    from .generate.datagen import write_splits

    for split, path in write_splits(args.out, args.n_train, args.n_test, args.seed).items():
        print(f"wrote {path} ({len(path.read_text(encoding='utf-8').splitlines())} pairs)")
    return 0


def _data_options(p, responses: bool = False, sample: bool = True) -> None:
    group = p.add_argument_group("your own data")
    for field in FIELDS if responses else FIELDS[:3]:
        group.add_argument(f"--{field}-field", metavar="COLUMN", help=f"the column that holds {field} (default: {field})")
    if sample:
        group.add_argument("--max-pairs", type=int, metavar="N", help="use a seeded random sample of N pairs (--seed)")
        group.add_argument("--skip-invalid", action="store_true",
                           help="leave out the rows validation rejects (each is printed) instead of stopping")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nbhelpers", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="check a file of preference pairs")
    p.add_argument("file")
    _data_options(p, sample=False)
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("train", help="train a reward model")
    p.add_argument("--data", required=True)
    p.add_argument("--eval-data")
    p.add_argument("--out", required=True)
    p.add_argument("--profile")
    p.add_argument("--epochs", type=float)
    p.add_argument("--max-steps", type=int, default=-1)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint of --out")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    p.add_argument("--truncate", action="store_true", help="cut pairs longer than max_length instead of stopping")
    p.add_argument("--quantize-4bit", action="store_true", default=None, help="4-bit NF4 body (bitsandbytes)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warm-up-on-data", type=int, default=0, metavar="STEPS",
                   help="tiny profile: first warm the pretrained body further on the chosen texts of --data for "
                        "STEPS causal-LM steps (its cost is measured and printed before it starts; cached)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a profile field, e.g. --set max_length=512 --set learning_rate=5e-4")
    p.add_argument("--test-fraction", type=float, default=0.0, metavar="F",
                   help=f"without --eval-data: hold out this share of --data (seeded, per category), evaluate on it "
                        f"and save it as {HELD_OUT} in --out")
    _data_options(p)
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("score", help="score pairs or prompt/response rows")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out")
    _data_options(p, responses=True, sample=False)
    p.set_defaults(func=cmd_score)
    p = sub.add_parser("evaluate", help="pairwise accuracy overall and per category")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--json", action="store_true")
    p.add_argument("--seed", type=int, default=0, help="of the --max-pairs sample")
    _data_options(p)
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("memory", help="ESTIMATE of GPU training memory for a profile (Qwen3-4B shapes)")
    p.add_argument("--profile", default="qwen3-4b-thinking")
    p.add_argument("--batch", type=int)
    p.add_argument("--seq", type=int)
    p.set_defaults(func=cmd_memory)
    p = sub.add_parser("body", help="the tiny profile's pretrained body: load it into the cache (seconds), or --rebuild "
                                    "the shipped file from scratch (~30 min on 2 cores)")
    p.add_argument("--rebuild", action="store_true", help="pretrain from scratch and rewrite nbhelpers/weights/")
    p.set_defaults(func=cmd_body)
    p = sub.add_parser("datagen", help="regenerate the preference data (train, test, test_range); the defaults "
                                       "rewrite the shipped files of data/thinking_prefs byte for byte")
    p.add_argument("--out", default="data/thinking_prefs", help="output folder (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--n-train", type=int, default=500, help="pairs per category in train")
    p.add_argument("--n-test", type=int, default=40, help="pairs per category in test and in test_range")
    p.set_defaults(func=cmd_datagen)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DataError as err:
        print(err)
        return 1
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
