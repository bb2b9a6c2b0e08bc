from . import access


def roles(request):
    user = getattr(request, "user", None)
    return {
        "is_operator": access.is_operator(user) if user else False,
        "can_view_reports": access.can_view_reports(user) if user else False,
        "can_view_monitor": access.can_view_monitor(user) if user else False,
    }
