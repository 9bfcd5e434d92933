"""Every staff URL, every method it answers, every kind of account, against one table.

The test walks Django's URL resolver for every route under /staff/: a route missing from TABLE
fails it, as does a method the view answers that the table does not list (every other method must
get 405), or any answer other than the table's. In-process, with Django's test client."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from labelling.models import ProjectReview
from labelling.volunteer import submission
from tests.labelling.staff.test_dashboard import scored
from tests.labelling.teams.conftest import ACCOUNTS, ROLES

pytestmark = pytest.mark.django_db

SIGN_IN, HIDDEN, REFUSED = "sign-in", 404, 403


def project_route(least_role: str, allowed: int) -> dict[str, object]:
    """A project's page: anonymous to the sign-in page, an outsider 404 (the project is not
    revealed), roles below `least_role` 403, the rest (and a site administrator) `allowed`."""
    least = ROLES.index(least_role)
    answers = {"anonymous": SIGN_IN, "outsider": HIDDEN, "administrator": allowed}
    for position, role in enumerate(ROLES):
        answers[role] = allowed if position >= least else REFUSED
    return answers


def any_account(allowed: int) -> dict[str, object]:
    return {account: SIGN_IN if account == "anonymous" else allowed for account in ACCOUNTS}


def administrators(allowed: int) -> dict[str, object]:
    return {**any_account(REFUSED), "administrator": allowed}


# route name -> {method -> {account -> answer}}. A POST carries one unknown field: a form answers
# 400 with its errors, an action 302 back to its page with a message saying what it did or why not.
TABLE = {
    "staff_home": {"GET": any_account(200)},
    "staff_project_new": {"GET": any_account(200), "POST": any_account(400)},
    "staff_reviews": {"GET": administrators(200)},
    "staff_review_approve": {"POST": administrators(302)},
    "staff_review_decline": {"POST": administrators(302)},
    "staff_dashboard": {"GET": project_route("researcher", 200)},
    "staff_edit": {
        "GET": project_route("collaborator", 200),
        "POST": project_route("collaborator", 400),
    },
    "staff_upload": {
        "GET": project_route("collaborator", 200),
        "POST": project_route("collaborator", 400),
    },
    "staff_guide": {
        "GET": project_route("collaborator", 200),
        "POST": project_route("collaborator", 302),
    },
    "staff_preview": {"GET": project_route("tester", 200)},
    "staff_start": {
        "GET": project_route("collaborator", 200),
        "POST": project_route("collaborator", 200),
    },
    "staff_retrain": {"POST": project_route("collaborator", 302)},
    "staff_members": {
        "GET": project_route("researcher", 200),
        "POST": project_route("owner", 400),
    },
    "staff_member_role": {"POST": project_route("owner", 302)},
    "staff_member_remove": {"POST": project_route("owner", 302)},
    "staff_review": {
        "GET": project_route("researcher", 200),
        "POST": project_route("owner", 302),
    },
    "staff_delete": {"GET": project_route("owner", 200), "POST": project_route("owner", 302)},
    "staff_archive": {"POST": project_route("owner", 302)},
    "staff_volunteers": {"GET": project_route("researcher", 200)},
    "staff_volunteer_exclude": {"POST": project_route("collaborator", 302)},
    "staff_volunteer_lift": {"POST": project_route("collaborator", 302)},
    "staff_round": {"GET": project_route("researcher", 200)},
    "staff_subjects": {"GET": project_route("researcher", 200)},
    "staff_subject": {"GET": project_route("researcher", 200)},
    "staff_subject_withdraw": {"POST": project_route("collaborator", 302)},
    "staff_subject_restore": {"POST": project_route("collaborator", 302)},
    "staff_chart_posterior": {"GET": project_route("researcher", 200)},
    "staff_chart_votes": {"GET": project_route("researcher", 200)},
    "staff_chart_learning": {"GET": project_route("researcher", 200)},
    "staff_chart_calibration": {"GET": project_route("researcher", 200)},
    "staff_export_classifications": {"GET": project_route("researcher", 200)},
    "staff_export_counts": {"GET": project_route("researcher", 200)},
    "staff_export_catalogue": {"GET": project_route("researcher", 200)},
    "staff_export_predictions": {"GET": project_route("researcher", 200)},
}
OTHER_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def staff_routes(patterns=None, prefix: str = "") -> dict[str, URLPattern]:
    """{name: pattern} of every route under /staff/, found by walking the URL resolver."""
    found = {}
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found |= staff_routes(pattern.url_patterns, route)
        elif route.startswith("staff/"):
            found[pattern.name] = pattern
    return found


def test_every_staff_url_and_method_answers_each_account_as_the_table_says(team, volunteer):
    project = team.project
    subject = project.subjects.order_by("pk").first()
    submission.classification_submit(
        project=project,
        volunteer=volunteer,
        subject_id=subject.pk,
        annotations={"smooth-or-featured": "smooth"},
        idempotency_key="table",
    )
    scored(project)
    review = ProjectReview.objects.create(project=project, requested_by=team.users["owner"])
    arguments = {
        "slug": project.slug, "subject_id": subject.pk, "number": 1, "question": "bar",
        "volunteer_id": volunteer.pk, "user_id": team.users["outsider"].pk,
        "review_id": review.pk,
    }  # fmt: skip
    routes = staff_routes()
    undeclared = [
        name for name, pattern in routes.items() if not hasattr(pattern.callback, "needs")
    ]
    assert undeclared == [], "staff views that do not declare what each method needs (access.py)"
    assert sorted(set(routes) - set(TABLE)) == [], "staff URLs missing from TABLE"
    assert sorted(set(TABLE) - set(routes)) == [], "TABLE rows with no staff URL"
    clients = {account: team.client(account) for account in ACCOUNTS}
    wrong = []
    for name, pattern in routes.items():
        url = reverse(
            name, kwargs={key: arguments[key] for key in pattern.pattern.regex.groupindex}
        )
        for method in OTHER_METHODS:
            expected = TABLE[name].get(method)
            for account, client in clients.items():
                if expected is None and account not in ("anonymous", "administrator"):
                    continue  # a method the view does not answer: 405 for anyone, shown by two
                data = {"unknown": "1"} if method == "POST" else None
                response = getattr(client, method.lower())(url, data)
                answer = expected[account] if expected else 405
                if not matches(response, answer, name, method):
                    wrong.append((name, method, account, answer, response.status_code))
    assert wrong == [], "(url, method, account, expected, received):\n" + "\n".join(map(str, wrong))


def matches(response, answer, name: str, method: str) -> bool:
    """Whether the response is the table's answer; a refusal must say what would be allowed."""
    if answer == SIGN_IN:
        return response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    if response.status_code != answer:
        return False
    if answer == REFUSED:
        needs = TABLE_RIGHTS.get((name, method))
        said = f"you need the {needs} role" if needs else "Only site administrators"
        return said in response.content.decode()
    return True


# The role a refused member is told they need, for the project routes (the page names it).
TABLE_RIGHTS = {
    (name, method): next(role for role in ROLES if answers[role] != REFUSED)
    for name, methods in TABLE.items()
    for method, answers in methods.items()
    if answers["outsider"] == HIDDEN
}
