"""Staff page for what volunteers read: the tutorial, the field guide (Markdown, rendered safely on
the classify page) with example images picked by subject id for every answer, and the alt text."""

from django.contrib import messages
from django.shortcuts import redirect, render

from labelling.core import selectors
from labelling.core.errors import StarlingError
from labelling.core.markdown import render_markdown
from labelling.staff import guides
from labelling.staff.access import project_page
from labelling.staff.forms import GuideForm
from labelling.teams.permissions import Right
from labelling.volunteer import volunteer_selectors


@project_page(get=Right.EDIT, post=Right.EDIT)
def project_guide(request, project):
    tree = selectors.project_tree(project=project)
    chosen = volunteer_selectors.field_guide_example_ids(project=project)
    initial = {
        "tutorial_markdown": project.tutorial_markdown,
        "field_guide_markdown": project.field_guide_markdown,
        "image_alt_text": project.image_alt_text,
    }
    form = GuideForm(request.POST or None, tree=tree, initial=initial)
    for name, pair in form.example_fields.items():
        form.initial[name] = ", ".join(str(subject_id) for subject_id in chosen.get(pair, []))
    if request.method == "POST" and form.is_valid():
        try:
            guides.project_guide_update(
                project=project,
                tutorial_markdown=form.cleaned_data["tutorial_markdown"],
                field_guide_markdown=form.cleaned_data["field_guide_markdown"],
                image_alt_text=form.cleaned_data["image_alt_text"],
                examples=form.cleaned_data["examples"],
            )
        except StarlingError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Tutorial and field guide saved.")
            return redirect("staff_guide", slug=project.slug)
    context = {
        "project": project,
        "form": form,
        "tutorial_preview": render_markdown(project.tutorial_markdown),
        "field_guide": volunteer_selectors.field_guide(project=project, tree=tree),
    }
    return render(
        request,
        "labelling/dashboard/guide.html",
        context,
        status=400 if form.errors else 200,
    )
