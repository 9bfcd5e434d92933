"""Writes of what volunteers read: a project's tutorial, field guide and example images."""

from django.db import transaction

from labelling.core.errors import InvalidInput
from labelling.core.selectors import project_tree
from labelling.core.tree import Tree
from labelling.models import FieldGuideExample, Project, Subject

MAX_EXAMPLES_PER_ANSWER = 6


@transaction.atomic
def project_guide_update(
    *,
    project: Project,
    tutorial_markdown: str,
    field_guide_markdown: str,
    image_alt_text: str,
    examples: dict[tuple[str, str], list[int]],
) -> Project:
    """Set the tutorial, the field guide and the alt text, and replace the example images.

    `examples` maps (question key, answer key) to subject ids in display order; every answer must
    be in the project's tree and every subject in the project.
    """
    _check_examples(project, project_tree(project=project), examples)
    project.tutorial_markdown = tutorial_markdown
    project.field_guide_markdown = field_guide_markdown
    project.image_alt_text = image_alt_text
    project.full_clean()
    project.save(update_fields=["tutorial_markdown", "field_guide_markdown", "image_alt_text"])
    FieldGuideExample.objects.filter(project=project).delete()
    FieldGuideExample.objects.bulk_create(
        [
            FieldGuideExample(
                project=project,
                question_key=question_key,
                answer_key=answer_key,
                subject_id=subject_id,
                position=position,
            )
            for (question_key, answer_key), subject_ids in examples.items()
            for position, subject_id in enumerate(subject_ids)
        ]
    )
    return project


def _check_examples(
    project: Project, tree: Tree, examples: dict[tuple[str, str], list[int]]
) -> None:
    for (question_key, answer_key), subject_ids in examples.items():
        question = tree.questions.get(question_key)
        if question is None:
            raise InvalidInput(
                f"Unknown question {question_key!r} for a field guide example: expected one of "
                f"{sorted(tree.questions)}"
            )
        if question.answer(answer_key) is None:
            raise InvalidInput(
                f"Unknown answer {question_key}:{answer_key} for a field guide example: expected "
                f"one of {[answer.key for answer in question.answers]}"
            )
        if len(subject_ids) != len(set(subject_ids)):
            raise InvalidInput(
                f"Examples of {question_key}:{answer_key} repeat a subject: received {subject_ids}"
            )
        if len(subject_ids) > MAX_EXAMPLES_PER_ANSWER:
            raise InvalidInput(
                f"Too many examples of {question_key}:{answer_key}: expected at most "
                f"{MAX_EXAMPLES_PER_ANSWER}, received {len(subject_ids)}"
            )
    wanted = {subject_id for subject_ids in examples.values() for subject_id in subject_ids}
    found = set(Subject.objects.filter(project=project, pk__in=wanted).values_list("pk", flat=True))
    missing = sorted(wanted - found)
    if missing:
        raise InvalidInput(
            f"Unknown subject(s) {missing} in project {project.slug!r}: field guide examples must "
            "be the project's own subjects (their ids are on the Subjects page)"
        )
