import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from labelling.core import selectors, votes
from labelling.core.errors import StarlingError


class Command(BaseCommand):
    help = (
        "Rebuild a project's vote counts from its raw classifications by the rule for votes after "
        "retirement (they count nowhere): the subjects that have such votes, or --all. For a "
        "database whose counts were kept before the rule."
    )

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("--all", action="store_true", help="every subject of the project")

    def handle(self, *args, project: str, **options):
        try:
            target = selectors.project_get_by_slug(slug=project)
        except StarlingError as error:
            raise CommandError(error.message) from None
        subjects = target.subjects.order_by("pk")
        if not options["all"]:
            subjects = subjects.filter(classifications__after_retirement=True).distinct()
        changed = 0
        for subject in tqdm(
            list(subjects), unit="subject", file=sys.stderr, disable=options["verbosity"] == 0
        ):
            before = (subject.vote_counts, subject.classification_count, subject.untrusted_count)
            rebuilt = votes.subject_counts_rebuild(subject=subject)
            changed += before != (
                rebuilt.vote_counts,
                rebuilt.classification_count,
                rebuilt.untrusted_count,
            )
        self.stdout.write(f"rebuilt the counts of {target.slug!r}: {changed} subjects changed")
