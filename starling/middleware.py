"""Two middleware of the stack, narrowed for the JSON API under /api/.

A profile of the volunteer API under load (`make bench-serving`, the README's "Serving" section)
found these two spending CPU on every JSON answer for nothing a JSON client uses:

- django-csp builds the pages' Content-Security-Policy from its settings on every response. A JSON
  answer loads no script, style or image, so it gets a constant policy that allows nothing.
- Django's messages framework sets up its cookie and session storage on every request. The API
  never shows a message.

Sessions, CSRF, authentication and the security headers run for the API as for pages.
"""

from csp.constants import HEADER
from csp.middleware import CSPMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.http import HttpRequest, HttpResponseBase

from labelling.volunteer.api import is_api_request

# What a JSON answer may load or be framed by: nothing.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """The pages' policy from settings (django-csp); the constant API_POLICY under /api/."""

    def process_request(self, request: HttpRequest) -> None:
        if not is_api_request(request):
            super().process_request(request)

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if not is_api_request(request):
            return super().process_response(request, response)
        if HEADER not in response:
            response[HEADER] = API_POLICY
        return response


class PageMessageMiddleware(MessageMiddleware):
    """Django's messages for pages; none under /api/ (process_response then has nothing to store)."""

    def process_request(self, request: HttpRequest) -> None:
        if not is_api_request(request):
            super().process_request(request)
