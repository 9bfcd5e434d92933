"""Does model-aware retirement save votes? Fixed 15-vote retirement against the model-aware rule.

Per seed, from independent random streams (synthetic.streams): galaxies, votes, choices.
- An initial labelled set (15 votes each) trains one version with production's own functions and
  default (`mlworker.pipeline`: model_config, fit_and_evaluate on the fixed train/validation/held-out
  split; two networks, a galaxy project being rotation-invariant) and the pool is scored with T
  samples shared by the networks and the 8 symmetries (`pipeline.score`), as a round does.
- Every pool subject gets the same 15 simulated volunteers under both rules (one vote simulator,
  `synthetic.simulate_annotations`, answers following the tree with the true p); subject by
  subject, in one random order. The fixed rule takes all 15. The model-aware rule asks one volunteer
  at a time and stops when production's `labelling.retirement.rule.decide` says so (checked after every
  vote: the ideal of a check per beat tick). A version marked worse than the image-free baseline
  retires nothing early, as in production.
- The catalogue: every question of every subject gets an estimate of the true p, under both
  rules the same function of the model's samples and the votes so far — the predicted final vote
  fraction (`retirement.forecast`) where volunteers reach the question, the posterior mean answer
  probability where none does (before any vote: the model alone). At 15 votes it is the vote
  fraction k/N. Catalogue RMSE against the true p weights each question by the share of
  volunteers the true p sends to it.
- Headline: votes the model-aware rule spends until its catalogue RMSE is within 2% of the fixed
  rule's final RMSE (`votes_saved_equal_rmse`: equal quality needs a margin), and until it first
  reaches that RMSE exactly (`votes_saved`), each as a saving against the fixed rule's 15 x pool
  votes (-1 for a seed that never gets there); paired BCa intervals over seeds (each seed brings
  both rules); the share of model-retired subjects whose final estimate is off the true p by more
  than 0.2 on a question most of their volunteers reach (true reach share >= 0.5), beside the fixed
  rule's share on the same subjects (15 votes are noisy too).

The figures and the README section are in retirement_summary.py.

    .venv/bin/python -m benchmarks.retirement                     # the README's figures
    .venv/bin/python -m benchmarks.retirement --preset small      # a few minutes
    .venv/bin/python -m benchmarks.retirement --resummarise       # the figures again from the
                                                                  # result file's seeds, no training
"""

import argparse
import datetime
import json
import time

import numpy as np

from benchmarks import common, plots, runs, savings
from benchmarks.retirement_summary import summarise, votes_needed
from labelling.retirement import rule as retirement

PRESETS = {
    "standard": dict(pool=1000, initial=500, seeds=5, image_size=32, samples=50),
    "small": dict(pool=200, initial=150, seeds=3, image_size=24, samples=20),
}
OFF_BY = 0.2
# The project default (Project's retirement_threshold, retirement_max_expected_change and
# retirement_minimum_votes) first, then the literal rule (0.2, one vote) and the levers one
# at a time and together.
DEFAULT_RULES = "0.07/0.3,0.2,0.1,0.2/0.3,0.1/0.3,0.2/1/5,0.1/0.3/5"


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description="Fixed-count vs model-aware retirement")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="standard")
    for name in ("pool", "initial", "image-size", "samples", "epochs"):
        parser.add_argument(f"--{name}", type=int)
    parser.add_argument("--limit", type=int, default=15, help="the fixed rule's votes per subject")
    parser.add_argument("--minimum-votes", type=int, default=3)
    parser.add_argument(
        "--rules",
        default=DEFAULT_RULES,
        help="model-aware rules to try, each width[/max expected change in votes[/minimum votes]] "
        "(defaults: change 1, --minimum-votes); the first is the headline (the project default)",
    )
    parser.add_argument(
        "--resummarise",
        action="store_true",
        help="compute the figures again from the seeds of <results-dir>/<output>.json (no "
        "training; its own rules and settings), rewrite it and its plot",
    )
    runs.add_run_arguments(parser, "retirement", resume=False)
    arguments = runs.with_preset(parser.parse_args(argv), PRESETS)
    arguments.rules = [rule_from_text(text, arguments) for text in arguments.rules.split(",")]
    return arguments


