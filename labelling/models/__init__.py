"""Tables and small properties only. Writes and reads live in the packages beside this one
(README, "Where things live"). One module per part of the data; every model is imported here, so
`from labelling.models import Subject` finds them all."""

from labelling.models.model_versions import (
    AcquisitionPick,
    AcquisitionRound,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
)
from labelling.models.projects import (
    ROUND_PRIORITY_BASE,
    AcquisitionStrategy,
    Answer,
    Project,
    Question,
    RetirementReason,
    RetirementRule,
    RetrainState,
    TreeChange,
    TreeChangeKind,
)
from labelling.models.subjects import Classification, FieldGuideExample, Subject, SubjectStatus
from labelling.models.teams import (
    Membership,
    MembershipAction,
    MembershipChange,
    ProjectReview,
    ReviewStatus,
    Role,
)
from labelling.models.volunteers import Volunteer, VolunteerExclusion, VolunteerReliability

__all__ = [
    "ROUND_PRIORITY_BASE",
    "AcquisitionPick",
    "AcquisitionRound",
    "AcquisitionStrategy",
    "Answer",
    "Classification",
    "FieldGuideExample",
    "Membership",
    "MembershipAction",
    "MembershipChange",
    "ModelVersion",
    "ModelVersionStatus",
    "Prediction",
    "Project",
    "ProjectReview",
    "Question",
    "RetirementReason",
    "RetirementRule",
    "RetrainState",
    "ReviewStatus",
    "Role",
    "Subject",
    "TreeChange",
    "TreeChangeKind",
    "SubjectStatus",
    "Volunteer",
    "VolunteerExclusion",
    "VolunteerReliability",
]
