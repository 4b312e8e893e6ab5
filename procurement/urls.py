from anymail import urls as anymail_urls
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import include, path

from accounts.views import HomeRedirectView
from procurement.health import ReadinessView


@login_not_required
def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("", HomeRedirectView.as_view(), name="home"),
    path("healthz", healthz, name="healthz"),  # liveness: the process serves
    path("readyz", login_not_required(ReadinessView.as_view()), name="readyz"),  # readiness: see health.py
    path("admin/", admin.site.urls),
    # The ESP's webhooks (bounces and complaints: accounts/webhooks.py). anymail marks them
    # login_not_required and checks the basic-auth WEBHOOK_SECRET (ANYMAIL_WEBHOOK_SECRET).
    path("anymail/", include(anymail_urls)),
    path("", include("accounts.urls")),
    path("", include("orders.urls")),
    path("", include("approvals.urls")),
    path("", include("billing.urls")),
    path("", include("home.urls")),
]