def rule_from_text(text: str, arguments) -> tuple[str, retirement.Rule]:
    """'0.1/0.3/5' -> ('0.1/0.3/5', Rule(limit, threshold 0.1, minimum 5, change < 0.3 votes))."""
    parts = text.strip().split("/")
    try:
        if not 1 <= len(parts) <= 3:
            raise ValueError(f"{len(parts)} parts")
        width = float(parts[0])
        change = float(parts[1]) if len(parts) > 1 else retirement.MAX_EXPECTED_CHANGE_VOTES
        minimum = int(parts[2]) if len(parts) > 2 else arguments.minimum_votes
        rule = retirement.Rule(arguments.limit, width, minimum, change)
    except ValueError as error:
        raise SystemExit(
            f"Invalid rule {text!r}: expected width[/max expected change[/minimum votes]] such as "
            f"0.2 or 0.1/0.3/5 ({error})"
        ) from None
    return text.strip(), rule


def fit_and_score(seed: int, arguments) -> dict:
    """One seed's data, its one CNN (production's fit) and the pool's MC samples."""
    from mlworker import pipeline, synthetic

    streams = synthetic.streams(seed)
    total = arguments.initial + arguments.pool
    galaxies = synthetic.make_galaxies(total, size=arguments.image_size, seed=streams["galaxies"])
    votes = np.random.default_rng(streams["votes"])
    choices = np.random.default_rng(streams["choices"])
    questions = common.questions_for(galaxies.p.shape[1], dataset=False)
    initial = np.arange(arguments.initial)
    counts = synthetic.simulate_vote_counts(galaxies.p[initial], arguments.limit, votes)
    fit = common.fit(
        galaxies.images[initial],
        {q.key: counts[:, i] for i, q in enumerate(questions)},
        initial.tolist(),
        questions,
        common.production_settings(epochs=arguments.epochs),
        samples=arguments.samples,
        seed=seed,
        rotation_invariant=True,  # a galaxy project's setting: scored under the 8 symmetries
    )
    pool = np.arange(arguments.initial, total)
    scored = pipeline.score(
        fit.model, galaxies.images[pool], volunteers=arguments.limit, samples=arguments.samples
    )
    annotations = [
        [synthetic.simulate_annotations(galaxies.p[i], votes) for _ in range(arguments.limit)]
        for i in pool
    ]
    return {
        "questions": questions,
        "p": galaxies.p[pool],
        "samples": scored.samples,  # {question: [pool, answers, T]}
        "annotations": annotations,
        "order": choices.permutation(len(pool)),
        "worse_than_baseline": fit.worse_than_baseline,
        "held_out": fit.metrics["_held_out"],
    }


def estimates(samples: dict, counts: dict, questions, remaining: int) -> dict:
    """The catalogue's first-answer estimate per question: forecast mean where reached, else the
    posterior mean answer probability. samples {q: [T, answers]}, counts {q: int [answers]}."""
    forecasts = retirement.forecast(samples, counts, questions, remaining_volunteers=remaining)
    weights = retirement.posterior(samples, counts, questions)
    means = retirement.posterior_mean_answers(samples, counts, weights, questions)
    return {
        key: float(result.mean[0] if result.reached else means[key][0])
        for key, result in forecasts.items()
    }


def run_subject(samples, annotations, questions, rule: retirement.Rule | None) -> dict:
    """Volunteers one at a time until the rule retires the subject (None: the fixed limit)."""
    counts = {q.key: np.zeros(len(q.answers), dtype=np.int64) for q in questions}
    answer_index = {q.key: {a: i for i, a in enumerate(q.answers)} for q in questions}
    decision = None
    for votes, annotation in enumerate(annotations, start=1):
        for key, answer in annotation.items():
            counts[key][answer_index[key][answer]] += 1
        if rule is not None:
            decision = retirement.decide(
                samples, counts, questions, classifications=votes, rule=rule
            )
            if decision.retire:
                break
    return {
        "votes": votes,
        "estimate": estimates(samples, counts, questions, len(annotations) - votes),
        "by_model": decision is not None and decision.reason == retirement.REASON_MODEL,
    }


