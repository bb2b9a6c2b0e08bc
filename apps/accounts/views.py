from django import forms
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
