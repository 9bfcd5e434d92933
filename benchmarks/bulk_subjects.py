"""A galaxy-tree project filled with many active subjects by COPY (benchmarks that need a large pool)."""


def galaxy_project_with_subjects(slug: str, count: int, priority, created_at):
    """The project and its `count` subjects (one image path, no votes), `priority(index)` each.

    Every other column holds the model's default, so a field added later needs no change here.
    Needs django.setup() and a PostgreSQL connection (COPY)."""
    from django.db import connection

    from labelling.core import projects, tree
    from labelling.models import Subject
    from mlworker import synthetic

    project = projects.project_create(
        slug=slug, title=slug, questions=tree.nodes_from_dicts(synthetic.GALAXY_QUESTIONS)
    )
    template = Subject(project=project, image=f"subjects/{slug}.png", created_at=created_at)
    fields = [field for field in Subject._meta.concrete_fields if not field.primary_key]
    values = [
        field.get_db_prep_save(getattr(template, field.attname), connection) for field in fields
    ]
    names = [field.column for field in fields]
    varying = names.index("content_hash"), names.index("priority")
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(
            f"COPY {Subject._meta.db_table} ({', '.join(names)}) FROM STDIN"
        ) as copy,
    ):
        for index in range(count):
            values[varying[0]], values[varying[1]] = f"{slug}-{index}", priority(index)
            copy.write_row(values)
    return project
