"""How every staff page is guarded. Each view names, for each HTTP method it answers, what it
needs: a right in the page's project (`project_page`, answered by labelling/teams/permissions.py)
or a site-wide check (`site_page`). Then, in this order: another method gets 405, an anonymous
visitor the sign-in page, a project the account is not a member of 404 (as an unknown one), and a
member without the right 403 with a page naming the role needed (templates/403.html)."""

from dataclasses import dataclass, field
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed

from labelling.core.errors import Forbidden, NotFound
from labelling.models import Project, Role
from labelling.teams import permissions
from labelling.teams.permissions import Right


@dataclass(frozen=True)
class Access:
    """What the account may do, for the templates (`access` in every page's context)."""

    administrator: bool
    project: Project | None = None
    role: Role | None = None
    may: dict[str, bool] = field(default_factory=dict)


def _methods(declared: dict) -> dict:
    methods = {method.upper(): need for method, need in declared.items()}
    if "GET" in methods:
        methods["HEAD"] = methods["GET"]
    return methods


def project_page(**rights: Right):
    """A page of one project (its view takes the project in place of the slug): `get=`/`post=`
    the right each method needs."""
    methods = _methods(rights)

    def decorate(view):
        @wraps(view)
        def wrapper(request, slug, **kwargs):
            right = methods.get(request.method)
            if right is None:
                return HttpResponseNotAllowed(sorted(methods))
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            try:
                project, role = permissions.project_for(request.user, slug, right)
            except NotFound as error:
                raise Http404(error.message) from None
            except Forbidden as error:
                raise PermissionDenied(error.message) from None
            request.staff_access = Access(
                administrator=permissions.is_site_administrator(request.user),
                project=project,
                role=role,
                may=permissions.rights_of(role),
            )
            return view(request, project, **kwargs)

        wrapper.needs = methods
        return wrapper

    return decorate


def any_account(user) -> None:
    """A site page every signed-in account may use."""
    return None


def site_page(**checks):
    """A page of the whole site: `get=`/`post=` a check (account -> why it is refused, or None),
    e.g. labelling.teams.permissions.creation_refusal."""
    methods = _methods(checks)

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            check = methods.get(request.method)
            if check is None:
                return HttpResponseNotAllowed(sorted(methods))
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            refusal = check(request.user)
            if refusal:
                raise PermissionDenied(refusal)
            request.staff_access = Access(
                administrator=permissions.is_site_administrator(request.user)
            )
            return view(request, *args, **kwargs)

        wrapper.needs = methods
        return wrapper

    return decorate


def project_access(request) -> dict:
    """Template context: `access`, set by the decorators above (None on other pages)."""
    return {"access": getattr(request, "staff_access", None)}
