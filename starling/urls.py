from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from labelling.volunteer import account_pages, api, views

PASSWORD_CHANGED = "Your new password is in use; your other browsers sign in again."
RESET_SENT = (
    "If an account uses that e-mail, a link to choose a new password is on its way. It works once, "
    "for a few days."
)
RESET_DONE = "Your new password is saved: sign in with it."


def account_form(view, title: str, button: str, **options):
    return view.as_view(
        template_name="registration/account_form.html",
        extra_context={"title": title, "button": button},
        **options,
    )


def account_note(view, title: str, note: str):
    return view.as_view(
        template_name="registration/account_note.html", extra_context={"title": title, "note": note}
    )


# Under /api/ a 404 is JSON, as the API's other refusals (labelling/volunteer/api.py).
handler404 = api.not_found

urlpatterns = [
    path("favicon.ico", views.favicon, name="favicon"),
    path("", views.project_list, name="project_list"),
    path("projects/<slug:slug>/classify/", views.classify, name="classify"),
    path("me/", views.volunteer_page, name="volunteer_page"),
    path("api/schema", api.schema, name="api_schema"),
    path("api/projects/<slug:slug>", api.project_detail, name="api_project"),
    path("api/projects/<slug:slug>/next", api.next_subject, name="api_next"),
    path(
        "api/projects/<slug:slug>/classifications", api.classifications, name="api_classifications"
    ),
    path("accounts/signup/", account_pages.sign_up, name="signup"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Django's password views, on two templates: a form, and a note of what happened.
    path(
        "accounts/password/",
        account_form(auth_views.PasswordChangeView, "Change your password", "Change password"),
        name="password_change",
    ),
    path(
        "accounts/password/changed/",
        account_note(auth_views.PasswordChangeDoneView, "Password changed", PASSWORD_CHANGED),
        name="password_change_done",
    ),
    path(
        "accounts/password/reset/",
        account_form(
            auth_views.PasswordResetView,
            "Forgot your password?",
            "Send me a link",
            email_template_name="registration/password_reset_email.txt",
            subject_template_name="registration/password_reset_subject.txt",
        ),
        name="password_reset",
    ),
    path(
        "accounts/password/reset/sent/",
        account_note(auth_views.PasswordResetDoneView, "Check your mail", RESET_SENT),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        account_form(auth_views.PasswordResetConfirmView, "Choose a new password", "Save it"),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/done/",
        account_note(auth_views.PasswordResetCompleteView, "Password saved", RESET_DONE),
        name="password_reset_complete",
    ),
    path("admin/", admin.site.urls),
    path("staff/", include("labelling.staff.urls")),
    # Uploaded images, withdrawn ones refused. In production put a web server or object store in
    # front of MEDIA_ROOT that refuses them too (labelling/volunteer/views.py, media_file).
    re_path(r"^media/(?P<path>.*)$", views.media_file, name="media"),
]
