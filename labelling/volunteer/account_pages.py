"""Accounts: sign-up (Django's user creation form, plus an e-mail for password resets), and the
hand-over of an anonymous volunteer's classifications when they sign up or sign in. Sign-in,
sign-out, password change and reset are Django's own views (starling/urls.py); sign-in is
throttled by django-axes."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login, user_logged_in
from django.contrib.auth.forms import UserCreationForm
from django.dispatch import receiver
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters

from labelling.volunteer import accounts
from labelling.volunteer.api import SESSION_VOLUNTEER, stored_volunteer_id


class SignUpForm(UserCreationForm):
    email = forms.EmailField(
        label="E-mail",
        help_text="To reset your password; a project's owner can add you to its team by it.",
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_username(self):
        username = self.cleaned_data.get("username")
        if username and get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(
                f"The user name {username!r} is taken: choose another, or sign in if it is yours."
            )
        return username

    def clean_email(self):
        email = self.cleaned_data["email"]
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                f"An account with the e-mail {email!r} exists already: sign in, or reset its "
                "password."
            )
        return email


@sensitive_post_parameters("password1", "password2")
def sign_up(request):
    """A new account, signed in at once; the browser's anonymous classifications become its own."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = ""
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.get_username()}: your account is ready.")
        return redirect(target or settings.LOGIN_REDIRECT_URL)
    return render(
        request,
        "registration/signup.html",
        {"form": form, "next": target},
        status=400 if form.errors else 200,
    )


@receiver(user_logged_in)
def claim_anonymous_classifications(sender, request, user, **kwargs) -> None:
    """On sign-up and sign-in: the classifications this browser made anonymously are the
    account's now (labelling/volunteer/accounts.py says which and why), and the session's
    volunteer is the account's."""
    if request is None or not hasattr(request, "session"):
        return
    anonymous_id = stored_volunteer_id(request.session, None)
    if anonymous_id is None:
        return
    claimed = accounts.volunteer_claim_anonymous(anonymous_id=anonymous_id, user=user)
    if claimed is None:
        return
    request.session[SESSION_VOLUNTEER] = [claimed.volunteer_id, user.pk]
    if claimed.moved:
        messages.info(
            request,
            f"The {claimed.moved} classifications you made in this browser are your account's now.",
            fail_silently=True,
        )
