"""Staff forms: project settings, and the question tree written as text.

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

from django import forms

from labelling.errors import InvalidInput
from labelling.models import Project
from labelling.tree import AnswerNode, QuestionNode, Tree

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


SETTINGS_FIELDS = [
    "title",
    "description",
    "image_size",
    "image_channels",
    "retirement_limit",
    "retirement_rule",
    "retirement_threshold",
    "retirement_minimum_votes",
    "acquisition_batch_size",
    "exploration_share",
    "acquisition_strategy",
    "mc_samples",
    "rotation_invariant",
    "retrain_after_new_votes",
    "retrain_after_minutes",
    "is_published",
]


class ProjectForm(forms.ModelForm):
    questions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10, "cols": 70, "spellcheck": "false"}),
        help_text="One question per line ('key: text'), its answers indented below: 'key [shortcut] text -> next-question'.",
    )

    class Meta:
        model = Project
        fields = ["slug", *SETTINGS_FIELDS]

    def clean_questions(self):
        try:
            return parse_tree_text(self.cleaned_data["questions"])
        except InvalidInput as error:
            raise forms.ValidationError(error.message) from None


class UploadForm(forms.Form):
    archive = forms.FileField(help_text="A .zip of images (PNG, JPEG, GIF, BMP, TIFF, WebP).")
