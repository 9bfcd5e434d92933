"""Staff forms: project settings, the question tree written as text, the volunteers' guide.

The tree text, one question per line and its answers indented below it:

    smooth-or-featured: Is the galaxy smooth or featured?
      smooth [s] Smooth
      featured [f] Featured or disk -> bar
    bar: Is there a bar?
      bar [b] Bar
      no-bar [n] No bar

`-> key` names the question an answer leads to. The first question is the root.
"""

import re
import zipfile

from django import forms

from labelling.core import projects
from labelling.core.errors import InvalidInput
from labelling.core.tree import AnswerNode, QuestionNode, Tree, tree_problems
from labelling.models import Project, Role

QUESTION_LINE = re.compile(r"^(?P<key>[a-z0-9][a-z0-9_-]*)\s*:\s*(?P<text>.+)$")
ANSWER_LINE = re.compile(
    r"^(?P<key>[a-z0-9][a-z0-9_-]*)\s*\[(?P<shortcut>.)\]\s*(?P<text>.+?)(?:\s*->\s*(?P<next>[a-z0-9][a-z0-9_-]*))?$"
)


def parse_tree_text(text: str) -> list[QuestionNode]:
    questions: list[dict] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.strip().startswith("#"):
            continue
        line = raw.strip()
        if raw[:1].isspace():
            match = ANSWER_LINE.match(line)
            if not match or not questions:
                raise InvalidInput(
                    f"Line {number}: expected an answer like '  smooth [s] Smooth -> next-question', received {line!r}"
                )
            questions[-1]["answers"].append(
                AnswerNode(
                    key=match["key"],
                    text=match["text"],
                    shortcut=match["shortcut"].lower(),
                    next_question=match["next"],
                )
            )
        else:
            match = QUESTION_LINE.match(line)
            if not match:
                raise InvalidInput(
                    f"Line {number}: expected a question like 'bar: Is there a bar?', received {line!r}"
                )
            questions.append({"key": match["key"], "text": match["text"], "answers": []})
    return [
        QuestionNode(key=q["key"], text=q["text"], answers=tuple(q["answers"])) for q in questions
    ]


def tree_as_text(tree: Tree) -> str:
    lines = []
    for key in tree.ordered_keys():
        question = tree.questions[key]
        lines.append(f"{key}: {question.text}")
        for answer in question.answers:
            arrow = f" -> {answer.next_question}" if answer.next_question else ""
            lines.append(f"  {answer.key} [{answer.shortcut}] {answer.text}{arrow}")
    return "\n".join(lines)


# The settings form's groups, in the order the form shows them; every setting is in one.
SETTINGS_GROUPS = [
    ("Project", ["slug", "title", "description", "questions", "is_published"]),
    (
        "Volunteers and retirement",
        [
            "retirement_limit",
            "retirement_rule",
            "retirement_threshold",
            "retirement_max_expected_change",
            "retirement_minimum_votes",
        ],
    ),
    (
        "Model and acquisition",
        [
            "image_size",
            "image_channels",
            "rotation_invariant",
            "mc_samples",
            "acquisition_strategy",
            "acquisition_batch_size",
            "exploration_share",
        ],
    ),
    (
        "Schedule",
        [
            "retrain_after_new_votes",
            "retrain_after_minutes",
            "retrain_minimum_labelled_subjects",
        ],
    ),
]
SETTINGS_FIELDS = [
    name for _, names in SETTINGS_GROUPS for name in names if name not in ("slug", "questions")
]


class ProjectForm(forms.ModelForm):
    questions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10, "cols": 70, "spellcheck": "false"}),
        help_text="One question per line ('key: text'), its answers indented below: 'key [shortcut] text -> next-question'.",
    )

    class Meta:
        model = Project
        fields = ["slug", *SETTINGS_FIELDS]
        labels = {"mc_samples": "Dropout samples per image (T)", "is_published": "Published"}
        help_texts = {
            "slug": "The project's name in its web address: lower-case letters, digits, hyphens.",
            "image_size": "Side of the square the model sees, in pixels (images are resized).",
            "image_channels": "Greyscale or colour, as the model reads the images.",
            "retirement_limit": "Votes after which an image is retired (Zooniverse's default: 15).",
            "retirement_rule": "Fixed count retires at the limit; model-aware may retire earlier "
            "once the model and the votes agree.",
            "retirement_threshold": "Model-aware: retire when every 90% interval of the final vote "
            "fraction is narrower than this (a fraction, 0.01 to 1).",
            "retirement_max_expected_change": "Model-aware: ...or when the votes still to come are "
            "expected to change each count by less than this many votes.",
            "retirement_minimum_votes": "Model-aware: never retire before this many votes.",
            "acquisition_batch_size": "Images each round puts first in the queue.",
            "exploration_share": "Share of each round's images picked at random rather than by "
            "the model (a fraction, 0 to 1).",
            "acquisition_strategy": "How a round picks what the model asks about.",
            "mc_samples": "Dropout masks drawn per image when scoring (more: steadier "
            "uncertainties, slower scoring).",
            "rotation_invariant": "Train with flips and 90-degree turns: off when an image's label "
            "depends on its orientation.",
            "retrain_after_new_votes": "Retrain after this many new votes (0: never on votes).",
            "retrain_after_minutes": "...or after this many minutes with at least one new vote "
            "(0: never on time).",
            "retrain_minimum_labelled_subjects": "...and only once this many images have votes "
            "(all of them, if the project has fewer).",
            "is_published": "Shown to volunteers on the home page. Publish once the images are "
            "uploaded.",
        }

    def clean_questions(self):
        """The tree's nodes; each thing wrong with the text or the tree is one error, shown once."""
        try:
            nodes = parse_tree_text(self.cleaned_data["questions"])
        except InvalidInput as error:
            raise forms.ValidationError(error.message) from None
        problems = tree_problems(nodes)
        if problems:
            raise forms.ValidationError(problems)
        return nodes

    def __init__(self, *args, publish_refusal: str | None = None, **kwargs):
        """`publish_refusal`: why this account may not publish the project yet (it waits for a
        site administrator's approval, labelling/teams/reviews.py), or None."""
        super().__init__(*args, **kwargs)
        self.publish_refusal = publish_refusal

    def clean_is_published(self):
        """A project is published only once it has images: volunteers would find nothing; and,
        where projects are reviewed, once a site administrator approved it."""
        published = self.cleaned_data["is_published"]
        problem = projects.project_publish_problem(project=self.instance) if published else None
        if published and not problem and not self.instance.is_published:
            problem = self.publish_refusal
        if problem:
            raise forms.ValidationError(problem)
        return published

    def groups(self) -> list[tuple[str, list]]:
        """[(legend, [bound field, ...])] in SETTINGS_GROUPS' order, for the template."""
        return [(legend, [self[name] for name in names]) for legend, names in SETTINGS_GROUPS]


