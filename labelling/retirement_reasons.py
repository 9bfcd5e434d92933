"""Why a subject retired: one definition, for the tables (models.RetirementReason) and for the
model-aware rule (labelling/retirement/rule.py, which has no Django). It sits beside models.py,
importing nothing, so that neither the tables nor the rule import the other."""

LIMIT = "limit"  # the retirement limit's votes were reached (fixed-count rule, or any rule's cap)
MODEL = "model"  # the model and the votes so far settled it (model-aware rule)
