"""The classify page as volunteers will see it, for staff, published or not: the project's tree as
saved, its tutorial and field guide, and the first images of its queue. Answers walk the tree as
a volunteer's do but are never sent: a preview stores no vote."""

from django.shortcuts import render
from django.templatetags.static import static

from labelling.core import selectors, snapshots
from labelling.core.markdown import render_markdown
from labelling.staff import staff_selectors
from labelling.staff.access import project_page
from labelling.teams.permissions import Right
from labelling.volunteer import volunteer_selectors

PREVIEW_SUBJECTS = 5


@project_page(get=Right.PREVIEW)
def project_preview(request, project):
    tree = selectors.project_tree(project=project)  # as saved now, not a web process's cached copy
    loops = tree.loops()
    if loops:
        message = snapshots.loop_message(slug=project.slug, loop=loops[0])
        context = {"project": project, "message": message}
        return render(request, "labelling/unavailable.html", context, status=503)
    subjects = [
        {"id": subject.pk, "image_url": subject.image_url}
        for subject in staff_selectors.subjects_next_in_queue(
            project=project, count=PREVIEW_SUBJECTS
        )
    ]
    return render(
        request,
        "labelling/classify.html",
        {
            "project": project,
            "preview": True,
            # With no images yet, the questions are previewed over a placeholder.
            "preview_subjects": subjects
            or [{"id": "example", "image_url": static("labelling/preview-placeholder.svg")}],
            "tree": tree.as_json(),
            "tutorial": render_markdown(project.tutorial_markdown),
            "show_tutorial": False,
            "field_guide_text": render_markdown(project.field_guide_markdown),
            "field_guide": volunteer_selectors.field_guide(project=project, tree=tree),
        },
    )
