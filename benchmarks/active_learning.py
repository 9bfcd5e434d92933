"""Does active learning save votes? The paper's experiment on synthetic galaxies (or any .npz).

Per seed: a pool, a held-out test set with simulated votes, and an initial random labelled set —
the same for every strategy. Each round: warm-start retrain on every labelled subject, score the
pool with T dropout masks, acquire `batch` subjects by the strategy, and "ask volunteers" for them
(Binomial(N, true p) votes following the tree). Report test vote NLL and RMSE against labelled
count, per strategy, mean and 95% bootstrap interval over seeds; the vote-noise floor; and the
labelled subjects each strategy needs to reach random's final test NLL.

    .venv/bin/python benchmarks/active_learning.py --preset smoke      # ~3 minutes
    .venv/bin/python benchmarks/active_learning.py --preset standard   # the README's figures
    .venv/bin/python benchmarks/active_learning.py --dataset data.npz --no-rotation-invariant
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RESULTS = Path(__file__).resolve().parent / "results"
PRESETS = {
    "smoke": dict(
        pool=600,
        test=300,
        initial=60,
        batch=60,
        rounds=2,
        samples=10,
        seeds=2,
        image_size=24,
        epochs=8,
        strategies="random,bald,power_bald",
    ),
    "standard": dict(
        pool=2500,
        test=800,
        initial=100,
        batch=100,
        rounds=6,
        samples=15,
        seeds=5,
        image_size=32,
        epochs=15,
        strategies="random,bald,power_bald,diverse_bald,entropy",
    ),
}


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(
        description="Active learning vs random on simulated volunteers"
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), default="smoke")
    for name, kind in [
        ("pool", int),
        ("test", int),
        ("initial", int),
        ("batch", int),
        ("rounds", int),
        ("samples", int),
        ("seeds", int),
        ("image-size", int),
        ("epochs", int),
        ("volunteers", int),
    ]:
        parser.add_argument(f"--{name}", type=kind)
    parser.add_argument(
        "--strategies", help="comma-separated: random,bald,power_bald,diverse_bald,entropy"
    )
    parser.add_argument("--beta", type=float, default=1.0, help="power BALD exponent")
    parser.add_argument("--patience", type=int, default=3, help="early-stopping patience (epochs)")
    parser.add_argument(
        "--dataset", type=Path, help=".npz with images (n, h, w[, c]) and p (n, questions)"
    )
    parser.add_argument("--rotation-invariant", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--output", default="active_learning", help="result name in the results folder"
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    arguments = parser.parse_args(argv)
    for key, value in PRESETS[arguments.preset].items():
        if getattr(arguments, key) is None:
            setattr(arguments, key, value)
    arguments.volunteers = arguments.volunteers or 15
    arguments.strategies = [s.strip() for s in arguments.strategies.split(",") if s.strip()]
    if "random" not in arguments.strategies:
        parser.error("--strategies must include random: savings are measured against it")
    return arguments


def questions_for(p_columns: int, dataset: bool):
    """The galaxy tree for synthetic data; independent binary questions for any other dataset."""
    from mlworker import synthetic
    from mlworker.model import QuestionConfig

    if not dataset:
        parents = {"edge-on": (("smooth-or-featured", "featured"),), "bar": (("edge-on", "no"),)}
        return tuple(
            QuestionConfig(
                q["key"], tuple(a["key"] for a in q["answers"]), parents.get(q["key"], ())
            )
            for q in synthetic.GALAXY_QUESTIONS
        )
    return tuple(QuestionConfig(f"q{i}", ("yes", "no")) for i in range(p_columns))


def vote_counts(p: np.ndarray, volunteers: int, rng, dataset: bool) -> np.ndarray:
    """[n, questions, 2] counts: the galaxy tree for synthetic data, else every question answered."""
    from mlworker import synthetic

    if not dataset:
        return synthetic.simulate_vote_counts(p, volunteers, rng)
    first = rng.binomial(volunteers, p)
    return np.stack([first, volunteers - first], axis=-1)


def noise_floor(p: np.ndarray, counts: np.ndarray) -> float:
    """Mean test NLL of the votes under the TRUE probabilities (summed over questions): the best any model can do."""
    total = 0.0
    for question in range(p.shape[1]):
        n = counts[:, question].sum(-1)
        seen = n > 0
        total += -stats.binom.logpmf(counts[seen, question, 0], n[seen], p[seen, question]).mean()
    return float(total)


def evaluate(model, images, counts_by_question, samples):
    from mlworker import metrics, scoring

    report = metrics.evaluate(
        scoring.mc_samples(model, images, samples=samples), counts_by_question
    )
    nll = sum(entry["nll"] or 0.0 for entry in report.values())
    rmse = float(np.mean([entry["rmse"] for entry in report.values() if entry["rmse"] is not None]))
    return nll, rmse


def run_strategy(strategy, data, seed, arguments, questions, config):
    """One learning curve: [(labelled, test_nll, test_rmse, featured_share_of_picks)]."""
    from mlworker import acquisition, scoring, training

    rng = np.random.default_rng(1000 + seed)
    labelled = list(data["initial"])
    pool = np.setdiff1d(np.arange(len(data["pool_images"])), labelled)
    curve, model = [], None
    for round_number in range(arguments.rounds + 1):
        counts = {q.key: data["pool_counts"][labelled, i] for i, q in enumerate(questions)}
        result = training.train(
            data["pool_images"][labelled],
            counts,
            config,
            epochs=arguments.epochs,
            batch_size=32,
            validation_share=0.2,
            seed=seed * 100 + round_number,
            rotation_invariant=arguments.rotation_invariant,
            warm_start=model,
            patience=arguments.patience,
            continue_in_place=True,
        )
        model = result.model
        nll, rmse = evaluate(model, data["test_images"], data["test_counts"], arguments.samples)
        curve.append(
            {"labelled": len(labelled), "nll": nll, "rmse": rmse, "epochs": result.epochs_run}
        )
        if round_number == arguments.rounds:
            break
        samples = scoring.mc_samples(model, data["pool_images"][pool], samples=arguments.samples)
        scores = acquisition.subject_scores(samples, questions, arguments.volunteers, strategy)
        features = (
            scoring.features(model, data["pool_images"][pool])
            if strategy == "diverse_bald"
            else None
        )
        picked = pool[
            acquisition.select(
                strategy, scores, arguments.batch, rng, features=features, beta=arguments.beta
            )
        ]
        curve[-1]["featured_share_of_picks"] = float(np.mean(data["pool_p"][picked, 0] < 0.5))
        labelled.extend(picked.tolist())
        pool = np.setdiff1d(pool, picked)
    return curve


def make_data(seed, arguments):
    from mlworker import synthetic

    rng = np.random.default_rng(seed)
    if arguments.dataset:
        full = synthetic.load_npz_dataset(arguments.dataset)
        order = rng.permutation(len(full.p))
        needed = arguments.pool + arguments.test
        if len(order) < needed:
            raise SystemExit(
                f"--dataset has {len(order)} items: expected at least pool + test = {needed}"
            )
        images, p = full.images[order[:needed]], full.p[order[:needed]]
    else:
        galaxies = synthetic.make_galaxies(
            arguments.pool + arguments.test, size=arguments.image_size, seed=seed
        )
        images, p = galaxies.images, galaxies.p
    counts = vote_counts(p, arguments.volunteers, rng, bool(arguments.dataset))
    test = slice(arguments.pool, None)
    return {
        "pool_images": images[: arguments.pool],
        "pool_p": p[: arguments.pool],
        "pool_counts": counts[: arguments.pool],
        "test_images": images[test],
        "test_p": p[test],
        "test_raw_counts": counts[test],
        "initial": rng.choice(arguments.pool, arguments.initial, replace=False),
    }


def labels_to_reach(curve_labelled, curve_nll, target) -> float:
    """Labelled count at which the curve first reaches `target` NLL (linear interpolation); inf if never."""
    for index, (count, nll) in enumerate(zip(curve_labelled, curve_nll, strict=True)):
        if nll <= target:
            if index == 0:
                return float(count)
            previous_count, previous_nll = curve_labelled[index - 1], curve_nll[index - 1]
            return float(
                previous_count
                + (count - previous_count) * (previous_nll - target) / (previous_nll - nll)
            )
    return float("inf")


def saving(nll_by_seed: np.ndarray, random_by_seed: np.ndarray, labelled: np.ndarray) -> float:
    """Share of labels saved to reach random's final mean NLL, on the mean curves of these seeds."""
    target = random_by_seed[:, -1].mean()
    needed = labels_to_reach(labelled, nll_by_seed.mean(axis=0), target)
    return 1.0 - needed / labelled[-1] if np.isfinite(needed) else -np.inf


