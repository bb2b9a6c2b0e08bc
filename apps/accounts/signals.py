from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver


@receiver(user_logged_in)
def remember_language(sender, request, user, **kwargs):
    if getattr(user, "language", ""):
        request.session["user_language"] = user.language
    else:
        request.session.pop("user_language", None)
