from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

app_name = "accounts"

urlpatterns = [
    # Public: log-in, sign-up, password reset, invitation links.
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.SignUpView.as_view(), name="signup"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path(
        "account/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("account/reset/done/", views.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
    path("invitations/join/<str:token>/", views.MemberInvitationView.as_view(), name="member-invitation"),
    path(
        "invitations/connect/<str:token>/",
        views.ConnectionInvitationView.as_view(),
        name="connection-invitation",
    ),
    # The person, across organizations.
    path("account/", views.AccountView.as_view(), name="account"),
    path("account/password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("organizations/new/", views.CreateOrganizationView.as_view(), name="organization-new"),
    path("inbox/join/<int:pk>/", views.MemberInvitationInboxView.as_view(), name="member-invitation-inbox"),
    path(
        "inbox/connect/<int:pk>/",
        views.ConnectionInvitationInboxView.as_view(),
        name="connection-invitation-inbox",
    ),
]

# Pages of one organization (the middleware resolves the membership from ``org_slug``).
org_urlpatterns = [
    path("settings/", views.OrganizationSettingsView.as_view(), name="settings"),
    path("settings/tolerances/", views.TolerancesView.as_view(), name="tolerances"),
    path("settings/tolerances/<int:pk>/end/", views.SupplierToleranceEndView.as_view(), name="tolerance-end"),
    path("settings/locations/new/", views.LocationEditView.as_view(), name="location-new"),
    path("settings/locations/<int:pk>/", views.LocationEditView.as_view(), name="location-edit"),
    path("members/", views.MembersView.as_view(), name="members"),
    path("members/<int:pk>/", views.MemberEditView.as_view(), name="member-edit"),
    path("members/<int:pk>/remove/", views.MemberRemoveView.as_view(), name="member-remove"),
    path(
        "members/invitations/<int:pk>/withdraw/",
        views.MemberInvitationRevokeView.as_view(),
        name="member-invitation-revoke",
    ),
    path("connections/", views.ConnectionListView.as_view(), name="connections"),
    path("connections/invite/", views.ConnectionInviteView.as_view(), name="connection-invite"),
    path("connections/<int:pk>/", views.ConnectionDetailView.as_view(), name="connection-detail"),
    path(
        "connections/<int:pk>/suspend/",
        views.ConnectionActionView.as_view(action="suspend"),
        name="connection-suspend",
    ),
    path(
        "connections/<int:pk>/reactivate/",
        views.ConnectionActionView.as_view(action="reactivate"),
        name="connection-reactivate",
    ),
    path(
        "connections/<int:pk>/withdraw/",
        views.ConnectionActionView.as_view(action="revoke"),
        name="connection-revoke",
    ),
]

urlpatterns.append(path("o/<slug:org_slug>/", include(org_urlpatterns)))