def summarise(curves, strategies, labelled, floor, resamples=2000):
    rng = np.random.default_rng(0)
    seeds = len(curves["random"])
    random_nll = np.array([[point["nll"] for point in curve] for curve in curves["random"]])
    summary, headline, intervals, verdicts = {}, {}, {}, {}
    for strategy in strategies:
        nll = np.array([[point["nll"] for point in curve] for curve in curves[strategy]])
        rmse = np.array([[point["rmse"] for point in curve] for curve in curves[strategy]])
        boot = rng.integers(0, seeds, size=(resamples, seeds))
        nll_means, rmse_means = nll[boot].mean(axis=1), rmse[boot].mean(axis=1)
        summary[strategy] = {
            "nll_mean": nll.mean(0).tolist(),
            "nll_low": np.percentile(nll_means, 2.5, axis=0).tolist(),
            "nll_high": np.percentile(nll_means, 97.5, axis=0).tolist(),
            "rmse_mean": rmse.mean(0).tolist(),
            "rmse_low": np.percentile(rmse_means, 2.5, axis=0).tolist(),
            "rmse_high": np.percentile(rmse_means, 97.5, axis=0).tolist(),
        }
        if strategy == "random":
            continue
        point = saving(nll, random_nll, labelled)
        booted = np.array(
            [saving(nll[b], random_nll[b], labelled) for b in boot]
        )  # paired: same seeds
        low, high = np.percentile(np.maximum(booted, -1.0), [2.5, 97.5])
        headline[strategy] = round(float(max(point, -1.0)), 3)
        intervals[strategy] = [round(float(low), 3), round(float(high), 3)]
        if low > 0:
            verdicts[strategy] = (
                f"saves {point:.0%} of labels (95% interval {low:.0%} to {high:.0%})"
            )
        elif high < 0:
            verdicts[strategy] = (
                f"needs more labels than random (95% interval {low:.0%} to {high:.0%})"
            )
        else:
            verdicts[strategy] = (
                f"no measurable saving (95% interval {low:.0%} to {high:.0%} includes 0)"
            )
    return summary, headline, intervals, verdicts


