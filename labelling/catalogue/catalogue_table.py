"""The catalogue as a table: its columns (name, type, unit, description) and its rows, typed, one
per subject and question; the CSV, VOTable and FITS files are written from these
(catalogue_formats.py).

Which subjects are in it is `catalogue_subjects` alone. Every subject (retired ones too) carries
the posterior of the latest good model version that scored it; a round scores every subject of the
catalogue (labelling/loop/tasks.py), so after a version every row comes from it (subjects imported
since excepted: they carry the image-free baseline until the next round).

The manifest's columns (Subject.metadata, text) become columns of their own beside the `metadata`
JSON: an integer column when every non-empty value is an integer within int64, a float column
when every non-empty value is a finite number, text otherwise (and for a value with a leading zero
such as "007", an identifier); an empty value is missing (masked in VOTable and FITS, empty in CSV).
"""

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet

from labelling.catalogue.catalogue_estimates import SubjectEstimates
from labelling.core.selectors import project_tree
from labelling.core.votes import answer_counts
from labelling.models import Project, Subject

CHUNK = 2000
LEADING_ZERO = re.compile(r"^[+-]?0\d")
COUNT_UNIT = "ct"  # votes (a VOUnit and FITS unit)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "int", "float" or "str"
    unit: str | None  # None: dimensionless or text
    description: str


# Per answer, in this order: the raw votes and their fraction; the same with each vote weighted by
# its volunteer's reliability (labelling/crowd); the model's posterior mean vote fraction with its
# 90% interval; the best estimate of the answer's probability from both (estimate.py).
ANSWER_VALUES = (
    ("votes", "int", COUNT_UNIT, "votes for answer {answer} (N counts the question's votes)"),
    ("fraction", "float", None, "votes for {answer} / N"),
    ("weighted_votes", "float", COUNT_UNIT, "votes for {answer}, each weighted by its volunteer's reliability"),
    ("weighted_fraction", "float", None, "weighted votes for {answer} / N_weighted"),
    ("mean", "float", None, "model's posterior mean vote fraction for {answer} (model_version's)"),
    ("low90", "float", None, "lower end of the model's 90% interval for {answer}'s vote fraction"),
    ("high90", "float", None, "upper end of the model's 90% interval for {answer}'s vote fraction"),
    ("estimate", "float", None, "best estimate of the probability a volunteer picks {answer} (model and weighted votes)"),
    ("estimate_low90", "float", None, "lower end of the 90% credible interval of {answer}'s estimate"),
    ("estimate_high90", "float", None, "upper end of the 90% credible interval of {answer}'s estimate"),
)  # fmt: skip
CATALOGUE_VALUES = tuple(name for name, *_ in ANSWER_VALUES)

IDENTITY = (
    Column("subject_id", "int", None, "the subject's id in Starling"),
    Column("original_name", "str", None, "the image's file name as uploaded"),
    Column("metadata", "str", None, "the manifest's values for the subject, as JSON"),
)
STANDING = (
    Column("status", "str", None, "active or retired"),
    Column("retirement_reason", "str", None, "why it retired: limit (votes) or model; empty if active"),
    Column("retired_at", "str", None, "when it retired (ISO 8601, UTC); empty if active"),
    Column("question", "str", None, "the question this row is about (one row per subject and question)"),
    Column("N", "int", COUNT_UNIT, "volunteers who answered the question (votes after retirement excluded)"),
    Column("N_weighted", "float", COUNT_UNIT, "N with each vote weighted by its volunteer's reliability"),
)  # fmt: skip
TRAILER = (
    Column("model_version", "int", None, "the model version behind mean/low90/high90 (empty: none scored it)"),
    Column("mutual_information", "float", None, "the question's mutual information under model_version, in nats"),
)  # fmt: skip


def catalogue_subjects(*, project: Project) -> QuerySet:
    """The subjects the catalogue lists (and every good model version scores): all of the
    project's, retired ones too, by id."""
    return Subject.objects.filter(project=project).order_by("pk")


def manifest_columns(*, project: Project, taken: set[str]) -> list[tuple[str, Column]]:
    """[(metadata key, its Column)] for every manifest key of the catalogue's subjects, typed
    (module docstring); a key that clashes with a column name in `taken` is `metadata:<key>`."""
    kinds: dict[str, str] = {}
    values = catalogue_subjects(project=project).values_list("metadata", flat=True)
    for metadata in values.iterator(chunk_size=CHUNK):
        for key, value in (metadata or {}).items():
            kinds[key] = _widest(kinds.get(key, "int"), _kind_of(value))
    columns = []
    for key in sorted(kinds):
        name = f"metadata:{key}" if key in taken else key
        columns.append((key, Column(name, kinds[key], None, f"manifest column {key!r}")))
    return columns


