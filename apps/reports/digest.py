"""Weekly digest email to Operators: last 7 days' key figures with their benchmark flags."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .selectors import Filters, build_report, operator_ids


def send_weekly_digest() -> int:
    end = timezone.localdate() - timedelta(days=1)
    f = Filters(start=end - timedelta(days=6), end=end)
    User = get_user_model()
    sent = 0
    for user in User.objects.filter(id__in=operator_ids()).exclude(email=""):
        with translation.override(user.language or settings.LANGUAGE_CODE):
            report = build_report(f)
            body = render_to_string("reports/digest.txt", {"report": report, "f": f, "user": user})
            subject = _("AsisteClick weekly report: %(start)s to %(end)s") % {"start": f.start, "end": f.end}
        send_mail(subject, body, None, [user.email])
        sent += 1
    return sent
