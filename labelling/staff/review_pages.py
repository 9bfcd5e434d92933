"""Going public (labelling/teams/reviews.py): a project's review page, where its owners ask a site
administrator for review and read the decision, and the administrators' list of requests, where
they approve (the project goes public at once) or decline with a reason."""

from django.contrib import messages
from django.shortcuts import redirect, render

from labelling.core.errors import StarlingError
from labelling.staff.access import project_page, site_page
from labelling.staff.forms import ReviewRequestForm
from labelling.teams import permissions, reviews
from labelling.teams.permissions import Right


@project_page(get=Right.VIEW, post=Right.REVIEW)
def project_review(request, project):
    form = ReviewRequestForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            reviews.review_request(project=project, by=request.user, note=form.cleaned_data["note"])
            messages.success(
                request,
                "Review asked for: a site administrator will approve the project (it then goes "
                "public) or say what to change.",
            )
        except StarlingError as error:
            messages.error(request, error.message)
        return redirect("staff_review", slug=project.slug)
    context = {
        "project": project,
        "form": form,
        "required": reviews.review_required(),
        "approved": reviews.project_approved(project=project),
        "history": list(reviews.project_reviews(project=project)),
    }
    return render(request, "labelling/dashboard/review.html", context)


@site_page(get=permissions.review_refusal)
def review_list(request):
    context = {"pending": reviews.reviews_pending(), "decided": reviews.reviews_decided()}
    return render(request, "labelling/dashboard/reviews.html", context)


@site_page(post=permissions.review_refusal)
def review_approve(request, review_id):
    return _decide(request, review_id, approve=True)


@site_page(post=permissions.review_refusal)
def review_decline(request, review_id):
    return _decide(request, review_id, approve=False)


def _decide(request, review_id: int, *, approve: bool):
    try:
        review = reviews.review_decide(
            review_id=review_id,
            by=request.user,
            approve=approve,
            reason=request.POST.get("reason", ""),
        )
    except StarlingError as error:
        messages.error(request, error.message)
    else:
        done = "approved: it is public now" if approve else "declined: its owners read why"
        messages.success(request, f"{review.project.title} {done}.")
    return redirect("staff_reviews")