def plot(summary, labelled, floor, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for strategy, values in summary.items():
        for axis, metric in zip(axes, ["nll", "rmse"], strict=True):
            axis.plot(labelled, values[f"{metric}_mean"], marker="o", label=strategy)
            axis.fill_between(
                labelled, values[f"{metric}_low"], values[f"{metric}_high"], alpha=0.15
            )
    axes[0].axhline(floor, color="black", linestyle="--", label="vote-noise floor")
    axes[0].set_ylabel("test vote NLL (nats, summed over questions)")
    axes[1].set_ylabel("test RMSE of vote fractions")
    for axis in axes:
        axis.set_xlabel("labelled subjects")
        axis.legend(fontsize=8)
    figure.suptitle("Active learning vs random: mean and 95% bootstrap interval over seeds")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv=None) -> dict:
    arguments = parse_arguments(argv)
    from mlworker.model import ModelConfig

    started = time.time()
    curves = {strategy: [] for strategy in arguments.strategies}
    floors = []
    for seed in range(arguments.seeds):
        data = make_data(seed, arguments)
        questions = questions_for(data["pool_p"].shape[1], bool(arguments.dataset))
        data["test_counts"] = {
            q.key: data["test_raw_counts"][:, i] for i, q in enumerate(questions)
        }
        floors.append(noise_floor(data["test_p"], data["test_raw_counts"]))
        images = data["pool_images"]
        config = ModelConfig(
            image_size=images.shape[1],
            channels=1 if images.ndim == 3 else images.shape[-1],
            questions=questions,
            pool_after=(1, 3, 4, 5) if images.shape[1] >= 32 else (1, 3),
        )
        for strategy in arguments.strategies:
            curve = run_strategy(strategy, data, seed, arguments, questions, config)
            curves[strategy].append(curve)
            print(
                f"seed {seed} {strategy:>12}: "
                + " ".join(f"{p['labelled']}:{p['nll']:.3f}" for p in curve),
                flush=True,
            )
    labelled = np.array([point["labelled"] for point in curves["random"][0]])
    floor = float(np.mean(floors))
    summary, headline, intervals, verdicts = summarise(
        curves, arguments.strategies, labelled, floor
    )
    result = {
        "headline": {
            "label_saving_vs_random": headline,
            "saving_95_interval": intervals,
            "verdict": verdicts,
        },
        "labelled": labelled.tolist(),
        "vote_noise_floor_nll": floor,
        "random_curve_rising": bool(np.all(np.diff(summary["random"]["nll_mean"]) < 0)),
        "summary": summary,
        "curves": curves,
        "settings": {
            key: (str(value) if isinstance(value, Path) else value)
            for key, value in vars(arguments).items()
        },
        "seconds": round(time.time() - started, 1),
        "command": "make bench-active-learning"
        if arguments.preset == "standard" and not arguments.dataset
        else " ".join(sys.argv),
    }
    arguments.results_dir.mkdir(parents=True, exist_ok=True)
    (arguments.results_dir / f"{arguments.output}.json").write_text(
        json.dumps(result, indent=2) + "\n"
    )
    plot(summary, labelled, floor, arguments.results_dir / f"{arguments.output}.png")
    print(json.dumps(result["headline"], indent=2))
    print(
        f"noise floor {floor:.3f}; random final {summary['random']['nll_mean'][-1]:.3f}; {result['seconds']} s"
    )
    return result


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