def _kind_of(value) -> str:
    text = "" if value is None else str(value).strip()
    if text == "":
        return "int"  # missing: says nothing against a number
    if LEADING_ZERO.match(text):
        return "str"  # an identifier such as "007": a number would lose its zeros
    try:
        if str(int(text)) == text:
            return "int" if abs(int(text)) < 2**63 else "str"  # an int64 column
    except ValueError:
        pass
    try:
        return "float" if math.isfinite(float(text)) else "str"
    except ValueError:
        return "str"


def _widest(first: str, second: str) -> str:
    order = ("int", "float", "str")
    return order[max(order.index(first), order.index(second))]


def typed_value(value, kind: str):
    """A manifest value as its column's type; None when empty."""
    text = "" if value is None else str(value).strip()
    if text == "":
        return None
    return int(text) if kind == "int" else float(text) if kind == "float" else str(value)


class CatalogueTable:
    """The catalogue's columns (`columns`) and typed rows (`rows()`; None where a value is
    missing), reading the database in chunks."""

    def __init__(self, *, project: Project):
        self.project = project
        self.tree = project_tree(project=project)
        self.keys = self.tree.ordered_keys()
        questions = [self.tree.questions[key] for key in self.keys]
        self.answer_keys = list(dict.fromkeys(a.key for q in questions for a in q.answers))
        answer_columns = [
            Column(f"{answer}:{name}", kind, unit, description.format(answer=answer))
            for answer in self.answer_keys
            for name, kind, unit, description in ANSWER_VALUES
        ]
        fixed = [*IDENTITY, *STANDING, *answer_columns, *TRAILER]
        self.manifest = manifest_columns(project=project, taken={c.name for c in fixed})
        self.columns = [
            *IDENTITY,
            *(column for _, column in self.manifest),
            *STANDING,
            *answer_columns,
            *TRAILER,
        ]

    def row_count(self) -> int:
        return catalogue_subjects(project=self.project).count() * len(self.keys)

    def rows(self) -> Iterator[list]:
        estimator = SubjectEstimates(project=self.project, tree=self.tree)
        subjects = catalogue_subjects(project=self.project)
        fields = ["pk", "original_name", "metadata", "status", "retirement_reason", "retired_at"]
        last = 0
        while chunk := list(
            subjects.filter(pk__gt=last).values_list(*fields, "vote_counts")[:CHUNK]
        ):
            last = chunk[-1][0]
            weighted = estimator.weighted_counts([row[0] for row in chunk])
            estimated = estimator.chunk(weighted)
            for pk, name, metadata, status, reason, retired_at, votes in chunk:
                latest, estimates = estimated[pk]
                described = [pk, name, json.dumps(metadata, sort_keys=True)]
                described += [
                    typed_value((metadata or {}).get(k), c.kind) for k, c in self.manifest
                ]
                standing = [status, reason, retired_at.isoformat() if retired_at else None]
                per_question = latest.per_question if latest else {}
                number = latest.number if latest else None
                for key in self.keys:
                    total, weighted_total, cells, information = _catalogue_cells(
                        self.tree, key, votes, weighted[pk], per_question, estimates[key]
                    )
                    blank = [None] * len(ANSWER_VALUES)
                    answers = [v for answer in self.answer_keys for v in cells.get(answer, blank)]
                    yield [
                        *described,
                        *standing,
                        key,
                        total,
                        weighted_total,
                        *answers,
                        number,
                        information,
                    ]


def _fraction(part: float, total: float) -> float | None:
    """part / total rounded to 6 decimals, within [0, 1]: the total is not rounded first."""
    return min(1.0, max(0.0, round(part / total, 6))) if total else None


def _catalogue_cells(tree, key: str, votes, weighted, per_question: dict, estimate) -> tuple:
    """(N, weighted N, {answer: ANSWER_VALUES}, mutual information) of a question."""
    counts = answer_counts(votes, tree, key)
    weighted_counts = answer_counts(weighted, tree, key)
    total, weighted_total = sum(counts), sum(weighted_counts)
    question = per_question.get(key, {})
    cells = {}
    for index, (answer, count, weight) in enumerate(
        zip(tree.questions[key].answers, counts, weighted_counts, strict=True)
    ):
        model = question.get("answers", {}).get(answer.key, {})
        cells[answer.key] = [
            count,
            _fraction(count, total),
            round(weight, 4),
            _fraction(weight, weighted_total),
            model.get("mean"),
            model.get("low"),
            model.get("high"),
            *(round(float(end[index]), 6) for end in estimate),
        ]
    return total, round(weighted_total, 4), cells, question.get("mutual_information")
