"""The survey benchmark on its tiny preset (the real run is `make bench-survey`): the result's shape,
and the catalogue RMSE it reports recomputed from the best-estimate column of the exports the run
kept (issue 39's "done when")."""

import argparse
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import common, survey, survey_arms, survey_crowd
from tests.benchmarks import ROOT, readme_section

ARMS = {"classic", "classic_then_model", "default", "no_picks", "no_model_retirement",
        "no_weighting", "model_retirement"}  # fmt: skip
LOOPING = {"default", "no_picks", "no_weighting", "model_retirement"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One tiny run in a process of its own (the benchmark sets Django up on its own throwaway
    database; this process's Django is the tests')."""
    folder = tmp_path_factory.mktemp("survey")
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL")
    }
    command = [sys.executable, "-m", "benchmarks.survey", "--preset", "tiny", "--output", "tiny"]
    command += ["--results-dir", str(folder), "--keep-catalogues", str(folder / "catalogues")]
    command += ["--work-dir", str(folder / "work")]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((folder / "tiny.json").read_text()), folder


def test_a_tiny_run_writes_the_headline_the_issue_reads(tiny):
    result, folder = tiny
    head = result["headline"]
    assert set(head["votes_saved"]["galaxies"]) == {"saving", "interval"}
    assert set(head["votes_saved_vs_classic_then_model"]["galaxies"]) == {"saving", "interval"}
    assert set(head["rmse_at_quarter_budget"]["galaxies"]) == ARMS
    assert set(head["lever_share"]["galaxies"]) == {"picks", "model_retirement", "weighting"}
    assert (folder / "tiny.png").stat().st_size > 1000
    assert not (folder / "work").exists()  # the throwaway database and files are gone
    (seed,) = result["datasets"]["galaxies"]["seeds"]
    arms = seed["arms"]
    assert set(arms) == ARMS and seed["budget"] == 15 * 24
    for arm in arms.values():
        assert arm["votes"][0] == 0 and arm["votes"] == sorted(arm["votes"])
        assert arm["votes"][-1] <= seed["budget"] and len(arm["rmse"]) == len(arm["votes"])
    assert arms["classic"]["versions"] == 0 and arms["classic"]["votes_spent"] == seed["budget"]
    assert all(arms[name]["versions"] >= 1 for name in LOOPING)
    assert arms["model_retirement"]["retired_by_model"] > 0
    assert arms["default"]["retired_by_model"] == 0  # Project's default rule: a fixed count
    assert arms["no_model_retirement"]["same_as"] == "default"
    assert arms["no_weighting"]["flagged"] == 0 < arms["default"]["flagged"]


def test_the_reported_rmse_is_the_exports_best_estimate_column(tiny):
    """Each arm's final catalogue RMSE, recomputed here from the `<answer>:estimate` column of the
    export it kept (classic_then_model: its last fit's catalogue) and the truth of the seed."""
    result, folder = tiny
    entry = result["datasets"]["galaxies"]
    settings = argparse.Namespace(**{**entry["settings"], "dataset": None})
    p = common.make_data(0, settings)["pool_p"]
    questions = common.questions_for(p.shape[1], dataset=False)
    reach = common.true_reach(p, questions)
    arms = entry["seeds"][0]["arms"]
    fits = arms["classic_then_model"]["fits"]
    reported = {
        name: arm["final_rmse"]
        for name, arm in arms.items()
        if "final_rmse" in arm and "same_as" not in arm
    }
    reported["classic_then_model"] = fits[max(fits, key=int)]["rmse"]
    for name, rmse in reported.items():
        with (folder / "catalogues" / f"galaxies-seed0-{name}.csv").open() as stream:
            rows = list(csv.DictReader(stream))
        assert len(rows) == len(p) * len(questions)
        estimate = np.full(p.shape, np.nan)
        for row in rows:
            column = [q.key for q in questions].index(row["question"])
            first = questions[column].answers[0]
            estimate[json.loads(row["metadata"])["index"], column] = float(row[f"{first}:estimate"])
        assert np.all((estimate >= 0) & (estimate <= 1))
        recomputed = np.sqrt(np.sum(reach * (estimate - p) ** 2) / np.sum(reach))
        assert recomputed == pytest.approx(rmse, abs=2e-6), name


def test_the_headline_saving_is_the_first_crossing_of_classics_final_within_2_percent(tiny):
    result, _ = tiny
    (seed,) = result["datasets"]["galaxies"]["seeds"]
    target = 1.02 * seed["arms"]["classic"]["final_rmse"]
    votes, rmse = seed["arms"]["default"]["votes"], seed["arms"]["default"]["rmse"]
    needed = next(
        (v0 + (r0 - target) / (r0 - r1) * (v1 - v0) if r0 > target else v0)
        for v0, v1, r0, r1 in zip([0, *votes], votes, [np.inf, *rmse], rmse, strict=True)
        if r1 <= target
    )
    saving = result["headline"]["votes_saved"]["galaxies"]["saving"]
    assert saving == pytest.approx(1 - needed / seed["budget"], abs=1e-4)


def test_the_readme_section_speaks_to_a_survey_team(tiny, tmp_path):
    _, folder = tiny
    text = readme_section(tmp_path, "survey", survey=folder / "tiny.json")
    assert "## For a survey team" in text and "fewer votes" in text
    assert "| Starling's defaults |" in text


def test_a_session_answers_a_subject_alike_in_every_arm_and_a_hostile_one_against_the_truth():
    arguments = argparse.Namespace(crowd=40, careless=0.15, hostile=0.05)
    questions = common.questions_for(3, dataset=False)
    p = np.array([[0.99, 0.01, 0.99]] * 3)
    crowd = survey_crowd.make(arguments, p, questions, np.random.default_rng(1))
    kinds = list(crowd["kinds"])
    honest, hostile = kinds.index("honest"), kinds.index("hostile")
    for session, chance in ((honest, 0.99), (hostile, 0.01)):  # of the first answer, "smooth"
        answers = survey_crowd.annotations(crowd, p, 2, session, questions)
        assert answers == survey_crowd.annotations(crowd, p, 2, session, questions)
        smooth = crowd["uniforms"][2, session, 0] < chance
        assert answers["smooth-or-featured"] == ("smooth" if smooth else "featured")
        assert ("edge-on" in answers) == (not smooth)  # the tree: only "featured" leads on
    addresses = survey_crowd.addresses(crowd, seed=3)
    groups = crowd["groups"]
    assert len(set(addresses)) == len(set(groups[groups >= 0])) + int(np.sum(groups < 0))


def test_an_arm_that_is_the_default_project_is_not_run_twice():
    arguments = survey.parse_arguments(["--preset", "tiny"])
    assert survey_arms.same_as("no_model_retirement", arguments.arms, arguments) == "default"
    assert survey_arms.same_as("model_retirement", arguments.arms, arguments) is None
    assert survey_arms.same_as("no_weighting", arguments.arms, arguments) is None


def test_each_candidate_of_the_screen_is_a_project_of_its_own_through_product_fields():
    """Point 4's candidates (`--arms`): Project fields (a misspelt one would fail here), none the
    default project, and not run unless named."""
    from labelling.models import Project

    arguments = survey.parse_arguments(["--preset", "screen", "--arms", ",".join(survey.ALL_ARMS)])
    assert not set(survey_arms.SCREEN) & set(survey.parse_arguments([]).arms)
    names = {field.name for field in Project._meta.fields}
    for arm in survey_arms.SCREEN:
        fields = survey_arms.project_fields(arm, arguments, 16, 1)
        assert set(fields) <= names, arm
        assert survey_arms.same_as(arm, arguments.arms, arguments) is None, arm
    cadence = survey_arms.project_fields("cadence_x2", arguments, 16, 1)["retrain_after_new_votes"]
    assert cadence == round(arguments.retrain_after_new_votes / 2)
