from django.urls import include, path

from . import views

app_name = "approvals"

org_urlpatterns = [
    path("approvals/", views.ApprovalInboxView.as_view(), name="inbox"),
    path("approvals/<int:pk>/", views.ApprovalRequestView.as_view(), name="request"),
    path("approvals/<int:pk>/approve/", views.DecideView.as_view(verdict="approve"), name="approve"),
    path("approvals/<int:pk>/reject/", views.DecideView.as_view(verdict="reject"), name="reject"),
    path("budgets/", views.BudgetListView.as_view(), name="budgets"),
]

urlpatterns = [path("o/<slug:org_slug>/", include(org_urlpatterns))]
