import numpy as np
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from labelling.catalogue import imports
from labelling.core import projects, selectors, tree
from labelling.core.errors import StarlingError
from labelling.staff import guides

DEMO_TUTORIAL = """Thank you for helping! Each image is a (synthetic) galaxy. Answer a question or
two about it: **smooth** galaxies are round blurs; **featured** ones show a disk, arms or a bar.

- Click or tap an answer, or press its key.
- Not sure? Open the **field guide** (button or <kbd>?</kbd>) to compare with examples.
- There is no wrong answer: many volunteers see each image, and a model learns from all of you.
  It picks the images it finds hardest, so your votes steer what it learns next."""
DEMO_FIELD_GUIDE = """Examples of each answer, picked from this project's own galaxies: those
whose (known, synthetic) truth is clearest."""


def demo_examples(probabilities, subject_ids, questions, per_answer=3) -> dict:
    """{(question, answer): subject ids}: the galaxies most clearly of each answer (the true
    probability of the first answer highest, or lowest for the second).
    probabilities: float [subjects, questions]."""
    examples = {}
    for column, question in enumerate(questions):
        order = np.argsort(probabilities[:, column])
        first, second = question["answers"][:2]
        for answer, ranked in ((first, order[::-1]), (second, order)):
            chosen = dict.fromkeys(subject_ids[i] for i in ranked)  # a duplicate image: one id
            examples[(question["key"], answer["key"])] = list(chosen)[:per_answer]
    return examples


class Command(BaseCommand):
    help = (
        "Create a Galaxy-Zoo-like project filled with synthetic galaxies (truth kept in metadata)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--subjects", type=int, default=300)
        parser.add_argument("--size", type=int, default=64, help="image size in pixels")
        parser.add_argument("--slug", default="galaxy-zoo")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--retirement-limit", type=int, default=15)
        parser.add_argument("--retrain-after-new-votes", type=int, default=200)
        parser.add_argument(
            "--replace", action="store_true", help="delete an existing project with this slug"
        )

    def handle(self, *args, **options):
        from mlworker import synthetic  # NumPy only: no TensorFlow

        if options["subjects"] < 1 or options["subjects"] > 100_000:
            raise CommandError(
                f"Invalid value for --subjects: expected 1 to 100000, received {options['subjects']}"
            )
        if options["size"] < 8 or options["size"] > 512:
            raise CommandError(
                f"Invalid value for --size: expected 8 to 512, received {options['size']}"
            )
        slug = options["slug"]
        if selectors.project_slug_taken(slug=slug):
            if not options["replace"]:
                raise CommandError(
                    f"A project with slug {slug!r} already exists (use --replace to recreate it)"
                )
            projects.project_delete(slug=slug)
        try:
            project = projects.project_create(
                slug=slug,
                title="Galaxy Zoo (synthetic)",
                description="Synthetic galaxies: is each one smooth or featured, edge-on, barred?",
                questions=tree.nodes_from_dicts(synthetic.GALAXY_QUESTIONS),
                image_size=options["size"],
                retirement_limit=options["retirement_limit"],
                retrain_after_new_votes=options["retrain_after_new_votes"],
            )
        except StarlingError as error:
            raise CommandError(error.message) from None
        galaxies = synthetic.make_galaxies(
            options["subjects"], size=options["size"], seed=options["seed"]
        )
        keys = [question["key"] for question in synthetic.GALAXY_QUESTIONS]
        subject_ids = []
        for index in tqdm(
            range(len(galaxies.p)), desc="galaxies", disable=options["verbosity"] == 0
        ):
            truth = {
                key: round(float(value), 4)
                for key, value in zip(keys, galaxies.p[index], strict=True)
            }
            imported = imports.subject_import_image(
                project=project,
                name=f"galaxy-{options['seed']}-{index:06d}.png",
                data=synthetic.image_to_png_bytes(galaxies.images[index]),
                metadata={"truth": truth, "kind": str(galaxies.kinds[index])},
            )
            subject_ids.append(imported.pk)
        guides.project_guide_update(
            project=project,
            tutorial_markdown=DEMO_TUTORIAL,
            field_guide_markdown=DEMO_FIELD_GUIDE,
            image_alt_text="A synthetic galaxy: a blurry light on a dark, noisy sky",
            examples=demo_examples(galaxies.p, subject_ids, synthetic.GALAXY_QUESTIONS),
        )
        counts = {
            str(kind): int(np.sum(galaxies.kinds == kind)) for kind in np.unique(galaxies.kinds)
        }
        self.stdout.write(f"created project {slug!r} with {len(galaxies.p)} galaxies {counts}")