def curve(results: list[dict], prior_error: np.ndarray, errors: np.ndarray, weights, order):
    """Catalogue RMSE after each subject in `order` is retired: (votes [n + 1], rmse [n + 1])."""
    total = weights.sum()
    before = (weights * prior_error**2).sum(axis=1)[order]
    after = (weights * errors**2).sum(axis=1)[order]
    remaining = np.concatenate([np.cumsum(before[::-1])[::-1], [0.0]])
    done = np.concatenate([[0.0], np.cumsum(after)])
    votes = np.concatenate([[0], np.cumsum([results[i]["votes"] for i in order])])
    return votes, np.sqrt((remaining + done) / total)


def off_share(results, p, reach, questions, reference=None) -> tuple[int, int]:
    """(model-retired subjects whose final estimate is off the true p by > OFF_BY on a question
    most of their volunteers reach (true reach share >= 0.5), all model-retired subjects); with
    `reference` (the fixed rule's results), the fixed rule's estimates of the same subjects."""
    retired = [i for i, result in enumerate(results) if result["by_model"]]
    off = 0
    for i in retired:
        estimate = (reference or results)[i]["estimate"]
        off += any(
            abs(estimate[q.key] - p[i, j]) > OFF_BY
            for j, q in enumerate(questions)
            if reach[i, j] >= 0.5
        )
    return off, len(retired)