class UploadForm(forms.Form):
    archive = forms.FileField(
        help_text="A .zip of images (PNG, JPEG, GIF, BMP, TIFF, WebP), with its manifest (.csv) "
        "inside if you have one."
    )
    manifest = forms.FileField(
        required=False,
        label="Manifest (optional)",
        help_text="A CSV with one row per image: a column 'file' (or file_name, filename, image) "
        "naming it, and any others (the survey's ID, coordinates, ...), kept as each image's "
        "metadata. A column 'id' or ending in '_id' must not repeat.",
    )

    def clean_archive(self):
        archive = self.cleaned_data["archive"]
        if not zipfile.is_zipfile(archive):
            raise forms.ValidationError(
                f"{archive.name}: not a zip file; expected a .zip of images (a folder can be "
                "imported with manage.py import_subjects)"
            )
        archive.seek(0)
        return archive


class GuideForm(forms.Form):
    tutorial_markdown = forms.CharField(
        label="Tutorial (Markdown)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Shown to each volunteer on their first visit; they can reopen it.",
    )
    field_guide_markdown = forms.CharField(
        label="Field guide introduction (Markdown)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Above the example images of every answer. HTML is sanitised: no scripts.",
    )
    image_alt_text = forms.CharField(
        label="Alt text of the images",
        required=False,
        max_length=300,
        help_text="What screen readers say for an image to classify, e.g. 'A galaxy photographed "
        "by a telescope'.",
    )

    def __init__(self, *args, tree: Tree, **kwargs):
        super().__init__(*args, **kwargs)
        self.example_fields: dict[str, tuple[str, str]] = {}
        for question_key in tree.ordered_keys():
            question = tree.questions[question_key]
            for answer in question.answers:
                name = f"examples_{len(self.example_fields)}"
                self.example_fields[name] = (question_key, answer.key)
                self.fields[name] = forms.CharField(
                    label=f"Examples of '{answer.text}' ({question.text})",
                    required=False,
                    help_text="Subject ids, comma-separated.",
                )

    def clean(self):
        cleaned = super().clean()
        examples = {}
        for name, pair in self.example_fields.items():
            raw = (cleaned.get(name) or "").replace(",", " ").split()
            if not all(part.isascii() and part.isdigit() for part in raw):
                self.add_error(
                    name, f"Expected subject ids separated by commas, received {cleaned[name]!r}"
                )
                continue
            if raw:
                examples[pair] = [int(part) for part in raw]
        cleaned["examples"] = examples
        return cleaned


class StartVersionForm(forms.Form):
    version = forms.ModelChoiceField(
        queryset=None,
        label="A ready model version of another project",
        empty_label=None,
        help_text="Its trunk is copied into this project; the question heads are built fresh.",
    )

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = candidates
        self.fields["version"].label_from_instance = _version_label

    def clean(self):
        cleaned = super().clean()
        if "version" in self.errors:  # Django's own "Select a valid choice" names no value
            received = self.data.get("version", "")
            self.errors["version"] = self.error_class(
                [f"Expected a ready version of another project, received {received!r}"]
            )
        return cleaned


def _version_label(version) -> str:
    held_out = version.held_out_summary
    nll = f", held-out NLL {held_out['nll']:.3f}" if held_out.get("nll") is not None else ""
    return (
        f"{version.project.title} v{version.number} ({version.training_set_size} labelled, "
        f"{version.config.get('image_size', '?')} px{nll})"
    )


class StartFileForm(forms.Form):
    trunk_file = forms.FileField(
        label="A Keras model file (.keras)",
        help_text="A backbone trained elsewhere: one image input (height, width, 1 or 3 channels), "
        "pixels in [0, 1], features or a feature map out. Loaded in Keras' safe mode: no Lambda "
        "layers. Put any preprocessing inside the model.",
    )


class MemberForm(forms.Form):
    name_or_email = forms.CharField(
        label="User name or e-mail",
        max_length=254,
        help_text="An existing account: whoever you add signs up first.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.RESEARCHER)


class ReviewRequestForm(forms.Form):
    note = forms.CharField(
        label="A word to the administrator (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
