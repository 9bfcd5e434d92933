"""One subject for staff: its image, file and metadata, how it retired, and per question the votes
(raw and weighted), the catalogue's best estimate of each answer with its 90% interval (the same
function as the catalogue export's), and every model version's posterior over its votes."""

from django.http import Http404
from django.shortcuts import render

from labelling.catalogue.catalogue_estimates import SubjectEstimates
from labelling.core import selectors
from labelling.core.errors import NotFound
from labelling.core.votes import answer_counts
from labelling.crowd import crowd_selectors
from labelling.staff import staff_selectors
from labelling.staff.dashboard import staff_only, staff_project


@staff_only
def subject_detail(request, slug, subject_id):
    project = staff_project(slug)
    try:
        subject = selectors.subject_get_in_project(project=project, subject_id=subject_id)
    except NotFound as error:
        raise Http404(str(error)) from None
    tree = selectors.project_tree(project=project)
    history = staff_selectors.subject_prediction_history(subject=subject)
    estimator = SubjectEstimates(
        project=project,
        tree=tree,
        weights=crowd_selectors.vote_weights(
            project=project, volunteer_ids=staff_selectors.subject_volunteer_ids(subject=subject)
        ),
    )
    weighted = estimator.weighted_counts([subject.pk])
    latest, estimates = estimator.chunk(weighted)[subject.pk]
    questions = []
    for key in tree.ordered_keys():
        votes = (subject.vote_counts or {}).get(key, {})
        answers = tree.questions[key].answers
        weighted_votes = answer_counts(weighted[subject.pk], tree, key)
        mean, low, high = estimates[key]
        questions.append(
            {
                "key": key,
                "text": tree.questions[key].text,
                "votes": [(answer.text, votes.get(answer.key, 0)) for answer in answers],
                "total": sum(votes.values()),
                "weighted_total": sum(weighted_votes),
                "estimate": [
                    (answer.text, weight, mean[a], low[a], high[a])
                    for a, (answer, weight) in enumerate(zip(answers, weighted_votes, strict=True))
                ],
                "history": [(p.model_version.number, p.per_question.get(key, {})) for p in history],
            }
        )
    return render(
        request,
        "labelling/dashboard/subject.html",
        {
            "project": project,
            "subject": subject,
            "questions": questions,
            "estimated_with": f"model v{latest.number}" if latest else "the image-free baseline",
            "latest": history[0] if history else None,
            "forecast": [
                {"key": key, **subject.retirement_forecast[key]}
                for key in tree.ordered_keys()
                if key in (subject.retirement_forecast or {})
            ],
        },
    )