def run_seed(seed: int, arguments) -> dict:
    """Both rules on one seed's pool: curves, savings and error shares per rule."""
    started = time.time()
    data = fit_and_score(seed, arguments)
    questions, p = data["questions"], data["p"]
    # {question: [T, answers]} per subject, as Prediction.samples stores them
    samples = [{q.key: data["samples"][q.key][i].T for q in questions} for i in range(len(p))]
    weights, order = common.true_reach(p, questions), data["order"]

    def errors(results):
        return np.array([[r["estimate"][q.key] for q in questions] for r in results]) - p

    prior = [estimates(s, {}, questions, arguments.limit) for s in samples]
    prior_error = np.array([[e[q.key] for q in questions] for e in prior]) - p

    def simulate(rule):
        pairs = zip(samples, data["annotations"], strict=True)
        return [run_subject(s, a, questions, rule) for s, a in pairs]

    fixed = simulate(None)
    fixed_votes, fixed_rmse = curve(fixed, prior_error, errors(fixed), weights, order)
    target = float(fixed_rmse[-1])
    by_rule = {}
    for name, model_rule in arguments.rules:
        # As in production: a flagged version retires nothing early.
        rule = None if data["worse_than_baseline"] else model_rule
        results = simulate(rule)
        votes, rmse = curve(results, prior_error, errors(results), weights, order)
        needed = savings.first_crossing(votes, rmse, target)
        off, retired = off_share(results, p, weights, questions)
        fixed_off, _ = off_share(results, p, weights, questions, reference=fixed)
        by_rule[name] = {
            "votes_needed": needed if np.isfinite(needed) else None,  # None: never reached
            "votes_total": int(votes[-1]),
            "final_rmse": float(rmse[-1]),
            "retired_by_model": retired,
            "off_by_0_2": off,
            "fixed_off_by_0_2_same_subjects": fixed_off,
            "curve_votes": votes[:: max(1, len(votes) // 100)].tolist() + [int(votes[-1])],
            "curve_rmse": rmse[:: max(1, len(rmse) // 100)].tolist() + [float(rmse[-1])],
        }
    rules = "; ".join(
        f"rule {t}: {votes_needed(r):.0f} votes to reach it, {r['votes_total']} in all, "
        f"{r['retired_by_model']} model-retired, {r['off_by_0_2']} off by >{OFF_BY}"
        for t, r in by_rule.items()
    )
    seconds = time.time() - started
    print(
        f"seed {seed}: fixed RMSE {target:.4f} in {fixed_votes[-1]} votes; {rules} ({seconds:.0f} s)",
        flush=True,
    )
    return {
        "seed": seed,
        "fixed_votes": int(fixed_votes[-1]),
        "fixed_final_rmse": target,
        "fixed_curve_votes": fixed_votes[:: max(1, len(fixed_votes) // 100)].tolist()
        + [int(fixed_votes[-1])],
        "fixed_curve_rmse": fixed_rmse[:: max(1, len(fixed_rmse) // 100)].tolist() + [target],
        "model_worse_than_baseline": bool(data["worse_than_baseline"]),
        "held_out": data["held_out"],
        "by_rule": by_rule,
        "seconds": round(time.time() - started, 1),
    }


def summarised(seeds: list[dict], rules: list[tuple[str, retirement.Rule]]) -> dict:
    """The result's headline (the first rule's, the project default) and by_rule, from the seeds."""
    summaries = {name: summarise(seeds, name) for name, _ in rules}
    headline_rule, rule = rules[0]
    head = summaries[headline_rule]
    headline = {
        "votes_saved": head["votes_saved"],
        "votes_saved_interval": head["votes_saved_interval"],
        "share_off_by_0_2": head["share_off_by_0_2"],
        "rule": headline_rule,
        "threshold": rule.threshold,
        "max_expected_change": rule.max_expected_change,
        "minimum_votes": rule.minimum_votes,
        "seeds": len(seeds),
        "seeds_model_worse_than_baseline": sum(s["model_worse_than_baseline"] for s in seeds),
        # The rule of those tried that saved the most votes (not the default: read beside it).
        "best_rule": max(summaries, key=lambda name: summaries[name]["votes_saved"]),
        **{k: v for k, v in head.items() if k not in ("votes_saved", "share_off_by_0_2")},
    }
    return {"headline": headline, "by_rule": summaries}


def resummarise(arguments, argv) -> dict:
    """The headline and by_rule of <results-dir>/<output>.json computed again from the seeds it
    holds (no training), with the rules and settings it was run with; the plot drawn again."""
    from benchmarks import readme_figures

    path = arguments.results_dir / f"{arguments.output}.json"
    if not path.exists():
        raise SystemExit(f"--resummarise: no result file {path} to summarise again")
    result = json.loads(path.read_text())
    settings = result["settings"]
    stored = argparse.Namespace(limit=settings["limit"], minimum_votes=settings["minimum_votes"])
    rules = [rule_from_text(text, stored) for text in settings["rules"]]
    earlier = result.get("resummarised", {}).get("from_run_of") or readme_figures.run_date(path)
    result |= summarised(result["seeds"], rules)
    result["resummarised"] = {
        "on": datetime.date.today().isoformat(),
        "from_run_of": earlier,
        "command": runs.command("retirement", argv),
    }
    plot = runs.write_result(result, arguments.results_dir, arguments.output)
    plots.retirement_curves(result["seeds"], result["by_rule"], rules[0][0], plot)
    return result


def main(argv=None) -> dict:
    arguments = parse_arguments(argv)
    if arguments.resummarise:
        return resummarise(arguments, argv)
    started = time.time()
    seeds = runs.run_seeds(run_seed, arguments, range(arguments.seeds), arguments.jobs)
    result = {
        **summarised(seeds, arguments.rules),
        "seeds": seeds,
        "settings": {k: v for k, v in runs.arguments_record(arguments).items() if k != "rules"}
        | {"rules": [name for name, _ in arguments.rules]},
        "seconds": round(time.time() - started, 1),
        "command": runs.command("retirement", argv),
    }
    path = runs.write_result(result, arguments.results_dir, arguments.output)
    plots.retirement_curves(seeds, result["by_rule"], arguments.rules[0][0], path)
    print(f"{result['seconds']} s")
    return result


if __name__ == "__main__":
    main()
