from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from apps.roles.access import is_operator

from .models import User


@login_required
def home(request):
    """Operators land on the all-departments list, Collaborators on their inbox."""
    if is_operator(request.user):
        return redirect("conversation-list")
    return redirect("inbox")


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["display_name", "language", "time_zone"]
        labels = {"display_name": _("Name shown to customers")}


@login_required
def preferences(request):
    form = PreferencesForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        if request.user.language:
            request.session["user_language"] = request.user.language
        else:
            request.session.pop("user_language", None)
        return redirect("home")
    return render(request, "accounts/preferences.html", {"form": form})


GO_ONLINE_COOKIE = "asiste_go_online"


class LoginView(auth_views.LoginView):
    """Sign-in that offers going online. The routing app applies the choice (and remembers it per
    person) on ``user_logged_in``; this browser remembers it too, so the box comes back as left."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs),
                "go_online": self.request.COOKIES.get(GO_ONLINE_COOKIE) != "0"}

    def form_valid(self, form):
        response = super().form_valid(form)
        remember_go_online(response, bool(self.request.POST.get("go_online")))
        return response


def remember_go_online(response, wanted: bool) -> None:
    """This browser's sign-in box comes back as last chosen (at sign-in, or on the availability
    page, where the person's own preference is edited)."""
    response.set_cookie(GO_ONLINE_COOKIE, "1" if wanted else "0", max_age=365 * 24 * 3600, httponly=True,
                        samesite="Lax", secure=settings.SESSION_COOKIE_SECURE)
