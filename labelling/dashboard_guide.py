"""Staff page for what volunteers read: the tutorial, the field guide (Markdown, rendered safely on
the classify page) with example images picked by subject id for every answer, and the alt text."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render

from labelling import selectors, services, volunteer_selectors
from labelling.dashboard import staff_only, staff_project
from labelling.errors import StarlingError
from labelling.markdown import render_markdown
from labelling.tree import Tree


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


@staff_only
def project_guide(request, slug):
    project = staff_project(slug)
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
            services.project_guide_update(
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
