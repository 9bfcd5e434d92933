from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.static import serve

from labelling.volunteer import api, views

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
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("staff/", include("labelling.staff.urls")),
    # Uploaded images. In production put a web server or object store in front of MEDIA_ROOT.
    re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
]
