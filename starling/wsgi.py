import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "starling.settings")
django_application = get_wsgi_application()

# After Django is set up: the volunteer API's next and submit in front of Django's handler.
from starling.api_fastpath import ApiFastPath  # noqa: E402

application = ApiFastPath(django_application)
