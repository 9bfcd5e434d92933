from django.urls import path

from labelling.staff import dashboard, review_pages, team_pages, withdrawal_pages
from labelling.staff import guide_page as dashboard_guide
from labelling.staff import preview_page as dashboard_preview
from labelling.staff import start_page as dashboard_start
from labelling.staff import subject_page as dashboard_subject
from labelling.staff import volunteers_page as dashboard_volunteers

urlpatterns = [
    path("", dashboard.home, name="staff_home"),
    path("projects/new/", dashboard.project_new, name="staff_project_new"),
    path("reviews/", review_pages.review_list, name="staff_reviews"),
    path(
        "reviews/<int:review_id>/approve/", review_pages.review_approve, name="staff_review_approve"
    ),
    path(
        "reviews/<int:review_id>/decline/", review_pages.review_decline, name="staff_review_decline"
    ),
    path("projects/<slug:slug>/", dashboard.project_dashboard, name="staff_dashboard"),
    path("projects/<slug:slug>/edit/", dashboard.project_edit, name="staff_edit"),
    path("projects/<slug:slug>/upload/", dashboard.project_upload, name="staff_upload"),
    path("projects/<slug:slug>/guide/", dashboard_guide.project_guide, name="staff_guide"),
    path("projects/<slug:slug>/preview/", dashboard_preview.project_preview, name="staff_preview"),
    path("projects/<slug:slug>/start/", dashboard_start.project_start, name="staff_start"),
    path("projects/<slug:slug>/retrain/", dashboard.project_retrain, name="staff_retrain"),
    path("projects/<slug:slug>/members/", team_pages.project_members, name="staff_members"),
    path(
        "projects/<slug:slug>/members/<int:user_id>/role/",
        team_pages.member_role,
        name="staff_member_role",
    ),
    path(
        "projects/<slug:slug>/members/<int:user_id>/remove/",
        team_pages.member_remove,
        name="staff_member_remove",
    ),
    path("projects/<slug:slug>/review/", review_pages.project_review, name="staff_review"),
    path("projects/<slug:slug>/delete/", withdrawal_pages.project_delete, name="staff_delete"),
    path("projects/<slug:slug>/archive/", withdrawal_pages.project_archive, name="staff_archive"),
    path(
        "projects/<slug:slug>/volunteers/",
        dashboard_volunteers.volunteer_list,
        name="staff_volunteers",
    ),
    path(
        "projects/<slug:slug>/volunteers/<int:volunteer_id>/exclude/",
        dashboard_volunteers.volunteer_exclude,
        name="staff_volunteer_exclude",
    ),
    path(
        "projects/<slug:slug>/volunteers/<int:volunteer_id>/lift/",
        dashboard_volunteers.volunteer_lift,
        name="staff_volunteer_lift",
    ),
    path("projects/<slug:slug>/round/", dashboard.round_view, name="staff_round"),
    path("projects/<slug:slug>/subjects/", dashboard.subject_list, name="staff_subjects"),
    path(
        "projects/<slug:slug>/subjects/<int:subject_id>/",
        dashboard_subject.subject_detail,
        name="staff_subject",
    ),
    path(
        "projects/<slug:slug>/subjects/<int:subject_id>/withdraw/",
        withdrawal_pages.subject_withdraw,
        name="staff_subject_withdraw",
    ),
    path(
        "projects/<slug:slug>/subjects/<int:subject_id>/restore/",
        withdrawal_pages.subject_restore,
        name="staff_subject_restore",
    ),
    path(
        "projects/<slug:slug>/subjects/<int:subject_id>/posterior/<int:number>/<slug:question>.png",
        dashboard.chart_posterior,
        name="staff_chart_posterior",
    ),
    path("projects/<slug:slug>/charts/votes.png", dashboard.chart_votes, name="staff_chart_votes"),
    path(
        "projects/<slug:slug>/charts/learning.png",
        dashboard.chart_learning,
        name="staff_chart_learning",
    ),
    path(
        "projects/<slug:slug>/charts/calibration/<int:number>.png",
        dashboard.chart_calibration,
        name="staff_chart_calibration",
    ),
    path(
        "projects/<slug:slug>/export/classifications.csv",
        dashboard.export_classifications,
        name="staff_export_classifications",
    ),
    path(
        "projects/<slug:slug>/export/vote-counts.csv",
        dashboard.export_counts,
        name="staff_export_counts",
    ),
    path(
        "projects/<slug:slug>/export/catalogue.csv",
        dashboard.export_catalogue,
        name="staff_export_catalogue",
    ),
    path(
        "projects/<slug:slug>/export/predictions.csv",
        dashboard.export_predictions,
        name="staff_export_predictions",
    ),
]
