"""Why a subject retired: one definition, for the tables (models.RetirementReason), the crowd's
recount (labelling/crowd) and the two rules of labelling/retirement/ (fixed_count.py; rule.py, which
has no Django).

It sits beside models.py and imports nothing, rather than in labelling/retirement/ with the rules:
the tables and the crowd sit below the retirement package in the import layers (pyproject.toml,
[tool.importlinter]), and rule.py may not import the tables."""

LIMIT = "limit"  # the retirement limit's votes were reached (fixed-count rule, or any rule's cap)
MODEL = "model"  # the model and the votes so far settled it (model-aware rule)
WITHDRAWN = "withdrawn"  # staff withdrew the image: never shown again, its votes kept
