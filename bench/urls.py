"""The project's URLs plus the floor: a bare view rendering a 50-row table read from the database."""

from django.contrib.auth.decorators import login_not_required
from django.shortcuts import render
from django.urls import include, path

from orders.models import PurchaseOrder


@login_not_required
def floor(request):
    rows = PurchaseOrder.objects.order_by("-pk").values("number", "status", "total", "currency", "created_at")[:50]
    return render(request, "bench/floor.html", {"rows": rows})


urlpatterns = [path("bench/floor/", floor), path("", include("procurement.urls"))]
