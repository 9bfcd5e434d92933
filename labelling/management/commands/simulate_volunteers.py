import logging
import time

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError, connection
from tqdm import tqdm

from labelling.core import selectors
from labelling.core.errors import StarlingError
from labelling.queue import choice
from labelling.volunteer import accounts, submission
from mlworker import synthetic

logger = logging.getLogger(__name__)
# A transient database error (SQLite's lock held past its timeout, a dropped connection) is retried
# this many times, waiting 0.5 s, 1 s, 2 s, ... up to RETRY_MAX_WAIT_SECONDS between tries.
RETRY_ATTEMPTS = 8
RETRY_MAX_WAIT_SECONDS = 15.0


class Command(BaseCommand):
    help = (
        "Submit classifications from simulated volunteers, through the same service the web uses. "
        "Answers follow each subject's metadata truth (50/50 when it has none)."
    )

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("--classifications", type=int, default=100)
        parser.add_argument("--volunteers", type=int, default=20)
        parser.add_argument(
            "--careless",
            type=int,
            default=0,
            help="how many of the volunteers press each question's first answer whatever the image",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--forever", action="store_true", help="keep going until interrupted")
        parser.add_argument(
            "--rate",
            type=float,
            default=0.0,
            help="classifications per second (0 = as fast as possible)",
        )

    def handle(self, *args, **options):
        if (
            options["classifications"] < 0
            or options["volunteers"] < 1
            or options["rate"] < 0
            or not 0 <= options["careless"] <= options["volunteers"]
        ):
            raise CommandError(
                "Invalid options: expected --classifications >= 0, --volunteers >= 1, --rate >= 0, "
                "0 <= --careless <= --volunteers"
            )
        try:
            project = selectors.project_get_by_slug(slug=options["project"])
        except StarlingError as error:
            raise CommandError(error.message) from None
        tree = selectors.project_tree(project=project)
        if tree.root is None:
            raise CommandError(f"Project {project.slug!r} has no questions to answer")
        rng = np.random.default_rng(options["seed"])
        volunteers = [
            with_retries(
                accounts.volunteer_get_or_create,
                session_key=f"simulated-{project.slug}-{options['seed']}-{i}",
            )
            for i in range(options["volunteers"])
        ]
        total = None if options["forever"] else options["classifications"]
        submitted = 0
        with tqdm(total=total, desc="classifications", disable=options["verbosity"] == 0) as bar:
            while options["forever"] or submitted < options["classifications"]:
                index = int(rng.integers(len(volunteers)))
                volunteer = volunteers[index]
                subject = with_retries(
                    choice.subject_next_from_database, project=project, volunteer=volunteer
                )
                if subject is None:
                    if all(
                        with_retries(
                            choice.subject_next_from_database,
                            project=project,
                            volunteer=other,
                        )
                        is None
                        for other in volunteers
                    ):
                        self.stdout.write("every simulated volunteer has seen every active subject")
                        break
                    continue
                # The same idempotency key on every try: a submit that was stored before its
                # error reached us is replayed, not stored twice.
                with_retries(
                    submission.classification_submit,
                    project=project,
                    volunteer=volunteer,
                    subject_id=subject.pk,
                    annotations=simulated_answers(
                        tree,
                        subject.metadata.get("truth", {}),
                        rng,
                        careless=index < options["careless"],
                    ),
                    idempotency_key=f"sim-{subject.pk}-{volunteer.pk}",
                )
                submitted += 1
                bar.update(1)
                if options["rate"]:
                    time.sleep(1.0 / options["rate"])
        self.stdout.write(f"submitted {submitted} classifications to {project.slug!r}")


def with_retries(call, **arguments):
    """`call(**arguments)`; on a transient database error close the connection, wait (doubling
    each time) and try again. The last error is raised after RETRY_ATTEMPTS tries."""
    wait = 0.5
    attempts = RETRY_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            return call(**arguments)
        except OperationalError as error:
            if attempt == attempts:
                raise
            logger.warning(
                "transient database error (try %d of %d), retrying in %.1f s: %s",
                attempt,
                attempts,
                wait,
                error,
            )
            connection.close()  # a broken connection is replaced on the next query
            time.sleep(wait)
            wait = min(wait * 2, RETRY_MAX_WAIT_SECONDS)


def simulated_answers(
    tree, truth: dict, rng: np.random.Generator, careless: bool = False
) -> dict[str, str]:
    """One volunteer along the project's tree (synthetic.simulate_answers): a yes/no question with
    a true probability in the subject's metadata picks its first answer with it, any other
    question an answer uniformly; a careless volunteer picks every first answer."""
    questions = tree.head_questions()
    probabilities = {
        q.key: (
            np.eye(len(q.answers))[0]
            if careless
            else (truth[q.key], 1 - truth[q.key])
            if q.key in truth and len(q.answers) == 2
            else np.full(len(q.answers), 1 / len(q.answers))
        )
        for q in questions
    }
    return synthetic.simulate_answers(probabilities, questions, rng)
